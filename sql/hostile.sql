--
-- Hostile or broken responses: each ends in a clear error, never a crash,
-- and the session goes on
--
\! python3 test/emuctl.py reset
\set SHOW_CONTEXT never
-- the details quote response bodies, which hold ids that differ on every run
\set VERBOSITY terse
CREATE FOREIGN TABLE h (question text, "ProductName" text, "TotalValue" numeric) SERVER genie;
CREATE FOREIGN TABLE hgen (question text, id bigint) SERVER genie;

-- an empty body, a truncated body (with a matching Content-Length)
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "empty"}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "truncated"}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';

-- wrong JSON types for known fields
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "set", "set": {"status": 5}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.manifest.total_row_count": "many"}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.result.data_array.0.0": {"name": "x"}}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.manifest.schema.columns": "none"}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';

-- an unknown status is not terminal: polling goes on until a known one
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "set", "set": {"status": "PONDERING_DEEPLY"}, "count": 2}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';

-- COMPLETED without any attachment
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "set", "only_status": "COMPLETED", "set": {"attachments": [], "query_result": null}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';

-- rows with more or fewer values than the schema
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.result.data_array.0": ["a", "1.00", "extra"]}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.result.data_array.2": []}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';

-- invalid UTF-8, and a NUL character, in a value
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "body", "status": 200, "body_b64": "eyJzdGF0ZW1lbnRfcmVzcG9uc2UiOiB7InN0YXRlbWVudF9pZCI6ICIwMWVlNDhlYi01MTI0LTE5MjItYmI5MC1mOThjODJmMDI0ZmUiLCAic3RhdHVzIjogeyJzdGF0ZSI6ICJTVUNDRUVERUQifSwgIm1hbmlmZXN0IjogeyJmb3JtYXQiOiAiSlNPTl9BUlJBWSIsICJzY2hlbWEiOiB7ImNvbHVtbl9jb3VudCI6IDIsICJjb2x1bW5zIjogW3sibmFtZSI6ICJQcm9kdWN0TmFtZSIsICJwb3NpdGlvbiI6IDAsICJ0eXBlX25hbWUiOiAiU1RSSU5HIiwgInR5cGVfdGV4dCI6ICJTVFJJTkcifSwgeyJuYW1lIjogIlRvdGFsVmFsdWUiLCAicG9zaXRpb24iOiAxLCAidHlwZV9uYW1lIjogIkRFQ0lNQUwiLCAidHlwZV90ZXh0IjogIkRFQ0lNQUwoMzgsMikifV19LCAidG90YWxfY2h1bmtfY291bnQiOiAxLCAidG90YWxfcm93X2NvdW50IjogMX0sICJyZXN1bHQiOiB7ImNodW5rX2luZGV4IjogMCwgInJvd19vZmZzZXQiOiAwLCAicm93X2NvdW50IjogMSwgImRhdGFfYXJyYXkiOiBbWyJjYWbpIP8iLCAiMS4wMCJdXX19fQ=="}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.result.data_array.0.0": "a\u0000b"}}'
SELECT "ProductName" FROM h WHERE question = 'Which products generate the highest total sales value?';

-- bare JSON numbers among the values (the contract sends strings): each
-- keeps its text as sent, so the column's input function sees the exact
-- value; nothing is clamped, rounded or loses its sign
\set VERBOSITY default
\set SHOW_CONTEXT errors
CREATE FOREIGN TABLE hnum (question text, "TotalValue" numeric) SERVER genie;
CREATE FOREIGN TABLE hnum_big (question text, "TotalValue" bigint) SERVER genie;
CREATE FOREIGN TABLE hnum_f8 (question text, "TotalValue" float8) SERVER genie;
CREATE FOREIGN TABLE hnum_row (question text, r jsonb OPTIONS (genie 'row')) SERVER genie;
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.1": "123456789012345678901234567890", "statement_response.result.data_array.1.1": "-0", "statement_response.result.data_array.2.1": "0.1", "statement_response.result.data_array.3.1": "-0.0", "statement_response.result.data_array.4.1": "1E2"}}'
SELECT "TotalValue" FROM hnum WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.1": "123456789012345678901234567890", "statement_response.result.data_array.1.1": "-0", "statement_response.result.data_array.2.1": "0.1", "statement_response.result.data_array.3.1": "1E2"}}'
SELECT r->'TotalValue' AS "TotalValue" FROM hnum_row WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.1.1": "-0", "statement_response.result.data_array.2.1": "-0.0"}}'
SELECT "TotalValue" FROM hnum_f8 WHERE question = 'Which products generate the highest total sales value?';
-- a value out of the column type's range is the type's usual error
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.1": "123456789012345678901234567890"}}'
SELECT "TotalValue" FROM hnum_big WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.1.1": "1e400"}}'
SELECT "TotalValue" FROM hnum_f8 WHERE question = 'Which products generate the highest total sales value?';
-- the same when a boolean among the values hands the body to the json-c
-- decoder (which keeps no integer's text of its own)
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.0": "true", "statement_response.result.data_array.0.1": "123456789012345678901234567890", "statement_response.result.data_array.1.1": "-0"}}'
SELECT "TotalValue" FROM hnum WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.0": "true", "statement_response.result.data_array.1.1": "-0"}}'
SELECT "TotalValue" FROM hnum_f8 WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.0": "true", "statement_response.result.data_array.0.1": "123456789012345678901234567890"}}'
SELECT "TotalValue" FROM hnum_big WHERE question = 'Which products generate the highest total sales value?';
\set SHOW_CONTEXT never
\set VERBOSITY terse
-- a number not written as JSON writes numbers is refused, not read as -1
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.1": "-01"}}'
SELECT "TotalValue" FROM hnum WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "raw": {"statement_response.result.data_array.0.1": "NaN"}}'
SELECT "TotalValue" FROM hnum_f8 WHERE question = 'Which products generate the highest total sales value?';

-- fewer rows than the manifest announced
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.manifest.total_row_count": 7}}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';

-- an answer larger than max_response_size
ALTER SERVER genie OPTIONS (ADD max_response_size '4096');
SELECT count(*) FROM hgen WHERE question = 'Generate 1000 rows';
ALTER SERVER genie OPTIONS (DROP max_response_size);

-- a dropped connection: a read is retried, a question is not asked twice
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "drop_mid_body"}'
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "drop"}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.attachment_query_result
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "drop_mid_body"}'
SELECT count(*) FROM h WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.start_conversation

-- a result chunk that is gone (the statement expired on the service)
\! python3 test/emuctl.py config chunk_rows=400
\! python3 test/emuctl.py fault '{"endpoint": "statement_chunk", "action": "status", "status": 404, "count": 10}'
SELECT count(*) FROM hgen WHERE question = 'Generate 1000 rows';
\! python3 test/emuctl.py reset

SELECT 'still working' AS session, count(*) FROM h
 WHERE question = 'Which products generate the highest total sales value?';
