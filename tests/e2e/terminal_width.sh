#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every lab's output fits an ordinary terminal: each lab run QUICK as 'make lab-N QUICK=1' runs it
# (the program, then its plots, the text plot included) with COLUMNS=80 and COLUMNS=100, and no
# line may be wider. Long sentences are broken at word boundaries under their label
# (common/term.h); wide tables leave columns out and say which, and never break a row; the files
# keep whole lines.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

# Whether a narrow run broke a table row across lines: a line of the narrow output joined to its
# continuation (the wrapper's hanging indent) that is part of a table row of the wide output (a
# row: cells separated by " | " or by runs of spaces, four or more of them).
broken_rows() {	# NARROW_LOG WIDE_LOG
	python3 - "$1" "$2" <<'PY'
import re, sys
narrow = open(sys.argv[1], errors="replace").read().split("\n")
wide = open(sys.argv[2], errors="replace").read().split("\n")
# A table row has " | " or four gaps of two blanks; a labelled line ("machine:  ...") is prose.
rows = [w for w in wide if not re.match(r"[a-z][a-z ]*: ", w)
        and (" | " in w or len(re.findall(r"\S {2,}(?=\S)", w)) >= 4)]
for prev, line in zip(narrow, narrow[1:]):
    if not line.startswith(" ") or not line.strip():
        continue
    joined = prev.rstrip() + " " + line.strip()
    if any(joined.strip() in r or re.sub(r" +", " ", joined.strip()) in re.sub(r" +", " ", r)
           for r in rows if len(prev.strip()) > 8):
        print(prev.strip()[:60])
        break
PY
}

for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	COLUMNS=10000 QUICK=1 RESULTS=$scratch/wide scripts/run-lab.sh "$lab" >"$scratch/$lab.wide.log" 2>&1
	for width in 80 100; do
		log=$scratch/$lab.$width.log
		COLUMNS=$width QUICK=1 RESULTS=$scratch/results scripts/run-lab.sh "$lab" >"$log" 2>&1
		status=$?
		widest=$(awk '{ if (length($0) > w) { w = length($0); l = NR } } END { printf "%d (line %d)", w, l }' "$log")
		check "$lab at $width columns: exits 0 (status $status), no line wider (widest ${widest})" \
			awk -v w="$width" -v st="$status" 'length($0) > w { bad = 1 } END { exit bad || st != 0 }' "$log"
		[ "$status" -eq 0 ] && awk -v w="$width" 'length($0) > w' "$log" | head -n 3 | sed 's/^/# /'
		broken=$(broken_rows "$log" "$scratch/$lab.wide.log")
		check "$lab at $width columns: no table row broken across lines${broken:+ (at: $broken)}" \
			test -z "$broken"
	done
	out=$scratch/results/$(ls "$scratch/results" | head -n 1)/$lab
	check "$lab: verdict.txt keeps whole lines (each verdict on one line)" \
		awk 'length($0) > 100 { long = 1 } END { exit !long }' "$out/verdict.txt"
done

# A table that leaves columns out says so, and the wide terminal shows them.
check "Lab 1 at 80 columns leaves calloc+free out of its table, and says so" \
	grep -q '^  (not shown at 80 columns: calloc+free, in data.csv and at 105 columns)' \
	"$scratch/01-stack-vs-heap.80.log"
check "... at 100 columns too (the table is 105 wide)" grep -q 'not shown at 100 columns: calloc+free' \
	"$scratch/01-stack-vs-heap.100.log"
check "Lab 8 at 100 columns keeps Part A whole (95 columns) and trims Part B (107)" \
	bash -c "! grep -q 'columns: sw/rt B and PAPI/rt A,' '$scratch/08-context-switch.100.log' &&
		grep -q 'not shown at 100 columns: p50 us, virt/cl and kernel/cl,' '$scratch/08-context-switch.100.log'"
# Sentences are broken under their label, not cut.
check "a verdict's continuation lines hang under its text" \
	grep -q '^         [^ ]' "$scratch/01-stack-vs-heap.80.log"

# Below 60 columns the text plot is left out, with one line.
COLUMNS=50 QUICK=1 RESULTS=$scratch/narrow scripts/run-lab.sh 4 >"$scratch/narrow.log" 2>&1
check "at 50 columns the text plot is left out, with one line" \
	grep -q '^plots:    no text plot: the terminal is 50 columns wide, it needs 60' "$scratch/narrow.log"
exit 0
