#!/usr/bin/env bash
# genie_fdw.progress = on: each status change of a long answer is a NOTICE
# with the elapsed time, in the order Genie went through them.
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
check_done
