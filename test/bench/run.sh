#!/usr/bin/env bash
# test/bench/run.sh -- genie_fdw side by side with the clients a user would otherwise pick.
#
#   bash test/bench/run.sh            full run (about 15 minutes on 2 cores)
#   bash test/bench/run.sh --quick    no T = 20 s latency runs, 200,000 rows instead of 1,000,000,
#                                     section 5 preloaded only
#   bash test/bench/run.sh --only=rerun   only section 5 (about 3 minutes), put into BENCHMARKS.md
#                                         in place of that section; the rest of the file stays
#
# Installs what it needs (Debian packages through test/lib.sh, the JS SDK with npm into
# test/bench/node_modules), builds and installs genie_fdw from this tree, starts the benchmark's
# emulator (test/bench/bench_emulator.py: the Genie emulator with a result cache) and a throw-away
# PostgreSQL cluster, runs test/bench/bench.py, prints the table and writes BENCHMARKS.md at the
# repository root.  It reports; it never fails on a figure (only when something cannot run).
# It is not part of test/run-tests.sh or CI.
source "$(dirname "$0")/../lib.sh"

BENCH_DIR=$GENIE_ROOT/test/bench
args=("$@")
for a in "${args[@]}"; do
	case $a in
	--quick | --cpu-only | --out=* | --reps=* | --save-raw=* | --skip=* | --only=*) ;;
	-h | --help)
		sed -n '2,15p' "$0"
		exit 0
		;;
	*)
		echo "unknown argument: $a (see --help)" >&2
		exit 2
		;;
	esac
done

genie_install_deps valgrind
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	genie_install_deps nodejs npm
fi
say "installing the JS SDK into test/bench/node_modules"
(cd "$BENCH_DIR" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
genie_build_install
genie_tmpdir

# The module this run measures, kept apart: other work on this machine may install another
# genie_fdw.so while the benchmark runs.  bench.py points the extension's functions at this copy.
mkdir -p "$GENIE_TMP/lib"
cp "$GENIE_ROOT/genie_fdw.so" "$GENIE_TMP/lib/genie_fdw.so"
chmod 755 "$GENIE_TMP/lib" && chmod 644 "$GENIE_TMP/lib/genie_fdw.so"
export GENIE_BENCH_MODULE=$GENIE_TMP/lib/genie_fdw.so

# The emulator, with the result cache; genie_cleanup stops it (EMU_PID) on exit.
python3 "$BENCH_DIR/bench_emulator.py" --selftest >/dev/null
python3 "$BENCH_DIR/bench_emulator.py" --port 0 --answer-seconds 0 --questions-per-minute 0 \
	--chunk-rows 25000 --row-cap 1000000 >"$GENIE_TMP/emulator.out" 2>"$GENIE_TMP/emulator.err" &
EMU_PID=$!
for _ in $(seq 1 100); do
	grep -q "listening on" "$GENIE_TMP/emulator.out" 2>/dev/null && break
	kill -0 "$EMU_PID" 2>/dev/null || {
		cat "$GENIE_TMP/emulator.err" >&2
		exit 1
	}
	sleep 0.1
done
GENIE_EMULATOR_URL=$(sed -n 's/.*listening on \(http[s]*:\/\/[^ ]*\).*/\1/p' "$GENIE_TMP/emulator.out" | head -1)
[ -n "$GENIE_EMULATOR_URL" ] || {
	echo "the benchmark emulator did not start" >&2
	exit 1
}
export GENIE_EMULATOR_URL
say "benchmark emulator at $GENIE_EMULATOR_URL"

genie_start_cluster
export GENIE_TMP PG_BIN
python3 "$BENCH_DIR/bench.py" "${args[@]}"
