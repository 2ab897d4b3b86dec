#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 13 end to end: the use after free runs to the end in its child with glibc reusing the block
# (the stale write changes the new owner's balance); the double free kills its child with SIGABRT
# and glibc's message; the alias still reads the freed block; the ASan twin (where built) reports
# heap-use-after-free and the double free, with both stacks in this lab's source, and costs more
# per malloc + free.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/13-dangling-pointers)
out=$scratch/out
"$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 ||
	{ fail "lab 13 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
value() { awk -F, -v e="$1" -v k="$2" -v c="$(col "$3")" '$1 == e && $2 == k { print $c }' "$csv"; }

check "use after free: the child ran to the end" grep -q "^Use after free (a supervised child: exited with status 0" "$scratch/stdout"
check "after free the balance is still 100" test "$(value use_after_free after_free balance)" = 100
check "glibc gave bob alice's block" test "$(value use_after_free new_owner_before same_block)" = 1
check "the stale write set bob's 500 to 0" \
	test "$(value use_after_free new_owner_before balance)/$(value use_after_free new_owner_after_stale_write balance)" = "500/0"
check "double free: the child died of SIGABRT" test "$(value plain double-free signal)" = 6
check "... with glibc's message" grep -q "double free detected" "$scratch/stdout"
check "the alias read the freed block's balance (700)" test "$(value plain alias balance)" = 700

twin=${bin}_asan
if [ -x "$twin" ]; then
	check "ASan: heap-use-after-free for the use after free" test "$(value asan use-after-free caught_by)" = heap-use-after-free
	check "ASan: the double free" test "$(value asan double-free caught_by)" = "attempting double-free"
	check "ASan: heap-use-after-free for the alias" test "$(value asan alias caught_by)" = heap-use-after-free
	check "ASan names where the block was freed, in this lab's source" \
		grep -A1 -q "freed by thread" "$scratch/stdout"
	check "... and the frames are in dangling_pointers.c" grep -q "in use_after_free labs/13-dangling-pointers/dangling_pointers.c:[0-9]" "$scratch/stdout"
	check "ASan's malloc + free costs over 2x the plain one" \
		awk -v a="$(value malloc_free_cost asan ns_per_op_median)" -v p="$(value malloc_free_cost plain ns_per_op_median)" \
		'BEGIN { exit !(p > 0 && a / p > 2) }'
else
	check "without the ASan twin the lab says why" grep -q "^note: AddressSanitizer not run" "$scratch/stdout"
fi
"$bin" --demo nosuch >/dev/null 2>"$scratch/err"
check "--demo with an unknown name: exit 2, one line" test $? -eq 2 -a "$(wc -l <"$scratch/err")" -eq 1
exit 0
