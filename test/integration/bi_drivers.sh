#!/usr/bin/env bash
# BI drivers: genie_fdw through real client drivers that use the extended
# protocol with server-side parameters -- psycopg 3 (Debian python3-psycopg)
# and node-postgres (npm pg) -- binding WHERE question = $1 (unnamed, named
# and prepared statements, also with a generic plan) and reading typed
# results; and what a BI tool does on connect: list the foreign tables and
# their columns through information_schema and pg_catalog, and probe with
# SELECT * FROM t LIMIT 0, which must not ask Genie.
#
# The checks themselves are in test/integration/bi/ (psycopg_check.py,
# node_check.mjs); this script sets up, runs them, and checks in the server
# log that the question really arrived as a bound $1 parameter.
source "$(dirname "$0")/../lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
bi=$here/bi

if ! dpkg -s python3-psycopg >/dev/null 2>&1; then
	say "installing python3-psycopg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-psycopg >/dev/null ||
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-psycopg >/dev/null; }
fi

# install node-postgres first (the only step that may need the network)
have_node=no
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	if (cd "$bi" && npm install --no-audit --no-fund --loglevel=error >/dev/null); then
		have_node=yes
	else
		echo "not ok - npm install of node-postgres in test/integration/bi"
		check_failures=$((check_failures + 1))
	fi
else
	echo "# SKIP node-postgres: no npm"
fi

genie_start_emulator --answer-seconds 0.2 --questions-per-minute 0
genie_start_cluster
genie_setup_sql
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE FOREIGN TABLE typed (
  question   text,
  order_id   bigint,
  product    text,
  quantity   int,
  small_qty  smallint,
  unit_price numeric(10,2),
  discount   float8,
  is_gift    bool,
  order_date date,
  order_ts   timestamptz,
  note       text
) SERVER genie;
CREATE FOREIGN TABLE gen (question text, id bigint, name text, qty int, amount numeric, ts timestamptz, flag boolean)
  SERVER genie;
-- the drivers' sessions log every statement, with the bound parameters
ALTER DATABASE postgres SET log_statement = 'all';
SQL
pglog=$GENIE_TMP/sock/postgres.log
emuctl reset

# log_since OFFSET: the server log written after byte OFFSET
log_since() { tail -c +$(($1 + 1)) "$pglog"; }
log_size() { stat -c %s "$pglog"; }

# bound_in_log DRIVER OFFSET: the question reached the server as $1 of an
# extended-protocol statement ("execute <name>: ... $1" with "parameters: $1 = '...'")
# shellcheck disable=SC2016 # the $1 in these patterns is literal
bound_in_log() {
	local driver=$1 log
	log=$(log_since "$2")
	check "$driver: the server log shows an extended-protocol execute of ... WHERE question = \$1" \
		grep -qE 'LOG: +execute [^:]+: SELECT .* WHERE question = \$1' <<<"$log"
	# "parameters: $1 = ..." on 15, "Parameters: $1 = ..." on 18
	check "$driver: the server log shows the question bound as \$1" \
		grep -qF -e "parameters: \$1 = 'Which products generate the highest total sales value?'" \
		-e "Parameters: \$1 = 'Which products generate the highest total sales value?'" <<<"$log"
	check "$driver: the server log shows a named statement executed with a bound \$1" \
		grep -qE 'LOG: +execute [^<: ]+: SELECT .* FROM gen WHERE question = \$1' <<<"$log"
	check "$driver: no question was sent as a literal" \
		bash -c '! grep -qE "question = '\''(Which|Show|Generate)" <<<"$1"' _ "$log"
}

# run_driver NAME COMMAND...: its "ok"/"not ok" lines count as checks here
run_driver() {
	local name=$1 out rc=0
	shift
	out=$("$@" 2>&1) || rc=$?
	local line
	while IFS= read -r line; do
		case $line in
			"ok - "*) echo "ok - $name: ${line#ok - }" ;;
			"not ok - "*) echo "not ok - $name: ${line#not ok - }"; check_failures=$((check_failures + 1)) ;;
			"#"*) echo "$line" ;;
			*) echo "# $line" ;;
		esac
	done <<<"$out"
	check "$name: exit status 0" test "$rc" -eq 0
	check "$name: ran its checks" grep -q "^ok - " <<<"$out"
}

# psycopg 3 (Debian's package imports only under /usr/bin/python3)
off=$(log_size)
run_driver psycopg /usr/bin/python3 "$bi/psycopg_check.py"
bound_in_log psycopg "$off"

# node-postgres
if [ "$have_node" = yes ]; then
	off=$(log_size)
	run_driver node-postgres node "$bi/node_check.mjs"
	bound_in_log node-postgres "$off"
fi

# after both drivers, a plain psql session still gets the answer
check "psql afterwards: the seed question answers 5 rows" \
	test "$(psql -X -At -c "SELECT count(*) FROM q WHERE question = 'Which products generate the highest total sales value?'")" = 5

check_done
