#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make compare and make report on a results directory of their own: the curated example and a
# second, made-up machine that lacks a column, ran a shorter sweep, had no gnuplot for one lab and
# skipped another lab. Every figure gets one line per machine; the page is self-contained, and a real
# browser (headless Chromium) loads it with every image and no console message.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

example=$(ls -d results/examples/*/ | head -n 1)
example=${example%/}
if [ -z "$example" ]; then
	skip "compare and report" "results/examples/ holds no example machine"
	exit 0
fi
res=$scratch/results
mkdir -p "$res/examples"
cp -r "$example" "$res/examples/"
ref=$(basename "$example")

# The made-up machine "alpha": the example, changed the ways real machines differ.
alpha=$res/alpha
cp -r "$example" "$alpha"
sed -i 's/^cpu_model: .*/cpu_model: Test CPU 9000/; s/^nr_pus: .*/nr_pus: 16/' "$alpha"/*/manifest.txt
lab1=$alpha/01-stack-vs-heap
# A shorter sweep: sizes above 64 KiB were not run.
awk -F, 'NR == 1 || $4 == "" || $4 + 0 <= 65536' "$lab1/data.csv" >"$scratch/d" && mv "$scratch/d" "$lab1/data.csv"
# An older lab version without the faults_per_op_rusage column.
column=$(csv_col "$(head -n 1 "$lab1/data.csv")" faults_per_op_rusage)
cut -d, --complement -f"$column" "$lab1/data.csv" >"$scratch/d" && mv "$scratch/d" "$lab1/data.csv"
# Known headline figures for Lab 1 on both machines; alpha lacks the cross-check and has one more.
printf '%s\n' "lab,name,value,unit,cross_check_value" "01-stack-vs-heap,speed_ratio,3.25,x,3.5" \
	>"$res/examples/$ref/01-stack-vs-heap/summary.csv"
printf '%s\n' "lab,name,value,unit,cross_check_value" "01-stack-vs-heap,speed_ratio,7.5,x," \
	"01-stack-vs-heap,only_on_alpha,42,ns," >"$lab1/summary.csv"
rm -f "$alpha/02-recursion-depth/plot.png" "$alpha/02-recursion-depth/plot.svg"
# Lab 2 on alpha was a quick run.
sed -i 's/^quick: .*/quick: yes/' "$alpha/02-recursion-depth/manifest.txt"
last_lab=$(ls -d "$alpha"/*/ | tail -n 1)
rm -rf "$last_lab"
last_lab=$(basename "$last_lab")

out=$scratch/compare.out
RESULTS=$res scripts/compare.sh >"$out" 2>&1
check "compare exits 0" test $? -eq 0
check "compare names the made-up machine by its CPU" grep -q "alpha (Test CPU 9000, 16 PUs" "$out"
check "compare names the example as an example" grep -q "$ref, example (" "$out"

# Every figure of every lab: a heading, then exactly one line per machine that ran the lab.
for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	[ -f "$lab_dir/compare.txt" ] || { fail "$lab has a compare.txt"; continue; }
	nr_figs=$(grep -cv '^ *\(#\|$\)' "$lab_dir/compare.txt")
	# The machines that ran this lab: both, one (alpha lost its last lab), or none (a lab newer
	# than the examples).
	nr_machines=$(ls "$res"/*/"$lab"/data.csv "$res"/examples/*/"$lab"/data.csv 2>/dev/null | wc -l)
	got=$(grep -c '^figure ' "$res/compare/$lab/compare.txt" 2>/dev/null)
	check "$lab: $nr_figs figures compared (got ${got:-none})" test "${got:-0}" -eq "$nr_figs"
	bad=$(awk -v want="$nr_machines" '/^figure/ { if (n != "" && n != want) bad++; n = 0; next }
		/^  [^(]/ { n++ } END { if (n != want) bad++; print bad + 0 }' "$res/compare/$lab/compare.txt")
	check "$lab: one line per machine on every figure" test "$bad" -eq 0
	for png in "$res/compare/$lab"/figure-*.png; do
		[ -e "$png" ] || continue
		check "$lab: $(basename "$png") is a PNG image" bash -c "head -c 4 '$png' | grep -q PNG"
	done
	check "$lab: a headline table" test -s "$res/compare/$lab/headlines.txt"
done
cmp1=$res/compare/01-stack-vs-heap/compare.txt
check "a missing column leaves that machine off its figure, with the reason" \
	grep -q "alpha .*not on this plot: its data.csv has no column faults_per_op_rusage" "$cmp1"
check "the other machine is still on that figure" \
	bash -c "grep -A2 '^figure 4' '$cmp1' | grep -q '$ref, example .* points'"
check "a shorter sweep is plotted with the points it has" \
	bash -c "grep -A2 '^figure 1' '$cmp1' | grep -q 'alpha .* 13 points'"
check "a quick run is marked on its figures, a full one is not" \
	bash -c "grep -q 'alpha .*\\[quick run\\]' '$res/compare/02-recursion-depth/compare.txt' && ! grep -q 'quick run' '$cmp1'"
check "... and in the headline table" grep -q "machine 1: alpha.*\[quick run\]" "$res/compare/02-recursion-depth/headlines.txt"
heads=$res/compare/01-stack-vs-heap/headlines.txt
check "the headline table has a column per machine" grep -q "machine 1: alpha" "$heads"
check "the headline table has each machine's value and cross-check" \
	grep -qE "^  speed_ratio \(x\) +7.5 +3.25 \[3.5\]$" "$heads"
check "a figure one machine lacks is '-' in the other's column" grep -qE "^  only_on_alpha \(ns\) +42 +-$" "$heads"

RESULTS=$res scripts/compare.sh 8 >"$out" 2>&1
check "compare 8 compares lab 8 alone" bash -c "[ \$(grep -c '^== ' '$out') -eq 1 ] && grep -q '^== 08-' '$out'"
RESULTS=$res scripts/compare.sh 99 >"$out" 2>"$scratch/err"
check "compare of an unknown lab: exit 2" test $? -eq 2
mkdir -p "$scratch/empty"
RESULTS=$scratch/empty scripts/compare.sh >"$out" 2>"$scratch/err"
check "compare without results: exit 1 with one line" test $? -eq 1 -a "$(wc -l <"$scratch/err")" -eq 1

rm -rf "$res/compare"
PATH=$(path_without gnuplot) RESULTS=$res scripts/compare.sh 1 >"$out" 2>&1
check "without gnuplot compare still writes its text" test -s "$res/compare/01-stack-vs-heap/compare.txt"
check "without gnuplot compare says so in one line" grep -q "gnuplot is not installed" "$out"
check "without gnuplot no plot is attempted" test -z "$(ls "$res"/compare/*/figure-*.png 2>/dev/null)"

# The report.
RESULTS=$res scripts/report.sh >"$out" 2>&1
check "report exits 0" test $? -eq 0
page=$res/report/index.html
check "report writes index.html" test -s "$page"
check "the page loads nothing from elsewhere" \
	bash -c "! grep -qiE '(src|href)=\"(https?:|//|file:)' '$page'"
check "the page links only to its own sections" \
	bash -c "! grep -oE 'href=\"[^\"]*\"' '$page' | grep -v 'href=\"#'"
for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	check "the page has a section for $lab" grep -q "<section id=\"$lab\">" "$page"
done
check "the page has the machines table with both machines" \
	bash -c "grep -q 'alpha (Test CPU 9000' '$page' && grep -q '$ref, example' '$page'"
check "the page says what a machine could not measure" grep -q "Could not measure on this machine" "$page"
check "the page says where a plot is missing" grep -q "No plot (gnuplot was missing" "$page"
check "the page has the headline tables" \
	grep -q "<tr><td>speed_ratio</td><td>x</td><td>7.5</td><td>3.25 <span class=\"xc\">(cross-check 3.5)</span></td></tr>" "$page"
check "the page has the manifests" grep -q "<summary>Manifest</summary>" "$page"
check "report leaves no temporary file" test -z "$(find "$res/report" -name '*.tmp*')"

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
	skip "the page in a browser" "chromium is not installed ('make deps' installs it)"
	exit 0
fi
nr_images=$(grep -o '<img ' "$page" | wc -l)
# A private profile; no sandbox (root and containers), no GPU, no network: the page needs none.
chrome=("$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
	--disable-background-networking --disable-extensions --user-data-dir="$scratch/chromium"
	--enable-logging=stderr --v=0)
timeout 120 "${chrome[@]}" --dump-dom "file://$page" >"$scratch/dom.html" 2>"$scratch/chromium.log"
check "chromium loads the page" test $? -eq 0 -a -s "$scratch/dom.html"
check "every image on the page loads ($nr_images)" \
	grep -q "self-check: $nr_images of $nr_images images loaded" "$scratch/dom.html"
check "no console message while loading" bash -c "! grep -q 'CONSOLE' '$scratch/chromium.log'" 
timeout 120 "${chrome[@]}" --window-size=1200,2400 --screenshot="$scratch/report.png" "file://$page" \
	>/dev/null 2>&1
check "a screenshot of the page" bash -c "head -c 4 '$scratch/report.png' | grep -q PNG"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$scratch/report.png" "$KEEP_SCREENSHOT"
exit 0
