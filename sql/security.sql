--
-- Security: answers never cross user mappings, result links follow a fixed
-- policy, storage bodies are not echoed, secrets are masked, ca_file is
-- for superusers
--
\getenv url GENIE_EMULATOR_URL
\getenv token GENIE_TOKEN
\getenv client_secret GENIE_CLIENT_SECRET
\getenv wrong_secret GENIE_WRONG_SECRET
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never
CREATE SERVER genie_sec FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a',
           poll_interval '0.05', max_poll_interval '0.2',
           initial_backoff '0.05', max_backoff '0.2');
CREATE ROLE genie_a;
CREATE ROLE genie_b;
CREATE ROLE genie_c;
CREATE ROLE genie_d;
-- a PAT that works, one that does not, a service principal, a wrong secret
CREATE USER MAPPING FOR genie_a SERVER genie_sec OPTIONS (token :'token');
CREATE USER MAPPING FOR genie_b SERVER genie_sec OPTIONS (token 'dapi-not-a-valid-token');
CREATE USER MAPPING FOR genie_c SERVER genie_sec
  OPTIONS (client_id 'emulator-sp', client_secret :'client_secret');
CREATE USER MAPPING FOR genie_d SERVER genie_sec
  OPTIONS (client_id 'emulator-sp', client_secret :'wrong_secret');
-- answers are cached for ten minutes
CREATE FOREIGN TABLE sec (question text, "ProductName" text, "TotalValue" numeric)
  SERVER genie_sec OPTIONS (cache_ttl '600');
GRANT SELECT ON sec TO genie_a, genie_b, genie_c, genie_d;

SET ROLE genie_a;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
-- another role whose token the service refuses gets no cached answer
SET ROLE genie_b;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
-- a service principal asks with its own credentials
SET ROLE genie_c;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
-- the same client id with a wrong secret gets neither a token nor an answer
SET ROLE genie_d;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
-- each working mapping hits its own cache entry now
SET ROLE genie_a;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
SET ROLE genie_c;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
RESET ROLE;
-- three requests reached Genie: role a's and role c's questions, role b's refused one
\! python3 test/emuctl.py stats requests.start_conversation
-- changing a mapping drops what was cached: role a asks again
ALTER USER MAPPING FOR genie_a SERVER genie_sec OPTIONS (SET token :'token');
SET ROLE genie_a;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value?';
RESET ROLE;
\! python3 test/emuctl.py stats requests.start_conversation

-- a mapping FOR PUBLIC is shared by the roles it serves, as its owner intends
\! python3 test/emuctl.py reset
CREATE SERVER genie_pub FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a',
           poll_interval '0.05', max_poll_interval '0.2');
CREATE USER MAPPING FOR PUBLIC SERVER genie_pub OPTIONS (token :'token');
CREATE FOREIGN TABLE pub (question text, "ProductName" text) SERVER genie_pub OPTIONS (cache_ttl '600');
GRANT SELECT ON pub TO genie_a, genie_b;
SET ROLE genie_a;
SELECT count(*) FROM pub WHERE question = 'How many orders per region?';
SET ROLE genie_b;
SELECT count(*) FROM pub WHERE question = 'How many orders per region?';
RESET ROLE;
\! python3 test/emuctl.py stats requests.start_conversation

-- full_results is part of what is cached: the download is not served from
-- the capped answer
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=1000 row_cap=1500 download_seconds=0.1
CREATE FOREIGN TABLE capped (question text, id bigint) SERVER genie OPTIONS (cache_ttl '600');
CREATE FOREIGN TABLE whole (question text, id bigint) SERVER genie
  OPTIONS (cache_ttl '600', full_results 'true');
SELECT count(*) FROM capped WHERE question = 'Generate 2000 rows';
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
\! python3 test/emuctl.py reset

