#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The hardware-counter path, on a machine that has counters: an arm64 machine emulated by QEMU with
# its PMU (tests/tools/pmu-vm.sh: -icount shift=0, so one instruction is one cycle is one virtual
# ns, and every count is exact and repeatable). Labs 1, 9 and 10, cross-built, run there QUICK:
#   - as root at perf_event_paranoid 1: user+kernel counting, said in the output and the manifest;
#     instructions (net of the harness) and cycles filled (checked against the virtual ns, which
#     include it), a page fault's kernel work counted;
#   - as a user at perf_event_paranoid 2: user mode only, said so, and the kernel's work missing;
#   - while another program holds every counter (tests/tools/pmu_hog.c): the counters read 0 with
#     no error, and the lab must say "unavailable", not print 0 cycles.
# Timings under emulation are not judged. Skipped, with the reason, where QEMU's system emulator,
# the arm64 cross tools or Debian's arm64 kernel cannot be had ('make deps test' installs them).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

need_arm64 "counters on an emulated arm64 PMU" qemu-system-aarch64 cpio || exit 0
build=$arm64_build
build_arm64_labs
check "the labs cross-compile for aarch64" test $? -eq 0
guest=$scratch/root
mkdir -p "$guest/labs"
aarch64-linux-gnu-gcc -O2 -Wall -Werror tests/tools/pmu_hog.c -o "$guest/labs/pmu_hog"
check "the counter hog cross-compiles" test -x "$guest/labs/pmu_hog"
for lab_dir in labs/01-* labs/09-* labs/10-*; do
	cp "$(BUILD=$build lab_binary "$lab_dir")" "$guest/labs/"
done

# What the guest runs: each lab as root with kernel-mode counting allowed, Lab 1 as a user at the
# usual paranoid level 2, Lab 1 again while the hog holds the counters.
cat >"$guest/run.sh" <<'EOF'
export COLUMNS=10000	# whole lines, as lib.sh asks for on this side
cd /tmp
echo 1 >/proc/sys/kernel/perf_event_paranoid
/labs/stack_vs_heap --counters >/out/counters.txt 2>&1
for lab in stack_vs_heap page_faults memory_hierarchy; do
	/labs/$lab --quick --out /out/$lab >/out/$lab.log 2>&1
	echo $? >/out/$lab.status
done
echo 2 >/proc/sys/kernel/perf_event_paranoid
mkdir -p /out/user && chmod 777 /out/user
su learner -c '/labs/stack_vs_heap --quick --out /out/user/stack_vs_heap >/out/user/stack_vs_heap.log 2>&1; echo $? >/out/user/stack_vs_heap.status'
# The counters taken before the lab opens its events (PAPI sees that they cannot be scheduled),
# then while it runs (its events are opened and read 0: silent zeros).
/labs/pmu_hog >/out/hog.log 2>&1 &
hog=$!
sleep 1
/labs/stack_vs_heap --quick --out /out/held_before >/out/held_before.log 2>&1
echo $? >/out/held_before.status
kill $hog
/labs/stack_vs_heap --quick --out /out/held_during >/out/held_during.log 2>&1 &
lab=$!
until grep -q '^measuring:' /out/held_during.log; do sleep 0.05; done
/labs/pmu_hog >/out/hog2.log 2>&1 &
hog=$!
wait $lab
echo $? >/out/held_during.status
kill $hog
EOF

out=$scratch/out
tests/tools/pmu-vm.sh "$BUILD/pmu-vm" "$guest" "$out" 2>"$scratch/vm.err"
status=$?
if [ "$status" -eq 3 ]; then
	skip "counters on an emulated arm64 PMU" "$(head -n 1 "$scratch/vm.err")"
	exit 0
fi
check "the emulated arm64 machine boots, runs the labs and returns their files (status $status)" test "$status" -eq 0
[ "$status" -eq 0 ] || { sed 's/^/# /' "$scratch/vm.err"; tail -n 20 "$out.console" | sed 's/^/# /'; exit 0; }

# within A B PERCENT: |A - B| <= PERCENT% of B.
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * p / 100) }'; }
# field FILE KEY-COLUMNS... -- read one CSV value: csv_value FILE COLUMN MATCH-AWK-CONDITION
csv_value() {
	awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } '"$3"' { print $c[col]; exit }' "$1"
}

