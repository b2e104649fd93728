# test/lib.sh -- shared helpers of the demo, the test runner and CI.
#
# Sourced, not run.  Installs what is missing (Debian packages), builds and
# installs genie_fdw, starts a throw-away PostgreSQL cluster as the postgres
# user and the Genie emulator, and stops both on exit.  Never prints tokens.

set -euo pipefail

GENIE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$GENIE_ROOT/test/pg18.sh"
GENIE_TMP=
EMU_PID=
export GENIE_TOKEN=${GENIE_TOKEN:-dapi-emulator-token}
export GENIE_CLIENT_SECRET=${GENIE_CLIENT_SECRET:-emulator-secret}
# a wrong secret that must not show up anywhere either
export GENIE_WRONG_SECRET=${GENIE_WRONG_SECRET:-wrong-secret-4f1c9a}

say() { printf '==> %s\n' "$*" >&2; }

# genie_select_pg MAJOR: the PostgreSQL the build and the clusters use, by
# major version: Debian's package for 15, a build from source for 18 (see
# test/pg18.sh; built on first use).  Sets and exports PG_MAJOR and PG_BIN,
# and puts PG_BIN first in PATH (psql, pg_regress's server programs).
# GENIE_PG_BIN replaces Debian's directory (e.g. a private copy of 15).
genie_select_pg() {
	case $1 in
		18)
			genie_pg18_prefix || return 1
			PG_BIN=$PG18_PREFIX/bin
			;;
		*)
			PG_BIN=${GENIE_PG_BIN:-/usr/lib/postgresql/$1/bin}
			;;
	esac
	PG_MAJOR=$1
	PATH=$PG_BIN:$PATH
	export PG_MAJOR PG_BIN PATH
}

genie_select_pg "${PG_MAJOR:-15}"

