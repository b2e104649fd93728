#!/usr/bin/env bash
# A 1,000,000-row answer through the full-result download: every row
# arrives, and the backend's peak memory is flat: a 1,000,000-row answer
# (20 chunks) needs no more than a 100,000-row one (2 chunks) in the same
# session, since about two chunks are held at a time.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0
genie_start_cluster
genie_setup_sql
emuctl config chunk_rows=50000 download_seconds=0.2
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FOREIGN TABLE big (question text, id bigint, name text, qty int, amount numeric, ts timestamptz, flag boolean)
  SERVER genie OPTIONS (full_results 'true');
SQL

out=$(psql -X -At -v ON_ERROR_STOP=1 <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
SELECT 'small=' || count(*) || ',' || sum(id) FROM big WHERE question = 'Generate 100000 rows';
\! awk '/^VmHWM/ { print "hwm_small=" $2 }' /proc/$BACKEND_PID/status
SELECT 'big=' || count(*) || ',' || sum(id) || ',' || count(DISTINCT id) FROM big WHERE question = 'Generate 1000000 rows';
\! awk '/^VmHWM/ { print "hwm_big=" $2 }' /proc/$BACKEND_PID/status
SQL
)
echo "$out" | sed 's/^/# /'
small=$(sed -n 's/^hwm_small=//p' <<<"$out")
big=$(sed -n 's/^hwm_big=//p' <<<"$out")
growth=$(( ${big:-0} - ${small:-0} ))
echo "# backend peak memory (VmHWM): $small kB after 100,000 rows, $big kB after 1,000,000 rows (+$growth kB)"
check "100,000 rows arrive" grep -qx "small=100000,5000050000" <<<"$out"
check "1,000,000 rows arrive, each once" grep -qx "big=1000000,500000500000,1000000" <<<"$out"
check "no Authorization header was sent to storage" test "$(emuctl stats authorization_on_storage)" = 0
# 20 chunks of 50,000 rows: memory follows the chunk size, not the answer's
check "peak memory grows by less than 32 MB from 100,000 to 1,000,000 rows" test "$growth" -lt 32768
check_done
