#!/usr/bin/env bash
# The emulator's realistic latency profile (--profile real: 10-20 s per answer,
# most of it ASKING_AI and EXECUTING_QUERY) against genie_fdw, on the manual
# clock: the test moves Genie's time a quarter second per poll, so a 10-20 s
# answer takes a few real seconds and never races the machine's load.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --profile real --clock manual --questions-per-minute 0
genie_start_cluster
genie_setup_sql

SEED='Which products generate the highest total sales value?'
psql -X -At -c "SET genie_fdw.progress = on" \
	-c "SELECT count(*) FROM q WHERE question = '$SEED'" >"$GENIE_TMP/real.out" 2>&1 &
bg=$!
# one process drives the clock: after each poll of genie_fdw, a quarter second
steps=$(python3 - "$bg" <<'PY'
import json, os, sys, time, urllib.request
url = os.environ["GENIE_EMULATOR_URL"] + "/__emulator/"
def call(what, body=None):
    req = urllib.request.Request(url + what, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=10))
pid, steps = int(sys.argv[1]), 0
while steps < 100:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    if call("stats")["requests"].get("get_message", 0) > steps:
        call("clock", {"advance": 0.25})
        steps += 1
    time.sleep(0.01)
print(steps)
PY
)
wait "$bg" || true
sed 's/^/# /' "$GENIE_TMP/real.out"
echo "# polls, a quarter second of Genie's time each: $steps"
check "the answer arrives" grep -qx 5 "$GENIE_TMP/real.out"
check "it took Genie 10 to 20 of its seconds" test "$steps" -ge 40 -a "$steps" -le 81
statuses=$(sed -n 's/^NOTICE:  genie_fdw: \([A-Z_]*\) ([0-9.]* s)$/\1/p' "$GENIE_TMP/real.out" | tr '\n' ' ')
check "the statuses in order, the long ones seen, ending in COMPLETED" \
	python3 -c 'import sys
order = ["SUBMITTED", "FETCHING_METADATA", "FILTERING_CONTEXT", "ASKING_AI", "PENDING_WAREHOUSE", "EXECUTING_QUERY", "COMPLETED"]
seen = sys.argv[1].split()
idx = [order.index(s) for s in seen]
sys.exit(0 if idx == sorted(idx) and len(set(idx)) == len(idx) and seen[-1] == "COMPLETED"
         and "ASKING_AI" in seen and "EXECUTING_QUERY" in seen else 1)' "$statuses"
check_done