# Debian packages the build and the tests need (installed when missing).
genie_install_deps() {
	local pkgs=(postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev
		libjson-c-dev pkg-config make gcc python3 curl openssl "$@")
	local missing=()
	local p
	for p in "${pkgs[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		if [ "$(id -u)" != 0 ]; then
			echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
			return 1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# Build (from clean: the objects of another major must not be reused) and
# install genie_fdw into the selected PostgreSQL.
genie_build_install() {
	say "building and installing genie_fdw for PostgreSQL $PG_MAJOR"
	make -C "$GENIE_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" clean >/dev/null
	make -C "$GENIE_ROOT" -s WERROR=1 PG_CONFIG="$PG_BIN/pg_config" all >/dev/null
	make -C "$GENIE_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
}

# Build genie_fdw with GENIE_DEBUG=1 (released memory poisoned, fault
# injection) from a copy of the tree and install it into the selected
# PostgreSQL; the normal build is installed again when the script exits.
genie_install_debug_build() {
	genie_tmpdir
	local dbg=$GENIE_TMP/debug-build
	mkdir -p "$dbg"
	cp -r "$GENIE_ROOT/src" "$GENIE_ROOT/sql" "$GENIE_ROOT/expected" "$GENIE_ROOT/Makefile" \
		"$GENIE_ROOT"/genie_fdw.control "$dbg/"
	rm -f "$dbg"/src/*.o "$dbg"/*.so
	say "building and installing the debug build (GENIE_DEBUG=1)"
	make -C "$dbg" -s WERROR=1 GENIE_DEBUG=1 PG_CONFIG="$PG_BIN/pg_config" all >/dev/null
	make -C "$dbg" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
	trap 'genie_reinstall_normal; genie_cleanup' EXIT
}

genie_reinstall_normal() {
	make -C "$GENIE_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
}

genie_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

genie_cleanup() {
	set +e
	if [ -n "$EMU_PID" ]; then
		kill "$EMU_PID" 2>/dev/null
		wait "$EMU_PID" 2>/dev/null
	fi
	if [ -n "$GENIE_TMP" ] && [ -d "$GENIE_TMP/data" ]; then
		runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$GENIE_TMP/data" -m immediate stop >/dev/null 2>&1
	fi
	if [ -n "$GENIE_TMP" ]; then
		rm -rf "$GENIE_TMP"
	fi
}

genie_tmpdir() {
	if [ -z "$GENIE_TMP" ]; then
		GENIE_TMP=$(mktemp -d /tmp/genie_fdw.XXXXXX)
		chmod 755 "$GENIE_TMP"
		trap genie_cleanup EXIT
	fi
}

# genie_start_emulator [emulator flags...]: sets GENIE_EMULATOR_URL
genie_start_emulator() {
	genie_tmpdir
	local log=$GENIE_TMP/emulator.out
	python3 "$GENIE_ROOT/test/genie_emulator.py" --port 0 "$@" >"$log" 2>"$GENIE_TMP/emulator.err" &
	EMU_PID=$!
	local i
	for i in $(seq 1 100); do
		if grep -q "listening on" "$log" 2>/dev/null; then
			GENIE_EMULATOR_URL=$(sed -n 's/.*listening on \(http[s]*:\/\/[^ ]*\).*/\1/p' "$log" | head -1)
			export GENIE_EMULATOR_URL
			say "emulator at $GENIE_EMULATOR_URL"
			return 0
		fi
		if ! kill -0 "$EMU_PID" 2>/dev/null; then
			cat "$GENIE_TMP/emulator.err" >&2
			echo "the emulator did not start" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "the emulator did not start within 10 s" >&2
	return 1
}

# genie_start_cluster [postgres -c settings...]: sets PGHOST, PGPORT, PGUSER
genie_start_cluster() {
	genie_tmpdir
	local data=$GENIE_TMP/data
	mkdir -p "$data" "$GENIE_TMP/sock"
	chown postgres:postgres "$data" "$GENIE_TMP/sock"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
	PGPORT=$(genie_free_port)
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -l "$GENIE_TMP/sock/postgres.log" \
		-o "$(genie_cluster_opts "$@")" -w start >/dev/null
	export PGHOST=$GENIE_TMP/sock PGPORT PGUSER=postgres PGDATABASE=postgres
	say "PostgreSQL $PG_MAJOR at $PGHOST port $PGPORT"
}

# genie_restart_cluster [postgres -c settings...]: restart the cluster with
# other settings (same port and socket directory)
genie_restart_cluster() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$GENIE_TMP/data" -l "$GENIE_TMP/sock/postgres.log" \
		-o "$(genie_cluster_opts "$@")" -m fast -w restart >/dev/null
}

# the postgres options of the test cluster, with -c for each setting given
genie_cluster_opts() {
	local opts="-p $PGPORT -k $GENIE_TMP/sock -c listen_addresses='' -c fsync=off"
	local s
	for s in "$@"; do
		opts="$opts -c $s"
	done
	echo "$opts"
}

# genie_setup_sql: extension, server "genie" on the emulator, user mapping
# and foreign table "q" in the current database.  Extra server options may
# be given as one string, e.g. "poll_interval '0.05'".
genie_setup_sql() {
	local extra=${1:-}
	psql -X -q -v ON_ERROR_STOP=1 -v url="$GENIE_EMULATOR_URL" -v token="$GENIE_TOKEN" <<SQL
CREATE EXTENSION IF NOT EXISTS genie_fdw;
CREATE SERVER genie FOREIGN DATA WRAPPER genie_fdw
  OPTIONS (host :'url', space_id '01f0000000000000000000000000000a',
           poll_interval '0.05', max_poll_interval '0.2', initial_backoff '0.05', max_backoff '0.2'
           ${extra:+, $extra});
CREATE USER MAPPING FOR CURRENT_USER SERVER genie OPTIONS (token :'token');
CREATE FOREIGN TABLE q (question text, "ProductName" text, "TotalValue" numeric) SERVER genie;
SQL
}

emuctl() {
	python3 "$GENIE_ROOT/test/emuctl.py" "$@"
}

# check NAME CONDITION...: report one assertion of an integration test
check_failures=0
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		check_failures=$((check_failures + 1))
	fi
}

check_done() {
	if [ "$check_failures" -ne 0 ]; then
		echo "$check_failures check(s) failed"
		return 1
	fi
}
