--
-- EXPLAIN shows the space and the question and asks nothing;
-- EXPLAIN ANALYZE adds what happened
--
\! python3 test/emuctl.py reset
CREATE FOREIGN TABLE ex (question text, "ProductName" text, generated_sql text OPTIONS (genie 'sql')) SERVER genie;
EXPLAIN (COSTS OFF) SELECT * FROM ex WHERE question = 'Which products generate the highest total sales value?';
EXPLAIN (COSTS OFF) SELECT * FROM ex WHERE question = 'a' AND "ProductName" <> 'b';
PREPARE p(text) AS SELECT * FROM ex WHERE question = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE p('x');
RESET plan_cache_mode;
EXPLAIN (COSTS OFF) SELECT * FROM ex WHERE question = upper('x');
EXPLAIN (COSTS OFF) SELECT * FROM ex;
\! python3 test/emuctl.py stats requests.start_conversation

-- numbers that vary from run to run are masked
CREATE FUNCTION explain_masked(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    l := regexp_replace(l, '(Conversation|Message): [0-9a-f]{32}', '\1: <id>');
    l := regexp_replace(l, 'Statement: [0-9a-f-]{36}', 'Statement: <id>');
    l := regexp_replace(l, '(Polls|Requests): \d+', '\1: N');
    l := regexp_replace(l, 'rows=(\d+)\.00 ', 'rows=\1 ');  -- as 15-17 show it
    RETURN NEXT l;
  END LOOP;
END $$;
SELECT explain_masked($$SELECT * FROM ex WHERE question = 'Which products generate the highest total sales value?'$$);
