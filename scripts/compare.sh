#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets machines side by side: for each lab, one plot per figure in the lab's compare.txt with one
# line per machine found in results/ (the learner's runs, imported bundles and results/examples/),
# a text line per machine per figure, and the headline figures as a table across machines.
# Usage: scripts/compare.sh [LAB]      writes results/compare/<NN-lab>/figure-K.png and compare.txt
#        scripts/compare.sh --machines  lists the machines found: DIR<TAB>LABEL per line
# RESULTS=dir reads and writes another results directory (the tests use one of their own).
#
# A lab's compare.txt has one figure per line, fields separated by '|':
#   title | x column | y column | rows (column=value ...) | axes (logx, logy)
# A numeric x column is plotted as is; a non-numeric one (or columns joined with '+', as in
# kind+channel) is a category axis, in the order the categories first appear.
set -euo pipefail
cd "$(dirname "$0")/.."

results=${RESULTS:-results}
out_root=$results/compare

# Machines: every directory under results/ (and results/examples/) with at least one lab result.
# One "DIR<TAB>LABEL" line each; the label is the machine id and a short CPU description.
machines() {
	local dir id manifest cpu pus vm kind
	for dir in "$results"/*/ "$results"/examples/*/; do
		dir=${dir%/}
		id=$(basename "$dir")
		case "$id" in examples | compare | report | '*') continue ;; esac
		manifest=$(ls "$dir"/*/manifest.txt 2>/dev/null | head -n 1) || true
		[ -n "$manifest" ] || continue
		cpu=$(sed -n 's/^cpu_model: //p' "$manifest" | head -n 1)
		pus=$(sed -n 's/^nr_pus: //p' "$manifest" | head -n 1)
		vm=$(sed -n 's/^virtual_machine: //p' "$manifest" | head -n 1)
		kind=""
		[[ "$dir" == "$results"/examples/* ]] && kind=", example"
		label="$id$kind (${cpu:-unknown CPU}, ${pus:-?} PUs$([ "$vm" = yes ] && echo ", VM"))"
		printf '%s\t%s\n' "$dir" "$label"
	done
}

# The points of one figure in one data.csv, as "x<TAB>y" lines; or one line "#why" when none.
# Categories are written as text; the caller numbers them.
extract() {	# DATA XSPEC YCOL ROWS
	awk -F, -v xspec="$2" -v ycol="$3" -v rows="$4" '
	NR == 1 {
		for (i = 1; i <= NF; i++) col[$i] = i
		nx = split(xspec, xs, "+")
		for (i = 1; i <= nx; i++) if (!(xs[i] in col)) { print "#its data.csv has no column " xs[i]; bad = 1; exit }
		if (!(ycol in col)) { print "#its data.csv has no column " ycol " (an older version of the lab?)"; bad = 1; exit }
		nf = split(rows, filt, " ")
		for (i = 1; i <= nf; i++) {
			split(filt[i], kv, "=")
			if (!(kv[1] in col)) { print "#its data.csv has no column " kv[1]; bad = 1; exit }
			fcol[i] = col[kv[1]]; fval[i] = kv[2]
		}
		next
	}
	{
		for (i = 1; i <= nf; i++) if ($(fcol[i]) != fval[i]) next
		matched++
		if ($(col[ycol]) == "") next
		x = $(col[xs[1]])
		for (i = 2; i <= nx; i++) x = x "/" $(col[xs[i]])
		print x "\t" $(col[ycol]); n++
	}
	END {
		if (bad) exit
		if (!matched) print "#no rows with " rows " (a different sweep, or the experiment was skipped there)"
		else if (!n) print "#" ycol " is empty there: not measured on that machine (its manifest says why)"
	}' "$1"
}

# " [quick run]" when that lab's run on that machine was --quick (fewer points, 1 ms samples: for
# tests, not conclusions), so that a quick figure is never read beside a full one unmarked.
quick_mark() {	# LAB_RESULT_DIR
	grep -q '^quick: yes' "$1/manifest.txt" 2>/dev/null && echo " [quick run]" || true
}

# A gnuplot single-quoted string.
quote() { printf "'%s'" "${1//\'/\'\'}"; }

# A number with 3 significant digits, for the text lines.
short() { awk -v v="$1" 'BEGIN { printf "%.3g", v }'; }

compare_lab() {	# LAB_DIR
	local lab_dir=$1 lab spec out n title xspec ycol rows axes
	lab=$(basename "$lab_dir")
	spec=$lab_dir/compare.txt
	[ -f "$spec" ] || { echo "$lab: no compare.txt: nothing to compare"; return 0; }
	out=$out_root/$lab
	rm -rf "$out"
	mkdir -p "$out"
	n=0
	echo "== $lab"
	while IFS='|' read -r title xspec ycol rows axes; do
		title=$(echo "$title" | sed 's/^ *//; s/ *$//')
		[ -z "$title" ] || [[ "$title" == \#* ]] && continue
		xspec=${xspec// /}
		ycol=${ycol// /}
		rows=$(echo "$rows" | sed 's/^ *//; s/ *$//')
		n=$((n + 1))
		compare_figure "$lab" "$out" "$n" "$title" "$xspec" "$ycol" "$rows" "$axes"
	done <"$spec"
	headline_table "$lab" >"$out/headlines.txt"
	cat "$out/headlines.txt"
}

compare_figure() {	# LAB OUT N TITLE XSPEC YCOL ROWS AXES
	local lab=$1 out=$2 n=$3 title=$4 xspec=$5 ycol=$6 rows=$7 axes=$8
	local dir label data points plots="" k=0 categorical=0 cats="" first f
	echo "figure $n: $title ($ycol by ${xspec//+/\/})" | tee -a "$out/compare.txt"
	while IFS=$'\t' read -r dir label; do
		data=$dir/$lab/data.csv
		[ -f "$data" ] || continue
		label="$label$(quick_mark "$dir/$lab")"
		k=$((k + 1))
		points=$out/figure-$n.m$k.tsv
		extract "$data" "$xspec" "$ycol" "$rows" >"$points"
		first=$(head -n 1 "$points")
		if [ -z "$first" ] || [[ "$first" == \#* ]]; then
			printf '  %-48s not on this plot: %s\n' "$label" "${first#\#}" | tee -a "$out/compare.txt"
			rm -f "$points"
			continue
		fi
		awk -F'\t' '$1 !~ /^-?[0-9.eE+-]+$/ { exit 1 }' "$points" || categorical=1
		cats="$cats $(cut -f1 "$points" | tr '\n' ' ')"
		printf '  %-48s %3d points, %s %s .. %s\n' "$label" "$(wc -l <"$points")" "$ycol" \
			"$(short "$(cut -f2 "$points" | sort -g | head -n 1)")" \
			"$(short "$(cut -f2 "$points" | sort -g | tail -n 1)")" | tee -a "$out/compare.txt"
		plots="$plots$k	$label
"
	done < <(machines)
	if [ -z "$plots" ]; then
		echo "  (no machine has this figure's data)" | tee -a "$out/compare.txt"
		return 0
	fi
	command -v gnuplot >/dev/null 2>&1 || return 0

	# Categories become 0, 1, 2 ... in the order they first appear on any machine.
	local xtics="" i=0 c
	if [ "$categorical" = 1 ]; then
		declare -A index=()
		for c in $cats; do
			[ -n "${index[$c]+set}" ] && continue
			index[$c]=$i
			xtics="$xtics$(quote "$c") $i,"
			i=$((i + 1))
		done
		for f in "$out"/figure-"$n".m*.tsv; do
			awk -F'\t' -v map="$(for c in "${!index[@]}"; do printf '%s=%s ' "$c" "${index[$c]}"; done)" '
				BEGIN { n = split(map, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); at[kv[1]] = kv[2] } }
				{ print at[$1] "\t" $2 "\t" $1 }' "$f" >"$f.num"
			mv -f "$f.num" "$f"
		done
	else
		for f in "$out"/figure-"$n".m*.tsv; do sort -g -o "$f" "$f"; done
	fi

	local plot_cmd=""
	while IFS=$'\t' read -r k label; do
		[ -n "$k" ] || continue
		plot_cmd="$plot_cmd$(quote "$out/figure-$n.m$k.tsv") using 1:2 with linespoints lw 2 pt 7 title $(quote "$label"), "
	done <<<"$plots"
	plot_cmd=${plot_cmd%, }
	{
		echo "set terminal pngcairo size 1000,650 noenhanced font ',10'"
		echo "set output $(quote "$out/figure-$n.png")"
		echo "set datafile separator tab"
		echo "set title $(quote "$lab: $title")"
		echo "set xlabel $(quote "${xspec//+/ \/ }")"
		# Sizes in bytes read better as 4 KiB, 1 MiB than as 4096, 1.04858e+06.
		[[ "$xspec" == *_bytes ]] && [ "$categorical" = 0 ] && echo "set format x '%.0b %BB'"
		echo "set ylabel $(quote "$ycol")"
		echo "set grid"
		echo "set key below vertical"
		[[ "$axes" == *logx* ]] && [ "$categorical" = 0 ] && echo "set logscale x 2"
		[[ "$axes" == *logy* ]] && echo "set logscale y 10"
		if [ "$categorical" = 1 ]; then
			echo "set xtics (${xtics%,}) rotate by -30"
			echo "set xrange [-0.5:$((i - 1)).5]"
		fi
		echo "plot $plot_cmd"
	} >"$out/figure-$n.gp"
	if ! gnuplot -e "set terminal pngcairo" </dev/null >/dev/null 2>&1; then
		sed -i 's/^set terminal pngcairo \(.*\) font.*/set terminal png \1/' "$out/figure-$n.gp"
	fi
	gnuplot "$out/figure-$n.gp" 2>"$out/figure-$n.log" ||
		echo "  gnuplot failed on figure $n: $(head -n 1 "$out/figure-$n.log")"
	[ -s "$out/figure-$n.log" ] || rm -f "$out/figure-$n.log"
}

# The lab's headline figures (summary.csv) as one table: a row per figure, a column per machine.
headline_table() {	# LAB
	local lab=$1 dir label files=() labels=()
	while IFS=$'\t' read -r dir label; do
		[ -f "$dir/$lab/summary.csv" ] || continue
		files+=("$dir/$lab/summary.csv")
		labels+=("$label$(quick_mark "$dir/$lab")")
	done < <(machines)
	[ ${#files[@]} -gt 0 ] || { echo "headline figures: no machine has a summary.csv for $lab"; return 0; }
	echo "headline figures (value, cross-check in brackets where there is one):"
	awk -F, -v labels="$(printf '%s\n' "${labels[@]}")" '
		BEGIN { nl = split(labels, label, "\n") }
		FNR == 1 { m++; next }
		{
			key = $2 " (" $4 ")"
			if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
			v = $3; if ($5 != "") v = v " [" $5 "]"
			val[key, m] = v
		}
		END {
			for (j = 1; j <= m; j++) printf "  machine %d: %s\n", j, label[j]
			printf "  %-44s", "figure (unit)"
			for (j = 1; j <= m; j++) printf " %22s", "machine " j
			printf "\n"
			for (i = 1; i <= nk; i++) {
				printf "  %-44s", order[i]
				for (j = 1; j <= m; j++) printf " %22s", ((order[i], j) in val) ? val[order[i], j] : "-"
				printf "\n"
			}
		}' "${files[@]}"
}

if [ "${1:-}" = --machines ]; then
	machines
	exit 0
fi
lab_filter=
if [ -n "${1:-}" ]; then
	lab_filter=$(scripts/labs.sh resolve "$1") || exit 2
	lab_filter=$(basename "$lab_filter")
fi
if [ -z "$(machines)" ]; then
	echo "compare: no results yet: run 'make course' (or make lab-N), or 'make import BUNDLE=...'" >&2
	exit 1
fi
echo "compare: machines found:"
machines | cut -f2 | sed 's/^/  /'
for lab_dir in $(scripts/labs.sh built); do
	[ -z "$lab_filter" ] || [ "$(basename "$lab_dir")" = "$lab_filter" ] || continue
	compare_lab "$lab_dir"
done
command -v gnuplot >/dev/null 2>&1 ||
	echo "compare: gnuplot is not installed ('make deps' installs it): text only, no plots"
echo "compare: plots and tables in $out_root/"
