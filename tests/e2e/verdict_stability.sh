#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Verdicts that hold from run to run: Labs 1, 5, 8 and 10, quick, twice each quiet, twice beside a
# busy loop on every CPU and twice beside one on one CPU. No verdict id may say holds in one run
# and fails in another: a busy machine may make a verdict inconclusive (its rounds are disturbed,
# redone, then left out), never turn it over. The runs and the tally are tests/bench/calibrate.py's,
# whose fuller runs are the calibration benchmark.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

command -v taskset >/dev/null 2>&1 || { skip "verdict stability" "taskset is missing (util-linux)"; exit 0; }
tsv=$scratch/stability.tsv
for hog in none all one; do
	python3 tests/bench/calibrate.py 1 5 8 10 --runs 2 --quick --hog "$hog" --tsv "$tsv" \
		>"$scratch/$hog.out" 2>&1
done
for lab in 01-stack-vs-heap 05-false-sharing 08-context-switch 10-memory-hierarchy; do
	runs=$(awk -F'\t' -v l="$lab" '$1 == l { n += $5 } END { print n + 0 }' "$tsv")
	check "$lab: 6 quick runs (quiet, a busy loop on every CPU, on one) wrote verdicts ($runs verdict rows)" \
		test "$runs" -gt 0
	flips=$(awk -F'\t' -v l="$lab" '$1 == l { h[$4] += $6; f[$4] += $7 }
		END { for (id in h) if (h[id] && f[id]) printf "%s ", id }' "$tsv")
	check "$lab: no verdict says holds in one run and fails in another${flips:+ (flipped: $flips)}" \
		test -z "$flips"
	[ -z "$flips" ] || grep -h "$lab" "$scratch"/*.out | sed 's/^/# /' | head -n 20
done
exit 0
