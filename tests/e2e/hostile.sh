#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The hostile-environment matrix: every lab (found by itself), in quick mode, on machines we never
# see: counters blocked by a seccomp filter or by perf_event_paranoid=3, one CPU, a cpuset hiding
# CPUs, no gnuplot, a missing or full results directory, small RLIMIT_AS and RLIMIT_NOFILE, unusual
# kernels (THP always, 64 KiB pages' huge pages, strict overcommit, an unlimited stack), an
# ordinary user. Each case checks the exit status, the one-line explanation, and that what could be
# measured was written. (Read-only --out, SIGINT and SIGTERM are in lab_contract.sh.)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

mapfile -t labs < <(scripts/labs.sh built)
nr_cpus=$(nproc)

# run_case CASE LAB [WRAPPER...]: runs the lab's quick mode under the wrapper, output in
# $scratch/CASE/LAB (stdout in .out, stderr in .err); sets $st.
run_case() {
	local case=$1 lab=$2
	shift 2
	local bin out
	bin=$(lab_binary "$lab")
	out=$scratch/$case/$(basename "$lab")
	mkdir -p "$scratch/$case"
	timeout 300 "$@" "$bin" --quick --out "$out" >"$out.out" 2>"$out.err"
	st=$?
}

# wrote CASE LAB: the four files, data.csv with at least one row.
wrote() {
	local out f
	out=$scratch/$1/$(basename "$2")
	for f in manifest.txt verdict.txt summary.csv; do [ -s "$out/$f" ] || return 1; done
	[ "$(wc -l <"$out/data.csv")" -ge 2 ]
}

# expect_ok CASE LAB WHAT: exit 0 and everything written.
expect_ok() {
	local name
	name=$(basename "$2")
	check "$3: $name exits 0 (got $st)" test "$st" -eq 0
	check "$3: $name writes data.csv, summary.csv, manifest and verdict" wrote "$1" "$2"
}

# --- PAPI unable to count anything -----------------------------------------------------------------
no_perf=$scratch/no_perf
if ! ${CC:-cc} -O2 -o "$no_perf" tests/tools/no_perf.c 2>"$scratch/cc.err" || ! "$no_perf" true 2>/dev/null; then
	skip "perf_event_open blocked by seccomp" "cannot install a seccomp filter here: $(head -n 1 "$scratch/cc.err")"
else
	for lab in "${labs[@]}"; do
		run_case seccomp "$lab" "$no_perf"
		expect_ok seccomp "$lab" "perf_event_open blocked"
		m=$scratch/seccomp/$(basename "$lab")/manifest.txt
		check "perf_event_open blocked: $(basename "$lab") counted nothing and says why for each counter" \
			bash -c "! grep '^counter\.' '$m' | grep -qv ': unavailable: .*enable: '"
	done
fi

# PAPI's own refusal at perf_event_paranoid=3 (Debian's and Android's "no users at all"),
# simulated by mounting a file that says 3 over the sysctl in a private mount namespace.
echo 3 >"$scratch/paranoid"
if unshare -rm sh -c "mount --bind '$scratch/paranoid' /proc/sys/kernel/perf_event_paranoid" 2>/dev/null; then
	for lab in "${labs[@]}"; do
		name=$(basename "$lab")
		bin=$(lab_binary "$lab")
		out=$scratch/paranoid3/$name
		mkdir -p "$scratch/paranoid3"
		timeout 300 unshare -rm sh -c "mount --bind '$scratch/paranoid' /proc/sys/kernel/perf_event_paranoid &&
			exec '$bin' --quick --out '$out'" >"$out.out" 2>"$out.err"
		st=$?
		expect_ok paranoid3 "$lab" "perf_event_paranoid=3"
		if grep -q '^counters: none used' "$out/manifest.txt" 2>/dev/null; then
			continue
		fi
		check "perf_event_paranoid=3: $name says counting is off and how to enable it" \
			grep -q "paranoid=3.*enable: sudo sysctl kernel.perf_event_paranoid=1" "$out.out"
	done
