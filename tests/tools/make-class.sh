#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Makes a class's worth of bundles from one machine's real results, for testing make import,
# compare and report at scale: machines pc01 .. pcN, each the real run with its plotted figures
# (the y columns of the labs' compare.txt) and headline figures scaled by a factor of its own
# (0.7-1.5), its own CPU name, and some verdicts turned inconclusive. Made up on purpose: pc13 is 8x
# the others (an outlier), pc02's Lab 1 was a quick run, and the last bundle comes from a second
# machine also called pc07. These are not measurements; nothing but tests uses them.
# Usage: tests/tools/make-class.sh SOURCE_MACHINE_DIR OUT_DIR N     (N >= 13)
set -euo pipefail
cd "$(dirname "$0")/../.."

src=${1:?usage: make-class.sh SOURCE_MACHINE_DIR OUT_DIR N}
out=${2:?usage: make-class.sh SOURCE_MACHINE_DIR OUT_DIR N}
n=${3:?usage: make-class.sh SOURCE_MACHINE_DIR OUT_DIR N}
[ "$n" -ge 13 ] || { echo "make-class: N must be 13 or more (pc13 is the outlier)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The columns make compare plots, from every lab's compare.txt.
ycols=$(sed -n 's/^[^#][^|]*|[^|]*| *\([a-z_0-9]*\) *|.*/\1/p' labs/*/compare.txt | sort -u | tr '\n' ' ')

for i in $(seq 1 "$n"); do
	name=$(printf 'pc%02d' "$i")
	[ "$i" -lt "$n" ] || name=pc07	# the last: a second machine with the same name as pc07
	factor=$(awk -v i="$i" 'BEGIN { printf "%.3f", i == 13 ? 8 : 0.7 + 0.8 * ((i * 37) % 100) / 100 }')
	dir=$work/$i/$name
	mkdir -p "$work/$i"
	cp -r "$src" "$dir"
	sed -i "s/^cpu_model: .*/cpu_model: Class CPU model $((i % 4 + 1))/; s/^machine_id: .*/machine_id: $name/" \
		"$dir"/*/manifest.txt
	[ "$i" -ne 2 ] || sed -i 's/^quick: .*/quick: yes/' "$dir"/01-*/manifest.txt
	awk -F, -v OFS=, -v f="$factor" -v ycols="$ycols" -v i="$i" '
		FNR == 1 {
			delete scale; delete col
			for (c = 1; c <= NF; c++) col[$c] = c
			base = FILENAME; sub(/.*\//, "", base)
			if (base == "data.csv") { nw = split(ycols, w, " "); for (c = 1; c <= nw; c++) if (w[c] in col) scale[col[w[c]]] = 1 }
			if (base == "summary.csv") { scale[3] = 1; scale[5] = 1 }
			print > (FILENAME ".new"); next
		}
		{
			for (c in scale) if ($c ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) $c = $c * f
			if (base == "verdicts.csv" && (i + FNR) % 3 == 0) $4 = "inconclusive"
			print > (FILENAME ".new")
		}' "$dir"/*/data.csv "$dir"/*/summary.csv "$dir"/*/verdicts.csv
	for f in "$dir"/*/*.csv.new; do mv -f "$f" "${f%.new}"; done
	bundle=$out/$name.tar.gz
	[ "$i" -lt "$n" ] || bundle=$out/pc07-from-another-machine.tar.gz
	tar -C "$work/$i" --owner=0 --group=0 --numeric-owner -czf "$bundle" "$name"
done
echo "make-class: $n bundles in $out"
