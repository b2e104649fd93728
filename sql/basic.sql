--
-- The core path: WHERE question = '...' returns Genie's answer as rows
--
\! python3 test/emuctl.py reset
CREATE FOREIGN TABLE sales (
  question      text,
  "ProductName" text,
  "TotalValue"  numeric,
  generated_sql text OPTIONS (genie 'sql'),
  answer_text   text OPTIONS (genie 'text'),
  descr         text OPTIONS (genie 'description')
) SERVER genie;

SELECT "ProductName", "TotalValue" FROM sales
 WHERE question = 'Which products generate the highest total sales value?';
-- metadata columns: the same on every row
SELECT DISTINCT question, generated_sql, answer_text, descr FROM sales
 WHERE question = 'Which products generate the highest total sales value?';
-- the question is normalised by Genie, not by us: case and spaces differ
SELECT count(*) FROM sales
 WHERE 'which  PRODUCTS generate the highest total sales value' = question;
\! python3 test/emuctl.py stats requests.start_conversation

-- names match case-insensitively when there is no exact match, column_name maps
CREATE FOREIGN TABLE sales2 (
  question text,
  productname text,
  value numeric OPTIONS (column_name 'TotalValue'),
  nope int
) SERVER genie;
SELECT productname, value, nope FROM sales2
 WHERE question = 'Which products generate the highest total sales value?' ORDER BY value LIMIT 2;

-- a "row" column has the whole answer row as jsonb, numbers as numbers
CREATE FOREIGN TABLE sales_row (q text OPTIONS (genie 'question'), r jsonb OPTIONS (genie 'row')) SERVER genie;
SELECT r, r->'TotalValue' AS v, jsonb_typeof(r->'TotalValue') FROM sales_row
 WHERE q = 'Which products generate the highest total sales value?' LIMIT 2;

-- the question may be a parameter (generic plan, as BI drivers use)
SET plan_cache_mode = force_generic_plan;
PREPARE ask(text) AS SELECT "ProductName" FROM sales WHERE question = $1 LIMIT 1;
EXECUTE ask('Which products generate the highest total sales value?');
EXECUTE ask('How many orders per region?');
DEALLOCATE ask;
RESET plan_cache_mode;
-- or any stable expression, or a scalar subquery over local data
SELECT count(*) FROM sales
 WHERE question = concat('Which products generate ', 'the highest total sales value?');
CREATE TABLE my_questions (id int, q text);
INSERT INTO my_questions VALUES (1, 'Which products generate the highest total sales value?');
SELECT "ProductName" FROM sales
 WHERE question = (SELECT q FROM my_questions WHERE id = 1) LIMIT 1;

-- NULL never matches: nothing is asked
\! python3 test/emuctl.py reset
SELECT count(*) FROM sales WHERE question = NULL;
-- LIMIT 0 and EXPLAIN ask nothing either (BI tools probe with them)
SELECT * FROM sales WHERE question = 'Which products generate the highest total sales value?' LIMIT 0;
SELECT * FROM sales LIMIT 0;
\! python3 test/emuctl.py stats requests.start_conversation
-- without a question there is nothing to ask
SELECT * FROM sales;
SELECT * FROM sales WHERE question LIKE 'Which%';
SELECT * FROM sales WHERE question = '';

-- the last query attachment is the answer (Genie corrected itself)
CREATE FOREIGN TABLE regions (question text, region text, order_count bigint, wrong int) SERVER genie;
SELECT region, order_count, wrong FROM regions WHERE question = 'How many orders per region?';

-- a text-only answer: one row when there is a text column, else a NOTICE
SELECT question, "ProductName", answer_text IS NOT NULL AS has_text, generated_sql
  FROM sales WHERE question = 'What is the meaning of life?';
SELECT * FROM sales2 WHERE question = 'What is the meaning of life?';

-- answers in several chunks are streamed; Genie caps answers at 5,000 rows
CREATE FOREIGN TABLE gen (question text, id bigint, name text, qty int, amount numeric, ts timestamptz, flag boolean) SERVER genie;
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py config chunk_rows=700
SELECT count(*), count(DISTINCT id), min(id), max(id), sum(qty) FROM gen WHERE question = 'Generate 2500 rows';
\! python3 test/emuctl.py stats requests.statement_chunk
SELECT count(*), max(id) FROM gen WHERE question = 'Generate 6000 rows';
\! python3 test/emuctl.py reset

-- joined with local data; a rescan with the same question does not ask again
CREATE TABLE targets (product text, target numeric);
INSERT INTO targets VALUES ('Vegan Pizza', 2000), ('Organic Chili', 2500), ('Tofu Curry', 100);
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT t.product, t.target, s."TotalValue", s."TotalValue" >= t.target AS met
  FROM targets t JOIN sales s ON s."ProductName" = t.product
 WHERE s.question = 'Which products generate the highest total sales value?'
 ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
\! python3 test/emuctl.py stats requests.start_conversation
