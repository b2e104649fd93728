--
-- Hints: what a query without a usable question is told names the fix, on
-- the table's own columns; blank questions stay local; the NOTICE about
-- answer columns Genie did not send names only the columns the query reads.
-- :SQLSTATE after an error is its SQLSTATE.
--
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never
CREATE FOREIGN TABLE hq (
  "Asked" text OPTIONS (genie 'question'),
  "ProductName" text,
  "TotalValue" numeric,
  region text
) SERVER genie;

-- without a question: the hint's condition is on the table's question
-- column, quoted as SQL needs it
SELECT * FROM hq;
\echo :SQLSTATE
ALTER FOREIGN TABLE hq OPTIONS (ADD without_question 'empty');
SELECT * FROM hq;
ALTER FOREIGN TABLE hq OPTIONS (DROP without_question);

-- an OR of question conditions gives no question: the hint says IN
SELECT * FROM hq WHERE "Asked" = 'Which region sells the most?' OR "Asked" = 'How many orders per region?';
\echo :SQLSTATE
SELECT * FROM hq WHERE "Asked" = 'a' OR "Asked" IN ('b', 'c') OR 'd' = "Asked";
ALTER FOREIGN TABLE hq OPTIONS (ADD without_question 'empty');
SELECT count(*) FROM hq WHERE "Asked" = 'a' OR "Asked" = 'b';
ALTER FOREIGN TABLE hq OPTIONS (DROP without_question);
-- an OR with another condition: the plain hint
SELECT * FROM hq WHERE "Asked" = 'a' OR region = 'West';
\echo :SQLSTATE
-- IN asks both; the second answer has no "ProductName", but the query does
-- not read it: no NOTICE
SELECT "Asked", count(*) FROM hq
 WHERE "Asked" IN ('Which products generate the highest total sales value?', 'How many orders per region?')
 GROUP BY 1 ORDER BY 1;

-- a blank question is refused as the empty one is, and not sent to Genie
\! python3 test/emuctl.py reset
SELECT * FROM hq WHERE "Asked" = '   ';
\echo :SQLSTATE
SELECT * FROM hq WHERE "Asked" = E' \t\r\n ';
\echo :SQLSTATE
SELECT * FROM hq WHERE "Asked" = '';
\echo :SQLSTATE
SELECT * FROM hq WHERE "Asked" IN ('Which products generate the highest total sales value?', E'\n');
\echo :SQLSTATE
PREPARE blank(text) AS SELECT count(*) FROM hq WHERE "Asked" = $1;
EXECUTE blank(E'\t');
\echo :SQLSTATE
DEALLOCATE blank;
\! python3 test/emuctl.py stats requests.start_conversation

-- the NOTICE about missing answer columns names only those the query reads:
-- in its target list ...
SELECT region, "TotalValue" FROM hq WHERE "Asked" = 'Which products generate the highest total sales value?' LIMIT 1;
SELECT "ProductName", "TotalValue" FROM hq WHERE "Asked" = 'Which products generate the highest total sales value?' LIMIT 1;
SELECT count(*) FROM hq WHERE "Asked" = 'Which products generate the highest total sales value?';
-- ... in a condition the scan checks ...
SELECT "ProductName" FROM hq
 WHERE "Asked" = 'Which products generate the highest total sales value?' AND region IS NULL LIMIT 1;
-- ... in a join above the scan, or through a whole-row reference
SELECT h."ProductName" FROM hq h JOIN (VALUES ('West')) v(region) ON h.region IS DISTINCT FROM v.region
 WHERE h."Asked" = 'Which products generate the highest total sales value?' LIMIT 1;
SELECT h FROM hq h WHERE "Asked" = 'Which products generate the highest total sales value?' LIMIT 1;
-- a prepared statement's generic plan keeps what it reads
SET plan_cache_mode = force_generic_plan;
PREPARE ask(text) AS SELECT "ProductName" FROM hq WHERE "Asked" = $1 LIMIT 1;
EXECUTE ask('Which products generate the highest total sales value?');
EXECUTE ask('How many orders per region?');
DEALLOCATE ask;
RESET plan_cache_mode;

DROP FOREIGN TABLE hq;
