#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 7 end to end: in lockstep the symmetric strategies livelock (stopped by the watchdog, every run
# bounded, shown once) and the jittered ones finish; the judged points run in rounds; the lockstep
# harness is measured on its own; the CPU burn is measured free-running; worker counts follow the
# usable PUs; nothing is left spinning.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/07-livelock)
out=$scratch/out
start=$(date +%s)
"$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 || { fail "lab 7 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
# completed STRATEGY PACE -> "completed_runs/runs" for the smallest worker count
completed() {
	awk -F, -v s="$1" -v p="$2" -v c="$(col completed_runs)" -v r="$(col runs)" \
		'$2 == p && $3 == s { print $c "/" $r; exit }' "$csv"
}

check "both paces, five strategies, two or more worker counts" \
	test "$(awk -F, 'NR > 1' "$csv" | wc -l)" -ge 20
for s in immediate fixed_delay exponential; do
	got=$(completed "$s" lockstep)
	check "lockstep $s livelocks: the watchdog stopped it ($got runs completed)" test "${got%%/*}" = 0
done
for s in exponential_full_jitter decorrelated_jitter; do
	got=$(completed "$s" lockstep)
	check "lockstep $s finishes ($got runs completed)" test "${got%%/*}" = "${got#*/}"
done
check "a livelocked run completes no job but retries (a count, not a time)" \
	awk -F, -v s="$(col successes)" '$2 == "lockstep" && $3 == "immediate" && $s != 0 { bad = 1 } END { exit bad }' "$csv"
check "every stopped run ended at its 0.2 s deadline, well under the 5 s safety limit" \
	awk -F, -v m="$(col ms_median)" -v c="$(col completed_runs)" \
		'NR > 1 && $c == 0 && ($m < 150 || $m > 1000) { bad = 1 } END { exit bad }' "$csv"
check "the whole quick run took under 15 s" test $(($(date +%s) - start)) -lt 15
check "every row records where hwloc pinned the workers, one PU per worker" \
	awk -F, -v c="$(col worker_pus)" -v w="$(col nr_workers)" 'NR > 1 && (split($c, pus, " ") != $w || $c ~ /-1/) { bad = 1 } END { exit bad }' "$csv"
check "the verdict contrasts the CPU with Lab 6's deadlock" grep -q "Lab 6's deadlocked threads used none" "$out/verdict.txt"
check "lockstep's deterministic strategies run once (a demonstration); the rest in every round (3)" \
	awk -F, -v r="$(col runs)" 'NR > 1 { want = ($2 == "lockstep_harness" || ($2 == "lockstep" && ($3 == "immediate" || $3 == "fixed_delay" || $3 == "exponential"))) ? 1 : 3; if ($r != want) bad = 1 } END { exit bad }' "$csv"
check "the lockstep harness alone is measured: its workers touch nothing (no success, no retry) yet it runs" \
	awk -F, -v s="$(col successes)" -v rr="$(col retries_per_success)" -v c="$(col cpu_ms)" \
		'$2 == "lockstep_harness" { n++; if ($s != 0 || $rr != "" || $c <= 0) bad = 1 } END { exit bad || n != 1 }' "$csv"
check "free-running, the failed-attempt share of the CPU is a fraction (0 to 1) where measured" \
	awk -F, -v f="$(col failed_attempt_cpu_share)" '$2 == "free" && $f != "" { n++; if ($f < 0 || $f > 1) bad = 1 } NR > 1 && $2 != "free" && $f != "" { bad = 1 } END { exit bad || !n }' "$csv"
check "the verdicts file judges the burn free-running, and which jitter finishes first" \
	bash -c "grep -q '^07-livelock,livelock_burns_cpu,' '$out/verdicts.csv' && grep -q '^07-livelock,full_jitter_finishes_first,' '$out/verdicts.csv'"
taskset -c 0 "$bin" --quick --out "$scratch/one" >"$scratch/one.stdout" 2>&1
check "under taskset -c 0: the run exits 0" test $? -eq 0
check "... worker counts follow the one usable PU (2 and 4, not the machine's PUs)" \
	test "$(awk -F, -v w="$(col nr_workers)" '$2 == "free" && $3 == "immediate" { printf "%s ", $w }' "$scratch/one/data.csv")" = "2 4 "
check "... and the burn is not judged there, with the reason" grep -q 'one usable PU: the two workers take turns' "$scratch/one.stdout"
# Bad options of the lab's own: one line, exit 2, nothing left behind.
check_bad_args "$bin" "--jobs 5" "--jobs many"
