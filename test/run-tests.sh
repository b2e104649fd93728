#!/usr/bin/env bash
# Runs every test of genie_fdw: the emulator's own tests, the conformance test
# with Databricks' JavaScript SDK, the pg_regress suite against a throw-away
# PostgreSQL cluster and the emulator, and the integration tests in
# test/integration/.  Prints one line per suite and "N passed, N failed".
source "$(dirname "$0")/lib.sh"

genie_install_deps
genie_build_install

passed=0
failed=0
failures=()

suite() {
	local name=$1
	shift
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

regress() {
	genie_start_emulator --answer-seconds 0.3 --questions-per-minute 0 --chunk-rows 1000
	genie_start_cluster
	cd "$GENIE_ROOT"
	local rc=0
	make -s PG_CONFIG="$PG_BIN/pg_config" installcheck || rc=$?
	if [ $rc -ne 0 ] && [ -f regression.diffs ]; then
		cat regression.diffs
	fi
	return $rc
}

suite emulator python3 "$GENIE_ROOT/test/test_emulator.py"
if command -v npm >/dev/null 2>&1; then
	suite sdk-conformance bash "$GENIE_ROOT/test/sdk_conformance/run.sh"
else
	say "SKIP sdk-conformance (no npm on this machine)"
fi
suite regress regress
for t in "$GENIE_ROOT"/test/integration/*.sh; do
	[ -e "$t" ] || continue
	suite "$(basename "$t" .sh)" bash "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
