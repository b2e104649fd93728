#!/usr/bin/env bash
# A wrong host fails at once; a host that answered before is retried.
#
# A host name that does not resolve, or a host and port where nothing
# accepts connections, on the first attempt to a host that has never
# answered in the backend is a configuration error: the query fails at once
# (even with generous max_retries and backoff), with a hint naming option
# host.  The same refused connection to a host that did answer before in the
# backend (the service restarts) is retried, and the question is answered
# once the service is back.  With the shared limiter, a question that never
# reached Genie gives its slot back: a second question to the same wrong
# host fails at once too instead of waiting for a slot.
source "$(dirname "$0")/../lib.sh"

SEED='Which products generate the highest total sales value?'
genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0
genie_start_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=1
genie_setup_sql
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# a closed loopback port (bound, never listened on, closed again) and a
# name under .invalid, which never resolves (RFC 6761)
closed_port=$(genie_free_port)
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE SERVER wrong FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'http://127.0.0.1:$closed_port', space_id '01f0000000000000000000000000000a',
           max_retries '10', initial_backoff '2', max_backoff '10');
CREATE USER MAPPING FOR CURRENT_USER SERVER wrong OPTIONS (token 'dapi-not-sent');
CREATE FOREIGN TABLE q_wrong (question text) SERVER wrong;
SQL

# 1. nothing listening: fails at once, twice (the first question gave its
#    question slot back, so the second does not wait a minute for one)
start=$(ms_now)
out=$(psql -X -At -c "SET genie_fdw.progress = on" -c "SET statement_timeout = '20s'" \
	-c "SELECT * FROM q_wrong WHERE question = '$SEED'" \
	-c "SELECT * FROM q_wrong WHERE question = '$SEED'" 2>&1 || true)
refused_ms=$(($(ms_now) - start))
echo "$out" | sed 's/^/# /'
echo "# two questions to a closed port failed in ${refused_ms} ms"
check "refused: both questions fail with the hint about option host" \
	test "$(grep -c "HINT:  Check option \"host\" of server \"wrong\" (http://127.0.0.1:$closed_port): nothing accepts connections there" <<<"$out")" -eq 2
check "refused: no retries" test "$(grep -c 'retrying' <<<"$out")" -eq 0
check "refused: the slot was given back (no wait for one)" \
	test "$(grep -c 'waiting for a question slot' <<<"$out")" -eq 0
check "refused: at once (under 5 s; the retries would take over 60 s)" test "$refused_ms" -lt 5000

# 2. a name that does not resolve: at once as well (when the resolver
#    answers at all: this check needs a resolver that says "no such name")
psql -X -q -c "ALTER SERVER wrong OPTIONS (SET host 'https://genie.invalid')"
start=$(ms_now)
out=$(psql -X -At -c "SET statement_timeout = '60s'" -c "SELECT * FROM q_wrong WHERE question = '$SEED'" 2>&1 || true)
unresolved_ms=$(($(ms_now) - start))
echo "$out" | sed 's/^/# /'
echo "# a question to genie.invalid failed in ${unresolved_ms} ms"
check "unresolved: the error names the host option" \
	grep -q "HINT:  Check option \"host\" of server \"wrong\" (https://genie.invalid): no such host is known" <<<"$out"
check "unresolved: at once (under 5 s)" test "$unresolved_ms" -lt 5000

# 3. a host that answered before in the backend and now refuses (a restart):
#    retried until the service is back, then answered
psql -X -q -c "ALTER SERVER genie OPTIONS (ADD max_retries '100', SET max_backoff '0.2', ADD questions_per_minute '0')"
port=${GENIE_EMULATOR_URL##*:}
mkfifo "$GENIE_TMP/restart.in"
psql -X -At <"$GENIE_TMP/restart.in" >"$GENIE_TMP/restart.out" 2>&1 &
session=$!
exec {fd}>"$GENIE_TMP/restart.in"
echo "SET genie_fdw.progress = on;" >&"$fd"
echo "SELECT count(*) FROM q WHERE question = '$SEED';" >&"$fd"
for i in $(seq 1 200); do
	grep -qx 5 "$GENIE_TMP/restart.out" && break
	sleep 0.05
done
check "restart: the host answered once" grep -qx 5 "$GENIE_TMP/restart.out"
kill "$EMU_PID"
wait "$EMU_PID" || true
echo "SELECT count(*) FROM q WHERE question = '$SEED';" >&"$fd"
for i in $(seq 1 200); do
	[ "$(grep -c 'retrying' "$GENIE_TMP/restart.out" || true)" -ge 3 ] && break
	sleep 0.05
done
check "restart: the refused connection is retried" \
	test "$(grep -c 'Couldn.t connect to server.*retrying in' "$GENIE_TMP/restart.out" || true)" -ge 3
# (the session ends after this question; the emulator must not inherit
# the pipe's write end, or the session would never see its end)
exec {fd}>&-
python3 "$GENIE_ROOT/test/genie_emulator.py" --port "$port" --answer-seconds 0.2 --questions-per-minute 0 \
	>"$GENIE_TMP/emulator2.out" 2>"$GENIE_TMP/emulator2.err" &
EMU_PID=$!
wait "$session" || true
sed 's/^/# /' "$GENIE_TMP/restart.out" | grep -v 'FETCHING\|FILTERING\|ASKING\|PENDING\|EXECUTING\|COMPLETED'
check "restart: answered once the service was back" test "$(grep -cx 5 "$GENIE_TMP/restart.out")" -eq 2
check "restart: no hint about option host" test "$(grep -c 'Check option' "$GENIE_TMP/restart.out" || true)" -eq 0
check_done