-- result links: only https, or plain http to the server's own loopback
-- host and port; no credentials in them, no headers the transport owns
-- (downloads are ready at once, so the fault edits the ready response)
\! python3 test/emuctl.py config chunk_rows=1000 download_seconds=0
\! python3 test/emuctl.py fault '{"endpoint": "get_download", "action": "set", "set": {"statement_response.result.external_links.0.external_link": "http://169.254.169.254/latest/meta-data/"}}'
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
\! python3 test/emuctl.py fault '{"endpoint": "get_download", "action": "set", "set": {"statement_response.result.external_links.0.external_link": "http://127.0.0.1:1/__storage/x"}}'
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
\! python3 test/emuctl.py fault '{"endpoint": "get_download", "action": "set", "set": {"statement_response.result.external_links.0.external_link": "file:///etc/passwd"}}'
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
\! python3 test/emuctl.py fault '{"endpoint": "get_download", "action": "set", "set": {"statement_response.result.external_links.0.external_link": "https://user:pw@storage.example.com/x"}}'
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
\! python3 test/emuctl.py fault '{"endpoint": "get_download", "action": "set", "set": {"statement_response.result.external_links.0.http_headers": {"Authorization": "Bearer x"}}}'
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
\! python3 test/emuctl.py fault '{"endpoint": "get_download", "action": "set", "set": {"statement_response.result.external_links.0.http_headers": {"x-key": "a\r\nHost: evil"}}}'
SELECT count(*) FROM whole WHERE question = 'Generate 2000 rows';
-- a later chunk's link is checked as well (the chunk endpoint renews it)
\! python3 test/emuctl.py fault '{"endpoint": "statement_chunk", "action": "set", "set": {"external_links.0.external_link": "http://10.0.0.1/x"}}'
SELECT count(*) FROM whole WHERE question = 'Generate 3000 rows';
-- an internal link elsewhere than the statement API is not followed
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.result.next_chunk_internal_link": "//evil.example.com/x", "statement_response.result.next_chunk_index": null}}'
SELECT count(*) FROM capped WHERE question = 'Generate 1200 rows';
-- the server's own links still work
SELECT count(*) FROM whole WHERE question = 'Generate 3000 rows';
\! python3 test/emuctl.py stats authorization_on_storage

-- a storage error is reported by status and error code, never its body
\! python3 test/emuctl.py fault '{"endpoint": "storage", "action": "body", "status": 403, "body": "<Error><Code>AccessDenied</Code><Message>internal host 10.1.2.3 said no</Message></Error>", "count": 2}'
SELECT count(*) FROM whole WHERE question = 'Generate 2500 rows';
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=1000 download_seconds=0.1
\! python3 test/emuctl.py fault '{"endpoint": "storage", "action": "body", "status": 404, "body": "<html>internal page with 10.1.2.3</html>", "count": 2}'
SELECT count(*) FROM whole WHERE question = 'Generate 2600 rows';
\! python3 test/emuctl.py reset

-- secrets in the service's words are masked: a PAT, and an OAuth token
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 400, "echo_authorization": true}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 400, "echo_authorization": true}'
SET ROLE genie_c;
SELECT count(*) FROM sec WHERE question = 'Which products generate the highest total sales value, again?';
RESET ROLE;
\! python3 test/emuctl.py reset

-- ca_file makes the server read a local file: superusers only
CREATE ROLE genie_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER genie_fdw TO genie_owner;
SET ROLE genie_owner;
CREATE SERVER mine FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://adb-1.2.azuredatabricks.net', ca_file '/etc/ssl/private/server.key');
CREATE SERVER mine FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb-1.2.azuredatabricks.net');
ALTER SERVER mine OPTIONS (ADD ca_file '/etc/passwd');
DROP SERVER mine;
RESET ROLE;
CREATE SERVER theirs FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://adb-1.2.azuredatabricks.net', ca_file '/etc/ssl/certs/ca-certificates.crt');
DROP SERVER theirs;

-- genie_delete_conversations: absurd intervals are refused, not wrapped
SELECT genie_delete_conversations('genie', '2147483647 days');
SELECT genie_delete_conversations('genie', '178000000 years');
SELECT genie_delete_conversations('genie', '200 years');
SELECT genie_delete_conversations('genie', '-1 day');
SELECT genie_delete_conversations('genie', '1 day -30 hours');

DROP FOREIGN TABLE sec, pub, capped, whole;
DROP USER MAPPING FOR genie_a SERVER genie_sec;
DROP USER MAPPING FOR genie_b SERVER genie_sec;
DROP USER MAPPING FOR genie_c SERVER genie_sec;
DROP USER MAPPING FOR genie_d SERVER genie_sec;
DROP USER MAPPING FOR PUBLIC SERVER genie_pub;
DROP SERVER genie_sec, genie_pub;
REVOKE USAGE ON FOREIGN DATA WRAPPER genie_fdw FROM genie_owner;
DROP ROLE genie_a, genie_b, genie_c, genie_d, genie_owner;
