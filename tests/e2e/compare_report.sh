#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make compare and make report on a results directory of their own: the curated example and a
# second, made-up machine that lacks a column, ran a shorter sweep, had no gnuplot for one lab, ran
# another quick and skipped a third. Every figure gets one line per machine compared; quick runs are
# kept apart from full ones; the page loads nothing from elsewhere, links only files under results/,
# and a real browser (headless Chromium) loads it with every image and no console message.
# tests/e2e/class_of_thirty.sh does the same at the scale of a class.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

example=$(example_machine "compare and report") || exit 0
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
# Counted differently: another instruction event, user mode only; the example counted user+kernel.
sed -i '/^counter_domain: \|^counter.instructions: /d' "$lab1/manifest.txt" "$res/examples/$ref/01-stack-vs-heap/manifest.txt"
printf '%s\n' "counter_domain: user mode only" \
	"counter.instructions: perf::INSTRUCTIONS (instructions retired (the kernel's generic event))" >>"$lab1/manifest.txt"
printf '%s\n' "counter_domain: user+kernel" "counter.instructions: PAPI_TOT_INS (instructions retired)" \
	>>"$res/examples/$ref/01-stack-vs-heap/manifest.txt"
# What moves timings: a powersave governor on alpha, performance on the example.
sed -i '/^cpu_governor: /d' "$lab1/manifest.txt" "$res/examples/$ref/01-stack-vs-heap/manifest.txt"
echo "cpu_governor: powersave" >>"$lab1/manifest.txt"
echo "cpu_governor: performance" >>"$res/examples/$ref/01-stack-vs-heap/manifest.txt"
rm -f "$alpha/02-recursion-depth/plot.png" "$alpha/02-recursion-depth/plot.svg"
# Lab 2 on alpha was a quick run.
sed -i 's/^quick: .*/quick: yes/' "$alpha/02-recursion-depth/manifest.txt"
last_lab=$(ls -d "$alpha"/*/ | tail -n 1)
rm -rf "$last_lab"
last_lab=$(basename "$last_lab")

out=$scratch/compare.out
RESULTS=$res classtools compare >"$out" 2>&1
check "compare exits 0" test $? -eq 0
check "compare names the made-up machine by its CPU" grep -q "alpha: Test CPU 9000, 16 PUs" "$out"
check "compare names the example as an example" grep -q "$ref (example): " "$out"
lab1_cmp=$res/compare/01-stack-vs-heap/compare.txt
check "compare says the machines counted in different modes" \
	grep -q '^   counter_domain differs between these machines' "$lab1_cmp"
check "... with who counted what" grep -q '^     user mode only: alpha$' "$lab1_cmp"
check "compare says the instruction events differ" \
	grep -q '^     perf::INSTRUCTIONS (instructions retired (the kernel.s generic event)): alpha$' "$lab1_cmp"
check "... and not for what only one machine counted" bash -c "! grep -q '^   counter.page_faults differs' '$lab1_cmp'"
check "compare says the machines' frequency governors differ, with who has which" \
	bash -c "grep -q '^   cpu_governor differs between these machines: timings may differ' '$lab1_cmp' &&
		 grep -q '^     powersave: alpha$' '$lab1_cmp'"

# Every figure of every lab: a heading, then exactly one line per machine that ran the lab.
for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	[ -f "$lab_dir/compare.txt" ] || { fail "$lab has a compare.txt"; continue; }
	nr_figs=$(grep -cv '^ *\(#\|$\)' "$lab_dir/compare.txt")
	# The machines compared: both, one (alpha lost its last lab, and its Lab 2 was a quick run,
	# kept apart from the example's full run), or none (a lab newer than the examples).
	nr_machines=$(ls "$res"/*/"$lab"/data.csv "$res"/examples/*/"$lab"/data.csv 2>/dev/null | wc -l)
	[ "$lab" != 02-recursion-depth ] || nr_machines=1
	got=$(grep -c '^figure ' "$res/compare/$lab/compare.txt" 2>/dev/null)
	check "$lab: $nr_figs figures compared (got ${got:-none})" test "${got:-0}" -eq "$nr_figs"
	bad=$(awk -v want="$nr_machines" '/^figure/ { if (n != "" && n != want) bad++; n = 0; next }
		/^  [^( ]/ && n != "" { n++ } END { if (n != want) bad++; print bad + 0 }' "$res/compare/$lab/compare.txt")
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
	bash -c "grep -A2 '^figure 4' '$cmp1' | grep -q '$ref (example) .* points'"
check "a shorter sweep is plotted with the points it has" \
	bash -c "grep -A2 '^figure 1' '$cmp1' | grep -q 'alpha .* 13 points'"
cmp2=$res/compare/02-recursion-depth/compare.txt
check "a quick run is kept apart from the full ones, and the line says so" \
	grep -q "left out, quick runs (RUNS=all shows them): alpha$" "$cmp2"
check "... it is on none of that lab's figures" bash -c "! grep -q '^  alpha' '$cmp2'"
check "... nor in its headline figures" bash -c "! grep -q '^  alpha' '$res/compare/02-recursion-depth/headlines.txt'"
heads=$res/compare/01-stack-vs-heap/headlines.txt
check "the headline figures: class median and range" \
	grep -q "^speed_ratio (x): median 5.375, range 3.25 .. 7.5, 2 machines$" "$heads"
check "... then each machine's value and cross-check" \
	bash -c "grep -qE '^  alpha +7.5$' '$heads' && grep -qE '^  $ref \(example\) +3.25 \[3.5\]$' '$heads'"
check "a figure one machine lacks: that machine only" grep -q "^only_on_alpha (ns): median 42, range 42 .. 42, 1 machine$" "$heads"
check "no outliers are named with 2 machines" bash -c "! grep -q 'outliers:' '$heads'"
check "verdicts across the class: each id with its counts" \
	bash -c "[ \$(grep -c 'holds [0-9]*, fails [0-9]*, inconclusive [0-9]*' '$res/compare/01-stack-vs-heap/verdicts.txt') -eq \$(tail -n +2 '$example/01-stack-vs-heap/verdicts.csv' | wc -l) ]"
check "... and the counts add up to the machines compared" \
	bash -c "awk -F'\t' 'NR > 1 && \$3 + \$4 + \$5 + \$6 != 2 { bad = 1 } END { exit bad }' '$res/compare/01-stack-vs-heap/verdicts.tsv'"
check "a class strip plot of the headline figures" bash -c "head -c 4 '$res/compare/01-stack-vs-heap/class.png' | grep -q PNG"
check "the plot scripts and their points are removed once plotted" test -z "$(find "$res/compare" -name '.points')"
RUNS=all RESULTS=$res classtools compare 2 >"$out" 2>&1
check "RUNS=all compares the quick run too, marked" grep -q "^  alpha \[quick run\] .* points" "$cmp2"
RUNS=sometimes RESULTS=$res classtools compare 2 >"$out" 2>&1
check "a bad RUNS: exit 2 with one line" test $? -eq 2 -a "$(wc -l <"$out")" -eq 1

RESULTS=$res classtools compare 8 >"$out" 2>&1
check "compare 8 compares lab 8 alone" bash -c "[ \$(grep -c '^== ' '$out') -eq 1 ] && grep -q '^== 08-' '$out'"
RESULTS=$res classtools compare 99 >"$out" 2>"$scratch/err"
check "compare of an unknown lab: exit 2" test $? -eq 2
mkdir -p "$scratch/empty"
RESULTS=$scratch/empty classtools compare >"$out" 2>"$scratch/err"
check "compare without results: exit 1 with one line" test $? -eq 1 -a "$(wc -l <"$scratch/err")" -eq 1

rm -rf "$res/compare"
PATH=$(path_without gnuplot) RESULTS=$res classtools compare 1 >"$out" 2>&1
check "without gnuplot compare still writes its text" test -s "$res/compare/01-stack-vs-heap/compare.txt"
check "without gnuplot compare says so in one line" grep -q "gnuplot is not installed" "$out"
check "without gnuplot no plot is attempted" test -z "$(ls "$res"/compare/*/figure-*.png 2>/dev/null)"

