#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 10 end to end: the sweep covers 4 KiB to --max-size with every experiment at every size;
# order-of-magnitude effects that hold on any machine (memory over 5x slower than the L1d for a
# random chase; random over 3x slower than address order at the largest size); hwloc's caches are
# recorded, and the verdicts set the climb to memory latency beside hwloc's last level.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/10-memory-hierarchy)
out=$scratch/out
# 64 MiB: past any last-level cache of a small machine, still a second or two.
"$bin" --quick --max-size 64M --out "$out" >"$scratch/stdout" 2>&1 ||
	{ fail "lab 10 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
value() {	# EXPERIMENT SIZE COLUMN: the random chase on huge pages where the experiment has kinds
	awk -F, -v e="$1" -v s="$2" -v c="$(col "$3")" '$1 == e && $3 == s && $2 != "random_4k_pages" { print $c }' "$csv"
}
ratio_over() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { exit !(b > 0 && a / b > r) }'; }

sizes=$(awk -F, '$1 == "latency" && $2 == "random" { print $3 }' "$csv")
check "the sweep starts at 4 KiB" test "$(echo "$sizes" | head -n 1)" = 4096
check "... and ends at --max-size (64 MiB)" test "$(echo "$sizes" | tail -n 1)" = 67108864
check "quick mode doubles the size: 15 sizes" test "$(echo "$sizes" | wc -l)" -eq 15
for e in latency sequential_chase bandwidth; do
	check "$e at every size" test "$(awk -F, -v e="$e" '$1 == e && $2 != "random_4k_pages"' "$csv" | wc -l)" -eq 15
done
check "the random chase on 4 KiB pages at every size from 64 pages (256 KiB) up" \
	test "$(awk -F, '$1 == "latency" && $2 == "random_4k_pages"' "$csv" | wc -l)" -eq "$(echo "$sizes" | awk '$1 >= 262144' | wc -l)"
check "the random chase asked for huge pages, and the lab records how many it got" \
	awk -F, -v h="$(col huge_page_bytes)" '$1 == "latency" && $2 == "random" && $h == "" { bad = 1 } END { exit bad }' "$csv"
check "the TLB walk from 64 pages (256 KiB) up, with 4 KiB pages" \
	test "$(awk -F, '$1 == "tlb" && $2 == "4k_pages"' "$csv" | wc -l)" -eq 9
check "the memory mountain: 7 strides at each of its sizes" \
	test "$(( $(awk -F, '$1 == "mountain"' "$csv" | wc -l) % 7 ))" -eq 0
check "every measured point has a positive latency" \
	awk -F, -v c="$(col ns_per_load)" '$1 != "cache" && $1 != "branch" && !($c > 0) { bad = 1 } END { exit bad }' "$csv"
check "the branch comparison: alternating, random and mispredict rows, each with a positive ns per op" \
	awk -F, -v c="$(col ns_per_op_median)" '$1 == "branch" { n++; if (!($c > 0)) bad = 1 }
		END { exit bad || n != 3 }' "$csv"

l1=$(value latency 16384 ns_per_load)
mem=$(value latency 67108864 ns_per_load)
seq=$(value sequential_chase 67108864 ns_per_load)
check "memory is over 5x slower than the L1d for a random chase ($mem vs $l1 ns)" ratio_over "$mem" "$l1" 5
check "random is over 3x slower than address order at 64 MiB ($mem vs $seq ns)" ratio_over "$mem" "$seq" 3

if [ -n "$(awk -F, '$1 == "cache"' "$csv")" ]; then
	check "hwloc's cache sizes are in data.csv for the plot" \
		awk -F, '$1 == "cache" && $2 == "L1d" && $3 > 0 { ok = 1 } END { exit !ok }' "$csv"
	check "the verdict sets the climb to memory beside hwloc's last level" \
		grep -qE "^(verdict: 'latency climbs to memory's between half and twice the last-level cache' (holds|fails|inconclusive): |note: the sweep stops at)" "$scratch/stdout"
	# The climb is judged on a range, not a point: from the fast and the slow samples.
	if grep -q "^verdict: 'latency climbs" "$scratch/stdout"; then
		check "the climb's verdict has a range from the samples around its size" \
			awk -F, '$2 == "memory_latency_past_llc" { found = 1; if ($6 == "" || $7 == "" || $6 + 0 > $5 + 0 || $5 + 0 > $7 + 0) bad = 1 } END { exit bad || !found }' "$out/verdicts.csv"
	fi
else
	skip "hwloc's cache sizes" "hwloc reports no caches on this machine"
fi
check "the prefetcher verdict" grep -q "^shown: *at 64 MiB a chase in address order costs" "$scratch/stdout"
check "summary.csv has the L1 and memory latencies" \
	bash -c "grep -q '^10-memory-hierarchy,l1_load_latency,' '$out/summary.csv' && grep -q ',memory_load_latency,' '$out/summary.csv'"
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
if [ -n "$thp" ] && [[ "$thp" != *"[never]"* ]]; then
	check "with THP available the huge-page walk ran and got huge pages" \
		awk -F, -v c="$(col huge_page_bytes)" '$2 == "huge_pages" && $c > 0 { ok = 1 } END { exit !ok }' "$csv"
else
	skip "huge-page TLB walk" "transparent huge pages are off here (${thp:-no THP})"
fi
exit 0
