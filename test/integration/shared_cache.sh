#!/usr/bin/env bash
# The shared answer cache (genie_fdw preloaded): ten sessions asking one
# question at once make one question; a 3-chunk answer comes from the cache
# with no request; two user mappings never share answers, a PUBLIC mapping
# does; genie_fdw_cache_clear() in one session clears it for all; the size
# bound holds, least recently used answers going first; a writer killed
# (SIGKILL) or terminated halfway through writing an entry leaves the cache
# consistent; a waiting session can be cancelled, and when the asking session
# fails a waiter asks instead; a waiter's answer_timeout ends its wait
# (57014).  Also measures the dashboard figure of the README (ten sessions
# refreshing five tiles, with and without the shared cache).  Runs a debug
# build (make GENIE_DEBUG=1) for its pause point
# genie_fdw.debug_cache_write_pause: a writer stops halfway through an entry
# until the test resets the setting and reloads, so nothing here races a
# clock; every wait polls for a state.  The normal build is installed again
# on exit.
source "$(dirname "$0")/../lib.sh"

genie_install_debug_build

Q1='Which products generate the highest total sales value?'
Q3='How many orders per region?'
genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0
genie_start_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0 \
	max_connections=40
genie_setup_sql "cache_ttl '600', answer_timeout '120'"
LOG=$GENIE_TMP/sock/postgres.log

sql() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
questions() { emuctl stats requests.start_conversation; }
all_requests() {
	python3 -c 'import json,sys; print(sum(json.load(sys.stdin).get("requests", {}).values()))' \
		<<<"$(emuctl stats)"
}
# ask NAME QUESTION [psql args]: a session in the background, with progress
# notices, its output (rows, notices, errors) in $GENIE_TMP/NAME.out
declare -A PIDS
ask() {
	local name=$1 question=$2
	shift 2
	PGAPPNAME=$name psql -X -At "$@" -c "SET genie_fdw.progress = on" \
		-c "SELECT string_agg(\"ProductName\" || '=' || \"TotalValue\", ',' ORDER BY \"ProductName\") FROM q WHERE question = '$question'" \
		>"$GENIE_TMP/$name.out" 2>&1 &
	PIDS[$name]=$!
}
# wait_for COUNT PATTERN FILE...: poll until COUNT lines match (60 s bound)
wait_for() {
	local n=$1 pat=$2 i
	shift 2
	for i in $(seq 1 600); do
		[ "$(cat "$@" 2>/dev/null | grep -c -- "$pat" || true)" -ge "$n" ] && return 0
		sleep 0.1
	done
	echo "# timed out waiting for $n x '$pat'" >&2
	return 1
}
pause_writers() {
	sql -q -c "ALTER SYSTEM SET genie_fdw.debug_cache_write_pause = '600s'" -c "SELECT pg_reload_conf()" >/dev/null
}
release_writers() {
	sql -q -c "ALTER SYSTEM RESET genie_fdw.debug_cache_write_pause" -c "SELECT pg_reload_conf()" >/dev/null
}
# backend NAME: the pid of session NAME
backend() { sql -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }
rows_of() { grep -v '^SET$' "$GENIE_TMP/$1.out" | grep -v 'NOTICE' | grep -v '^$'; }

check "the shared cache is on" test "$(sql -c 'SHOW genie_fdw.shared_cache_size')" = 64MB

# ---------------------------------------------------------------------------
# 1. ten sessions ask one question at once: Genie is asked once
# ---------------------------------------------------------------------------
emuctl reset
sql -c "SELECT genie_fdw_stats_reset()" >/dev/null
pause_writers
for i in $(seq 1 10); do
	ask "ten-$i" "$Q1"
done
# the first to miss asks and holds its answer halfway through writing it;
# the nine others wait for it
wait_for 1 "paused halfway" "$GENIE_TMP"/ten-*.out
wait_for 9 "waiting for another session" "$GENIE_TMP"/ten-*.out
release_writers
for i in $(seq 1 10); do wait "${PIDS[ten-$i]}" || true; done
first=$(rows_of ten-1)
same=0
for i in $(seq 1 10); do
	[ "$(rows_of "ten-$i")" = "$first" ] && same=$((same + 1))
