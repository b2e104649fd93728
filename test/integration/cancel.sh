#!/usr/bin/env bash
# Query cancel and statement_timeout end a Genie query promptly in every
# state (waiting between polls, sleeping on Retry-After, a stalled response,
# a slow body, a TLS handshake that never completes), and the backend stays
# usable afterwards; a Retry-After past statement_timeout is not slept.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --answer-seconds 0.3 --questions-per-minute 0
genie_start_cluster
genie_setup_sql

SEED='Which products generate the highest total sales value?'
LIMIT_MS=2500		# statement_timeout is 1000 ms; the rest is the allowed latency

# timed_timeout DESCRIPTION QUESTION [TABLE]: run QUESTION with a 1 s
# statement_timeout, then the seed question in the same session.
timed_timeout() {
	local desc=$1 question=$2 table=${3:-q}
	local out
	out=$(psql -X -v question="$question" 2>&1 <<SQL
\timing on
SET statement_timeout = '1s';
SELECT count(*) FROM $table WHERE question = :'question';
RESET statement_timeout;
\timing off
SELECT 'usable:' || count(*) FROM q WHERE question = '$SEED';
SQL
)
	local ms
	ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 2p)
	echo "# $desc: $ms ms"
	check "$desc: cancelled by statement_timeout" grep -q "canceling statement due to statement timeout" <<<"$out"
	check "$desc: within $LIMIT_MS ms" awk -v ms="$ms" -v lim="$LIMIT_MS" 'BEGIN { exit !(ms != "" && ms < lim) }'
	check "$desc: backend usable afterwards" grep -q "usable:5" <<<"$out"
}

emuctl reset
timed_timeout "waiting between polls" "Take your time"

# a Retry-After longer than the statement's time left is not slept at all:
# the query ends at once with an error saying so (had it slept, the error
# would be statement_timeout's own)
emuctl reset
emuctl fault '{"endpoint": "start_conversation", "action": "status", "status": 429, "retry_after": "30"}'
out=$(psql -X 2>&1 <<SQL
\timing on
SET statement_timeout = '1s';
SELECT count(*) FROM q WHERE question = '$SEED';
RESET statement_timeout;
\timing off
SELECT 'usable:' || count(*) FROM q WHERE question = '$SEED';
SQL
)
ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 2p)
echo "# Retry-After past statement_timeout: $ms ms"
check "Retry-After past statement_timeout: a clear error" \
	grep -q "longer than the time left before statement_timeout (1000 ms)" <<<"$out"
check "Retry-After past statement_timeout: backend usable afterwards" grep -q "usable:5" <<<"$out"

emuctl reset
emuctl fault '{"endpoint": "get_message", "action": "delay", "seconds": 30}'
timed_timeout "waiting for a stalled response" "$SEED"

emuctl reset
emuctl fault '{"endpoint": "attachment_query_result", "action": "trickle", "bytes_per_second": 20}'
timed_timeout "in a slow body transfer" "$SEED"

# a TLS server that accepts connections and never answers the handshake
hang_port=$(genie_free_port)
python3 - "$hang_port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
conns = []
end = time.time() + 60
s.settimeout(1)
while time.time() < end:
    try:
        conns.append(s.accept()[0])
    except socket.timeout:
        pass
PY
hang_pid=$!
# wait until it listens (a refused connection to a host that never answered
# is a configuration error now, failing at once)
for _ in $(seq 1 100); do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$hang_port" 2>/dev/null && break
	sleep 0.1
done
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE SERVER hang FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'https://127.0.0.1:$hang_port', space_id '01f0000000000000000000000000000a', connect_timeout '60');
CREATE USER MAPPING FOR CURRENT_USER SERVER hang OPTIONS (token 'dapi-not-used');
CREATE FOREIGN TABLE q_hang (question text) SERVER hang;
SQL
timed_timeout "connecting (TLS handshake never completes)" "$SEED" q_hang
kill $hang_pid 2>/dev/null || true

# pg_cancel_backend from another session, as Ctrl-C in psql does
emuctl reset
psql -X -c "SELECT 1" >/dev/null
start=$(date +%s%N)
out_file=$GENIE_TMP/cancelled.out
psql -X -c "SELECT count(*) FROM q WHERE question = 'Take your time'" >"$out_file" 2>&1 &
bg=$!
sleep 1
psql -X -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%Take your time%' AND pid <> pg_backend_pid()" >/dev/null
cancel_at=$(date +%s%N)
wait $bg || true
end=$(date +%s%N)
ms=$(( (end - cancel_at) / 1000000 ))
echo "# pg_cancel_backend: query ended $ms ms after the cancel"
check "pg_cancel_backend: query cancelled" grep -q "canceling statement due to user request" "$out_file"
check "pg_cancel_backend: within 1000 ms" test "$ms" -lt 1000

# the same while sleeping on a Retry-After (honoured, as no limit is near)
emuctl reset
emuctl fault '{"endpoint": "start_conversation", "action": "status", "status": 429, "retry_after": "30"}'
out_file=$GENIE_TMP/cancelled-retry-after.out
psql -X -c "SELECT count(*) FROM q WHERE question = '$SEED'" >"$out_file" 2>&1 &
bg=$!
sleep 1
psql -X -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%highest total sales%' AND pid <> pg_backend_pid()" >/dev/null
cancel_at=$(date +%s%N)
wait $bg || true
end=$(date +%s%N)
ms=$(( (end - cancel_at) / 1000000 ))
echo "# pg_cancel_backend while sleeping on Retry-After: query ended $ms ms after the cancel"
check "pg_cancel_backend on Retry-After: query cancelled" grep -q "canceling statement due to user request" "$out_file"
check "pg_cancel_backend on Retry-After: within 1000 ms" test "$ms" -lt 1000

check_done
