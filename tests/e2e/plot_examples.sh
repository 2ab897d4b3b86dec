#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every lab's plot drawn from its curated example (results/examples/), as make lab-N draws it: the
# PNG, the SVG and the terminal plot, with the course's styles (scripts/style.gp). Fails on any
# gnuplot warning or error, so that a plot.gp change that no longer fits the data it is meant for
# shows here, not on a learner's machine.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

if ! command -v gnuplot >/dev/null 2>&1; then
	skip "plots of the curated examples" "gnuplot is not installed ('make deps' installs it)"
	exit 0
fi
example=$(example_machine "plots of the curated examples") || exit 0
for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	if [ ! -f "$example/$lab/data.csv" ]; then
		skip "$lab's plot from its example" "$example has no run of it"
		continue
	fi
	out=$scratch/$(basename "$example")/$lab
	mkdir -p "$out"
	cp "$example/$lab/data.csv" "$example/$lab/manifest.txt" "$out/"
	scripts/plot.sh "$lab_dir" "$out" >"$out.log" 2>&1
	check "$lab: plot.sh draws its example (status $?)" \
		bash -c "head -c 4 '$out/plot.png' | grep -q PNG && grep -q '<svg' '$out/plot.svg'"
	check "$lab: gnuplot says nothing (no warning, no error)" \
		bash -c "! grep -qiE 'warning|plot[.]gp.? line [0-9]+:|undefined|error' '$out.log'"
	grep -iE 'warning|line [0-9]+:' "$out.log" | head -n 3 | sed 's/^/# /'
done
exit 0
