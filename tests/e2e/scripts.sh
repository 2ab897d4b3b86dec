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
check "doctor names the page and huge page sizes as this machine has them" \
	grep -q "page size $(($(getconf PAGESIZE) / 1024)) KiB, huge page [0-9]* MiB" "$scratch/doctor"
check "doctor names the THP and overcommit modes" \
	bash -c "grep -q 'transparent huge pages: ' '$scratch/doctor' && grep -q 'vm.overcommit_memory=' '$scratch/doctor'"
check "doctor says how many kinds of cores there are" grep -q 'kind of core\|kinds of cores' "$scratch/doctor"
# The doctor's claim about kernel-mode counting must match what PAPI does for this user.
if grep -q '^perf::CONTEXT-SWITCHES.* : ' <<<"$(papi_command_line perf::CONTEXT-SWITCHES:u=1:k=1 2>/dev/null)"; then
	check "doctor says kernel-mode events count (they do)" grep -q 'kernel-mode software events (context switches) count' "$scratch/doctor"
else
	check "doctor says kernel-mode events do not count (they do not)" grep -q 'kernel-mode events (context switches) are not countable' "$scratch/doctor"
fi

# What moves timings (governor, boost, SMT, mitigations, clock source, power, virtualisation): the
# doctor shows a lab's --machine, the manifest records the same reader's lines, so they agree.
bin5=$(lab_binary labs/05-false-sharing)
"$bin5" --quick --out "$scratch/l5" >/dev/null 2>&1
for key in cpu_identity microcode cpu_governor cpufreq_driver energy_performance_preference cpu_boost \
	   smt mitigations clocksource power_source virtualization cpu_mhz_before cpu_mhz_after \
	   throttle_events; do
	check "the manifest records $key" grep -q "^$key: ." "$scratch/l5/manifest.txt"
done
virt=$(sed -n 's/^virtualization: //p' "$scratch/l5/manifest.txt")
check "doctor and manifest name the same virtualisation ($virt)" \
	grep -qF "virtualization: $virt" "$scratch/doctor"
model=$(sed -n 's/^cpu_model: //p' "$scratch/l5/manifest.txt")
check "doctor and manifest name the same CPU ($model; hwloc's, not /proc/cpuinfo's)" \
	grep -qF "CPU: $model (" "$scratch/doctor"
gov=$(sed -n 's/^cpu_governor: //p' "$scratch/l5/manifest.txt")
check "doctor and manifest name the same governor ($gov)" grep -qF "governor: $gov" "$scratch/doctor"
check "doctor says what moves timings: mitigations, clock source, power, throttling" \
	bash -c "grep -q 'mitigations (what a system call' '$scratch/doctor' && grep -q 'clock source: ' '$scratch/doctor' &&
		 grep -q 'power: ' '$scratch/doctor' && grep -q 'thermal throttling: ' '$scratch/doctor'"
# make test without its libraries: one line each naming 'make deps test', nothing compiled.
PKG_CONFIG_LIBDIR=$scratch/none make --no-print-directory -s check-test-deps >"$scratch/ctd" 2>&1
check "make test without cmocka (or PAPI, hwloc): one line each naming 'make deps test' (status $?)" \
	test "$(grep -c "is missing: run 'make deps test'" "$scratch/ctd")" -eq 3

start=$(date +%s%N)
scripts/install-deps.sh --check >"$scratch/deps" 2>&1
check "install-deps --check: everything is installed" test $? -eq 0
check "install-deps --check says so in one line" test "$(cat "$scratch/deps")" = "deps: everything is installed"
check "install-deps --check is fast (under 2 s)" test $((($(date +%s%N) - start) / 1000000)) -lt 2000
scripts/install-deps.sh --test --check >"$scratch/deps" 2>&1
check "install-deps --test --check: the test tools are installed too" test $? -eq 0
scripts/install-deps.sh --bogus >"$scratch/deps" 2>&1
check "install-deps with an unknown option: exit 2 with one line" test $? -eq 2 -a "$(wc -l <"$scratch/deps")" -eq 1
# A learner's 'make deps lab-1' asks for the labs' needs only; 'make deps test' for the test tools too.
check "make deps lab-1 installs no test tool" \
	bash -c "make -n deps lab-1 | grep '^scripts/install-deps.sh *\$' >/dev/null"
check "make deps test installs the test tools" bash -c "make -n deps test | grep '^scripts/install-deps.sh --test' >/dev/null"
check "the test tools are on the labs' list only under --test" \
	bash -c "sed -n '/^find_optional()/,/^}/p' scripts/install-deps.sh | awk '/test_tools/ { t = 1 } /chromium|valgrind|slurm/ && !t { bad = 1 } END { exit bad }'"

# RESULTS moves every run (the labs, bundle, import) out of results/: how a cluster's tasks keep apart.
bin1=$(lab_binary labs/01-stack-vs-heap)
check "RESULTS=dir moves a lab's default output directory" \
	test "$(RESULTS=$scratch/elsewhere MACHINE=m "$bin1" --print-out-dir)" = "$scratch/elsewhere/m/01-stack-vs-heap"
QUICK=1 LABS="4 1" RESULTS=$scratch/elsewhere MACHINE=m scripts/run-course.sh >"$scratch/course" 2>&1
check "LABS=\"4 1\" runs those two labs, in that order (status $?)" \
	bash -c "grep '^######## ' '$scratch/course' | head -n 2 | tr '\n' ' ' | grep -q '1/2. 04-syscall-batching.*2/2. 01-stack-vs-heap'"
check "... into RESULTS" test -s "$scratch/elsewhere/m/04-syscall-batching/summary.csv" -a ! -e results/m
LABS="1 99" scripts/run-course.sh >"$scratch/course" 2>"$scratch/course.err"
check "LABS naming an unknown lab: exit 2, nothing run" test $? -eq 2 -a ! -s "$scratch/course"
RESULTS=$scratch/elsewhere MACHINE=m scripts/bundle.sh >"$scratch/bundle" 2>&1
check "make bundle with RESULTS packs from there" test -s "$scratch/elsewhere/m.tar.gz"
NODES=0 scripts/slurm/submit.sh >"$scratch/cluster" 2>&1
status=$?
if command -v sbatch >/dev/null 2>&1; then
	check "make cluster with NODES=0: exit 2 with one line" test "$status" -eq 2 -a "$(wc -l <"$scratch/cluster")" -eq 1
else
	check "make cluster without Slurm: exit 1 with one line" test "$status" -eq 1 -a "$(wc -l <"$scratch/cluster")" -eq 1
fi

check "the catalogue lists 13 labs" test "$(scripts/labs.sh list | wc -l)" -eq 13
check "labs.sh resolves 1, 01, stack-vs-heap and 01-stack-vs-heap alike" \
	test "$(for n in 1 01 stack-vs-heap 01-stack-vs-heap; do scripts/labs.sh resolve $n; done | sort -u)" = labs/01-stack-vs-heap

make --no-print-directory help >"$scratch/help"
missing=""
for target in deps deps-test doctor lab-N course cluster bundle import compare report list all test clean clean-results; do
	grep -q "make $target " "$scratch/help" || missing="$missing $target"
done
check "make help names every target${missing:+ (missing:$missing)}" test -z "$missing"
