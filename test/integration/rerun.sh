#!/usr/bin/env bash
# Ask once, re-run fresh (option refresh 'rerun', src/rerun.c): a repeated
# question re-executes the SQL Genie generated the first time (execute-query)
# instead of asking Genie again.  Against the emulator, whose execute-query
# runs the SQL on its data set as it is now (changed with `emuctl sql`):
#   - a repeat gets fresh data with zero new questions and one re-run, while a
#     cached answer (cache_ttl) still shows the old data;
#   - EXPLAIN ANALYZE, genie_fdw_stats() and genie_fdw_remembered() say so;
#   - a re-run whose conversation was deleted, whose permission changed, or
#     whose SQL no longer runs asks Genie again once, with a NOTICE;
#   - two sessions share one remembered question (preloaded);
#   - a change of the user mapping forgets it; genie_fdw_forget() too;
#   - conversation hygiene keeps the conversations whose SQL is re-run;
#   - follow-ups are never re-run; full results re-run as a new download;
#   - without preloading, a session remembers on its own.
# Nothing depends on time: answers expire by genie_fdw_cache_clear().
source "$(dirname "$0")/../lib.sh"

Q1='Which products generate the highest total sales value?'
Q3='How many orders per region?'
genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0
genie_start_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0
genie_setup_sql "refresh 'rerun'"
export PGOPTIONS="-c client_min_messages=notice"

sql() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
questions() { emuctl stats requests.start_conversation; }
reruns() { emuctl stats requests.execute_query; }
pizza() { sql -c "SELECT \"TotalValue\" FROM q WHERE question = '$Q1' AND \"ProductName\" = 'Vegan Pizza'" 2>&1; }

check "refresh is a server option" \
	test "$(sql -c "SELECT 'refresh=rerun' = ANY(srvoptions) FROM pg_foreign_server WHERE srvname = 'genie'")" = t

