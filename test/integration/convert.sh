#!/usr/bin/env bash
# Differential test of the typed fast paths (src/convert.c): every input of
# test/integration/convert_cases.py (a table of edge cases plus thousands of
# seeded random and mutated values per type) is converted as a foreign-table
# column of its type converts it (fast path, else the input function) and by
# the type's input function alone; the two must give the same Datum, byte
# for byte, or fail with the same SQLSTATE and message.  Run under two
# sessions' settings (DateStyle, TimeZone, extra_float_digits), since a fast
# path must not depend on them.  Every type that has a fast path must have
# used it for some inputs, or the test proves nothing.
source "$(dirname "$0")/../lib.sh"

genie_start_cluster
cases=$GENIE_TMP/convert_cases.tsv
python3 "$GENIE_ROOT/test/integration/convert_cases.py" --seed "${CONVERT_SEED:-14}" \
	--count "${CONVERT_COUNT:-3000}" >"$cases"
chmod 644 "$cases"
echo "inputs: $(wc -l <"$cases") (seed ${CONVERT_SEED:-14})"

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION genie_fdw;
-- not part of the extension's script: the test creates it from the module
CREATE FUNCTION genie_fdw_convert_selftest(type text, inputs text[])
  RETURNS TABLE (input text, fast_path boolean, result text, reference text, same boolean)
  AS 'genie_fdw', 'genie_fdw_convert_selftest' LANGUAGE C STRICT;
CREATE DOMAIN int_domain AS integer CHECK (VALUE > 0);
CREATE TABLE cases (typ text, ord int, input text);
SQL
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy cases FROM '$cases'"

run() {
	local settings=$1
	psql -X -q -v ON_ERROR_STOP=1 -At -F ' ' <<SQL
$settings
CREATE TEMP TABLE results AS
  SELECT c.typ, r.*
    FROM (SELECT typ, array_agg(input ORDER BY ord) AS inputs FROM cases GROUP BY typ) c,
         LATERAL genie_fdw_convert_selftest(c.typ, c.inputs) r;
SELECT 'type', typ, count(*), count(*) FILTER (WHERE fast_path),
       count(*) FILTER (WHERE result LIKE '_____: %'), count(*) FILTER (WHERE NOT same)
  FROM results GROUP BY typ ORDER BY typ;
SELECT 'mismatch', typ, quote_literal(input), fast_path, quote_literal(result), quote_literal(reference)
  FROM results WHERE NOT same ORDER BY typ LIMIT 40;
SQL
}

check_run() {
	local name=$1 out=$2
	echo "$out" | awk '$1 == "type"'
	echo "$out" | awk '$1 == "mismatch"'
	# columns: type, name..., count, fast, errors, mismatches (the name may hold a space)
	check "$name: no mismatch" test "$(echo "$out" | awk '$1 == "type" {s += $NF} END {print s + 0}')" -eq 0
	check "$name: every type was tested" test "$(echo "$out" | awk '$1 == "type"' | wc -l)" -eq 20
	local t
	for t in smallint integer bigint real "double precision" numeric "numeric(12,2)" \
		"numeric(38,10)" boolean date timestamp "timestamp(6)" timestamptz text varchar "varchar(5)"; do
		check "$name: $t took the fast path" \
			test "$(echo "$out" | awk -v t="type $t" 'index($0, t " ") == 1 {print $(NF - 2)}')" -gt 0
		check "$name: $t also met errors" \
			test "$(echo "$out" | awk -v t="type $t" 'index($0, t " ") == 1 {print $(NF - 1)}')" -gt 0 -o "${t:0:4}" = text -o "${t:0:4}" = varc
	done
	for t in "timestamp(3)" "numeric(3,5)" int_domain; do
		check "$name: $t has no fast path" \
			test "$(echo "$out" | awk -v t="type $t" 'index($0, t " ") == 1 {print $(NF - 2)}')" -eq 0
	done
}

out=$(run "SET datestyle = 'ISO, MDY'; SET timezone = 'UTC';")
check_run "ISO/UTC" "$out"
out=$(run "SET datestyle = 'SQL, DMY'; SET timezone = 'America/New_York'; SET extra_float_digits = 0;")
check_run "SQL-DMY/New York" "$out"
check_done
