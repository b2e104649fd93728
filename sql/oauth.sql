--
-- OAuth machine-to-machine: a service principal's client_id/client_secret
--
\getenv url GENIE_EMULATOR_URL
\getenv client_secret GENIE_CLIENT_SECRET
\getenv wrong_secret GENIE_WRONG_SECRET
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never
CREATE SERVER genie_sp FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a',
           poll_interval '0.05', max_poll_interval '0.2');
CREATE USER MAPPING FOR CURRENT_USER SERVER genie_sp
  OPTIONS (client_id 'emulator-sp', client_secret :'client_secret');
CREATE FOREIGN TABLE sp (question text, "ProductName" text) SERVER genie_sp;
-- tokens live 2 s here: renewed at half-life, cached until then
\! python3 test/emuctl.py config oauth_token_ttl=2
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.oauth_token
SELECT pg_sleep(1.2);
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.oauth_token
-- a 401 (token revoked) fetches a new token once and repeats the request
\! python3 test/emuctl.py config oauth_token_ttl=3600
SELECT pg_sleep(1.2);
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.oauth_token
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 401}'
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.oauth_token
-- so does a 403 that says the token is invalid, as real workspaces answer
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 403, "body": "{\"error_code\": 403, \"message\": \"Invalid access token.\"}"}'
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.oauth_token
-- a fresh token refused as well: the mapping's service principal is at fault
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 403, "body": "{\"error_code\": 403, \"message\": \"Invalid access token.\"}", "count": 2}'
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\! python3 test/emuctl.py stats requests.oauth_token
-- wrong credentials: a clear error that shows neither the id's secret nor any token
ALTER USER MAPPING FOR CURRENT_USER SERVER genie_sp OPTIONS (SET client_secret :'wrong_secret');
SELECT count(*) FROM sp WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the secret is hidden from other users like a token
CREATE ROLE genie_other2;
SET ROLE genie_other2;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'genie_sp';
RESET ROLE;
DROP ROLE genie_other2;
DROP SERVER genie_sp CASCADE;
