--
-- Full results beyond Genie's 5,000-row cap: the full-result download
-- (external links, fetched without the Authorization header)
--
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=2500 download_seconds=0.3
CREATE FOREIGN TABLE big (question text, id bigint, name text, amount numeric) SERVER genie
  OPTIONS (full_results 'true');
SELECT count(*), count(DISTINCT id), min(id), max(id), sum(amount) > 0 AS amounts
  FROM big WHERE question = 'Generate 12000 rows';
\! python3 test/emuctl.py stats requests.generate_download
\! python3 test/emuctl.py stats requests.storage
\! python3 test/emuctl.py stats authorization_on_storage
-- the same with the cap: truncated
ALTER FOREIGN TABLE big OPTIONS (SET full_results 'false');
SELECT count(*) FROM big WHERE question = 'Generate 12000 rows';
ALTER FOREIGN TABLE big OPTIONS (SET full_results 'true');
-- expired links are renewed through the statement API
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=2500 download_seconds=0.2
\! python3 test/emuctl.py fault '{"endpoint": "storage", "action": "body", "status": 403, "body": "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", "count": 1}'
SELECT count(*), max(id) FROM big WHERE question = 'Generate 6000 rows';
\! python3 test/emuctl.py stats requests.statement_chunk
-- a storage error that a new link does not cure
\! python3 test/emuctl.py fault '{"endpoint": "storage", "action": "status", "status": 403, "count": 20}'
\set VERBOSITY terse
SELECT count(*), max(id) FROM big WHERE question = 'Generate 6000 rows';
\set VERBOSITY default
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=2500 download_seconds=0.2
-- a link that fails on storage: the chunk is fetched again
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=2500 download_seconds=0.2
\! python3 test/emuctl.py fault '{"endpoint": "storage", "action": "drop_mid_body", "count": 1}'
SELECT count(*), max(id) FROM big WHERE question = 'Generate 6000 rows';
-- LIMIT stops early; the prefetch in flight is dropped and the session goes on
SELECT id FROM big WHERE question = 'Generate 9000 rows' LIMIT 3;
SELECT count(*) FROM big WHERE question = 'Generate 100 rows';
ALTER FOREIGN TABLE big OPTIONS (bogus 'x');
ALTER FOREIGN TABLE big OPTIONS (SET full_results 'maybe');
\! python3 test/emuctl.py reset
