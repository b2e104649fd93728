#!/usr/bin/env bash
# While a backend waits on Genie, pg_stat_activity says so: wait_event_type
# Extension, wait_event GenieWait on PostgreSQL 17 and later (a custom wait
# event), else Extension.  The emulator's clock is frozen, so the question
# cannot finish while the test looks; it finishes when the test moves time.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --clock manual --answer-seconds 1 --questions-per-minute 0
genie_start_cluster
genie_setup_sql

SEED='Which products generate the highest total sales value?'
if [ "$(psql -X -At -c 'SHOW server_version_num')" -ge 170000 ]; then
	want=GenieWait
else
	want=Extension
fi

# sample_wait PATTERN: the first "type|event" of the backend running a query
# that matches PATTERN and waits on Genie, or the last sample after 20 s
sample_wait() {
	local pattern=$1 row= i
	for i in $(seq 200); do
		row=$(psql -X -At -c "SELECT wait_event_type || '|' || wait_event FROM pg_stat_activity
			WHERE query LIKE '$pattern' AND pid <> pg_backend_pid() AND state = 'active'")
		[ "$row" = "Extension|$want" ] && break
		sleep 0.1
	done
	echo "$row"
}

# 1. between polls: Genie is still thinking (frozen clock)
psql -X -At -c "SELECT count(*) FROM q WHERE question = '$SEED' /* frozen */" >"$GENIE_TMP/frozen.out" 2>&1 &
bg=$!
row=$(sample_wait '%/* frozen */%')
echo "# between polls: $row"
check "between polls the backend waits on Genie ($want)" test "$row" = "Extension|$want"
check "the question is still open (time has not moved)" kill -0 "$bg"
emuctl advance 2
wait "$bg" || true
check "after the clock moves, the answer arrives" grep -qx 5 "$GENIE_TMP/frozen.out"

# 2. inside an HTTP request: a response that does not come
emuctl reset
emuctl fault '{"endpoint": "start_conversation", "action": "delay", "seconds": 30}'
psql -X -At -c "SELECT count(*) FROM q WHERE question = '$SEED' /* stalled */" >"$GENIE_TMP/stalled.out" 2>&1 &
bg=$!
row=$(sample_wait '%/* stalled */%')
echo "# in a request: $row"
check "while a request is in flight the backend waits on Genie ($want)" test "$row" = "Extension|$want"
psql -X -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%/* stalled */%' AND pid <> pg_backend_pid()" >/dev/null
wait "$bg" || true
check "cancelled" grep -q "canceling statement due to user request" "$GENIE_TMP/stalled.out"
check_done
