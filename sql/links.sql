--
-- Download links to internal addresses: a full-result download reaches
-- public addresses only, or the server's own loopback origin (where the
-- emulator serves its links).  The check is on the address curl is about to
-- connect to, so DNS names and every literal form are judged alike.  Every
-- address tried here is on this machine (127/8, ::1), and refused before a
-- socket is opened; link-local (169.254.169.254), private and the other
-- ranges are covered by test/unit/addr_policy_test.c without any connection.
--
\getenv url GENIE_EMULATOR_URL
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=1000 download_seconds=0
\set SHOW_CONTEXT never
CREATE FOREIGN TABLE dl (question text, id bigint) SERVER genie OPTIONS (full_results 'true');

-- the emulator's own links (its loopback origin) work
SELECT count(*), max(id) FROM dl WHERE question = 'Generate 2500 rows';
\! python3 test/emuctl.py stats requests.storage

-- https links pass the check of the link's text; their addresses do not:
-- another loopback address on the emulator's port
\! python3 test/emuctl.py config link_host=https://127.0.0.2
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
-- IPv6 loopback
\! python3 test/emuctl.py config 'link_host=https://[::1]'
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
-- 127.0.0.1 written as a decimal number, and in hex, on another port
\! python3 test/emuctl.py config link_host=https://2130706433:1
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
\! python3 test/emuctl.py config link_host=https://0x7f.1:1
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
-- an IPv4-mapped IPv6 address
\! python3 test/emuctl.py config 'link_host=https://[::ffff:127.0.0.2]'
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
-- a DNS name that resolves to loopback, on another port
\! python3 test/emuctl.py config link_host=https://localhost:1
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
-- plain http to another origin is refused by the link's text already
\! python3 test/emuctl.py config link_host=http://127.0.0.2
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';
-- nothing reached the storage of the emulator meanwhile
\! python3 test/emuctl.py stats requests.storage

-- a later chunk's link is checked as well: the first chunk comes, the
-- second one's link (from the chunk endpoint) is refused
\! python3 test/emuctl.py config 'link_host=""'
\! python3 test/emuctl.py fault '{"endpoint": "statement_chunk", "action": "set", "set": {"external_links.0.external_link": "https://127.0.0.3:1/x?X-Amz-Signature=secret"}}'
SELECT count(*) FROM dl WHERE question = 'Generate 2500 rows';

-- the session goes on, and the emulator's own links still work
SELECT count(*), max(id) FROM dl WHERE question = 'Generate 2500 rows';
\! python3 test/emuctl.py stats authorization_on_storage

-- option proxy: a URL with scheme http, https or socks5h; a bad one is
-- refused without quoting it (it may hold a password)
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'ftp://proxy.example.com');
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'socks5://proxy.example.com:1080');
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'http://user:s3cret-pw@proxy.example.com:99999');
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'http://user:s3cret-pw@');
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'http://proxy.example.com:3128/path');
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'http://proxy example.com');
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'http://[::1');
ALTER USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (ADD proxy 'http://proxy.example.com');
ALTER FOREIGN TABLE dl OPTIONS (ADD proxy 'http://proxy.example.com');
-- these are fine
CREATE SERVER px FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://x.cloud.databricks.com', proxy 'http://proxy.example.com:3128');
ALTER SERVER px OPTIONS (SET proxy 'socks5h://[::1]:1080');
ALTER SERVER px OPTIONS (SET proxy 'HTTPS://user:pa%40ss@proxy.example.com/');
DROP SERVER px;

-- the option sends every request through another host: superusers only
CREATE ROLE genie_px;
GRANT USAGE ON FOREIGN DATA WRAPPER genie_fdw TO genie_px;
SET ROLE genie_px;
CREATE SERVER mine FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://adb-1.2.azuredatabricks.net', proxy 'http://127.0.0.1:3128');
CREATE SERVER mine FOREIGN DATA WRAPPER genie_fdw OPTIONS (host 'https://adb-1.2.azuredatabricks.net');
ALTER SERVER mine OPTIONS (ADD proxy 'http://127.0.0.1:3128');
DROP SERVER mine;
RESET ROLE;

-- with a proxy, the requests go through it (none listens on port 1 here)
-- and the proxies of the server's environment never do (test/integration/proxy.sh)
CREATE SERVER via FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a',
           proxy 'http://127.0.0.1:1', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER via OPTIONS (token 'dapi-not-used');
CREATE FOREIGN TABLE viaq (question text, "ProductName" text) SERVER via;
\! python3 test/emuctl.py reset
\set VERBOSITY terse
SELECT count(*) FROM viaq WHERE question = 'How many orders per region?';
\set VERBOSITY default
\! python3 test/emuctl.py stats requests.start_conversation

DROP FOREIGN TABLE dl, viaq;
DROP USER MAPPING FOR CURRENT_USER SERVER via;
DROP SERVER via;
REVOKE USAGE ON FOREIGN DATA WRAPPER genie_fdw FROM genie_px;
DROP ROLE genie_px;
\! python3 test/emuctl.py reset
