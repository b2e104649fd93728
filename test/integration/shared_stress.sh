#!/usr/bin/env bash
# Shared state under stress (issue 19): the shared answer cache, with
# genie_fdw preloaded, against a debug build (make GENIE_DEBUG=1; it PANICs
# if the cache's lock rule is broken).  Six sessions ask overlapping fixture
# questions with cache_ttl while a controller runs a seeded random mix of
# ALTER SERVER, ALTER USER MAPPING (between the tokens of three Genie users,
# and to an invalid token and back), GRANT/REVOKE USAGE, CREATE DATABASE ...
# TEMPLATE (a session there asks too), cancel and terminate of asking
# sessions, and idle cursors (test/integration/shared_stress.py).  The
# emulator accepts a token per user and tells whose each conversation is, so
# every answer is checked to come from the user of the session's mapping.
# Afterwards the server log must show no backend that died.  The normal
# build is installed again on exit.
#
#   STRESS_SEED, STRESS_STEPS, STRESS_SECONDS   vary and bound the run
source "$(dirname "$0")/../lib.sh"

genie_install_deps python3-psycopg
genie_install_debug_build

# the tokens of three Genie users (user1 is GENIE_TOKEN); test values, no secrets
export STRESS_TOKENS="$GENIE_TOKEN dapi-stress-user2 dapi-stress-user3"
export STRESS_BAD_TOKEN=dapi-stress-invalid
genie_start_emulator --answer-seconds 0.4 --questions-per-minute 0 --chunk-rows 1000 \
	--extra-token dapi-stress-user2 --extra-token dapi-stress-user3
genie_start_cluster shared_preload_libraries=genie_fdw genie_fdw.questions_per_minute=0 \
	max_connections=60 log_min_messages=warning
export PGOPTIONS="-c client_min_messages=warning"

# roles: r1 and r2 with their own mappings (two sessions each), r5 and r6
# through the PUBLIC mapping, r3 for the databases made from the template
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE r1 LOGIN; CREATE ROLE r2 LOGIN; CREATE ROLE r3 LOGIN; CREATE ROLE r5 LOGIN; CREATE ROLE r6 LOGIN;
CREATE DATABASE stress_tmpl;
SQL
# the same objects in this database and in the template
for db in postgres stress_tmpl; do
	PGDATABASE=$db genie_setup_sql "cache_ttl '5', answer_timeout '30'"
	PGDATABASE=$db psql -X -q -v ON_ERROR_STOP=1 -v t1="$GENIE_TOKEN" <<'SQL'
CREATE USER MAPPING FOR r1 SERVER genie OPTIONS (token :'t1');
CREATE USER MAPPING FOR r2 SERVER genie OPTIONS (token 'dapi-stress-user2');
CREATE USER MAPPING FOR r3 SERVER genie OPTIONS (token :'t1');
CREATE USER MAPPING FOR PUBLIC SERVER genie OPTIONS (token 'dapi-stress-user3');
CREATE FOREIGN TABLE s (question text, conversation_id text OPTIONS (genie 'conversation_id')) SERVER genie;
GRANT SELECT ON s TO PUBLIC;
GRANT USAGE ON FOREIGN SERVER genie TO r1, r2, r3, r5, r6;
SQL
done
# nobody connects to the template (CREATE DATABASE needs it alone), not even autovacuum
psql -X -q -v ON_ERROR_STOP=1 -c "ALTER DATABASE stress_tmpl ALLOW_CONNECTIONS false"

rc=0
/usr/bin/python3 "$GENIE_ROOT/test/integration/shared_stress.py" || rc=$?

log=$GENIE_TMP/sock/postgres.log
echo "# the server log's messages, by kind:"
grep -oE "(WARNING|ERROR|FATAL|PANIC):  .{0,70}" "$log" | sed -E 's/"[^"]*"?/"..."/g; s/[0-9]+/N/g' |
	sort | uniq -c | sort -rn | head -n 15 | sed 's/^/#   /' || true
if grep -E "terminated by signal|was terminated|PANIC|server process .* exited with exit code [^0]" "$log"; then
	echo "not ok - the server log shows a backend that died"
	rc=1
else
	echo "ok - no backend died (server log checked, $(wc -l <"$log") lines)"
fi
exit $rc
