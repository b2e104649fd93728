#!/usr/bin/env bash
# Runs every test of genie_fdw (GENIE_SUITES="a b" runs only those suites): the emulator's own tests, the conformance test
# with Databricks' JavaScript SDK, the pg_regress suite against a throw-away
# PostgreSQL cluster and the emulator, and the integration tests in
# test/integration/.  Prints one line per suite and "N passed, N failed".
source "$(dirname "$0")/lib.sh"

genie_install_deps
genie_build_install

passed=0
failed=0
failures=()

# GENIE_SUITES="regress cancel": run only the named suites (all by default)
suite() {
	local name=$1
	shift
	if [ -n "${GENIE_SUITES:-}" ] && [[ " $GENIE_SUITES " != *" $name "* ]]; then
		return 0
	fi
	local out=$GENIE_TMP/suite-$name.log
	local start=$SECONDS
	if "$@" >"$out" 2>&1; then
		passed=$((passed + 1))
		say "PASS $name ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		say "FAIL $name ($((SECONDS - start)) s); its output:"
		tail -n 80 "$out" >&2
	fi
}

genie_tmpdir

# The pg_regress suite, with the server logging at debug level; afterwards
# neither the server log nor any test output may contain the token or the
# service principal's secret.
regress() {
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
	return $rc
}

suite emulator python3 "$GENIE_ROOT/test/test_emulator.py"
if command -v npm >/dev/null 2>&1; then
	suite sdk-conformance bash "$GENIE_ROOT/test/sdk_conformance/run.sh"
else
	say "SKIP sdk-conformance (no npm on this machine)"
fi
suite regress regress
if command -v clang >/dev/null 2>&1; then
	suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash "$GENIE_ROOT/test/fuzz/run.sh"
else
	say "SKIP fuzz (no clang on this machine)"
fi
for t in "$GENIE_ROOT"/test/integration/*.sh; do
	[ -e "$t" ] || continue
	suite "$(basename "$t" .sh)" bash "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