for lab in stack_vs_heap page_faults memory_hierarchy; do
	check "$lab exits 0 on the emulated PMU (status $(cat "$out/$lab.status" 2>/dev/null))" \
		test "$(cat "$out/$lab.status" 2>/dev/null)" = 0
	check "$lab sees the PMU: the perf_event component is active" \
		grep -q '^counters: PAPI .*perf_event component active' "$out/$lab.log"
	check "$lab counts user and kernel mode as root, and says so" \
		grep -q '^  counted in user and kernel mode' "$out/$lab.log"
	check "$lab's manifest says so too" grep -qx 'counter_domain: user+kernel' "$out/$lab/manifest.txt"
	check "$lab's manifest names the instruction event and what it counts" \
		grep -q '^counter.instructions: PAPI_TOT_INS (instructions retired)' "$out/$lab/manifest.txt"
done

# --counters ('make doctor' shows it): every metric with its event and meaning, or why not.
check "--counters names the cycle and instruction events and what they count" \
	bash -c "grep -q '^  cycles  *yes  PAPI_TOT_CYC: core cycles' '$out/counters.txt' && grep -q '^  instructions  *yes  PAPI_TOT_INS: instructions retired' '$out/counters.txt'"
check "--counters explains each metric it cannot count (QEMU's PMU has no cache or TLB events)" \
	awk '/^  [a-z0-9_]+ +yes  [^ ]+: ./ || (/^  [a-z0-9_]+ +no   / && length($0) > 50) { n++ } END { exit n != 8 }' "$out/counters.txt"
check "--counters says the counts include kernel mode" grep -q '^  counted in user and kernel mode' "$out/counters.txt"

# Lab 1: one instruction is one cycle is one virtual ns here. Three independent readings of one
# op: the instruction counter (net of the harness, which is alloc_kernel itself around an op that
# does nothing: between 10 and 40 instructions of loop, dispatch and call), the cycle counter
# (whole), and the clock. Net plus harness instructions must match the cycles, and the cycles the
# timed ns; the net alone must be the op's own few instructions, not nothing.
l1=$out/stack_vs_heap/data.csv
harness=$(sed -n 's/^Counted per op (.*): instructions net of the harness (\([0-9.]*\): .*/\1/p' "$out/stack_vs_heap.log")
check "Lab 1 prints its counts and the harness it subtracted (${harness:-none})" \
	awk -v h="${harness:-0}" 'BEGIN { exit !(h >= 10 && h <= 40) }'
st_ins=$(csv_value "$l1" instructions_per_op '$2 == "stack_touch" && $4 == 64')
st_cyc=$(csv_value "$l1" cycles_per_op '$2 == "stack_touch" && $4 == 64')
st_ns=$(csv_value "$l1" ns_per_op_median '$2 == "stack_touch" && $4 == 64')
check "Lab 1: stack+touch of 64 B, ${st_ins:-?} instructions net of the harness: the op's own, a few dozen at most" \
	awk -v a="${st_ins:-0}" 'BEGIN { exit !(a >= 3 && a <= 60) }'
check "Lab 1: ... ${st_ins:-?} net + ${harness:-?} harness instructions = ${st_cyc:-?} cycles, counted whole (within 5%)" \
	within "$(awk -v a="${st_ins:-0}" -v h="${harness:-0}" 'BEGIN { print a + h }')" "${st_cyc:-0}" 5
check "Lab 1: ... and ${st_cyc:-?} cycles = ${st_ns:-?} ns timed by the clock (within 5%)" within "${st_cyc:-0}" "${st_ns:-1}" 5
check "Lab 1: every allocation row has its instructions and cycles" \
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $1 == "alloc" && ($c["instructions_per_op"] == "" || $c["cycles_per_op"] == "") { bad = 1 } END { exit bad }' "$l1"
big_ins=$(csv_value "$l1" instructions_per_op '$2 == "malloc_touch_free" && $3 == "fixed_threshold" && $4 == 1048576')
big_ns=$(csv_value "$l1" ns_per_op_median '$2 == "malloc_touch_free" && $3 == "fixed_threshold" && $4 == 1048576')
check "Lab 1: a fresh 1 MiB mmap+touch counts the kernel's work: ${big_ins:-?} instructions for ${big_ns:-?} ns (within 10%)" \
	within "${big_ins:-0}" "${big_ns:-0}" 10

# As a user at paranoid 2: user mode only, said, and the kernel's work missing from the count.
u1=$out/user/stack_vs_heap
check "Lab 1 as a user exits 0 (status $(cat "$u1.status" 2>/dev/null))" test "$(cat "$u1.status" 2>/dev/null)" = 0
check "... counts in user mode only and says how to count the kernel too" \
	grep -q '^  counted in user mode only: .*enable: sudo sysctl kernel.perf_event_paranoid=1' "$u1.log"
