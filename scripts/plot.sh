#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Draws a lab's figures from its data.csv with the lab's plot.gp: plot.png (pngcairo, or png when
# cairo is missing), plot.svg, and a text plot on stdout (dumb terminal).
# Usage: scripts/plot.sh LAB_DIR RESULT_DIR     e.g. labs/01-stack-vs-heap results/host/01-stack-vs-heap
set -euo pipefail

lab_dir=${1:?usage: scripts/plot.sh LAB_DIR RESULT_DIR}
out=${2:?usage: scripts/plot.sh LAB_DIR RESULT_DIR}
script=$lab_dir/plot.gp
data=$out/data.csv

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "plots:    skipped: gnuplot is not installed ('make deps' installs it); data.csv is written"
	exit 0
fi
[ -f "$script" ] || { echo "plot.sh: $script is missing" >&2; exit 1; }
[ -f "$data" ] || { echo "plot.sh: $data is missing (did the lab run?)" >&2; exit 1; }

# The title names the machine: its CPU line from the manifest and its results id.
machine=$(sed -n 's/^cpu: \([^|]*\).*/\1/p' "$out/manifest.txt" 2>/dev/null | head -n 1)
machine="${machine% } ($(basename "$(dirname "$out")"))"
quote() { printf "'%s'" "${1//\'/\'\'}"; }	# a gnuplot single-quoted string
# The course's line styles (colour-blind-safe colours, distinct points and dashes), for every lab.
style=$(cd "$(dirname "$0")" && pwd)/style.gp

# Work under temporary names and rename at the end: an interrupted plot leaves nothing half-written.
tmp_png=$out/.plot.png.tmp.$$
tmp_svg=$out/.plot.svg.tmp.$$
trap 'rm -f "$tmp_png" "$tmp_svg"' EXIT

png_term="pngcairo size 1400,1000 noenhanced font ',10'"
if ! gnuplot -e "set terminal pngcairo" </dev/null >/dev/null 2>&1; then
	png_term="png size 1400,1000 noenhanced"
	echo "plots:    pngcairo is not available; using the png terminal (less smooth)"
fi

run_gnuplot() {	# TERMINAL OUTPUT DUMB; an empty OUTPUT is stdout
	local output="set output"
	# Not "set output '/dev/stdout'": reopening stdout truncates a log file it is redirected to.
	[ -n "$2" ] && output="set output $(quote "$2")"
	gnuplot -e "set terminal $1; $output; load $(quote "$style"); datafile=$(quote "$data"); \
		machine=$(quote "$machine"); dumb=$3" "$script"
}

run_gnuplot "$png_term" "$tmp_png" 0
run_gnuplot "svg size 1400,1000 noenhanced dynamic" "$tmp_svg" 0
mv -f "$tmp_png" "$out/plot.png"
mv -f "$tmp_svg" "$out/plot.svg"
# The text plot fits the terminal, as the lab's lines do (common/term.h): COLUMNS, else the
# terminal's width when stdout is one, else 80; below 60 columns it is not drawn.
cols=${COLUMNS:-}
[[ "$cols" =~ ^[0-9]+$ ]] || cols=""
[ -n "$cols" ] || { [ -t 1 ] && cols=$(tput cols 2>/dev/null); } || true
[[ "${cols:-}" =~ ^[0-9]+$ ]] || cols=80
if [ "$cols" -lt 60 ]; then
	echo "plots:    no text plot: the terminal is $cols columns wide, it needs 60 (plot.png has them all)"
else
	width=$((cols > 120 ? 120 : cols - 1))
	run_gnuplot "dumb size $width,$((width >= 100 ? 32 : 26))" "" 1
fi
# One line when it fits, else one file per line (a results path can be long).
line="plots:    $out/plot.png, $out/plot.svg"
if [ "${#line}" -le "$cols" ]; then
	echo "$line"
else
	printf 'plots:    %s,\n          %s\n' "$out/plot.png" "$out/plot.svg"
fi
