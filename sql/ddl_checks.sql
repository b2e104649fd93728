--
-- DDL checks: a genie_fdw table that cannot work is refused when it is
-- created or altered (the event trigger genie_fdw_ddl_check), and where DDL
-- did not check it (a restore, a table from before 1.2), when it is planned:
-- never after Genie was asked.  :SQLSTATE after an error is its SQLSTATE.
--
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never

-- no question column
CREATE FOREIGN TABLE nq (answer text, r jsonb OPTIONS (genie 'row')) SERVER genie;
\echo :SQLSTATE
-- a question column that is not text or varchar (a condition on it is not
-- text = text, so the question would never be found)
CREATE FOREIGN TABLE badq (question integer, "ProductName" text) SERVER genie;
\echo :SQLSTATE
CREATE FOREIGN TABLE badq (q char(200) OPTIONS (genie 'question')) SERVER genie;
\echo :SQLSTATE
CREATE FOREIGN TABLE badq (q name OPTIONS (genie 'question')) SERVER genie;
\echo :SQLSTATE
-- a row column that is not jsonb or json
CREATE FOREIGN TABLE badrow (question text, r text OPTIONS (genie 'row')) SERVER genie;
\echo :SQLSTATE
CREATE FOREIGN TABLE badrow (question text, r integer OPTIONS (genie 'row')) SERVER genie;
\echo :SQLSTATE
-- two question columns
CREATE FOREIGN TABLE twoq (question text, q2 text OPTIONS (genie 'question')) SERVER genie;
\echo :SQLSTATE
SELECT count(*) AS "tables created" FROM pg_class WHERE relname IN ('nq', 'badq', 'badrow', 'twoq');

-- fine: text, varchar, domains over them; jsonb, json and domains over them;
-- an answer column named question once column_name maps it
CREATE DOMAIN question_text AS varchar(500) CHECK (VALUE <> '');
CREATE DOMAIN answer_row AS jsonb;
CREATE FOREIGN TABLE okq (
  q        question_text OPTIONS (genie 'question'),
  r        answer_row OPTIONS (genie 'row'),
  rj       json OPTIONS (genie 'row'),
  question integer OPTIONS (column_name 'question')
) SERVER genie;
SELECT q, r->>'ProductName' AS product, rj->>'TotalValue' AS value FROM okq
 WHERE q = 'Which products generate the highest total sales value?' LIMIT 1;
CREATE FOREIGN TABLE okv (question varchar(300), "ProductName" text) SERVER genie;

-- ALTER: every change that breaks the table is refused, ALTER TABLE too
ALTER FOREIGN TABLE okq DROP COLUMN q;
\echo :SQLSTATE
ALTER FOREIGN TABLE okq ALTER COLUMN q TYPE integer;
\echo :SQLSTATE
ALTER FOREIGN TABLE okq ALTER COLUMN q OPTIONS (SET genie 'sql');
\echo :SQLSTATE
ALTER TABLE okq ALTER COLUMN r TYPE text;
\echo :SQLSTATE
ALTER FOREIGN TABLE okv RENAME COLUMN question TO asked;
\echo :SQLSTATE
ALTER FOREIGN TABLE okv ADD COLUMN q2 text OPTIONS (genie 'question');
\echo :SQLSTATE
-- the subcommands of one statement are checked together, at its end
ALTER FOREIGN TABLE okq DROP COLUMN q, ADD COLUMN asked text OPTIONS (genie 'question');
ALTER FOREIGN TABLE okq ALTER COLUMN r TYPE jsonb, ALTER COLUMN rj TYPE jsonb;
-- a column named question keeps its part when renamed once the option says it
ALTER FOREIGN TABLE okv ALTER COLUMN question OPTIONS (ADD genie 'question');
ALTER FOREIGN TABLE okv RENAME COLUMN question TO asked;
\d okq
\d okv
-- fixed as the hint says
CREATE FOREIGN TABLE fixme (question text, r text) SERVER genie;
ALTER FOREIGN TABLE fixme ALTER COLUMN r OPTIONS (ADD genie 'row');
ALTER FOREIGN TABLE fixme ALTER COLUMN r TYPE jsonb, ALTER COLUMN r OPTIONS (ADD genie 'row');

-- other wrappers' tables and plain tables are not looked at
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other_srv FOREIGN DATA WRAPPER other_fdw;
CREATE FOREIGN TABLE other_t (question integer, r text OPTIONS (genie 'row')) SERVER other_srv;
ALTER FOREIGN TABLE other_t DROP COLUMN question;
CREATE TABLE plain_t (question integer);
ALTER TABLE plain_t ADD COLUMN r text;
DROP TABLE plain_t;
DROP FOREIGN DATA WRAPPER other_fdw CASCADE;

-- a role without superuser is checked the same
CREATE ROLE genie_ddl;
GRANT USAGE ON FOREIGN SERVER genie TO genie_ddl;
CREATE SCHEMA genie_ddl AUTHORIZATION genie_ddl;
SET ROLE genie_ddl;
CREATE FOREIGN TABLE genie_ddl.mine (x text) SERVER genie;
\echo :SQLSTATE
CREATE FOREIGN TABLE genie_ddl.mine (question text, x text) SERVER genie;
RESET ROLE;
DROP SCHEMA genie_ddl CASCADE;
REVOKE USAGE ON FOREIGN SERVER genie FROM genie_ddl;
DROP ROLE genie_ddl;

-- a restore: pg_dump writes CREATE FOREIGN TABLE, then each column's options
-- (ALTER FOREIGN TABLE ... ALTER COLUMN ... OPTIONS), with
-- check_function_bodies off; nothing is checked in between
SET check_function_bodies = off;
CREATE FOREIGN TABLE restored (q text, r jsonb) SERVER genie;
ALTER FOREIGN TABLE ONLY restored ALTER COLUMN q OPTIONS (genie 'question');
ALTER FOREIGN TABLE ONLY restored ALTER COLUMN r OPTIONS (genie 'row');
-- and so a broken table can come in that way (as it can from before 1.2) ...
CREATE FOREIGN TABLE unchecked_nq ("ProductName" text) SERVER genie;
CREATE FOREIGN TABLE unchecked_row (question text, r integer OPTIONS (genie 'row')) SERVER genie;
CREATE FOREIGN TABLE unchecked_q (question bpchar, "ProductName" text) SERVER genie;
RESET check_function_bodies;
SELECT r->>'ProductName' AS product FROM restored
 WHERE q = 'Which products generate the highest total sales value?' LIMIT 1;
\! python3 test/emuctl.py reset
-- ... but planning refuses it, before anything is asked (EXPLAIN and LIMIT 0
-- too: the table cannot work)
SELECT * FROM unchecked_nq;
\echo :SQLSTATE
SELECT r FROM unchecked_row WHERE question = 'Which products generate the highest total sales value?';
\echo :SQLSTATE
EXPLAIN (COSTS OFF) SELECT r FROM unchecked_row WHERE question = 'Which products generate the highest total sales value?';
SELECT * FROM unchecked_q WHERE question = 'Which products generate the highest total sales value?' LIMIT 0;
\echo :SQLSTATE
\! python3 test/emuctl.py stats requests.start_conversation

DROP FOREIGN TABLE okq, okv, fixme, restored, unchecked_nq, unchecked_row, unchecked_q;
DROP DOMAIN question_text, answer_row;
