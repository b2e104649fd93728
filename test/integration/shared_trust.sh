#!/usr/bin/env bash
# Shared state you can trust (issue 19, defects 1-5), genie_fdw preloaded
# with the shared answer cache, against a debug build (make GENIE_DEBUG=1),
# which PANICs if an invalidation is ever processed while the cache's lock is
# held (the lock rule of src/shared_cache.c):
#   1. DDL on the server or mapping while a fresh backend publishes its first
#      answer: no self-deadlock (the backend finishes, later queries work);
#   2. two databases made from one template (same user mapping OIDs) never
#      see each other's answers;
#   3. an answer fetched with a token replaced by ALTER USER MAPPING while it
#      was in the air is not published, and the new token gets no hit;
#   4. an idle cursor holding a question does not make another session fail:
#      that session takes the idle flight over and polls the same message
#      (no second question);
#   5. ROLLBACK TO SAVEPOINT keeps the claims of a cursor declared before it:
#      no second question, and the cursor returns its rows once.
# The emulator runs on its manual clock where a question must stay in the air
# (it moves only when the test advances it), so nothing races a clock; every
# wait polls for a state, bounded.  SCENARIOS="2 3" runs only those.
source "$(dirname "$0")/../lib.sh"
SCENARIOS=${SCENARIOS:-1 2 3 4 5}
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }

genie_install_debug_build

Q1='Which products generate the highest total sales value?'
Q3='How many orders per region?'
genie_start_emulator --answer-seconds 1 --questions-per-minute 0 --clock manual
genie_start_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0 \
	max_connections=40
genie_setup_sql "cache_ttl '600', answer_timeout '30'"
LOG=$GENIE_TMP/sock/postgres.log
# no NOTICEs in the outputs compared (q has no columns of the second answer)
export PGOPTIONS="-c client_min_messages=warning"

sql() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
questions() { emuctl stats requests.start_conversation; }
count_q() { sql "$@" -c "SELECT count(*) FROM q WHERE question = '$Q1'" 2>&1 || true; }
declare -A PIDS
# bg NAME [psql args]: a psql session in the background, output in NAME.out
bg() {
	local name=$1
	shift
	PGAPPNAME=$name psql -X -At "$@" >"$GENIE_TMP/$name.out" 2>&1 &
	PIDS[$name]=$!
}
# wait_until TEST...: poll a condition, 60 s bound
wait_until() {
	local i
	for i in $(seq 1 600); do
		"$@" && return 0
		sleep 0.1
	done
	echo "# timed out waiting for: $*" >&2
	return 1
}
done_pid() { ! kill -0 "$1" 2>/dev/null; }
# advance_until_done NAME: move the emulator's clock until session NAME ends
# (60 s bound: a session still running then is hung)
advance_until_done() {
	local i
	for i in $(seq 1 300); do
		done_pid "${PIDS[$1]}" && return 0
		emuctl advance 0.5
		sleep 0.2
	done
	return 1
}
asked_n() { [ "$(questions)" -ge "$1" ]; }
# session A kept open: commands are written to a fifo, its output to NAME.out
open_session() {
	local name=$1
	rm -f "$GENIE_TMP/$name.fifo"
	mkfifo "$GENIE_TMP/$name.fifo"
	PGAPPNAME=$name psql -X -At -v ON_ERROR_STOP=0 <"$GENIE_TMP/$name.fifo" >"$GENIE_TMP/$name.out" 2>&1 &
	PIDS[$name]=$!
	exec 7>"$GENIE_TMP/$name.fifo"
}
send() { echo "$1" >&7; }
close_session() {
	exec 7>&-
	wait "${PIDS[$1]}" || true
}
lines_of() { grep -c -- "$2" "$GENIE_TMP/$1.out" 2>/dev/null || true; }

check "the shared cache is on" test "$(sql -c 'SHOW genie_fdw.shared_cache_size')" = 64MB

