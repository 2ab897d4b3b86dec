#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make import, compare and report at the scale of a class: 30 bundles made by tests/tools/
# make-class.sh from the curated example run, under other machine names and with made-up numbers
# (scaled per machine, one machine 8x the others, one quick run, two machines called pc07). Not
# measurements: this tests collection and presentation, not the labs. One import command; 30 machine
# directories, nothing overwritten; the outlier flagged; the report small and quick to build (both
# printed); a real browser loads every image.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

example=$(example_machine "a class of thirty") || exit 0
class=$scratch/class
res=$scratch/results
tests/tools/make-class.sh "$example" "$class" 30 >/dev/null
check "30 bundles made" test "$(ls "$class"/*.tar.gz | wc -l)" -eq 30

start=$(date +%s%N)
RESULTS=$res classtools import "$class" >"$scratch/import.out" 2>&1
import_status=$?
import_ms=$((($(date +%s%N) - start) / 1000000))
check "one import command imports them all (status $import_status)" test "$(ls -d "$res"/*/ | wc -l)" -eq 30
check "... the second pc07 lands beside the first, and the line names the collision" \
	grep -q "pc07/ already holds other results (another machine with the same name.*imported as $res/pc07-2/" "$scratch/import.out"
check "... neither pc07 overwrote the other" \
	test "$(sed -n 's/^cpu_model: //p' "$res/pc07/01-stack-vs-heap/manifest.txt")" != \
	     "$(sed -n 's/^cpu_model: //p' "$res/pc07-2/01-stack-vs-heap/manifest.txt")"

start=$(date +%s%N)
RESULTS=$res classtools report >"$scratch/report.out" 2>&1
status=$?
ms=$((($(date +%s%N) - start) / 1000000 + import_ms))
# What the class's report weighs: the page and the images make compare drew for it (each
# machine's own plots are linked where import put them).
bytes=$(du -cb "$res/report" "$res/compare" | tail -n 1 | cut -f1)
check "make report at 30 machines exits 0" test "$status" -eq 0
check "make import of 30 bundles and make report took $((ms / 1000)).$((ms % 1000 / 100)) s (under 30 s)" test "$ms" -lt 30000
check "the report and its comparison images: $((bytes / 1024 / 1024)).$((bytes * 10 / 1024 / 1024 % 10)) MiB (under 10 MiB)" \
	test "$bytes" -lt $((10 * 1024 * 1024))

cmp1=$res/compare/01-stack-vs-heap
check "the quick run is left out of Lab 1 by default, and named" \
	grep -q "left out, quick runs (RUNS=all shows them): pc02$" "$cmp1/compare.txt"
check "Lab 1 compares the 29 full runs" grep -q "^== 01-stack-vs-heap: 29 machines, full runs" "$cmp1/compare.txt"
check "the made-up outlier pc13 is flagged on every Lab 1 headline figure" \
	test "$(grep -c 'outliers: pc13 (' "$cmp1/headlines.txt")" -eq "$(tail -n +2 "$example/01-stack-vs-heap/summary.csv" | wc -l)"
check "... and no other machine is" bash -c "! grep 'outliers:' '$cmp1/headlines.txt' | grep -v 'outliers: pc13 ([^)]*)$'"
check "verdict counts add up to 29 machines in Lab 1" \
	bash -c "awk -F'\\t' 'NR > 1 && \$8 != 29 { bad = 1 } END { exit bad }' '$cmp1/verdicts.tsv'"
for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	check "$lab: a class strip plot" bash -c "head -c 4 '$res/compare/$lab/class.png' 2>/dev/null | grep -q PNG"
	check "$lab: no gnuplot warning" test ! -e "$res/compare/$lab/gnuplot.log"
done
# 30 machines in the legend: the comparison images grow to hold them.
height=$(od -An -tu1 -j20 -N4 "$cmp1/figure-1.png" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
check "a comparison plot is tall enough for 29 legend lines (${height}px)" test "$height" -ge 590

page=$res/report/index.html
check "the page has a section per machine per lab ($(grep -c '<details class="machine">' "$page"))" \
	test "$(grep -c '<details class="machine">' "$page")" -eq $((30 * $(scripts/labs.sh built | wc -l)))
check "... the quick run's marked" grep -q '<summary>pc02: [^<]* \[quick run\]' "$page"
check_page_in_browser "$page" "the class's page" "${KEEP_SCREENSHOT:+${KEEP_SCREENSHOT%.png}-class.png}"
exit 0
