#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# valgrind memcheck on every lab's quick run: no invalid reads or writes, no use of uninitialised
# values. A lab for which it is impractical says so in its source with a line
#   // valgrind-skip: why
# and is skipped with that reason. Leaks are Lab 12's subject, not checked here.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

if ! command -v valgrind >/dev/null 2>&1; then
	skip "valgrind" "not installed ('make deps test' installs it)"
	exit 0
fi
for lab in $(scripts/labs.sh built); do
	name=$(basename "$lab")
	why=$(sed -n 's|^// valgrind-skip: ||p' "$lab"/*.c | head -n 1)
	if [ -n "$why" ]; then
		skip "valgrind: $name" "$why"
		continue
	fi
	# Lab 1 puts arrays of megabytes on the stack: tell valgrind that such frames are meant.
	timeout 300 valgrind -q --error-exitcode=99 --max-stackframe=67108864 \
		--main-stacksize=67108864 "$(lab_binary "$lab")" --quick --out "$scratch/$name" \
		>"$scratch/$name.log" 2>&1
	st=$?
	if [ "$st" -eq 0 ]; then
		pass "valgrind: $name runs clean"
	else
		fail "valgrind: $name runs clean (status $st)" \
			"$(grep -m1 -A8 '^==[0-9]*== [A-Z]' "$scratch/$name.log" || tail -n 5 "$scratch/$name.log")"
	fi
done
exit 0
