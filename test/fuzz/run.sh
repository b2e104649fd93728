#!/usr/bin/env bash
# Build the libFuzzer target over src/genie_decode.c and src/rowscan.c and run
# it for a bounded time over a copy of test/fuzz/corpus.  Exits non-zero on
# any crash, leak, UB report, timeout, invariant violation or difference
# between the row scanner and the json-c decoder.
#
#   test/fuzz/run.sh                    fuzz for FUZZ_SECONDS (default 60)
#   test/fuzz/run.sh FILE...            build, then run each FILE once
#                                       (reproduce a crash)
#
# Environment: FUZZ_SECONDS, CC (default clang, else clang-14), FUZZ_ARGS
# (extra libFuzzer flags), FUZZ_ARTIFACTS (where crash files go; default a
# fresh directory under ${TMPDIR:-/tmp}, kept only when something is found).
#
# Needs: clang, libclang-rt-14-dev (libFuzzer and sanitizer runtimes),
# libjson-c-dev, pkg-config.  No network, nothing written inside the repo.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${FUZZ_SECONDS:-60}

if [ -n "${CC:-}" ]; then
	cc=$CC
elif command -v clang >/dev/null 2>&1; then
	cc=clang
elif command -v clang-14 >/dev/null 2>&1; then
	cc=clang-14
else
	echo "fuzz: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
if ! pkg-config --exists json-c; then
	echo "fuzz: json-c not found by pkg-config (apt-get install libjson-c-dev pkg-config)" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/genie-fuzz.XXXXXX")
artifacts=
own_artifacts=0
cleanup() {
	rm -rf "$work"
	# an artifact directory of our own is kept only when it holds something
	if [ "$own_artifacts" = 1 ]; then
		rmdir "$artifacts" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2046
"$cc" -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-I "$top/src" $(pkg-config --cflags json-c) \
	-o "$work/fuzz_decode" "$here/fuzz_decode.c" "$top/src/genie_decode.c" "$top/src/rowscan.c" \
	$(pkg-config --libs json-c) ||
	{
		echo "fuzz: build failed (libFuzzer runtime: apt-get install libclang-rt-14-dev)" >&2
		exit 2
	}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=0:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# Reproduce mode: run the given inputs once each.
if [ $# -gt 0 ]; then
	set +e
	"$work/fuzz_decode" -rss_limit_mb=2048 -timeout=10 "$@"
	rc=$?
	set -e
	if [ $rc -eq 0 ]; then
		echo "fuzz: reproduce: $# input(s) ran clean"
	else
		echo "fuzz: reproduce: FAILED (exit $rc)"
	fi
	exit $rc
fi

# The JSON keys and values the decoders look for.
cat >"$work/genie.dict" <<'EOF'
"\"conversation_id\""
"\"message_id\""
"\"id\""
"\"conversation\""
"\"message\""
"\"status\""
"\"error\""
"\"type\""
"\"attachments\""
"\"attachment_id\""
"\"query\""
"\"text\""
"\"content\""
"\"statement_id\""
"\"description\""
"\"title\""
"\"query_result_metadata\""
"\"row_count\""
"\"is_truncated\""
"\"query_result\""
"\"suggested_questions\""
"\"statement_response\""
"\"state\""
"\"sql_state\""
"\"error_code\""
"\"manifest\""
"\"schema\""
"\"columns\""
"\"format\""
"\"total_chunk_count\""
"\"total_row_count\""
"\"truncated\""
"\"name\""
"\"type_name\""
"\"type_text\""
"\"position\""
"\"result\""
"\"chunk_index\""
"\"row_offset\""
"\"next_chunk_index\""
"\"next_chunk_internal_link\""
"\"data_array\""
"\"external_links\""
"\"external_link\""
"\"expiration\""
"\"http_headers\""
"\"spaces\""
"\"space_id\""
"\"next_page_token\""
"\"error_description\""
"\"access_token\""
"\"expires_in\""
"null"
"true"
"false"
"\"\""
"[]"
"{}"
"[null]"
"\"\\u0000\""
"\"\\ud83d\\ude00\""
"9223372036854775807"
"-9223372036854775808"
"18446744073709551615"
"1e308"
"-0.0"
"\"COMPLETED\""
"\"SUCCEEDED\""
"\"truncated\":\"true\""
"\"is_truncated\":1"
"\"attachments\":[null,1,"
"\"columns\":[[],"
"{\"text\":{\"content\":\"x\"}}"
"{\"query\":{\"statement_id\":\"s\"}}"
"\"\\ud800\""
"\"\\udc00\""
"\\ud876\\udc00"
"\\u0041"
"\\/"
"\\\\"
"\xc0\x80"
"\xed\xa0\x80"
"\xf4\x90\x80\x80"
"\xe2\x82\xac"
"'"
"NaN"
"-Infinity"
"-01"
"1.e5"
"1E+2"
"[[\"1\",null],[]]"
"\"data_array\":[[\"a\"]]"
EOF

mkdir "$work/corpus"
cp "$here"/corpus/* "$work/corpus/"
artifacts=${FUZZ_ARTIFACTS:-}
if [ -z "$artifacts" ]; then
	artifacts=$(mktemp -d "${TMPDIR:-/tmp}/genie-fuzz-artifacts.XXXXXX")
	own_artifacts=1
else
	mkdir -p "$artifacts"
	own_artifacts=0
fi

log="$work/fuzz.log"
set +e
# shellcheck disable=SC2086
"$work/fuzz_decode" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 \
	-timeout=10 -dict="$work/genie.dict" -print_final_stats=1 \
	-artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$work/corpus" >"$log" 2>&1
rc=$?
set -e

bad=0
if [ $rc -ne 0 ]; then
	bad=1
fi
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant violated' "$log"; then
	bad=1
fi

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')

if [ $bad -ne 0 ]; then
	# show the report, keep the crash files
	if grep -qE 'ERROR:|runtime error:|invariant violated' "$log"; then
		sed -n '/ERROR:\|runtime error:\|invariant violated/,$p' "$log" | head -n 80 >&2
	else
		tail -n 40 "$log" >&2
	fi
	echo "fuzz: FAILED (exit $rc) after ${runs:-?} runs; artifacts in $artifacts;" \
		"reproduce with: test/fuzz/run.sh $artifacts/<file>"
	exit 1
fi
echo "fuzz: OK: ${runs:-?} runs in ${secs}s, cov ${cov:-?} edges, ft ${ft:-?}, corpus ${corp:-?} inputs, no crash/leak/UB"
