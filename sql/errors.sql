--
-- Errors: Genie's own reasons, HTTP failures, hostile responses
--
\getenv url GENIE_EMULATOR_URL
\! python3 test/emuctl.py reset
-- the context names the conversation and message, which differ on every run
\set SHOW_CONTEXT never
CREATE FOREIGN TABLE q (question text, "ProductName" text, "TotalValue" numeric) SERVER genie;

-- messages that end without an answer carry Genie's reason
SELECT * FROM q WHERE question = 'Make the query fail';
SELECT * FROM q WHERE question = 'Cancel this question';
SELECT * FROM q WHERE question = 'Let the result expire';

-- a RATE_LIMIT failure is asked again after the backoff, and then answered
SELECT count(*) FROM q WHERE question = 'Trigger a rate limit';
\! python3 test/emuctl.py stats requests.start_conversation

-- 429 with Retry-After, then success; the question was asked once.  The
-- service's Retry-After is waited in full, also when it is longer than
-- max_backoff (which caps only our own backoff)
\! python3 test/emuctl.py reset
ALTER SERVER genie OPTIONS (SET max_backoff '0.5');
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 429, "retry_after": "1", "count": 2}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats requests.start_conversation
\! python3 test/emuctl.py stats statuses.429
-- the same for a 503 with Retry-After on a poll
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "1", "count": 1}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py stats statuses.503
-- Retry-After values no service means count as absent (our backoff, capped
-- by max_backoff, applies): not delta-seconds or a date, a date in the
-- past, more than a day
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "inf", "count": 1}'
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "-5", "count": 1}'
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "1e400", "count": 1}'
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT", "count": 1}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "99999999999999999999999", "count": 1}'
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "86401", "count": 1}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
-- a Retry-After longer than the time left before answer_timeout or
-- statement_timeout is not slept: the query says so at once (shown without
-- the error's detail, which says how much time was left)
CREATE FUNCTION error_of(query text, OUT code text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
EXCEPTION WHEN OTHERS OR query_canceled THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
END $$;
\x on
-- a day is honoured, so it is longer than the 600 s of answer_timeout
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "retry_after": "86400", "count": 1}'
SELECT * FROM error_of($$SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'$$);
\! python3 test/emuctl.py reset
ALTER SERVER genie OPTIONS (ADD answer_timeout '5');
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 429, "retry_after": "30", "count": 1}'
SELECT * FROM error_of($$SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'$$);
ALTER SERVER genie OPTIONS (DROP answer_timeout);
SET statement_timeout = '3s';
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 429, "retry_after": "30", "count": 1}'
SELECT * FROM error_of($$SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'$$);
RESET statement_timeout;
\x off
-- neither question was sent again
\! python3 test/emuctl.py stats requests.start_conversation
DROP FUNCTION error_of;
ALTER SERVER genie OPTIONS (SET max_backoff '0.2');
-- 503 on a poll is retried
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 503, "count": 2}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
-- retries run out: the error says how many were made
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 500, "count": 10}'
SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py reset

-- credentials refused: the user mapping is at fault (28000); the error names
-- it and how to fix it, and never shows the token.  Real workspaces answer an
-- unknown token with 403 {"error_code": 403, "message": "Invalid access token."}
CREATE SERVER genie_badtoken FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a');
CREATE USER MAPPING FOR CURRENT_USER SERVER genie_badtoken OPTIONS (token 'dapi-wrong-token');
CREATE FOREIGN TABLE q_badtoken (question text) SERVER genie_badtoken;
SELECT * FROM q_badtoken WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the same from genie_spaces(), where no space is involved
SELECT * FROM genie_spaces('genie_badtoken');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a 401 (token expired or revoked), and 403s that say the token is refused
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 401}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "status", "status": 403, "body": "{\"error_code\": \"UNAUTHENTICATED\", \"message\": \"Credential was not sent or was of an unsupported type for this API.\"}"}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\! python3 test/emuctl.py fault '{"endpoint": "get_message", "action": "status", "status": 403, "body": "{\"error_code\": \"PERMISSION_DENIED\", \"message\": \"The access token has expired.\"}"}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a valid token whose user may not use the space: access denied (42501)
CREATE FOREIGN TABLE q_forbidden (question text) SERVER genie OPTIONS (space_id '01f0000000000000000000000000000c');
SELECT * FROM q_forbidden WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an unknown space
CREATE FOREIGN TABLE q_unknown (question text) SERVER genie OPTIONS (space_id '01f00000000000000000000000000fff');
SELECT * FROM q_unknown WHERE question = 'Which products generate the highest total sales value?';

-- a host that has never answered in this session: a name that does not
-- resolve, or nothing listening, is a wrong option host and fails at once
-- (without the retries a passing failure gets), with a hint naming it
CREATE SERVER genie_nohost FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'http://127.0.0.1:9', space_id '01f0000000000000000000000000000a');
CREATE USER MAPPING FOR CURRENT_USER SERVER genie_nohost OPTIONS (token 'dapi-not-sent');
CREATE FOREIGN TABLE q_nohost (question text) SERVER genie_nohost;
SELECT * FROM q_nohost WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER SERVER genie_nohost OPTIONS (SET host 'https://genie.invalid');
SELECT * FROM q_nohost WHERE question = 'Which products generate the highest total sales value?';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM genie_spaces('genie_nohost');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SERVER genie_nohost CASCADE;

-- hostile responses: each is a clear error and the session goes on
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "malformed"}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "html", "status": 200}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "html", "status": 502}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
\! python3 test/emuctl.py fault '{"endpoint": "attachment_query_result", "action": "set", "set": {"statement_response.result.data_array.1": ["only one value"]}}'
SELECT * FROM q WHERE question = 'Which products generate the highest total sales value?';
SELECT 'still working' AS session;

-- a Genie that never answers: answer_timeout
ALTER SERVER genie OPTIONS (ADD answer_timeout '0.5');
-- answer_timeout running out is a timeout (57014), as statement_timeout is
SELECT * FROM q WHERE question = 'Take your time';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER SERVER genie OPTIONS (DROP answer_timeout);
