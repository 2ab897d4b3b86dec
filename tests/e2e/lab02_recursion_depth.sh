#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 2 end to end: frame sizes agree with the compiler, the depth where the stack runs out follows
# stack size / frame size, overflows fault in the guard page and are caught only on an alternate
# signal stack, stack growth faults once per page, and -O2 turns tail recursion into a loop.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/02-recursion-depth)
out=$scratch/out
"$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 || { fail "lab 2 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
page=$(getconf PAGESIZE)

check "six frame rows, one per array size" test "$(grep -c '^frame,' "$csv")" -eq 6
check "each frame is its array plus 8 to 128 bytes" \
	awk -F, -v a="$(col array_bytes)" -v m="$(col frame_bytes_measured)" \
		'$1 == "frame" && !($m >= $a + 8 && $m <= $a + 128) { bad = 1 } END { exit bad }' "$csv"
if [ -f "$bin.su" ]; then
	check "measured frames match the compiler's -fstack-usage within 16 bytes" \
		awk -F, -v m="$(col frame_bytes_measured)" -v c="$(col frame_bytes_compiler)" \
			'$1 == "frame" && ($c == "" || $m - $c > 16 || $c - $m > 16) { bad = 1 } END { exit bad }' "$csv"
else
	skip "frames vs -fstack-usage" "$bin.su is missing"
fi

# The limit, from thread stacks of 1 MiB: depth within 10% of stack / frame (the thread's own
# bookkeeping takes a few KiB at the top; small stacks lose proportionally more).
check "1 MiB thread stacks: measured depth is 0.9 to 1.02 of stack / frame" \
	awk -F, -v s="$(col stack_bytes)" -v d="$(col max_depth)" -v p="$(col predicted_depth)" \
		'$2 == "thread_stack" && $s == 1048576 { n++; r = $d / $p; if (r < 0.9 || r > 1.02) bad = 1 }
		 END { exit bad || n == 0 }' "$csv"
# Frames under a page; a larger one may jump over the guard page (on aarch64 the frame record is
# stored at the bottom of the frame first), which the verdict reports.
check "every thread-stack overflow of a frame under a page faulted in the guard page" \
	awk -F, -v o="$(col fault_offset_bytes)" -v a="$(col array_bytes)" -v pg="$page" \
		'$2 == "thread_stack" && $a < pg { n++; if (!($o < 0 && $o >= -pg)) bad = 1 } END { exit bad || n == 0 }' "$csv"
check "RLIMIT_STACK runs were caught too" \
	test "$(awk -F, '$2 == "rlimit_stack" && $NF == "sigsegv_caught"' "$csv" | wc -l)" -ge 3
check "without an alternate signal stack the child is killed by SIGSEGV" \
	grep -q '^limit,no_altstack,.*,killed_by_sigsegv$' "$csv"

# The optimiser trap.
check "the tail-recursive sum completes 10 million levels on a 1 MiB stack (a loop)" \
	grep -q '^tail,tail_call_optimised,.*,completed$' "$csv"
check "the same code with tail calls disabled overflows" \
	grep -q '^tail,tail_call_kept,.*,stack_overflow$' "$csv"

# Page faults: a count. With 4 KiB pages, one fault per page of new stack, none the second time.
first=$(awk -F, -v c="$(col faults_per_kib)" '$2 == "first_descent" { print $c }' "$csv")
second=$(awk -F, -v c="$(col faults_per_kib)" '$2 == "second_descent" { print $c }' "$csv")
if grep -q '\[always\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
	skip "one fault per stack page" "transparent huge pages are 'always' here: stacks may fault 2 MiB at a time"
else
	check "first descent: one fault per $page-byte page ($first per KiB)" \
		awk -v f="$first" -v p="$page" 'BEGIN { e = 1024 / p; exit !(f >= 0.9 * e && f <= 1.1 * e) }'
fi
papi=$(awk -F, -v c="$(col faults_per_kib_papi)" '$2 == "first_descent" { print $c }' "$csv")
if [ -n "$papi" ]; then
	check "PAPI and getrusage agree on the first descent's faults ($papi vs $first per KiB)" \
		awk -v a="$papi" -v b="$first" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05 * b + 0.001) }'
else
	skip "PAPI vs getrusage stack faults" "PAPI cannot count page faults here"
fi
check "second descent: no faults ($second per KiB)" awk -v f="$second" 'BEGIN { exit !(f < 0.01) }'
check "the cost rows have a positive median" \
	test "$(awk -F, -v m="$(col ns_per_op_median)" '$1 == "cost" && $m > 0' "$csv" | wc -l)" -eq 2
check "five verdict lines or more" test "$(wc -l <"$out/verdict.txt")" -ge 5