# ---------------------------------------------------------------------------
# 1. DDL while a fresh backend publishes its first answer
# ---------------------------------------------------------------------------
if want 1; then
# A fresh backend asks; while its question is in the air, another session
# changes the server, a user mapping and a grant; then the answer arrives and
# is published.  Before the fix the backend opened pg_user_mapping under the
# cache's lock, processed those invalidations, and waited on itself for ever.
emuctl reset
sql -q -c "CREATE ROLE tenant_role" -c "GRANT USAGE ON FOREIGN SERVER genie TO tenant_role"
bg fresh -c "SELECT count(*) FROM q WHERE question = '$Q1'"
wait_until asked_n 1
sql -q -c "ALTER SERVER genie OPTIONS (SET poll_interval '0.05')" \
	-c "CREATE USER MAPPING FOR tenant_role SERVER genie OPTIONS (token 'dapi-tenant')" \
	-c "ALTER USER MAPPING FOR tenant_role SERVER genie OPTIONS (SET token 'dapi-tenant-2')" \
	-c "GRANT USAGE ON FOREIGN SERVER genie TO PUBLIC"
if advance_until_done fresh; then
	finished=yes
else
	finished=no
fi
echo "# fresh backend: finished=$finished, output: $(tr '\n' ' ' <"$GENIE_TMP/fresh.out")"
check "DDL during a first publication: the backend finishes (no self-deadlock)" test "$finished" = yes
if [ "$finished" != yes ]; then
	echo "# the backend waits on itself: no later test can run"
	check_done
	exit 1
fi
check "DDL during a first publication: the answer's rows" test "$(cat "$GENIE_TMP/fresh.out")" = 5
emuctl clock real
check "DDL during a first publication: a later query works" test "$(count_q)" = 5
sql -q -c "DROP USER MAPPING FOR tenant_role SERVER genie" -c "REVOKE USAGE ON FOREIGN SERVER genie FROM PUBLIC, tenant_role" \
	-c "DROP ROLE tenant_role"
fi

# ---------------------------------------------------------------------------
# 2. two databases from one template: same mapping OIDs, separate answers
# ---------------------------------------------------------------------------
if want 2; then
emuctl reset
emuctl clock real
sql -q -c "SELECT genie_fdw_cache_clear()" >/dev/null
sql -q -c "CREATE DATABASE tenant_tmpl"
PGDATABASE=tenant_tmpl genie_setup_sql "cache_ttl '600', answer_timeout '30'"
sql -q -c "CREATE DATABASE tenant_a TEMPLATE tenant_tmpl" -c "CREATE DATABASE tenant_b TEMPLATE tenant_tmpl" \
	-c "CREATE DATABASE tenant_c TEMPLATE tenant_tmpl"
sql -d tenant_b -q -c "ALTER USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (SET token 'dapi-tenant-b-not-valid')"
um_a=$(sql -d tenant_a -c "SELECT umid FROM pg_user_mappings WHERE srvname = 'genie'")
um_b=$(sql -d tenant_b -c "SELECT umid FROM pg_user_mappings WHERE srvname = 'genie'")
echo "# user mapping OIDs: tenant_a $um_a, tenant_b $um_b"
check "databases: the template copied the user mapping's OID" test "$um_a" = "$um_b"
check "databases: tenant_a gets its answer" test "$(count_q -d tenant_a)" = 5
before=$(questions)
out_b=$(count_q -d tenant_b)
echo "# tenant_b (another token) asks the same: $out_b"
check "databases: tenant_b with its own (refused) token gets no answer of tenant_a" \
	grep -q "ERROR" <<<"$out_b"
