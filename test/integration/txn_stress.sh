#!/usr/bin/env bash
# Transaction control under stress, with a debug build of genie_fdw that
# poisons released call, cursor and chunk memory (make GENIE_DEBUG=1): fixed
# scenarios for each ownership defect fixed so far, then seeded random
# sequences of cursors, savepoints, errors, cancel and emulator faults
# (test/integration/txn_stress.py).  Afterwards the server log must show no
# backend that died.  The normal build is installed again on exit.
source "$(dirname "$0")/../lib.sh"

genie_install_deps python3-psycopg
genie_install_debug_build

genie_start_emulator --answer-seconds 0 --questions-per-minute 0 --chunk-rows 200
genie_start_cluster log_min_messages=warning
genie_setup_sql "answer_timeout '60'"
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FOREIGN TABLE s_inline (question text, id bigint) SERVER genie;
CREATE FOREIGN TABLE s_full (question text, id bigint) SERVER genie OPTIONS (full_results 'true');
-- debug builds only: requests attached to the backend's curl multi handle
CREATE FUNCTION genie_fdw_debug_calls() RETURNS integer AS 'genie_fdw', 'genie_fdw_debug_calls' LANGUAGE C;
SQL

rc=0
/usr/bin/python3 "$GENIE_ROOT/test/integration/txn_stress.py" || rc=$?

log=$GENIE_TMP/sock/postgres.log
if grep -E "terminated by signal|was terminated|PANIC|server process .* exited with exit code [^0]" "$log"; then
	echo "not ok - the server log shows a backend that died"
	rc=1
else
	echo "ok - no backend died (server log checked, $(wc -l <"$log") lines)"
fi
exit $rc
