--
-- Finding spaces, importing them, deleting old conversations
--
\! python3 test/emuctl.py reset
SELECT * FROM genie_spaces('genie') ORDER BY space_id;
SELECT * FROM genie_spaces('no_such_server');

-- one foreign table per space, named after its title
CREATE SCHEMA imported;
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported;
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relnamespace = 'imported'::regnamespace ORDER BY 1;
\d imported.retail_sales
SELECT "row"->>'ProductName' AS product, ("row"->>'TotalValue')::numeric AS value, generated_sql IS NOT NULL AS has_sql
  FROM imported.retail_sales
 WHERE question = 'Which products generate the highest total sales value?' LIMIT 2;
CREATE SCHEMA imported2;
IMPORT FOREIGN SCHEMA genie LIMIT TO (supply_chain) FROM SERVER genie INTO imported2;
SELECT relname FROM pg_class WHERE relnamespace = 'imported2'::regnamespace;
IMPORT FOREIGN SCHEMA genie EXCEPT (supply_chain, retail_sales) FROM SERVER genie INTO imported2;
SELECT relname FROM pg_class WHERE relnamespace = 'imported2'::regnamespace ORDER BY 1;
IMPORT FOREIGN SCHEMA public FROM SERVER genie INTO imported2;
-- options of the import are table options of every imported table (only
-- cache_ttl, full_results and without_question), checked as table options
-- are, before any space is listed; :SQLSTATE is the error's SQLSTATE
\set SHOW_CONTEXT never
\! python3 test/emuctl.py reset
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported2 OPTIONS (bogus 'x');
\echo :SQLSTATE
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported2 OPTIONS (space_id '01f0000000000000000000000000000a');
\echo :SQLSTATE
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported2 OPTIONS (cache_ttl 'soon');
\echo :SQLSTATE
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported2 OPTIONS (full_results 'maybe');
\echo :SQLSTATE
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported2 OPTIONS (without_question 'skip');
\echo :SQLSTATE
IMPORT FOREIGN SCHEMA genie FROM SERVER genie INTO imported2 OPTIONS (cache_ttl '1', cache_ttl '2');
\echo :SQLSTATE
\! python3 test/emuctl.py stats requests.list_spaces
CREATE SCHEMA imported3;
IMPORT FOREIGN SCHEMA genie EXCEPT (finance_restricted) FROM SERVER genie INTO imported3
  OPTIONS (cache_ttl '600', full_results 'false', without_question 'empty');
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
 WHERE c.relnamespace = 'imported3'::regnamespace ORDER BY 1;
SELECT count(*) FROM imported3.retail_sales;
\set SHOW_CONTEXT errors
DROP SCHEMA imported, imported2, imported3 CASCADE;

-- conversation hygiene: genie_fdw starts one conversation per question
\! python3 test/emuctl.py reset
CREATE FOREIGN TABLE hyg (question text, c text OPTIONS (genie 'conversation_id')) SERVER genie;
SELECT count(DISTINCT c) FROM hyg WHERE question IN ('Generate 1 rows', 'Generate 2 rows', 'Generate 3 rows');
SELECT genie_delete_conversations('genie', '1 hour');
SELECT pg_sleep(0.1);
SELECT genie_delete_conversations('genie', '0 seconds');
\! python3 test/emuctl.py stats requests.delete_conversation
SELECT genie_delete_conversations('genie', '0 seconds');
SELECT genie_delete_conversations('genie', '-1 day');
SELECT genie_delete_conversations('genie', '0 seconds', '01f0000000000000000000000000000b');
