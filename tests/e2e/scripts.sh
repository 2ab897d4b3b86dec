#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The scripts around the labs: the doctor answers every section and agrees with what PAPI can do,
# the dependency check is fast and quiet when all is there, the catalogue lists 13 labs, make help
# names every target.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

scripts/doctor.sh >"$scratch/doctor" 2>&1
check "doctor exits 0" test $? -eq 0
for section in "Machine" "Performance counters (PAPI)" "Topology and placement (hwloc)" \
	       "Plots (gnuplot)" "Memory settings"; do
	check "doctor reports '$section'" grep -qx "$section" "$scratch/doctor"
done
check "doctor ends with a summary line" grep -q '^doctor: ' "$scratch/doctor"
check "every doctor warning comes with a fix" \
	awk '/^  warn / { w++ } /^        fix: / { f++ } END { exit !(w == f) }' "$scratch/doctor"
# The doctor's claim about kernel-mode counting must match what PAPI does for this user.
if grep -q '^perf::CONTEXT-SWITCHES.* : ' <<<"$(papi_command_line perf::CONTEXT-SWITCHES:u=1:k=1 2>/dev/null)"; then
	check "doctor says kernel-mode events count (they do)" grep -q 'kernel-mode software events (context switches) count' "$scratch/doctor"
else
	check "doctor says kernel-mode events do not count (they do not)" grep -q 'kernel-mode events (context switches) are not countable' "$scratch/doctor"
fi

start=$(date +%s%N)
scripts/install-deps.sh --check >"$scratch/deps" 2>&1
check "install-deps --check: everything is installed" test $? -eq 0
check "install-deps --check says so in one line" test "$(cat "$scratch/deps")" = "deps: everything is installed"
check "install-deps --check is fast (under 2 s)" test $((($(date +%s%N) - start) / 1000000)) -lt 2000

check "the catalogue lists 13 labs" test "$(scripts/labs.sh list | wc -l)" -eq 13
check "labs.sh resolves 1, 01, stack-vs-heap and 01-stack-vs-heap alike" \
	test "$(for n in 1 01 stack-vs-heap 01-stack-vs-heap; do scripts/labs.sh resolve $n; done | sort -u)" = labs/01-stack-vs-heap

make --no-print-directory help >"$scratch/help"
missing=""
for target in deps doctor lab-N course bundle import list all test clean clean-results; do
	grep -q "make $target " "$scratch/help" || missing="$missing $target"
done
check "make help names every target${missing:+ (missing:$missing)}" test -z "$missing"
