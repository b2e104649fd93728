--
-- Questions at SQL scale: many questions at once, joins, follow-ups
--
\! python3 test/emuctl.py reset
-- contexts name conversations, which differ on every run
\set SHOW_CONTEXT never
CREATE FOREIGN TABLE grow (question text, r jsonb OPTIONS (genie 'row')) SERVER genie;

-- IN lists and = ANY ask every distinct question, concurrently
SELECT question, count(*), min((r->>'id')::int), max((r->>'id')::int) FROM grow
 WHERE question IN ('Generate 3 rows', 'Generate 5 rows', 'Generate 7 rows')
 GROUP BY question ORDER BY question;
-- the three questions were in flight at the same time (each POST held 0.5 s)
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "delay", "seconds": 0.5, "count": 3}'
SELECT count(*) FROM grow WHERE question IN ('Generate 3 rows', 'Generate 5 rows', 'Generate 7 rows');
\! python3 test/emuctl.py stats max_in_flight
-- max_concurrent bounds them
ALTER SERVER genie OPTIONS (ADD max_concurrent '2');
\! python3 test/emuctl.py reset
\! python3 test/emuctl.py fault '{"endpoint": "start_conversation", "action": "delay", "seconds": 0.5, "count": 3}'
SELECT count(*) FROM grow WHERE question IN ('Generate 3 rows', 'Generate 5 rows', 'Generate 7 rows');
\! python3 test/emuctl.py stats max_in_flight
ALTER SERVER genie OPTIONS (DROP max_concurrent);
-- an array parameter: NULLs are skipped, duplicates asked once
PREPARE many(text[]) AS
  SELECT question, count(*) FROM grow WHERE question = ANY($1) GROUP BY 1 ORDER BY 1;
\! python3 test/emuctl.py reset
EXECUTE many(ARRAY['Generate 2 rows', NULL, 'Generate 4 rows', 'Generate 2 rows']);
\! python3 test/emuctl.py stats requests.start_conversation
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE many(ARRAY['Generate 2 rows']);
EXECUTE many(ARRAY['Generate 2 rows']);
EXECUTE many('{}');
RESET plan_cache_mode;
DEALLOCATE many;
-- one failing question fails the statement
SELECT count(*) FROM grow WHERE question IN ('Generate 3 rows', 'Make the query fail');

-- questions from another table: a parameterized nested loop asks each one
CREATE TABLE my_qs (id int, q text);
INSERT INTO my_qs VALUES (1, 'Generate 2 rows'), (2, 'Generate 3 rows'), (3, 'Generate 2 rows');
EXPLAIN (COSTS OFF) SELECT q.id, g.r FROM my_qs q JOIN grow g ON g.question = q.q;
\! python3 test/emuctl.py reset
SELECT q.id, g.question, g.r->>'id' AS gid FROM my_qs q JOIN grow g ON g.question = q.q ORDER BY 1, 3;
-- (without a cache, 'Generate 2 rows' is asked again after 'Generate 3 rows')
\! python3 test/emuctl.py stats requests.start_conversation
-- the LATERAL form
SELECT q.id, x.n FROM my_qs q,
  LATERAL (SELECT count(*) AS n FROM grow g WHERE g.question = q.q) x ORDER BY 1;

-- follow-ups: conversation_id = ... continues that conversation
CREATE FOREIGN TABLE chat (
  question text,
  conversation_id text OPTIONS (genie 'conversation_id'),
  message_id text OPTIONS (genie 'message_id'),
  region text,
  order_count bigint
) SERVER genie;
\! python3 test/emuctl.py reset
CREATE TEMP TABLE first_answer AS
  SELECT DISTINCT conversation_id, message_id FROM chat
   WHERE question = 'Which products generate the highest total sales value?';
SELECT region, order_count,
       conversation_id = (SELECT conversation_id FROM first_answer) AS same_conversation,
       message_id <> (SELECT message_id FROM first_answer) AS new_message
  FROM chat
 WHERE conversation_id = (SELECT conversation_id FROM first_answer)
   AND question = 'How many orders per region?'
 ORDER BY region LIMIT 2;
\! python3 test/emuctl.py stats requests.start_conversation
\! python3 test/emuctl.py stats requests.create_message
EXPLAIN (COSTS OFF) SELECT * FROM chat WHERE conversation_id = 'abc' AND question = 'More?';
-- a follow-up whose result expired runs Genie's query again
SELECT count(*) FROM chat
 WHERE conversation_id = (SELECT conversation_id FROM first_answer)
   AND question = 'Let the result expire';
\! python3 test/emuctl.py stats requests.execute_query
-- an unknown conversation
\set VERBOSITY terse
SELECT count(*) FROM chat WHERE conversation_id = '0123456789abcdef0123456789abcdef' AND question = 'More?';
\set VERBOSITY default

-- the answer cache: with cache_ttl, the same question is answered from
-- memory (dashboards refreshing a tile spend no quota)
ALTER FOREIGN TABLE grow OPTIONS (ADD cache_ttl '60');
\! python3 test/emuctl.py reset
SELECT count(*) FROM grow WHERE question = 'Generate 6 rows';
SELECT count(*) FROM grow WHERE question = 'Generate 6 rows';
SELECT count(*) FROM grow WHERE question IN ('Generate 6 rows', 'Generate 8 rows');
\! python3 test/emuctl.py stats requests.start_conversation
CREATE FUNCTION explain_cache(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    l := regexp_replace(l, 'rows=(\d+)\.00 ', 'rows=\1 ');  -- as 15-17 show it
    IF l ~ 'Cache|Answers|Foreign Scan' THEN
      RETURN NEXT l;
    END IF;
  END LOOP;
END $$;
SELECT explain_cache($$SELECT * FROM grow WHERE question = 'Generate 6 rows'$$);
SELECT explain_cache($$SELECT * FROM grow WHERE question IN ('Generate 6 rows', 'Generate 8 rows', 'Generate 9 rows')$$);
-- joins with repeated questions ask each distinct question once
SELECT q.id, count(*) FROM my_qs q JOIN grow g ON g.question = q.q GROUP BY 1 ORDER BY 1;
\! python3 test/emuctl.py stats requests.start_conversation
SELECT genie_fdw_cache_clear() > 0 AS cleared;
SELECT count(*) FROM grow WHERE question = 'Generate 6 rows';
\! python3 test/emuctl.py stats requests.start_conversation
ALTER FOREIGN TABLE grow OPTIONS (DROP cache_ttl);
SELECT count(*) FROM grow WHERE question = 'Generate 6 rows';
\! python3 test/emuctl.py stats requests.start_conversation
