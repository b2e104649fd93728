#!/usr/bin/env bash
# pg_dump and restore of genie_fdw tables.  The extension's DDL check (the
# event trigger genie_fdw_ddl_check) refuses a table without a question
# column, but pg_dump writes a foreign table's column options after the table
# (CREATE FOREIGN TABLE, then ALTER FOREIGN TABLE ... ALTER COLUMN ...
# OPTIONS): a restore, plain or with pg_restore, must go through all the same,
# and the restored tables must answer.
source "$(dirname "$0")/../lib.sh"

genie_start_emulator --answer-seconds 0.1 --questions-per-minute 0
genie_start_cluster
genie_setup_sql
Q='Which products generate the highest total sales value?'

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE DOMAIN question_text AS text CHECK (VALUE <> '');
CREATE FOREIGN TABLE asked (
  q     question_text OPTIONS (genie 'question'),
  r     jsonb OPTIONS (genie 'row'),
  "Sql" text OPTIONS (genie 'sql'),
  value numeric OPTIONS (column_name 'TotalValue')
) SERVER genie OPTIONS (cache_ttl '60');
SQL

dump=$GENIE_TMP/genie.sql
archive=$GENIE_TMP/genie.dump
check "pg_dump (plain)" "$PG_BIN/pg_dump" -f "$dump" postgres
check "pg_dump (custom)" "$PG_BIN/pg_dump" -Fc -f "$archive" postgres
check "the dump gives the question column its option after the table" \
	grep -q "^ALTER FOREIGN TABLE \(ONLY \)\?public.asked ALTER COLUMN q OPTIONS" "$dump"

psql -X -q -c "CREATE DATABASE plain_restore" -c "CREATE DATABASE archive_restore"
rc=0
out=$(psql -X -q -v ON_ERROR_STOP=1 -d plain_restore -f "$dump" 2>&1 >/dev/null) || rc=$?
echo "$out" | sed 's/^/# /'
check "psql restores the plain dump" test $rc -eq 0
rc=0
out=$("$PG_BIN/pg_restore" -d archive_restore --exit-on-error "$archive" 2>&1) || rc=$?
echo "$out" | sed 's/^/# /'
check "pg_restore restores the archive" test $rc -eq 0

for db in plain_restore archive_restore; do
	n=$(psql -X -At -d "$db" -c "SELECT count(*) FROM asked WHERE q = '$Q'" 2>&1) || true
	check "$db: the restored table answers" test "$n" = "5"
	out=$(psql -X -At -d "$db" -c "CREATE FOREIGN TABLE broken (x text) SERVER genie" 2>&1) || true
	check "$db: the DDL check is active after the restore" \
		grep -q 'foreign table "broken" has no question column' <<<"$out"
done
check_done
