--
-- Planning: a path that cannot get its question is never chosen, and a
-- nested loop that asks per outer row does not pull in JIT
--
\! python3 test/emuctl.py reset
CREATE FOREIGN TABLE pgen (question text, id bigint) SERVER genie;
-- the outer side claims ten million rows and has two
CREATE FUNCTION many_questions() RETURNS SETOF text LANGUAGE plpgsql ROWS 10000000 AS $$
BEGIN
  RETURN NEXT 'Generate 3 rows';
  RETURN NEXT 'Generate 4 rows';
END $$;
CREATE FUNCTION few_questions() RETURNS SETOF text LANGUAGE plpgsql ROWS 20000 AS $$
BEGIN
  RETURN NEXT 'Generate 2 rows';
END $$;
-- only the join gives the question: the plan is a parameterized nested loop
EXPLAIN (COSTS OFF)
SELECT o.q, count(*) FROM many_questions() o(q) JOIN pgen g ON g.question = o.q GROUP BY o.q;
SELECT o.q, count(*) FROM many_questions() o(q) JOIN pgen g ON g.question = o.q GROUP BY o.q ORDER BY 1;
-- twenty thousand outer rows stay below jit_above_cost
CREATE FUNCTION plan_cost(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;
SELECT plan_cost('SELECT count(*) FROM few_questions() o(q) JOIN pgen g ON g.question = o.q')
       < current_setting('jit_above_cost')::float8 AS below_jit_above_cost;
-- with no way to get a question at all, the query says what is missing
SELECT count(*) FROM many_questions() o(q) FULL JOIN pgen g ON g.question = o.q;
DROP FUNCTION plan_cost(text), many_questions(), few_questions();
DROP FOREIGN TABLE pgen;
