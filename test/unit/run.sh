#!/usr/bin/env bash
# Build and run the standalone unit tests of the plain C parts of genie_fdw
# (no PostgreSQL, no network): test/unit/*_test.c, each linked with the
# src/ file it tests, with AddressSanitizer and UBSan when the compiler has
# them.  Prints each test's lines and "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/genie-unit.XXXXXX")
trap 'rm -rf "$work"' EXIT

flags=(-g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -I "$top/src")
if echo 'int main(void){return 0;}' | "$cc" -x c -fsanitize=address,undefined -o "$work/probe" - 2>/dev/null; then
	flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all)
fi

"$cc" "${flags[@]}" -o "$work/addr_policy_test" "$here/addr_policy_test.c" "$top/src/addr_policy.c"
"$work/addr_policy_test"
