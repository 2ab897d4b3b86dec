#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 9 end to end: page-fault counts are deterministic, so they are asserted within tight bounds:
# one fault per page at first write, two when read first, none after MAP_POPULATE, one per page of
# copy-on-write, fewer than one per page for cached file pages and huge pages; PAPI agrees with
# getrusage; the scratch file goes away.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/09-page-faults)
out=$scratch/out
mkdir -p "$scratch/tmp"
TMPDIR=$scratch/tmp "$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 ||
	{ fail "lab 9 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
size=8388608
# per_page MODE -> faults per page at 8 MiB
per_page() { awk -F, -v m="$1" -v s="$size" -v c="$(col faults_per_page)" '$2 == m && $3 == s { print $c }' "$csv"; }
between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

check "nine modes at 1 MiB and 8 MiB" test "$(awk -F, '$1 == "page_faults"' "$csv" | wc -l)" -eq 18
check "first write: one fault per page ($(per_page anon_write))" between "$(per_page anon_write)" 0.999 1.01
check "reading first: one fault per page ($(per_page anon_read))" between "$(per_page anon_read)" 0.999 1.01
check "... and the write after it one more ($(per_page anon_write_after_read))" \
	between "$(per_page anon_write_after_read)" 0.999 1.01
check "after MAP_POPULATE the writes take no fault ($(per_page populate_touch))" \
	between "$(per_page populate_touch)" 0 0.002
check "copy-on-write in the child: one fault per page ($(per_page cow_child))" \
	between "$(per_page cow_child)" 0.999 1.01
check "cached file pages: fewer than one fault per page, more than none ($(per_page file_cached))" \
	between "$(per_page file_cached)" 0.001 0.999
if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
	skip "huge pages" "transparent huge pages are off here ([never])"
else
	check "MADV_HUGEPAGE: far fewer faults than pages ($(per_page hugepage))" between "$(per_page hugepage)" 0 0.1
fi
major=$(awk -F, -v s="$size" -v c="$(col major_faults)" '$2 == "file_uncached" && $3 == s { print $c }' "$csv")
if grep -q '^scratch_filesystem: tmpfs' "$out/manifest.txt"; then
	skip "major faults" "the scratch file is on tmpfs, whose pages cannot be dropped"
else
	check "after POSIX_FADV_DONTNEED the file faults from the disk: major faults ($major)" test "${major:-0}" -ge 1
fi
papi=$(awk -F, -v s="$size" -v c="$(col faults_papi)" '$2 == "anon_write" && $3 == s { print $c }' "$csv")
rusage=$(awk -F, -v s="$size" -v c="$(col faults)" '$2 == "anon_write" && $3 == s { print $c }' "$csv")
if [ -n "$papi" ]; then
	check "PAPI and getrusage agree on first-write faults within 0.5% ($papi vs $rusage)" \
		awk -v a="$papi" -v b="$rusage" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005 * b + 2) }'
else
	skip "PAPI vs getrusage" "PAPI cannot count page faults here"
fi
check "no scratch file is left in TMPDIR" test -z "$(ls -A "$scratch/tmp")"
check "the manifest reports the THP mode" grep -q '^thp_enabled: ' "$out/manifest.txt"
check "six verdict lines or more" test "$(wc -l <"$out/verdict.txt")" -ge 6
# "Disk is 100,000x slower than RAM" is about latency: a random 4 KiB read and a random load, both
# measured (orders of magnitude only: a read takes over 1 us, a load under 1 us).
read_ns=$(awk -F, '$1 == "latency" && $2 == "random_4k_read" { print $6 }' "$csv")
load_ns=$(awk -F, '$1 == "latency" && $2 == "random_load_memory" { print $6 }' "$csv")
check "a random 4 KiB read ($read_ns ns) and a random load from memory ($load_ns ns) are measured" \
	awk -v r="$read_ns" -v l="$load_ns" 'BEGIN { exit !(r > 1000 && l > 1 && l < 1000) }'
check "... and the claim is judged in verdicts.csv" \
	grep -qE '^09-page-faults,disk_100000x_slower_than_ram,[^,]*,(holds|fails|inconclusive),' "$out/verdicts.csv"
# Bad options of the lab's own: one line, exit 2, nothing left behind.
check_bad_args "$bin" "--max-size 1K" "--max-size 17G" "--tmpdir /nonexistent/dir"
