#!/usr/bin/env bash
# SDK conformance test: runs conformance.mjs (official Databricks JS SDK) against a fresh emulator.
# Usage: bash test/sdk_conformance/run.sh      (needs node >= 18, npm and the npm registry for the first install)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
emulator="$here/../genie_emulator.py"
cd "$here"
npm install --no-audit --no-fund --loglevel=error >/dev/null

q1="Which products generate the highest total sales value?"
followup="How many orders per region?"
EXPECTED_Q1=$(python3 "$emulator" --print-expected "$q1")
EXPECTED_FOLLOWUP=$(python3 "$emulator" --print-expected "$followup")
export EXPECTED_Q1 EXPECTED_FOLLOWUP

tmp=$(mktemp -d)
emu_pid=
cleanup() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
python3 "$emulator" --port 0 --answer-seconds 0.5 >"$tmp/out" 2>"$tmp/err" &
emu_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$tmp/out" 2>/dev/null && break
  kill -0 "$emu_pid" 2>/dev/null || { echo "emulator failed to start:"; cat "$tmp/err"; exit 1; }
  sleep 0.1
done
EMULATOR_URL=$(sed -n 's/^genie emulator listening on //p' "$tmp/out")
[ -n "$EMULATOR_URL" ] || { echo "emulator did not report its URL"; cat "$tmp/err"; exit 1; }
export EMULATOR_URL EMULATOR_TOKEN=dapi-emulator-token
node "$here/conformance.mjs"
