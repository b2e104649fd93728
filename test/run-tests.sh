#!/usr/bin/env bash
# Runs every test of genie_fdw: the emulator's own tests, the conformance test
# with Databricks' JavaScript SDK, the release metadata check, the unit tests
# of the plain C parts (test/unit/), the fuzzer, and
# for each PostgreSQL major the build (make WERROR=1), the pg_regress suite
# against a throw-away cluster and the emulator, and the integration tests in
# test/integration/.  Prints one line per suite, "(pgNN)" after the suites
# that run against a server, and "N passed, N failed, N skipped".
#
#   GENIE_PG="15 18"        the majors to test (default both): 15 is Debian's
#                           package, 18 is built from source once and cached
#                           (test/pg18.sh; GENIE_PG18_TARBALL, GENIE_PG_CACHE)
#   GENIE_SUITES="a b"      run only the named suites (regress, cancel, ...)
#   GENIE_REQUIRE_PG18=1    PostgreSQL 18 must be tested (CI: .ci/run sets it,
#                           and CI=true means the same)
#
# On 18 the suites that exercise server behaviour run (SERVER_SUITES); the
# others on 15 only.  PostgreSQL 18 needs its source tarball, which a fresh
# clone does not have: without it, and unless 18 is required (CI, or GENIE_PG
# names it), 18 is skipped with a line saying how to add it, and the run
# passes on 15 alone.
source "$(dirname "$0")/lib.sh"

# 18 may be skipped only when nobody asked for it
pg18_required=0
if [ "${GENIE_REQUIRE_PG18:-0}" = 1 ] || [ "${CI:-}" = true ] ||
	[[ " ${GENIE_PG:-} " == *" 18 "* ]]; then
	pg18_required=1
fi
GENIE_PG=${GENIE_PG:-15 18}
# integration tests that also run on every major besides 15: server
# behaviour (cancel, memory, shared memory: the limiter and the shared
# cache), drivers, the typed fast paths against that server's input
# functions, and the wait event (a custom one from 17 on)
SERVER_SUITES="cancel leak limiter bi_drivers shared_cache shared_stress convert wait_event shared_trust rerun"

genie_install_deps bison flex zlib1g-dev

passed=0
failed=0
skipped=0
failures=()

# skip WHAT: report a suite (or a PostgreSQL version) not run, and count it
skip() {
	skipped=$((skipped + 1))
	say "SKIP $*"
}

# selected NAME: is suite NAME among GENIE_SUITES (all by default)?
selected() {
	[ -z "${GENIE_SUITES:-}" ] || [[ " $GENIE_SUITES " == *" $1 "* ]]
}

# suite NAME COMMAND...: run one suite, shown as "NAME (pgNN)" when
# the variable PG_LABEL is set
suite() {
	local name=$1
	shift
	selected "$name" || return 0
	local label=$name${PG_LABEL:+ ($PG_LABEL)}
	local out=$GENIE_TMP/suite-$name${PG_LABEL:+-$PG_LABEL}.log
	local start=$SECONDS
	if "$@" >"$out" 2>&1; then
		passed=$((passed + 1))
		say "PASS $label ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		failures+=("$label")
		say "FAIL $label ($((SECONDS - start)) s); its output:"
		tail -n 80 "$out" >&2
	fi
}

genie_tmpdir

# The pg_regress suite, with the server logging at debug level; afterwards
# neither the server log nor any test output may contain the token or the
# service principal's secret.  Runs in a subshell with its own temporary
# directory, emulator and cluster, stopped when it ends.
regress() {
	(
		GENIE_TMP=
		EMU_PID=
		genie_tmpdir
		genie_start_emulator --answer-seconds 0.3 --questions-per-minute 0 --chunk-rows 1000
		genie_start_cluster log_min_messages=debug1 log_error_verbosity=verbose
		cd "$GENIE_ROOT"
		local rc=0
		make -s PG_CONFIG="$PG_BIN/pg_config" installcheck || rc=$?
		if [ $rc -ne 0 ] && [ -f regression.diffs ]; then
			cat regression.diffs
		fi
		local secret leaked=0
		for secret in "$GENIE_TOKEN" "$GENIE_CLIENT_SECRET" "$GENIE_WRONG_SECRET"; do
			if grep -rlF -- "$secret" "$GENIE_TMP/sock/postgres.log" results/ regression.out; then
				echo "a secret appears in the files above"
				leaked=1
			fi
		done
		echo "server log lines checked for secrets: $(wc -l <"$GENIE_TMP/sock/postgres.log")"
		[ $leaked -eq 0 ] || rc=1
		exit $rc
	)
}

# Suites that do not depend on the PostgreSQL version: once.
suite emulator python3 "$GENIE_ROOT/test/test_emulator.py"
suite meta python3 "$GENIE_ROOT/test/check_meta.py"
# the plain C parts built standalone (the address policy of download links)
suite unit bash "$GENIE_ROOT/test/unit/run.sh"
# the benchmark's emulator (a cache in front of ours) serves the same bytes
suite bench-emulator python3 "$GENIE_ROOT/test/bench/bench_emulator.py" --selftest
if command -v npm >/dev/null 2>&1; then
	suite sdk-conformance bash "$GENIE_ROOT/test/sdk_conformance/run.sh"
else
	skip "sdk-conformance (no npm on this machine)"
fi
if command -v clang >/dev/null 2>&1; then
	suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash "$GENIE_ROOT/test/fuzz/run.sh"
else
	skip "fuzz (no clang on this machine)"
fi

# build: build genie_fdw with warnings as errors and install it into the
# selected PostgreSQL.
build() {
	genie_build_install
}

for major in $GENIE_PG; do
	PG_LABEL=pg$major
	if [ "$major" = 18 ] && [ "$pg18_required" = 0 ] && ! tarball=$(genie_pg18_tarball); then
		skip "PostgreSQL 18: its source is not at $tarball (a plain clone has none)"
		say "     To test 18 too (built once, about 6 minutes on 2 cores), give a PostgreSQL 18 source tarball:"
		say "     GENIE_PG18_TARBALL=/path/to/postgresql-18.3.tar.xz bash test/run-tests.sh"
		continue
	fi
	if ! genie_select_pg "$major"; then
		failed=$((failed + 1))
		failures+=("PostgreSQL $major")
		if [ "$major" = 18 ] && ! genie_pg18_tarball >/dev/null; then
			say "FAIL PostgreSQL 18 is not available, and this run requires it (CI=true, GENIE_REQUIRE_PG18=1 or GENIE_PG=18);" \
				"GENIE_PG18_TARBALL=/path/to/postgresql-18.3.tar.xz provides it"
		else
			say "FAIL PostgreSQL $major is not available"
		fi
		continue
	fi
	# the build is always run: every other suite needs it
	before=$failed
	GENIE_SUITES= suite build build
	if [ "$failed" -ne "$before" ]; then
		say "SKIP the other suites on PostgreSQL $major (the build failed)"
		continue
	fi
	suite regress regress
	for t in "$GENIE_ROOT"/test/integration/*.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t" .sh)
		if [ "$major" != 15 ] && [[ " $SERVER_SUITES " != *" $name "* ]]; then
			continue
		fi
		suite "$name" bash "$t"
	done
done
PG_LABEL=

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