else
	skip "perf_event_paranoid=3" "unshare -rm (a private mount namespace) is not allowed here"
fi

# --- CPUs -------------------------------------------------------------------------------------------
# One CPU the way a learner meets it, 'taskset -c 0 make lab-N': the program and its plots, so that
# a plot that cannot draw what one CPU measured fails here.
id=e2e-hostile-$$
trap 'rm -rf "$scratch" "results/$id" "results/$id-one"' EXIT
for lab in "${labs[@]}"; do
	name=$(basename "$lab")
	mkdir -p "$scratch/one-cpu"
	QUICK=1 MACHINE=$id-one timeout 300 taskset -c 0 scripts/run-lab.sh "${name%%-*}" \
		>"$scratch/one-cpu/$name.out" 2>&1
	st=$?
	check "one CPU (taskset -c 0, lab and plots): $name exits 0 (got $st)" test "$st" -eq 0
	check "one CPU: $name writes its files" \
		bash -c "for f in data.csv summary.csv manifest.txt verdict.txt; do test -s 'results/$id-one/$name/'\$f || exit 1; done"
	if command -v gnuplot >/dev/null 2>&1; then
		check "one CPU: $name draws its plot, and gnuplot says nothing (no warning, no error)" \
			bash -c "test -s 'results/$id-one/$name/plot.png' && ! grep -qE 'plot[.]gp.? line [0-9]+:|[Ww]arning:' '$scratch/one-cpu/$name.out'"
	fi
	if [ "$nr_cpus" -gt 1 ]; then
		check "one CPU: $name says it may run on 1 of $nr_cpus PUs" \
			grep -q "^cpus: .*1 of the $nr_cpus PUs" "$scratch/one-cpu/$name.out"
		last=$((nr_cpus - 1))
		run_case hidden-cpus "$lab" taskset -c "$last"
		expect_ok hidden-cpus "$lab" "a cpuset hiding CPUs 0-$((last - 1))"
		check "a cpuset hiding CPUs: $name records one usable CPU" \
			grep -q "^usable_cpus: 1$" "$scratch/hidden-cpus/$name/manifest.txt"
	fi
done
[ "$nr_cpus" -gt 1 ] || skip "a cpuset hiding CPUs" "this machine has one CPU: nothing to hide"

# A hybrid CPU (P-cores and E-cores), shown to hwloc as an XML topology whose P-cores include PUs 0
# and 1: the lab runs on the largest kind, pins there and describes that kind's caches; a kind with
# no usable PU is said so; a kind that does not exist is a usage error.
hybrid=(env HWLOC_XMLFILE="$root/tests/tools/hybrid-topology.xml" HWLOC_THISSYSTEM=1)
for lab in "${labs[@]}"; do
	name=$(basename "$lab")
	run_case hybrid "$lab" "${hybrid[@]}"
	expect_ok hybrid "$lab" "a hybrid CPU"
	check "a hybrid CPU: $name runs on the P-cores and says so" \
		grep -q '^cpu kind: kind 1 of 2 (P-core, efficiency 1), .* the caches above are this kind.s' "$scratch/hybrid/$name.out"
	check "a hybrid CPU: $name describes the P-cores' caches (L1d 48 KiB, L2 1.2 MiB)" \
		grep -q '^machine: .*L1d 48 KiB, L2 1.2 MiB' "$scratch/hybrid/$name.out"
	check "a hybrid CPU: $name's manifest names the kind" \
		grep -q '^cpu_kind: 1 of 2 (P-core, efficiency 1)$' "$scratch/hybrid/$name/manifest.txt"
done
# Lab 5's core-to-core map on it: the usable P-core PUs are SMT siblings, boxed by their L2.
h5=$scratch/hybrid/05-false-sharing
check "a hybrid CPU: Lab 5's core-to-core map pairs the P-core's SMT siblings, in a box for their L2" \
	bash -c "grep -q '^core_to_core,cas_ping_pong,smt-siblings,' '$h5/data.csv' && grep -q '^core_to_core_group,l2,' '$h5/data.csv'"
