#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one lab (already built) and plots it: the program prints the machine, counters, table and
# verdict; then the plots are drawn and the files listed.
# Usage: scripts/run-lab.sh LAB     (LAB: 1, 01, stack-vs-heap or 01-stack-vs-heap)
# Environment: QUICK=1 (short run), MACHINE=name (results/<name>/), BUILD (default build),
#              ARGS="..." (extra options for the lab program, e.g. ARGS="--max-size 1M")
set -euo pipefail
cd "$(dirname "$0")/.."

lab_dir=$(scripts/labs.sh resolve "${1:?usage: scripts/run-lab.sh LAB}")
name=$(basename "$lab_dir")
src=$(ls "$lab_dir"/*.c | head -n 1)
bin=${BUILD:-build}/labs/$name/$(basename "$src" .c)
if [ ! -x "$bin" ]; then
	echo "run-lab: $bin is not built: run 'make lab-${name%%-*}' (it builds first)" >&2
	exit 1
fi

args=()
[ "${QUICK:-}" = 1 ] && args+=(--quick)
# shellcheck disable=SC2206 # ARGS is a list of options, split on purpose
[ -n "${ARGS:-}" ] && args+=(${ARGS})

out=$("$bin" "${args[@]}" --print-out-dir)
"$bin" "${args[@]}" --out "$out"
scripts/plot.sh "$lab_dir" "$out"
echo "handout:  $lab_dir/README.md"