explain_b=$(sql -d tenant_b -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM q WHERE question = '$Q1'" 2>&1 || true)
check "databases: no shared hit in tenant_b" bash -c "! grep -q 'shared hit' <<<\"\$1\"" _ "$explain_b"
check "databases: tenant_c (same token as tenant_a) gets its answer" test "$(count_q -d tenant_c)" = 5
check "databases: tenant_c asked Genie itself (keys carry the database)" test "$(questions)" -gt "$before"
view=$(sql -d tenant_a -c "SELECT count(*) FROM genie_fdw_cache()")
check "databases: genie_fdw_cache() lists only the current database's answers" test "$view" = 1
fi

# ---------------------------------------------------------------------------
# 3. ALTER USER MAPPING while the answer is in the air
# ---------------------------------------------------------------------------
if want 3; then
emuctl reset
sql -q -c "SELECT genie_fdw_cache_clear()" >/dev/null
bg inair -c "SELECT count(*) FROM q WHERE question = '$Q3'"
wait_until asked_n 1
sql -q -c "ALTER USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (SET token 'dapi-revoked-token-xyz')"
advance_until_done inair || true
echo "# in the air: $(tr '\n' ' ' <"$GENIE_TMP/inair.out")"
check "changed mapping: the session in flight got its answer" test "$(cat "$GENIE_TMP/inair.out")" = 5
check "changed mapping: the answer was not published" \
	test "$(sql -c "SELECT count(*) FROM genie_fdw_cache() WHERE question = '$Q3'")" = 0
emuctl clock real
revoked=$(sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" 2>&1 || true)
echo "# the new (revoked) token asks: $revoked"
check "changed mapping: the new token gets an error, not the old token's answer" grep -q "ERROR" <<<"$revoked"
sql -q -v token="$GENIE_TOKEN" <<<"ALTER USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (SET token :'token')"
fi

# ---------------------------------------------------------------------------
# 4. an idle cursor's question: another session takes it over
# ---------------------------------------------------------------------------
if want 4; then
emuctl reset
emuctl clock real
sql -q -c "SELECT genie_fdw_cache_clear()" >/dev/null
open_session idle
send "BEGIN;"
send "DECLARE c CURSOR FOR SELECT question FROM q WHERE question IN ('$Q1', '$Q3');"
send "FETCH 1 FROM c;"
wait_until bash -c "grep -q -e '$Q1' -e '$Q3' '$GENIE_TMP/idle.out'"
# the cursor is idle now, with one answer returned and one not read
out=$(PGOPTIONS="$PGOPTIONS -c statement_timeout=60s" sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" 2>&1 || true)
out1=$(PGOPTIONS="$PGOPTIONS -c statement_timeout=60s" sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" 2>&1 || true)
echo "# while the cursor idles, another session asks: $out / $out1; questions sent: $(questions)"
check "idle cursor: another session gets the answer (no answer_timeout)" test "$out" = 5
check "idle cursor: and the other question's" test "$out1" = 5
check "idle cursor: no question was asked twice" test "$(questions)" -eq 2
send "FETCH ALL FROM c;"
send "COMMIT;"
close_session idle
check "idle cursor: the cursor then returns the rest (10 rows in all)" \
	test "$(grep -c -e "$Q1" -e "$Q3" "$GENIE_TMP/idle.out")" -eq 10
fi

# ---------------------------------------------------------------------------
# 5. ROLLBACK TO SAVEPOINT keeps a cursor's claims
# ---------------------------------------------------------------------------
if want 5; then
emuctl reset
emuctl clock real
sql -q -c "SELECT genie_fdw_cache_clear()" >/dev/null
open_session svp
send "BEGIN;"
send "DECLARE c CURSOR FOR SELECT question FROM q WHERE question IN ('$Q1', '$Q3');"
send "FETCH 1 FROM c;"
wait_until bash -c "grep -q -e '$Q1' -e '$Q3' '$GENIE_TMP/svp.out'"
send "SAVEPOINT s;"
send "SELECT 1/0;"
send "ROLLBACK TO SAVEPOINT s;"
send "SELECT 'rolled back';"
wait_until bash -c "grep -q 'rolled back' '$GENIE_TMP/svp.out'"
out=$(PGOPTIONS="$PGOPTIONS -c statement_timeout=60s" sql -c "SELECT count(*) FROM q WHERE question = '$Q3'" 2>&1 || true)
out1=$(PGOPTIONS="$PGOPTIONS -c statement_timeout=60s" sql -c "SELECT count(*) FROM q WHERE question = '$Q1'" 2>&1 || true)
echo "# after ROLLBACK TO in the cursor's session, another asks: $out / $out1; questions sent: $(questions)"
check "savepoint: another session gets the answers" test "$out/$out1" = 5/5
check "savepoint: no question was asked twice (the cursor's claim survived)" test "$(questions)" -eq 2
send "FETCH ALL FROM c;"
send "COMMIT;"
close_session svp
check "savepoint: the cursor declared before it returns each row once (10 in all)" \
	test "$(grep -c -e "$Q1" -e "$Q3" "$GENIE_TMP/svp.out")" -eq 10
fi

# ---------------------------------------------------------------------------
check "no backend crashed or PANICked (server log)" \
	bash -c "! grep -E 'terminated by signal|PANIC|server process .* was terminated' '$LOG'"
check_done