if command -v gnuplot >/dev/null 2>&1; then
	scripts/plot.sh labs/05-false-sharing "$h5" >"$h5.plot" 2>&1
	check "a hybrid CPU: Lab 5's plot draws that map (status $?)" bash -c "head -c 4 '$h5/plot.png' | grep -q PNG"
fi
"${hybrid[@]}" timeout 300 "$(lab_binary labs/01-stack-vs-heap)" --cpu-kind 0 --quick \
	--out "$scratch/hybrid-e" >"$scratch/hybrid-e.out" 2>&1
st=$?
check "a hybrid CPU, --cpu-kind 0 with no usable E-core: says so and runs (status $st)" \
	bash -c "[ $st -eq 0 ] && grep -q '^cpu kind: no PU of kind 0 (E-core, efficiency 0) may be used here' '$scratch/hybrid-e.out'"
check_bad_args "$(lab_binary labs/01-stack-vs-heap)" "--cpu-kind 2" "--cpu-kind -1" "--cpu-kind x"

# --- no gnuplot: the whole pipeline, as make lab-N runs it ----------------------------------------
nognuplot=$(path_without gnuplot)
for lab in "${labs[@]}"; do
	name=$(basename "$lab")
	PATH=$nognuplot QUICK=1 MACHINE=$id timeout 300 scripts/run-lab.sh "${name%%-*}" >"$scratch/ng.out" 2>&1
	st=$?
	check "no gnuplot: $name exits 0 (got $st)" test "$st" -eq 0
	check "no gnuplot: $name writes data.csv" test -s "results/$id/$name/data.csv"
	check "no gnuplot: $name skips the plots with one line" \
		test "$(grep -c '^plots: .*skipped: gnuplot is not installed' "$scratch/ng.out")" -eq 1
	check "no gnuplot: $name leaves no plot behind" test ! -e "results/$id/$name/plot.png"
done

# --- the results directory ---------------------------------------------------------------------------
for lab in "${labs[@]}"; do
	name=$(basename "$lab")
	bin=$(lab_binary "$lab")
	deep=$scratch/missing/a/b/c/$name
	timeout 300 "$bin" --quick --out "$deep" >/dev/null 2>&1
	check "a missing results directory: $name creates it and writes data.csv" test -s "$deep/data.csv"
done

full=$scratch/full
mkdir -p "$full"
if unshare -rm sh -c "mount -t tmpfs -o size=8k tmpfs '$full'" 2>/dev/null; then
	for lab in "${labs[@]}"; do
		name=$(basename "$lab")
		bin=$(lab_binary "$lab")
		# A fresh 8 KiB file system per lab: it fills up while the lab writes its files.
		timeout 300 unshare -rm sh -c "mount -t tmpfs -o size=8k tmpfs '$full' &&
			'$bin' --quick --out '$full/out' >/dev/null 2>'$scratch/full.err';
			echo \$? >'$scratch/full.st'; find '$full/out' -name '*tmp*' >'$scratch/full.tmp'"
		st=$(cat "$scratch/full.st")
		check "a full disk: $name fails with exit 1 (got $st)" test "$st" -eq 1
		check "a full disk: $name says so in one line" \
			test "$(wc -l <"$scratch/full.err")" -eq 1 -a -n "$(grep 'No space left on device' "$scratch/full.err")"
		check "a full disk: $name leaves no half-written temporary" test ! -s "$scratch/full.tmp"
	done
else
	skip "a full disk" "unshare -rm (to mount a small tmpfs) is not allowed here"
fi

# --- resource limits ---------------------------------------------------------------------------------
for lab in "${labs[@]}"; do
	name=$(basename "$lab")
	run_case rlimit-as "$lab" bash -c 'ulimit -v 1048576 && exec "$@"' limit
	expect_ok rlimit-as "$lab" "RLIMIT_AS of 1 GiB"
	run_case rlimit-nofile "$lab" bash -c 'ulimit -n 16 && exec "$@"' limit
	expect_ok rlimit-nofile "$lab" "RLIMIT_NOFILE of 16"