done
echo "# ten sessions: $(questions) question(s) sent; answer: $first"
check "ten sessions: one question sent to Genie" test "$(questions)" -eq 1
check "ten sessions: all ten got the same rows" test "$same" -eq 10
check "ten sessions: the rows are the answer" grep -q "Vegan Pizza" <<<"$first"
stats=$(sql -c "SELECT questions, cache_hits, cache_misses FROM genie_fdw_stats() WHERE server = 'genie'")
check "ten sessions: genie_fdw_stats() counts 1 miss and 9 hits" test "$stats" = "1|9|1"
view=$(sql -c "SELECT server, role, question, conversation_id IS NULL, full_results, bytes > 0, hits FROM genie_fdw_cache()")
echo "# genie_fdw_cache(): $view"
check "genie_fdw_cache() shows the entry and its hits" test "$view" = "genie|postgres|$Q1|t|f|t|9"
secret=$(sql -c "SELECT * FROM genie_fdw_cache()" | grep -c -- "$GENIE_TOKEN" || true)
check "genie_fdw_cache() holds no secret" test "$secret" -eq 0
explain=$(sql -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM q WHERE question = '$Q1'")
check "EXPLAIN ANALYZE says shared hit" grep -q "Genie Cache: shared hit" <<<"$explain"

# ---------------------------------------------------------------------------
# 2. a 3-chunk answer: served from the cache with no request
# ---------------------------------------------------------------------------
emuctl reset
emuctl config chunk_rows=2
sql -c "SELECT genie_fdw_cache_clear()" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" >/dev/null
chunks=$(emuctl stats requests.statement_chunk)
emuctl reset
explain=$(sql -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM q WHERE question = '$Q1'")
rows=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q1'")
echo "# 3-chunk answer: $chunks chunk requests when asked; from the cache:" \
	"$(grep -E 'Genie (Cache|Requests|Chunks)' <<<"$explain" | tr -s ' ' | tr '\n' ';')"
check "3 chunks: the first ask fetched the two further chunks" test "$chunks" -eq 2
check "3 chunks: three chunks from the cache" grep -q "Genie Chunks: 3" <<<"$explain"
check "3 chunks: no request from the scan" grep -q "Genie Requests: 0" <<<"$explain"
check "3 chunks: all five rows" test "$rows" -eq 5
check "3 chunks: no request reached the emulator" test "$(all_requests)" -eq 0
emuctl reset

# ---------------------------------------------------------------------------
# 3. two mappings never share; a PUBLIC mapping does
# ---------------------------------------------------------------------------
sql -q -v url="$GENIE_EMULATOR_URL" -v token="$GENIE_TOKEN" <<'SQL' >/dev/null
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE USER MAPPING FOR alice SERVER genie OPTIONS (token :'token');
CREATE USER MAPPING FOR bob SERVER genie OPTIONS (token :'token');
GRANT SELECT ON q TO alice, bob;
CREATE SERVER genie_pub FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a', cache_ttl '600',
           poll_interval '0.05', max_poll_interval '0.2');
CREATE USER MAPPING FOR PUBLIC SERVER genie_pub OPTIONS (token :'token');
CREATE FOREIGN TABLE qp (question text, "ProductName" text, "TotalValue" numeric) SERVER genie_pub;
GRANT SELECT ON qp TO alice, bob;
SQL
sql -c "SELECT genie_fdw_cache_clear()" >/dev/null
a=$(sql -U alice -c "SELECT count(*) FROM q WHERE question = '$Q1'")
b=$(sql -U bob -c "SELECT count(*) FROM q WHERE question = '$Q1'")
check "mappings: alice and bob each asked (two questions)" test "$(questions)" -eq 2
check "mappings: same answer" test "$a" = "$b"
emuctl reset
sql -U alice -c "SELECT count(*) FROM qp WHERE question = '$Q1'" >/dev/null
sql -U bob -c "SELECT count(*) FROM qp WHERE question = '$Q1'" >/dev/null
check "PUBLIC mapping: one question for alice and bob" test "$(questions)" -eq 1
roles=$(sql -c "SELECT string_agg(server || ':' || role, ',' ORDER BY server, role) FROM genie_fdw_cache()")
echo "# genie_fdw_cache() servers and roles: $roles"
check "genie_fdw_cache() names the mappings' roles" test "$roles" = "genie:alice,genie:bob,genie_pub:public"
denied=$(sql -U alice -c "SELECT * FROM genie_fdw_cache()" 2>&1 || true)
check "genie_fdw_cache() is not for PUBLIC" grep -q "permission denied" <<<"$denied"
# a changed user mapping drops its answers, and only its
sql -c "ALTER USER MAPPING FOR bob SERVER genie OPTIONS (SET token '$GENIE_TOKEN')" >/dev/null
roles=$(sql -c "SELECT string_agg(server || ':' || role, ',' ORDER BY server, role) FROM genie_fdw_cache()")
check "ALTER USER MAPPING drops that mapping's answers only" test "$roles" = "genie:alice,genie_pub:public"

# ---------------------------------------------------------------------------
# 4. clear from another session
# ---------------------------------------------------------------------------
emuctl reset
sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" >/dev/null
check "clear: cached before" test "$(questions)" -le 1
cleared=$(sql -c "SELECT genie_fdw_cache_clear()")
check "clear: another session dropped the answers" test "$cleared" -ge 1
check "clear: genie_fdw_cache() is empty" test "$(sql -c 'SELECT count(*) FROM genie_fdw_cache()')" -eq 0
before=$(questions)
sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" >/dev/null
check "clear: the next session asks again" test "$(questions)" -eq $((before + 1))
denied=$(sql -U alice -c "SELECT genie_fdw_cache_clear()" 2>&1 || true)
check "clear: not for PUBLIC" grep -q "permission denied" <<<"$denied"

# ---------------------------------------------------------------------------
# 5. cancel of a waiting session; statement_timeout; a waiter takes over
#    when the asking session fails
# ---------------------------------------------------------------------------
emuctl reset
sql -c "SELECT genie_fdw_cache_clear()" >/dev/null
pause_writers
ask writer "$Q1"
wait_for 1 "paused halfway" "$GENIE_TMP/writer.out"
ask waiter "$Q1"
ask timed "$Q1" -c "SET statement_timeout = '1s'"
wait_for 1 "waiting for another session" "$GENIE_TMP/waiter.out"
sql -c "SELECT pg_cancel_backend($(backend waiter))" >/dev/null
wait "${PIDS[waiter]}" || true
wait "${PIDS[timed]}" || true
check "cancel: the waiting session was cancelled" grep -q "canceling statement due to user request" "$GENIE_TMP/waiter.out"
check "cancel: statement_timeout ends a wait" grep -q "canceling statement due to statement timeout" "$GENIE_TMP/timed.out"
# the writer is cancelled halfway through its entry: a new waiter takes over
ask taker "$Q1"
wait_for 1 "waiting for another session" "$GENIE_TMP/taker.out"
sql -c "SELECT pg_cancel_backend($(backend writer))" >/dev/null
wait "${PIDS[writer]}" || true
# the taker asks itself, and pauses writing in turn
wait_for 1 "paused halfway" "$GENIE_TMP/taker.out"
release_writers
wait "${PIDS[taker]}" || true
check "takeover: the asking session was cancelled" grep -q "canceling statement" "$GENIE_TMP/writer.out"
check "takeover: the waiter asked and got the answer" grep -q "Vegan Pizza" "$GENIE_TMP/taker.out"
check "takeover: Genie was asked twice (writer, then taker)" test "$(questions)" -eq 2
check "takeover: the answer is cached" test "$(sql -c 'SELECT count(*) FROM genie_fdw_cache()')" -eq 1

# answer_timeout running out while another session asks is a timeout
# (57014), as when the session waits for Genie itself.  (The writer read
# its options before answer_timeout is lowered for the waiter.)
emuctl reset
sql -c "SELECT genie_fdw_cache_clear()" >/dev/null
pause_writers
ask slowwriter "$Q1"
wait_for 1 "paused halfway" "$GENIE_TMP/slowwriter.out"
sql -q -c "ALTER SERVER genie OPTIONS (SET answer_timeout '1')"
ask impatient "$Q1" -v VERBOSITY=verbose
wait "${PIDS[impatient]}" || true
sql -q -c "ALTER SERVER genie OPTIONS (SET answer_timeout '120')"
release_writers
wait "${PIDS[slowwriter]}" || true
check "flight timeout: the waiter waited for the other session" \
	grep -q "waiting for another session" "$GENIE_TMP/impatient.out"
check "flight timeout: answer_timeout ran out, SQLSTATE 57014" \
	grep -q "ERROR:  57014: Genie did not answer within answer_timeout (1 s)" "$GENIE_TMP/impatient.out"
check "flight timeout: ... while another session asked" \
	grep -q "DETAIL:  Another session was asking the same question." "$GENIE_TMP/impatient.out"
check "flight timeout: the asking session got its answer" grep -q "Vegan Pizza" "$GENIE_TMP/slowwriter.out"
# (section 6 expects Q1 in the cache: put it there from a fresh session)
sql -c "SELECT genie_fdw_cache_clear()" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" >/dev/null

# ---------------------------------------------------------------------------
# 6. a writer terminated, then one killed with SIGKILL, halfway through
# ---------------------------------------------------------------------------
emuctl reset
pause_writers
ask victim "$Q3"
wait_for 1 "paused halfway" "$GENIE_TMP/victim.out"
sql -c "SELECT pg_terminate_backend($(backend victim))" >/dev/null
wait "${PIDS[victim]}" || true
release_writers
check "terminated writer: the session ended" grep -q "terminating connection" "$GENIE_TMP/victim.out"
check "terminated writer: no half entry; the other answer is intact" \
	test "$(sql -c "SELECT string_agg(question, ',') FROM genie_fdw_cache()")" = "$Q1"
sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" >/dev/null
check "terminated writer: asked again once, then cached" test "$(questions)" -eq 2

emuctl reset
sql -c "SELECT genie_fdw_cache_clear()" >/dev/null
sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" >/dev/null
pause_writers
ask killed "$Q3"
wait_for 1 "paused halfway" "$GENIE_TMP/killed.out"
kpid=$(backend killed)
kill -9 "$kpid"
wait "${PIDS[killed]}" || true
for i in $(seq 1 300); do
	sql -c "SELECT 1" >/dev/null 2>&1 && break
	sleep 0.1
done
release_writers
check "killed writer: the postmaster saw it die" grep -q "terminated by signal 9" "$LOG"
check "killed writer: and reinitialized shared memory" grep -q "reinitializing" "$LOG"
check "killed writer: the cache starts empty" test "$(sql -c 'SELECT count(*) FROM genie_fdw_cache()')" -eq 0
before=$(questions)
r1=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'")
r2=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'")
check "killed writer: asked again once, then cached, same rows" \
	test "$(questions)" -eq $((before + 1)) -a "$r1" = "$r2"

# ---------------------------------------------------------------------------
# 7. the size bound: least recently used answers go first
# ---------------------------------------------------------------------------
genie_restart_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0 \
	max_connections=40 genie_fdw.shared_cache_size=1MB
emuctl reset
# (an answer complete in the response to the question itself is not
# cached: real Genie always answers later; the emulator's 0.05 s do too)
emuctl config chunk_rows=1000 answer_seconds=0.05
sql -c "CREATE FOREIGN TABLE g (question text, id bigint) SERVER genie" >/dev/null
N=24
for n in $(seq 1001 $((1000 + N))); do
	sql -c "SELECT count(*) FROM g WHERE question = 'generate $n rows'" >/dev/null
done
kept=$(sql -c "SELECT count(*) || ' entries, ' || sum(bytes) || ' bytes' FROM genie_fdw_cache()")
total=$(sql -c "SELECT sum(bytes) FROM genie_fdw_cache()")
entries=$(sql -c "SELECT count(*) FROM genie_fdw_cache()")
echo "# 1MB shared cache after $N answers of about 75 kB: $kept"
check "bound: the entries fit in 1MB" test "$total" -le 1048576
check "bound: older answers were evicted" test "$entries" -lt "$N"
check "bound: the newest answers are kept" test "$entries" -ge 4
before=$(questions)
sql -c "SELECT count(*) FROM g WHERE question = 'generate $((1000 + N)) rows'" >/dev/null
check "bound: the newest is a hit" test "$(questions)" -eq "$before"
sql -c "SELECT count(*) FROM g WHERE question = 'generate 1001 rows'" >/dev/null
check "bound: the oldest was evicted (asked again)" test "$(questions)" -eq $((before + 1))

# ---------------------------------------------------------------------------
# 8. the README's figure: ten sessions refreshing a dashboard of five tiles
#    twice, with the shared cache and with per-session caches
# ---------------------------------------------------------------------------
dashboard() {
	local tag=$1 i t r pids=()
	for i in $(seq 1 10); do
		{
			for r in 1 2; do
				for t in 1 2 3 4 5; do
					echo "SELECT count(*) FROM g WHERE question = 'generate $((10 + t)) rows';"
				done
			done
		} | psql -X -At >"$GENIE_TMP/dash-$tag-$i.out" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
	DASH_ANSWERS=$(cat "$GENIE_TMP"/dash-"$tag"-*.out | grep -cE '^1[1-5]$' || true)
}
genie_restart_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0 max_connections=40
emuctl reset
emuctl config answer_seconds=0.5
dashboard shared
shared_q=$(questions)
genie_restart_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0 \
	max_connections=40 genie_fdw.shared_cache_size=0
emuctl reset
emuctl config answer_seconds=0.5
dashboard local
local_q=$(questions)
echo "# dashboard, 10 sessions x 5 tiles x 2 refreshes (100 tile queries):" \
	"$shared_q questions with the shared cache, $local_q with per-session caches, 100 without a cache"
check "dashboard: every tile answered (shared)" test "$(cat "$GENIE_TMP"/dash-shared-*.out | grep -cE '^1[1-5]$')" -eq 100
check "dashboard: every tile answered (per session)" test "$DASH_ANSWERS" -eq 100
check "dashboard: five questions with the shared cache" test "$shared_q" -eq 5
check "dashboard: fifty with per-session caches" test "$local_q" -eq 50

check "the server log shows no other backend that died" \
	test "$(grep -c 'terminated by signal' "$LOG")" -eq 1
check_done
