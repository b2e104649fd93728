#!/usr/bin/env bash
# No leaks on error paths: 1,000 failing queries of several kinds in one
# session (malformed JSON, an HTML error page, a forbidden space, a value
# that does not fit its column, a FAILED message) and the backend's memory
# (VmRSS: palloc, libcurl and json-c alike) stays within a small bound.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --answer-seconds 0 --questions-per-minute 0
genie_start_cluster
genie_setup_sql "answer_timeout '30'"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FOREIGN TABLE q_forbidden (question text) SERVER genie OPTIONS (space_id '01f0000000000000000000000000000c');
CREATE FOREIGN TABLE q_misfit (question text, "ProductName" int) SERVER genie;
SQL

SEED='Which products generate the highest total sales value?'
N=${LEAK_QUERIES:-1000}
BOUND_KB=${LEAK_BOUND_KB:-256}

fifo=$GENIE_TMP/psql.in
mkfifo "$fifo"
out=$GENIE_TMP/psql.out
psql -X -q -At <"$fifo" >"$out" 2>&1 &
psql_pid=$!
exec 3>"$fifo"

wait_for() {
	local i
	for i in $(seq 1 1200); do
		grep -qx "$1" "$out" && return 0
		sleep 0.1
	done
	echo "timed out waiting for $1" >&2
	return 1
}

echo "SELECT 'pid=' || pg_backend_pid();" >&3
wait_for "pid=[0-9]*"
pid=$(sed -n 's/^pid=//p' "$out")

# run_phase KIND COUNT: COUNT failing queries of one kind, then wait for them
phase_no=0
run_phase() {
	local kind=$1 n=$2 i sql
	case $kind in
		malformed) emuctl fault "{\"endpoint\": \"start_conversation\", \"action\": \"malformed\", \"count\": $n}"
		   sql="SELECT count(*) FROM q WHERE question = '$SEED';" ;;
		html) emuctl fault "{\"endpoint\": \"start_conversation\", \"action\": \"html\", \"status\": 502, \"count\": $n}"
		   sql="SELECT count(*) FROM q WHERE question = '$SEED';" ;;
		forbidden) sql="SELECT count(*) FROM q_forbidden WHERE question = '$SEED';" ;;
		misfit) sql="SELECT count(*) FROM q_misfit WHERE question = '$SEED';" ;;
		failed) sql="SELECT count(*) FROM q WHERE question = 'Make the query fail';" ;;
	esac
	for i in $(seq 1 "$n"); do
		echo "$sql" >&3
	done
	phase_no=$((phase_no + 1))
	echo "SELECT 'mark=$phase_no';" >&3
	wait_for "mark=$phase_no"
}

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }

KINDS="malformed html forbidden misfit failed"
for k in $KINDS; do run_phase "$k" 10; done
rss_warm=$(rss)
for k in $KINDS; do run_phase "$k" $((N / 5)); done
rss_done=$(rss)
echo "SELECT 'alive=' || count(*) FROM q WHERE question = '$SEED';" >&3
wait_for "alive=5"
exec 3>&-
wait $psql_pid || true

errors=$(grep -c "^ERROR" "$out" || true)
growth=$((rss_done - rss_warm))
echo "# $errors errors; VmRSS after the warm-up (50 failing queries): $rss_warm kB, after $N more: $rss_done kB, growth $growth kB"
check "every query failed" test "$errors" -eq "$((N + 50))"
check "memory growth over $N failing queries below $BOUND_KB kB" test "$growth" -lt "$BOUND_KB"
check "the backend still answers" grep -qx "alive=5" "$out"
check_done