# The report.
RESULTS=$res classtools report >"$out" 2>&1
check "report exits 0" test $? -eq 0
page=$res/report/index.html
check "report writes index.html" test -s "$page"
check "the page loads nothing from elsewhere" \
	bash -c "! grep -qiE '(src|href)=\"(https?:|//|file:)' '$page'"
# Every link and image: a section of the page, or a file under results/ that exists.
bad_links=$(grep -oE '(href|src)="[^"#][^"]*"' "$page" | sed 's/^[a-z]*="//; s/"$//' | sort -u |
	while read -r link; do
		case "$link" in ../*) ;; *) echo "$link"; continue ;; esac
		[[ "$link" == *..*..* ]] && { echo "$link"; continue; }
		[ -f "$res/report/$link" ] || echo "$link"
	done)
check "the page links only its sections and files under results/ that exist" test -z "$bad_links"
check "... its images open full size: each thumbnail is a link to its image" \
	test "$(grep -c '<a href="\([^"]*\)"><img src="\1"' "$page")" -eq "$(grep -c '<img ' "$page")"
for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	check "the page has a section for $lab" grep -q "<section id=\"$lab\">" "$page"
done
check "the page has the machines table with both machines" \
	bash -c "grep -q 'alpha: Test CPU 9000' '$page' && grep -q '$ref (example): ' '$page'"
check "the page says what a machine could not measure" grep -q "Could not measure on this machine" "$page"
check "the page says where a plot is missing" grep -q "No plot (gnuplot was missing" "$page"
check "the page has the headline tables: a row per machine" \
	bash -c "grep -q '<tr><td>alpha</td><td>7.5</td><td>42</td></tr>' '$page' &&
		grep -q '<tr><td>$ref (example)</td><td>3.25 <span class=\"xc\">(3.5)</span></td><td>-</td></tr>' '$page'"
check "... with the class median and range" grep -q '<tr class="summary"><td>class median</td><td>5.375</td><td>42</td>' "$page"
check "the page has the verdict counts" grep -q '<th>verdict</th><th>claim</th><th>holds</th>' "$page"
check "the page says which runs were left out" grep -q 'left out, quick runs (RUNS=all shows them): alpha' "$page"
check "the page has the core-to-core maps: the example's hand-off by placement, and its plot" \
	bash -c "grep -q '<h2 id=\"core-to-core\">Core-to-core maps</h2>' '$page' &&
		grep -q '<th>same-package</th>' '$page' && grep -q 'alt=\"Lab 5 on ' '$page'"
check "the page has the manifests" grep -q "<summary>Manifest</summary>" "$page"
check "report leaves no temporary file" test -z "$(find "$res/report" -name '*.tmp*')"

check_page_in_browser "$page" "the page" "${KEEP_SCREENSHOT:-}"
exit 0