check "... the manifest says user mode only" grep -qx 'counter_domain: user mode only' "$u1/manifest.txt"
check "... the table's title says it" grep -q '^Counted per op (user mode only)' "$u1.log"
user_ins=$(csv_value "$u1/data.csv" instructions_per_op '$2 == "malloc_touch_free" && $3 == "fixed_threshold" && $4 == 1048576')
check "... and a fresh 1 MiB mmap+touch counts under a quarter of its ns (${user_ins:-?} of ${big_ns:-?}): the faults are the kernel's" \
	awk -v a="${user_ins:-0}" -v b="${big_ns:-0}" 'BEGIN { exit !(a > 0 && a < b / 4) }'

# Lab 9: a fault is thousands of instructions, counted net of the empty phase.
l9=$out/page_faults/data.csv
aw_ins=$(csv_value "$l9" instructions_per_page '$2 == "anon_write" && $3 == 8388608')
aw_ns=$(csv_value "$l9" ns_per_op_median '$2 == "anon_write" && $3 == 8388608')
check "Lab 9: a first write to a page, ${aw_ins:-?} instructions for ${aw_ns:-?} ns per page (within 15%)" \
	within "${aw_ins:-0}" "${aw_ns:-0}" 15
pt_ins=$(csv_value "$l9" instructions_per_page '$2 == "populate_touch" && $3 == 8388608')
check "Lab 9: writing pages MAP_POPULATE faulted in, ${pt_ins:-?} instructions per page: the store and the loop, the harness subtracted" \
	awk -v a="${pt_ins:-99}" 'BEGIN { exit !(a >= 1 && a <= 10) }'
check "Lab 9 prints the counted table with its domain" grep -q '^Counted per page at .* (user+kernel; net of an empty phase' "$out/page_faults.log"

# Lab 10: one load per step of the chase, net of the loop.
l10=$out/memory_hierarchy/data.csv
check "Lab 10: every random-chase row counts 0.9-1.1 instructions per load net of the loop" \
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $1 == "latency" && $2 == "random" { n++; v = $c["instructions_per_load"]; if (v == "" || v < 0.9 || v > 1.1) bad = 1 } END { exit bad || !n }' "$l10"
check "Lab 10: ... and its cycles per load are filled" \
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $1 == "latency" && $c["cycles_per_load"] == "" { bad = 1 } END { exit bad }' "$l10"
check "Lab 10 prints the count" grep -q '^counted (user+kernel): the random chase retires' "$out/memory_hierarchy.log"

# Counters held by someone else. Before the lab starts: PAPI finds that its events cannot be
# scheduled, and the lab says why. While it runs: PAPI pins its group, so the group goes into an
# error state and the next read fails; the lab must say "unavailable", never print 0 cycles. (The
# other way counters stop, reading 0 with no error, as on a hybrid CPU's other core type, is
# proved on made-up readings in tests/unit/test_counters.c.)
check "the hog held the counters ($(head -n 1 "$out/hog.log" 2>/dev/null))" grep -q '^pmu_hog: [1-9][0-9]* events pinned' "$out/hog.log"
before=$out/held_before
check "Lab 1 with the counters held before it starts exits 0 (status $(cat "$before.status" 2>/dev/null))" \
	test "$(cat "$before.status" 2>/dev/null)" = 0
check "... says cycles cannot be counted: no free counter, another perf user may hold them" \
	grep -q '^  cycles  *no   no free hardware counter: .*another perf user' "$before.log"
during=$out/held_during
check "Lab 1 with the counters taken while it runs exits 0 (status $(cat "$during.status" 2>/dev/null))" \
	test "$(cat "$during.status" 2>/dev/null)" = 0
check "... says its counters became unavailable, and why" \
	grep -q '^note: page_faults, instructions, cycles: unavailable from some point of the run on, .*another perf user or the NMI watchdog may have taken them' "$during.log"
check "... its manifest marks the stalled counter" grep -q '^counter.cycles: PAPI_TOT_CYC, stalled: ' "$during/manifest.txt"
for run in "$before" "$during"; do
	check "... ($(basename "$run")) no 0 in the instruction and cycle columns of data.csv" \
		awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["instructions_per_op"] == "0" || $c["cycles_per_op"] == "0" { bad = 1 } END { exit bad }' "$run/data.csv"
done
# Before: the software event was added on its own and still counts. During: it shared the failed
# event set and stopped with it; getrusage's count, the ground truth, stands in both.
check "... (held_before) PAPI still counts the page faults (a software event)" \
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $2 == "malloc_touch_free" && $3 == "fixed_threshold" && $4 == 1048576 && $c["faults_per_op"] >= 255 { ok = 1 } END { exit !ok }' "$before/data.csv"
check "... (held_during) getrusage's fault count stands" \
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $2 == "malloc_touch_free" && $3 == "fixed_threshold" && $4 == 1048576 && $c["faults_per_op_rusage"] >= 255 { ok = 1 } END { exit !ok }' "$during/data.csv"
exit 0