# ---------------------------------------------------------------------------
# 1. asked once, then re-run: fresh data, no new question
# ---------------------------------------------------------------------------
emuctl reset
sql -c "SELECT genie_fdw_stats_reset()" >/dev/null
first=$(pizza)
emuctl sql "UPDATE orders SET total = total * 2 WHERE product_id = (SELECT product_id FROM products WHERE name = 'Vegan Pizza')" >/dev/null
second=$(pizza)
echo "# Vegan Pizza's total: asked $first, re-run after the data changed $second; questions $(questions), re-runs $(reruns)"
check "re-run: the question was asked once" test "$(questions)" -eq 1
check "re-run: its SQL ran again once (execute-query)" test "$(reruns)" -eq 1
check "re-run: the data is fresh (changed since the first asking)" test "$first" != "$second"
check "re-run: the values are numbers" grep -Eq '^[0-9]+(\.[0-9]+)?$' <<<"$second"
explain=$(sql -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM q WHERE question = '$Q1'")
check "re-run: EXPLAIN ANALYZE names the message whose SQL ran" grep -q "Genie SQL Re-run From Message: " <<<"$explain"
check "re-run: EXPLAIN ANALYZE counts the re-run" grep -q "Genie Re-runs: 1" <<<"$explain"
stats=$(sql -c "SELECT questions, reruns FROM genie_fdw_stats() WHERE server = 'genie'")
check "re-run: genie_fdw_stats() counts 1 question and 2 re-runs" test "$stats" = "1|2"
remembered=$(sql -c "SELECT question, sql IS NOT NULL AND sql <> '', reruns, expires_in_seconds > 86000 FROM genie_fdw_remembered()")
echo "# genie_fdw_remembered(): $remembered"
check "re-run: genie_fdw_remembered() lists the question, its SQL and re-runs" test "$remembered" = "$Q1|t|2|t"
sqlcol=$(sql -q -c "ALTER FOREIGN TABLE q ADD COLUMN gsql text OPTIONS (genie 'sql')" -c "SELECT DISTINCT gsql FROM q WHERE question = '$Q1'")
check "re-run: genie 'sql' is the SQL that ran" test "$sqlcol" = "$(sql -c "SELECT sql FROM genie_fdw_remembered()")"
sql -q -c "ALTER FOREIGN TABLE q DROP COLUMN gsql"
priv=$(sql -c "SELECT has_function_privilege('public', 'genie_fdw_remembered()', 'EXECUTE'), has_function_privilege('public', 'genie_fdw_forget()', 'EXECUTE')" 2>&1 || true)
check "re-run: the remembered questions are for administrators" test "$priv" = "f|f"

# ---------------------------------------------------------------------------
# 2. with an answer cache: the cached answer is stale, the re-run fresh
# ---------------------------------------------------------------------------
emuctl reset
sql -q -c "SELECT genie_fdw_forget()" -c "ALTER SERVER genie OPTIONS (ADD cache_ttl '600')" >/dev/null
asked=$(pizza)
emuctl sql "UPDATE orders SET total = total * 3" >/dev/null
cached=$(pizza)
sql -q -c "SELECT genie_fdw_cache_clear()" >/dev/null      # the answer's cache_ttl is over
rerun=$(pizza)
again=$(pizza)
echo "# with cache_ttl: asked $asked, cached $cached, re-run $rerun, then cached $again; questions $(questions), re-runs $(reruns)"
check "cache: the cached answer keeps the old data" test "$cached" = "$asked"
check "cache: once it expired, the re-run has the new data" test "$rerun" != "$asked"
check "cache: the re-run's answer is cached in turn" test "$again" = "$rerun"
check "cache: one question, one re-run" test "$(questions)/$(reruns)" = "1/1"
sql -q -c "ALTER SERVER genie OPTIONS (DROP cache_ttl)"

# ---------------------------------------------------------------------------
# 3. two sessions share one remembered question (the shared cache)
# ---------------------------------------------------------------------------
emuctl reset
sql -q -c "SELECT genie_fdw_forget()" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
other=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'")
check "two sessions: the second session re-runs the first's question" test "$(questions)/$(reruns)/$other" = "1/1/5"

# ---------------------------------------------------------------------------
# 4. fallbacks: conversation gone, permission changed, SQL no longer runs
# ---------------------------------------------------------------------------
fallback() {
	local name=$1 out
	out=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" 2>&1 || true)
	echo "# $name: $(tr '\n' ' ' <<<"$out")"
	check "$name: a NOTICE says why" grep -q "could not re-run the SQL Genie generated" <<<"$out"
	check "$name: Genie was asked again, once" test "$(questions)" -eq "$2"
	check "$name: the rows" grep -qx 5 <<<"$out"
}
conv=$(sql -c "SELECT conversation_id FROM genie_fdw_remembered() WHERE question = '$Q3'")
emuctl delete-conversation "$conv"
fallback "conversation deleted" 2
emuctl fail-execute permission_denied
fallback "permission changed" 3
emuctl fail-execute sql_error
fallback "SQL no longer runs" 4
after=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'")
check "after a fallback, the new answer's SQL is remembered and re-run" test "$(questions)/$after" = "4/5"

# ---------------------------------------------------------------------------
# 5. forgetting: a mapping change, genie_fdw_forget(); hygiene keeps the SQL
# ---------------------------------------------------------------------------
emuctl reset
sql -q -c "SELECT genie_fdw_forget()" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
# a question asked through a table that does not re-run: its conversation goes
sql -q -c "CREATE FOREIGN TABLE q_ask (question text, \"ProductName\" text) SERVER genie OPTIONS (refresh 'ask')"
sql -c "SELECT count(*) FROM q_ask WHERE question = '$Q1'" >/dev/null
check "a table's refresh 'ask' beats its server's 'rerun'" test "$(sql -c "SELECT count(*) FROM genie_fdw_remembered()")" -eq 1
deleted=$(sql -c "SELECT genie_delete_conversations('genie', '0 seconds')")
kept=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" 2>&1)
echo "# hygiene deleted $deleted conversation(s); re-run after it: $kept (questions $(questions), re-runs $(reruns))"
check "hygiene: the other conversation was deleted" test "$deleted" -eq 1
check "hygiene: the conversation whose SQL is re-run was kept" test "$(questions)/$(reruns)/$kept" = "2/1/5"
sql -q -v token="$GENIE_TOKEN" <<<"ALTER USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (SET token :'token')"
check "mapping change: the remembered question is forgotten" test "$(sql -c "SELECT count(*) FROM genie_fdw_remembered()")" -eq 0
sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
check "mapping change: the next asking asks Genie" test "$(questions)" -eq 3
check "genie_fdw_forget() returns how many it forgot" test "$(sql -c "SELECT genie_fdw_forget()")" -eq 1

# ---------------------------------------------------------------------------
# 6. follow-ups are never re-run; full results re-run as a new download
# ---------------------------------------------------------------------------
emuctl reset
sql -q <<SQL
CREATE FOREIGN TABLE chat (question text, conversation_id text OPTIONS (genie 'conversation_id'),
                           answer jsonb OPTIONS (genie 'row')) SERVER genie;
CREATE FOREIGN TABLE q_full (question text, "ProductName" text, "TotalValue" numeric)
  SERVER genie OPTIONS (full_results 'true');
SQL
c=$(sql -c "SELECT DISTINCT conversation_id FROM chat WHERE question = '$Q1'")
sql -c "SELECT count(*) FROM chat WHERE conversation_id = '$c' AND question = '$Q3'" >/dev/null
sql -c "SELECT count(*) FROM chat WHERE conversation_id = '$c' AND question = '$Q3'" >/dev/null
check "follow-ups: asked in the conversation each time, never re-run" \
	test "$(emuctl stats requests.create_message)/$(reruns)" = "2/0"
emuctl reset
sql -c "SELECT count(*) FROM q_full WHERE question = '$Q1'" >/dev/null
full=$(sql -c "SELECT count(*) FROM q_full WHERE question = '$Q1'")
check "full results: the repeat downloads a new run, no new question" \
	test "$(questions)/$(emuctl stats requests.generate_download)/$full" = "1/2/5"

# ---------------------------------------------------------------------------
# 7. without preloading: a session remembers on its own
# ---------------------------------------------------------------------------
genie_restart_cluster genie_fdw.questions_per_minute=0
emuctl reset
sql -At -c "SELECT count(*) FROM q WHERE question = '$Q3'" -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
check "one session: asked once, re-run once" test "$(questions)/$(reruns)" = "1/1"
sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
check "one session: another session (no shared cache) asks itself" test "$(questions)" -eq 2

check "no backend crashed (server log)" \
	bash -c "! grep -E 'terminated by signal|PANIC' '$GENIE_TMP/sock/postgres.log'"
check_done
