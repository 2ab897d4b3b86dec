#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 3 end to end: the classic large request succeeds, fails under an address-space limit and
# succeeds again with a pool; the heap statistics add up; the churn is the same workload for every
# allocator; preloaded allocators really ran; nothing is left in TMPDIR.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/03-fragmentation)
out=$scratch/out
mkdir -p "$scratch/tmp"
TMPDIR=$scratch/tmp "$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 ||
	{ fail "lab 3 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
# cell EXPERIMENT KIND STEP COLUMN
cell() {
	awk -F, -v e="$1" -v k="$2" -v s="$3" -v c="$(col "$4")" \
		'$1 == e && $2 == k && $3 == s { print $c }' "$csv"
}
blocks=65536
large=$((blocks * 1024 / 4))

check "five snapshots for each of the four fragmentation runs" \
	test "$(grep -cE '^(classic|limited),' "$csv")" -eq 20
check "the classic large request succeeds" test "$(cell classic malloc large_request large_request_ok)" = 1
check "under the address-space limit, malloc's large request fails" \
	test "$(cell limited malloc_as_limited large_request large_request_ok)" = 0
check "under the same limit, with a pool for the freed blocks, it succeeds" \
	test "$(cell limited pool_as_limited large_request large_request_ok)" = 1
check "under the same limit, with the same bytes freed together (one hole, nothing unmapped), it succeeds" \
	test "$(cell limited contiguous_as_limited large_request large_request_ok)" = 1

free=$(cell classic malloc every_other_freed heap_free_bytes)
check "after freeing every other block, about half the heap is free ($free B)" \
	awk -v f="$free" -v n="$blocks" 'BEGIN { h = n / 2 * 1040; exit !(f >= 0.95 * h && f <= 1.1 * h) }'
largest=$(cell classic malloc every_other_freed largest_free_bytes)
check "... yet no free block is as large as the request ($largest < $large B)" test "${largest%.*}" -lt "$large"
rss_half=$(cell classic malloc every_other_freed rss_bytes)
rss_trim=$(cell classic malloc after_malloc_trim rss_bytes)
rss_all=$(cell classic malloc all_freed rss_bytes)
check "malloc_trim cannot give the holes back: RSS stays above 90% ($rss_trim vs $rss_half)" \
	awk -v a="$rss_trim" -v b="$rss_half" 'BEGIN { exit !(a >= 0.9 * b) }'
check "freeing everything does give it back: RSS under 20% ($rss_all vs $rss_half)" \
	awk -v a="$rss_all" -v b="$rss_half" 'BEGIN { exit !(a <= 0.2 * b) }'
# glibc lists a freshly coalesced chunk outside malloc_info's histogram: the lab must still see it.
largest_all=$(cell classic malloc all_freed largest_free_bytes)
check "after freeing everything, the largest free chunk is at least half of what was freed ($largest_all B)" \
	awk -v l="$largest_all" -v n="$blocks" 'BEGIN { exit !(l >= 0.5 * n * 1024) }'

# The churn: the same deterministic workload for every allocator.
check "glibc and the pool ran the churn" \
	test "$(grep -cE '^churn,(glibc|pool),' "$csv")" -eq 2
check "each allocator has at least 50 samples over time" \
	awk -F, '$1 == "churn_series" { n[$2]++ } END { for (k in n) if (n[k] < 50) bad = 1; exit bad || length(n) < 2 }' "$csv"
live=$(col live_bytes)
check "live bytes are identical across allocators at every sample (the same workload)" \
	awk -F, -v c="$live" -v o="$(col ops)" '$1 == "churn_series" { if (($o) in v && v[$o] != $c) bad = 1; v[$o] = $c } END { exit bad }' "$csv"
check "glibc's RSS covers the live bytes mid-run (every object is written whole)" \
	awk -F, -v l="$live" -v r="$(col rss_bytes)" -v o="$(col ops)" \
		'$1 == "churn_series" && $2 == "glibc" && $o > 50000 && $o < 150000 && $r < $l { bad = 1 } END { exit bad }' "$csv"
for pair in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
	name=${pair%%:*}
	# Not "ldconfig -p | grep -q": grep exits at the first match, and pipefail then sees SIGPIPE.
	if grep -q "${pair#*:}" <<<"$(ldconfig -p 2>/dev/null)"; then
		check "$name is installed, so it ran, preloaded" grep -q "^allocator.$name: /.*${pair#*:}" "$out/manifest.txt"
	else
		skip "$name" "${pair#*:} is not installed (make deps installs it where the distribution has it)"
	fi
done
check "no scratch file is left in TMPDIR" test -z "$(ls -A "$scratch/tmp")"
check "five verdict lines or more" test "$(wc -l <"$out/verdict.txt")" -ge 5

# Bad options of the lab's own: one line, exit 2, nothing left behind.
check_bad_args "$bin" "--blocks 10" "--blocks x" "--churn-ops 1" "--churn-ops 1e6"
"$bin" --churn-worker >/dev/null 2>&1
check "the internal worker mode refuses a bad command line (exit 2)" test $? -eq 2
