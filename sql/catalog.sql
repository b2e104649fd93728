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
DROP SCHEMA imported, imported2 CASCADE;

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
