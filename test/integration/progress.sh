#!/usr/bin/env bash
# genie_fdw.progress = on: each status change of a long answer is a NOTICE
# with the elapsed time, in the order Genie went through them; with the
# shared limiter, so is a wait for a question slot, with its reason.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --answer-seconds 1.2 --questions-per-minute 0
genie_start_cluster
genie_setup_sql

out=$(psql -X -At -c "SET genie_fdw.progress = on" \
	-c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'" 2>&1)
echo "$out" | sed 's/^/# /'
statuses=$(sed -n 's/^NOTICE:  genie_fdw: \([A-Z_]*\) ([0-9.]* s)$/\1/p' <<<"$out" | tr '\n' ' ')
check "a NOTICE when the question is asked" grep -q "NOTICE:  genie_fdw: asked Genie in conversation [0-9a-f]\{32\} ([0-9.]* s)" <<<"$out"
check "NOTICEs for the statuses, in order, ending in COMPLETED" \
	python3 -c 'import sys
order = ["SUBMITTED", "FETCHING_METADATA", "FILTERING_CONTEXT", "ASKING_AI", "PENDING_WAREHOUSE", "EXECUTING_QUERY", "COMPLETED"]
seen = sys.argv[1].split()
idx = [order.index(s) for s in seen]
sys.exit(0 if len(seen) >= 3 and idx == sorted(idx) and len(set(idx)) == len(idx) and seen[-1] == "COMPLETED" else 1)' "$statuses"
check "the answer arrives" grep -qx "5" <<<"$out"
out=$(psql -X -At -c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'" 2>&1)
check "no NOTICE with progress off (the default)" test "$out" = "5"

# With the shared limiter, a wait for a question slot says why and for about
# how long, at its start.  One question per 60 s: the second question waits
# (statement_timeout ends the wait; its NOTICE came first).
genie_restart_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=1
out=$(psql -X -At -c "SET genie_fdw.progress = on" -c "SET statement_timeout = '3s'" \
	-c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'" \
	-c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'" 2>&1 || true)
echo "$out" | sed 's/^/# /'
check "a slot wait: the first question is answered" grep -qx "5" <<<"$out"
check "a slot wait: a NOTICE says why and how long" \
	grep -q "^NOTICE:  genie_fdw: waiting for a question slot: 1 question per 60 s on host $GENIE_EMULATOR_URL, next slot in about [0-9]* s ([0-9.]* s)$" <<<"$out"
check "a slot wait: ... it is the slot the second question waits for" \
	grep -q "canceling statement due to statement timeout" <<<"$out"
wait_s=$(sed -n 's/.*next slot in about \([0-9]*\) s.*/\1/p' <<<"$out")
check "a slot wait: about a window from the first question ($wait_s s)" \
	test "${wait_s:-0}" -ge 50 -a "${wait_s:-0}" -le 61
# a server's questions_per_minute '0' means no limit, as for the setting
psql -X -q -c "ALTER SERVER genie OPTIONS (ADD questions_per_minute '0')"
out=$(psql -X -At -c "SET genie_fdw.progress = on" -c "SET statement_timeout = '10s'" \
	-c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'" \
	-c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'" 2>&1)
check "questions_per_minute '0': both questions answered at once" \
	test "$(grep -cx 5 <<<"$out")" -eq 2 -a "$(grep -c 'waiting for a question slot' <<<"$out")" -eq 0
# after a 429 with Retry-After, another session's wait says that is why
# (the emulator as localhost: a limiter bucket of its own, with room)
port=${GENIE_EMULATOR_URL##*:}
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE SERVER genie429 FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host 'http://localhost:$port', space_id '01f0000000000000000000000000000a',
           max_backoff '60', questions_per_minute '100');
CREATE USER MAPPING FOR CURRENT_USER SERVER genie429 OPTIONS (token '$GENIE_TOKEN');
CREATE FOREIGN TABLE q429 (question text, "ProductName" text, "TotalValue" numeric) SERVER genie429;
SQL
emuctl reset
emuctl fault '{"endpoint": "start_conversation", "action": "status", "status": 429, "retry_after": "30"}'
PGAPPNAME=got429 psql -X -At -c "SELECT count(*) FROM q429 WHERE question = 'Which products generate the highest total sales value?'" \
	>"$GENIE_TMP/got429.out" 2>&1 &
got429=$!
for i in $(seq 1 200); do
	[ "$(emuctl stats sent_429)" -ge 1 ] && break
	sleep 0.05
done
out=$(psql -X -At -c "SET genie_fdw.progress = on" -c "SET statement_timeout = '2s'" \
	-c "SELECT count(*) FROM q429 WHERE question = 'Which products generate the highest total sales value?'" 2>&1 || true)
psql -X -At -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'got429'" >/dev/null
wait "$got429" || true
echo "$out" | sed 's/^/# /'
check "a 429: the other session's wait names it as the reason" \
	grep -q "^NOTICE:  genie_fdw: waiting for a question slot: host http://localhost:$port answered HTTP 429 (too many requests), and no session asks it a question before its Retry-After has passed; next slot in about [0-9]* s" <<<"$out"

# a long question in a progress NOTICE is cut on a character boundary, never
# inside a multibyte character (the server's encoding is UTF-8)
emuctl reset
long=$(python3 -c 'print("x" + "é" * 30)')     # byte 40 is inside an é
psql -X -At -c "SET genie_fdw.progress = on" \
	-c "SELECT count(*) FROM q WHERE question IN ('$long', 'Which products generate the highest total sales value?')" \
	>"$GENIE_TMP/mb.out" 2>&1 || true
check "a multibyte question is cut whole in progress NOTICEs" \
	python3 -c 'import sys; t = open(sys.argv[1], "rb").read().decode("utf-8"); sys.exit(0 if ("x" + "é" * 19 + "...") in t else 1)' "$GENIE_TMP/mb.out"
check_done
