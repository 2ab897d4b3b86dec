#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 8 end to end: one context switch per hand-off (getrusage, and PAPI where it counts them), the
# perf bench cross-check recorded, each client served once per 10 ms, a thread's address space vs
# its resident memory, and a clean run on one CPU. (What a switch costs is a timing: in the verdict,
# not asserted here.)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/08-context-switch)
out=$scratch/out
"$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 || { fail "lab 8 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }

if [ "$(nproc)" -ge 2 ]; then
	check "nine switch modes: threads/processes x pipe/futex x one/two CPUs, and sched_yield" \
		test "$(grep -c '^switch,' "$csv")" -eq 9
else
	check "five switch modes on one CPU" test "$(grep -c '^switch,' "$csv")" -eq 5
fi
check "on one CPU every hand-off is one switch for each side (getrusage, 0.9 to 1.1 per round trip)" \
	awk -F, -v a="$(col switches_per_round_trip_a)" -v b="$(col switches_per_round_trip_b)" \
		'$1 == "switch" && $4 == "same_cpu" { n++; if ($a < 0.9 || $a > 1.1 || $b < 0.9 || $b > 1.1) bad = 1 } END { exit bad || !n }' "$csv"
# Across CPUs a side whose reply arrives while it is still on its way to sleep does not switch at
# all, so only the upper bound is an invariant there.
check "across two CPUs each side switches at most once per round trip" \
	awk -F, -v a="$(col switches_per_round_trip_a)" '$1 == "switch" && $4 == "two_cpus" && $a > 1.1 { bad = 1 } END { exit bad }' "$csv"
papi=$(awk -F, -v c="$(col papi_switches_per_round_trip_a)" '$1 == "switch" && $4 == "same_cpu" { print $c; exit }' "$csv")
if [ -n "$papi" ]; then
	check "PAPI counts one switch per round trip too ($papi)" awk -v p="$papi" 'BEGIN { exit !(p >= 0.9 && p <= 1.1) }'
else
	skip "PAPI context switches" "kernel-mode counting is not permitted here ($(grep '^counter.context_switches' "$out/manifest.txt"))"
fi
if command -v perf >/dev/null 2>&1 && perf bench sched pipe -l 10 >/dev/null 2>&1; then
	check "perf bench sched pipe is recorded beside the pipe modes" \
		awk -F, -v c="$(col perf_bench_ns_per_switch)" '$1 == "switch" && $3 == "pipe" && $c == "" { bad = 1 } END { exit bad }' "$csv"
else
	skip "perf bench cross-check" "perf bench sched pipe does not run here"
fi

# Part B: each client is served once per 10 ms: requests/s = clients x 100 while the machine keeps up.
# Only the order of magnitude below: on a loaded 2-CPU machine the pacing falls behind (80% and
# then 50% were both seen to fail while the rest of the suite ran); above, it can never run ahead.
check "up to 100 clients, requests/s is 10% to 110% of clients x 100" \
	awk -F, -v c="$(col clients)" -v r="$(col requests_per_s)" \
		'$1 == "clients" && $c <= 100 { n++; want = $c * 100; if ($r < 0.1 * want || $r > 1.1 * want) bad = 1 } END { exit bad || !n }' "$csv"
check "a thread per client: about one switch per request" \
	awk -F, -v c="$(col clients)" -v s="$(col switches_per_request)" \
		'$2 == "thread_per_client" && $c >= 10 && ($s < 0.8 || $s > 1.5) { bad = 1 } END { exit bad }' "$csv"
check "100 threads: each takes far more address space than resident memory" \
	awk -F, -v c="$(col clients)" -v v="$(col virtual_bytes_per_client)" -v r="$(col rss_bytes_per_client)" \
		'$2 == "thread_per_client" && $c == 100 { exit !($v >= 65536 && $v > 4 * $r) }' "$csv"

taskset -c 0 "$bin" --quick --out "$scratch/one" >"$scratch/one.stdout" 2>&1
check "on one CPU the run still exits 0" test $? -eq 0
check "... says the cross-CPU hand-off could not be measured" grep -q 'only one usable CPU' "$scratch/one.stdout"
check "... and has no two-CPU rows" test "$(grep -c ',two_cpus,' "$scratch/one/data.csv")" -eq 0
# Bad options of the lab's own: one line, exit 2, nothing left behind.
check_bad_args "$bin" "--max-clients 0" "--max-clients lots"