done

# --- unusual kernels ------------------------------------------------------------------------------------
# Settings this machine does not have, shown to the labs through LABS_KERNEL_ROOT (a fake /sys and
# /proc for what common/kernel.c reads) without changing the machine for anyone else; and an
# unlimited stack through ulimit. Each: every lab exits 0 and writes its files; the labs that
# depend on the setting say so.
fake_kernel() {	# DIR THP_LINE HUGE_BYTES OVERCOMMIT
	mkdir -p "$1/sys/kernel/mm/transparent_hugepage" "$1/proc/sys/vm"
	echo "$2" >"$1/sys/kernel/mm/transparent_hugepage/enabled"
	echo "always defer defer+madvise [madvise] never" >"$1/sys/kernel/mm/transparent_hugepage/defrag"
	echo "$3" >"$1/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
	echo "$4" >"$1/proc/sys/vm/overcommit_memory"
}
fake_kernel "$scratch/thp-always" "[always] madvise never" 2097152 0
fake_kernel "$scratch/pages-64k" "always [madvise] never" 536870912 0
fake_kernel "$scratch/strict" "always [madvise] never" 2097152 2
for lab in "${labs[@]}"; do
	name=$(basename "$lab")
	for kernel in thp-always pages-64k strict; do
		run_case "$kernel" "$lab" env LABS_KERNEL_ROOT="$scratch/$kernel"
		expect_ok "$kernel" "$lab" "kernel setting $kernel"
	done
	check "THP always: $name's manifest says so" \
		grep -q '^transparent_hugepages: \[always\]' "$scratch/thp-always/$name/manifest.txt"
	check "strict overcommit: $name's manifest says so" \
		grep -q '^overcommit_memory: 2$' "$scratch/strict/$name/manifest.txt"
	check "64 KiB pages' huge pages: $name's manifest has 512 MiB" \
		grep -q '^huge_page_bytes: 536870912$' "$scratch/pages-64k/$name/manifest.txt"
	run_case stack-unlimited "$lab" bash -c 'ulimit -s unlimited && exec "$@"' limit
	expect_ok stack-unlimited "$lab" "RLIMIT_STACK unlimited"
done
check "THP always: Lab 1 says mappings of 2 MiB and more may get huge pages" \
	grep -q "^note: transparent huge pages are 'always' here: mappings of 2 MiB and more" \
	"$scratch/thp-always/01-stack-vs-heap.out"
check "huge pages of 512 MiB: Lab 9 predicts 131072 pages per fault" \
	grep -q "a huge page maps 131072 pages per fault" "$scratch/pages-64k/09-page-faults.out"
check "... and says the sizes it measures hold no whole huge page" \
	grep -q "one fault maps a whole huge page' not shown: .*huge pages of 512 MiB.*holds no whole huge page" \
	"$scratch/pages-64k/09-page-faults.out"
check "strict overcommit: Lab 3's verdict names it" \
	grep -q "vm.overcommit_memory=2: strict" "$scratch/strict/03-fragmentation.out"
check "strict overcommit: Lab 8 explains what it does to thread stacks" \
	grep -q "^note: vm.overcommit_memory is 2 (strict) here: each thread's whole stack is committed" \
	"$scratch/strict/08-context-switch.out"
check "RLIMIT_STACK unlimited: Lab 2 still runs its limited-stack children" \
	grep -q '^limit,rlimit_stack,.*,sigsegv_caught$' "$scratch/stack-unlimited/02-recursion-depth/data.csv"

# --- an ordinary user ----------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	skip "an ordinary user" "the whole suite already runs as one (uid $(id -u))"
elif ! setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	skip "an ordinary user" "setpriv cannot switch to nobody here"
else
	mkdir -p "$scratch/user"
	chmod 1777 "$scratch" "$scratch/user"
	for lab in "${labs[@]}"; do
		run_case user "$lab" setpriv --reuid=nobody --regid=nogroup --clear-groups
		expect_ok user "$lab" "as nobody"
	done
fi
exit 0
