#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 5 end to end: the placements hwloc offers are all measured, threads are pinned where asked,
# every counter holds exactly its increments, the layouts have the sizes alignas promises, and with
# one usable PU the lab says it needs two and still exits cleanly. (How much false sharing costs is
# a timing: it is in the verdict, not asserted here.)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/05-false-sharing)
out=$scratch/out
"$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 || { fail "lab 5 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }

placements=$(awk -F, 'NR > 1 && $1 == "distance" && !seen[$3]++ { print $3 }' "$csv" | tr '\n' ' ')
check "the same-PU placement is always measured ($placements)" grep -q 'same-pu' <<<"$placements"
nproc_now=$(nproc)
if [ "$nproc_now" -ge 2 ]; then
	check "with $nproc_now usable PUs, a two-PU placement is measured too" \
		test "$(wc -w <<<"$placements")" -ge 2
else
	skip "two-PU placements" "this machine lets the tests use one CPU"
fi
missing=""
for pl in $placements; do
	for d in 0 4 8 16 32 64 128 256; do
		n=$(awk -F, -v p="$pl" -v d="$d" '$1 == "distance" && $3 == p && $8 == d' "$csv" | wc -l)
		want=2; [ "$d" = 0 ] && want=1	# one shared counter: atomic only
		[ "$n" -eq "$want" ] || missing="$missing $pl@$d($n)"
	done
done
check "every placement has each distance, plain and atomic${missing:+ (bad:$missing)}" test -z "$missing"
check "every counter holds exactly the increments made (no lost update)" \
	awk -F, -v c="$(col count_ok)" 'NR > 1 && $1 !~ /^core_to_core/ && $c != 1 { bad = 1 } END { exit bad }' "$csv"
check "every thread was pinned where asked and seen there" \
	awk -F, -v c="$(col pinned)" 'NR > 1 && $1 != "core_to_core_group" && $c != 1 { bad = 1 } END { exit bad }' "$csv"
check "two-PU placements ran on two different PUs, same-PU on one" \
	awk -F, -v a="$(col pu_a)" -v b="$(col pu_b)" \
		'$1 == "distance" { if (($3 == "same-pu") != ($a == $b)) bad = 1 } END { exit bad }' "$csv"
line=$(sed -n 's/^cache_line_bytes: //p' "$out/manifest.txt")
check "the layouts are 4, 64, $line and 128 bytes apart (sizeof the structs)" \
	test "$(awk -F, '$1 == "layout" && $3 == "same-pu" { printf "%s ", $8 }' "$csv")" = "4 64 $line 128 "
check "speed-ups over packed are recorded for the layouts" \
	awk -F, -v c="$(col speedup_vs_packed)" '$1 == "layout" && $c == "" { bad = 1 } END { exit bad }' "$csv"
if [ "$nproc_now" -ge 2 ]; then
	check "the verdict gives the false-sharing cost for a two-PU placement" grep -qE "^'counters on one line are .* \\((smt-siblings|shared-l2|shared-l3|same-package|other-numa|other-package)\\)' (holds|fails|inconclusive): ([0-9.]+x|busy: [0-9]+ of [0-9]+ rounds disturbed)" "$out/verdict.txt"
	check "... and compares the drop with hwloc's line size" grep -q "hwloc's line is $line B" "$out/verdict.txt"
fi

# The core-to-core map: every pair of usable PUs (up to the sample's size), pinned apart, with a
# one-way time; a box for each group of PUs under one package; the claim judged only where some
# pairs share a cache and some do not.
nr_pairs=$(awk -F, '$1 == "core_to_core"' "$csv" | wc -l)
want_pairs=$((nproc_now * (nproc_now - 1) / 2))
[ "$want_pairs" -gt 256 ] && want_pairs=256
check "the map has one row per pair of the $nproc_now usable PUs ($nr_pairs, want $want_pairs)" \
	test "$nr_pairs" -eq "$want_pairs"
check "... each on two different PUs at positions in logical order, with a one-way time" \
	awk -F, -v a="$(col pu_a)" -v b="$(col pu_b)" -v x="$(col pos_a)" -v y="$(col pos_b)" \
		-v t="$(col ns_per_op_median)" \
		'$1 == "core_to_core" && ($a == $b || $x >= $y || $t <= 0) { bad = 1 } END { exit bad }' "$csv"
if [ "$nproc_now" -ge 2 ]; then
	check "... and a box around the PUs of its package" grep -q '^core_to_core_group,package,' "$csv"
fi
if grep -q '^core_to_core,.*,\(smt-siblings\|shared-l2\|shared-l3\),' "$csv" &&
	grep -q '^core_to_core,.*,\(same-package\|other-numa\|other-package\),' "$csv"; then
	check "pairs that share a cache and pairs that do not: the claim is judged" \
		grep -qE "^'PUs that share a cache hand a line over .*' (holds|fails|inconclusive):" "$out/verdict.txt"
else
	check "pairs of one kind only: the claim is not shown, saying why" \
		grep -qE "^'PUs that share a cache hand a line over .*' not shown: (every pair measured here|the map needs two)" "$out/verdict.txt"
fi

# One usable PU: the lab says it needs two, measures what it can, exits 0.
taskset -c 0 "$bin" --quick --out "$scratch/one" >"$scratch/one.stdout" 2>&1
check "with one usable PU the run still exits 0" test $? -eq 0
check "... and says it needs two PUs" grep -q 'false sharing needs two' "$scratch/one.stdout"
check "... and writes data.csv with the same-PU rows" grep -q '^distance,plain,same-pu,' "$scratch/one/data.csv"
check "... and no core-to-core map: it says the map needs two PUs" \
	bash -c "! grep -q '^core_to_core,' '$scratch/one/data.csv' && grep -q 'the map needs two usable PUs' '$scratch/one/verdict.txt'"
# On one PU the two threads take turns and share one cache: packed and padded must agree. Timed
# with the team's elapsed time, the paired ratio sits at 1 (an old per-thread divisor made it 1x or
# 2x at random). With quick's 3 rounds the interval is their range, which misses 1 in a quarter of
# runs by chance alone: so the robust check is that it never fails the within-10% claim, and that
# its median is within 10% of 1.
same_pu=$(awk -F, '$2 == "same_pu_no_false_sharing" { print $4, $5, $6, $7 }' "$scratch/one/verdicts.csv")
check "... on one PU packed and padded agree: median within 10% of 1, interval reaching the band ($same_pu)" \
	awk -v v="$same_pu" 'BEGIN { split(v, a, " "); exit !(a[1] != "fails" && a[2] >= 0.909 && a[2] <= 1.1 && a[3] <= 1.1 && a[4] >= 0.909) }'
check "... the thread-count rows start at one thread (what one PU allows)" \
	test "$(awk -F, -v c="$(col nr_threads)" '$1 == "threads" { print $c }' "$scratch/one/data.csv" | sort -u | tr '\n' ' ')" = "1 "
# Bad options of the lab's own: one line, exit 2, nothing left behind.
check_bad_args "$bin" "--max-threads 1" "--max-threads 65" "--max-threads two"
