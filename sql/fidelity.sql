--
-- Fidelity: shapes real workspaces send, Genie's suggestions and follow-up
-- questions, and scans without a question (BI tools' previews)
--
\getenv url GENIE_EMULATOR_URL
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never

-- Genie regenerates its SQL: a draft query attachment while EXECUTING_QUERY,
-- the final one at COMPLETED.  Only the completed message's last query counts.
CREATE FOREIGN TABLE regions_q (
  question    text,
  region      text,
  total_value numeric,
  sql         text OPTIONS (genie 'sql'),
  answer      text OPTIONS (genie 'text'),
  follow_up   text OPTIONS (genie 'follow_up'),
  suggestions text[] OPTIONS (genie 'suggested_questions')
) SERVER genie;
SELECT region, total_value, sql LIKE '%SUM(o.total)%' AS final_sql FROM regions_q
 WHERE question = 'Which region sells the most?';
-- the answer text and the follow-up question are apart; suggestions are an array
SELECT answer, follow_up, suggestions, suggestions[2] AS second FROM regions_q
 WHERE question = 'Which region sells the most?';
-- one result request per answer: the draft's statement was never read
\! python3 test/emuctl.py stats requests.attachment_query_result

-- the same suggestions as jsonb (a JSON array) and as text
CREATE FOREIGN TABLE regions_json (
  question text,
  sj jsonb OPTIONS (genie 'suggested_questions'),
  st text OPTIONS (genie 'suggested_questions')
) SERVER genie;
SELECT jsonb_array_length(sj), sj->>0 AS first, st FROM regions_json
 WHERE question = 'Which region sells the most?';

-- a clarifying question instead of an answer: it is the follow-up, not the text
SELECT region, answer, follow_up, suggestions FROM regions_q
 WHERE question = 'What is the meaning of life?';
-- without text, follow_up or suggestion columns: a NOTICE quoting the question
CREATE FOREIGN TABLE plain (question text, region text) SERVER genie;
SELECT * FROM plain WHERE question = 'What is the meaning of life?';

-- column names with spaces and parentheses, Spark's doubles (exponents, NaN,
-- Infinity) and 38-digit decimals
CREATE FOREIGN TABLE stations (
  question           text,
  "Station Type"     text,
  "count(1)"         bigint,
  "Average Load (W)" float8,
  failure_rate       float8,
  "Capacity"         numeric,
  r                  jsonb OPTIONS (genie 'row')
) SERVER genie;
SELECT "Station Type", "count(1)", "Average Load (W)", failure_rate, "Capacity"
  FROM stations WHERE question = 'Count stations by type';
SELECT r->'Average Load (W)' AS load, r->'failure_rate' AS rate, r->'Capacity' AS capacity
  FROM stations WHERE question = 'Count stations by type';
-- exponent-notation doubles into numeric columns too
CREATE FOREIGN TABLE stations_num (question text, "Average Load (W)" numeric, failure_rate numeric) SERVER genie;
SELECT * FROM stations_num WHERE question = 'Count stations by type';

-- error bodies with numeric codes, as real workspaces send them: the
-- service's message, never the JSON body
CREATE FOREIGN TABLE fq (question text, "ProductName" text) SERVER genie;
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 401, "body": "{\"error_code\": 401, \"message\": \"Credential was not sent or was of an unsupported type for this API.\"}"}'
SELECT * FROM fq WHERE question = 'Which products generate the highest total sales value?';
CREATE SERVER fid_badtoken FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a');
CREATE USER MAPPING FOR CURRENT_USER SERVER fid_badtoken OPTIONS (token 'dapi-wrong-token');
CREATE FOREIGN TABLE fq_badtoken (question text) SERVER fid_badtoken;
SELECT * FROM fq_badtoken WHERE question = 'Which products generate the highest total sales value?';
-- a body with details: the message is shown, the details are not
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 400, "body": "{\"error_code\": \"INVALID_PARAMETER_VALUE\", \"message\": \"The question is too long.\", \"details\": [{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"GENIE_BACKEND\", \"domain\": \"dashboards.genie.databricks.com\", \"metadata\": {}}, {\"@type\": \"type.googleapis.com/google.rpc.RequestInfo\", \"request_id\": \"5f1e\", \"serving_data\": \"\"}]}"}'
SELECT * FROM fq WHERE question = 'Which products generate the highest total sales value?';

-- FAILED messages: Genie's error type chooses the SQLSTATE and the hint
CREATE FUNCTION failure_of(question text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  PERFORM count(*) FROM fq WHERE fq.question = failure_of.question;
  RETURN 'no error';
EXCEPTION WHEN OTHERS OR query_canceled THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || ' ' || SQLERRM || ' / ' || coalesce(nullif(hint, ''), '(no hint)');
END $$;
SELECT failure_of('Make the query fail');
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "set", "only_status": "FAILED", "count": 100, "set": {"error.type": "REPLY_PROCESS_TIMEOUT_EXCEPTION"}}'
SELECT failure_of('Make the query fail');
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "set", "only_status": "FAILED", "count": 100, "set": {"error.type": "WAREHOUSE_ACCESS_MISSING_EXCEPTION"}}'
SELECT failure_of('Make the query fail');
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "set", "only_status": "FAILED", "count": 100, "set": {"error.type": "SOME_NEW_EXCEPTION"}}'
SELECT failure_of('Make the query fail');
\! python3 test/emuctl.py reset
-- a rate-limit failure is asked again; when retries run out it is a quota error
ALTER SERVER genie OPTIONS (ADD max_retries '0');
SELECT failure_of('Trigger a rate limit');
ALTER SERVER genie OPTIONS (DROP max_retries);
SELECT failure_of('Trigger a rate limit');
\! python3 test/emuctl.py reset
DROP FUNCTION failure_of(text);

-- scans without a question: an error by default ...
CREATE FOREIGN TABLE bi (question text, "ProductName" text, "TotalValue" numeric) SERVER genie;
SELECT "question", "ProductName", "TotalValue" FROM "public"."bi" LIMIT 10000;
-- ... or no rows and a NOTICE with without_question 'empty': Metabase's
-- fingerprint query and Tableau's preview
ALTER FOREIGN TABLE bi OPTIONS (ADD without_question 'empty');
SELECT "public"."bi"."question" AS "question", "public"."bi"."ProductName" AS "ProductName",
       "public"."bi"."TotalValue" AS "TotalValue"
  FROM "public"."bi" LIMIT 10000;
SELECT * FROM "public"."bi";
SELECT count(*) FROM bi;
-- a question still asks
SELECT "ProductName" FROM bi WHERE question = 'Which products generate the highest total sales value?' LIMIT 1;
-- the server may set it for every table; the table's own option wins
ALTER FOREIGN TABLE bi OPTIONS (SET without_question 'error');
ALTER SERVER genie OPTIONS (ADD without_question 'empty');
SELECT * FROM bi;
SELECT * FROM plain;
ALTER SERVER genie OPTIONS (DROP without_question);
SELECT * FROM plain;
-- only 'error' and 'empty'
ALTER FOREIGN TABLE bi OPTIONS (SET without_question 'skip');
-- of these scans, only the one with a question asked Genie
\! python3 test/emuctl.py stats requests.start_conversation
DROP SERVER fid_badtoken CASCADE;
