--
-- Options: validation of server, user mapping, table and column options
--
\getenv url GENIE_EMULATOR_URL
\getenv token GENIE_TOKEN
\! python3 test/emuctl.py reset
CREATE EXTENSION genie_fdw;

-- host is required, must be a URL, and plain http only for loopback hosts
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw;
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'http://example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'ftp://example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', hots 'y');
-- secrets belong in user mappings
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', token 'dapi123');
-- values are checked, with the allowed range in the hint
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', max_retries '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', poll_interval 'soon');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', backoff_multiplier '0.5');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', space_id '');
-- what is not a workspace URL says what is wrong (a password is not repeated)
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://user:dapi-secret@adb-1.2.azuredatabricks.net');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb 1.2.azuredatabricks.net');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb-1.2.azuredatabricks.net:https');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb-1.2.azuredatabricks.net:99999');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://:443/?o=1');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://[::1/');
CREATE SERVER bad FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb_1.2.azure$databricks.net');
-- a URL copied from the browser: the query string (?o=...), a path and a
-- fragment are dropped, only scheme, host and port are used
CREATE SERVER ok3 FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb-123.4.azuredatabricks.net/?o=1234');
ALTER SERVER ok3 OPTIONS (SET host 'https://adb-123.4.azuredatabricks.net/editor/notebooks/567?o=1234#command/89');
ALTER SERVER ok3 OPTIONS (SET host ' HTTPS://ADB-123.4.AzureDatabricks.net:443/genie/rooms/01f0?o=1234 ');
ALTER SERVER ok3 OPTIONS (SET host 'http://[::1]:8080/#x');
DROP SERVER ok3;
-- bare host names get https; these are fine
CREATE SERVER ok1 FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'adb-123.4.azuredatabricks.net');
CREATE SERVER ok2 FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'http://127.0.0.1:9/', answer_timeout '30', max_response_size '1048576');
ALTER SERVER ok2 OPTIONS (SET max_response_size '10');
ALTER SERVER ok2 OPTIONS (DROP host);
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (tokn 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (client_id 'sp');
CREATE FOREIGN TABLE bad_t (question text) SERVER ok1 OPTIONS (host 'x');
CREATE FOREIGN TABLE bad_t (question text OPTIONS (genie 'answer')) SERVER ok1;
CREATE FOREIGN TABLE bad_t (question text OPTIONS (colum_name 'q')) SERVER ok1;

-- a table without a space, and a user without a mapping (PostgreSQL's message
-- for it changed in 18: the SQLSTATE only)
CREATE FOREIGN TABLE nospace (question text, x int) SERVER ok1;
\set VERBOSITY sqlstate
SELECT * FROM nospace WHERE question = 'q';
\set VERBOSITY default
CREATE USER MAPPING FOR CURRENT_USER SERVER ok1 OPTIONS (token 'x');
SELECT * FROM nospace WHERE question = 'q';
DROP SERVER ok1, ok2 CASCADE;

-- questions_per_minute: 0 (no limit), or up to 1000; the same rule as the
-- setting genie_fdw.questions_per_minute
CREATE SERVER ok4 FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://x.cloud.databricks.com', questions_per_minute '0');
ALTER SERVER ok4 OPTIONS (SET questions_per_minute '0.5');
ALTER SERVER ok4 OPTIONS (SET questions_per_minute '1000');
ALTER SERVER ok4 OPTIONS (SET questions_per_minute '1001');
ALTER SERVER ok4 OPTIONS (SET questions_per_minute '0.001');
ALTER SERVER ok4 OPTIONS (SET questions_per_minute 'NaN');
ALTER SYSTEM SET genie_fdw.questions_per_minute = 1001;
ALTER SYSTEM SET genie_fdw.questions_per_minute = 0.001;
DROP SERVER ok4;

-- a user with USAGE on the wrapper cannot point a server at plain http either
CREATE ROLE genie_user;
GRANT USAGE ON FOREIGN DATA WRAPPER genie_fdw TO genie_user;
SET ROLE genie_user;
CREATE SERVER mine FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'http://10.1.2.3');
CREATE SERVER mine FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb-1.2.azuredatabricks.net');
DROP SERVER mine;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER genie_fdw FROM genie_user;
DROP ROLE genie_user;

-- the server the other tests use (emulator on a loopback port)
CREATE SERVER genie FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a',
           poll_interval '0.05', max_poll_interval '0.2',
           initial_backoff '0.05', max_backoff '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (token :'token');
-- the emulator's URL as copied from a browser works as the URL itself
\set browser_url :url '/editor/notebooks/1?o=1234#command/5'
CREATE SERVER browser FOREIGN DATA WRAPPER genie_fdw OPTIONS (host :'browser_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER browser OPTIONS (token :'token');
SELECT count(*) > 0 AS spaces_listed FROM genie_spaces('browser');
DROP SERVER browser CASCADE;
-- the token is not shown to other users
CREATE ROLE genie_other;
SET ROLE genie_other;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'genie';
RESET ROLE;
DROP ROLE genie_other;
-- nothing was asked
\! python3 test/emuctl.py stats requests.start_conversation
