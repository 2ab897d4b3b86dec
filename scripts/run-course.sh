#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every built lab in order, keeps going past a lab that fails, and ends with a summary.
# Usage: scripts/run-course.sh     (QUICK=1 and MACHINE=name as for run-lab.sh; LABS="1 4 9" runs
#        those labs only, e.g. for a workshop with less time)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

mapfile -t labs < <(scripts/labs.sh built)
if [ -n "${LABS:-}" ]; then
	chosen=()
	for lab in $LABS; do
		dir=$(scripts/labs.sh resolve "$lab") || exit 2
		[[ " ${labs[*]} " == *" $dir "* ]] || { echo "course: $dir is not built: run 'make all'" >&2; exit 2; }
		chosen+=("$dir")
	done
	labs=("${chosen[@]}")
fi
summary=()
failed=0
args=()
[ "${QUICK:-}" = 1 ] && args+=(--quick)
for i in "${!labs[@]}"; do
	name=$(basename "${labs[$i]}")
	echo
	echo "######## [$((i + 1))/${#labs[@]}] $name"
	start=$(date +%s)
	if scripts/run-lab.sh "$name"; then status=ok; else status=FAILED; failed=$((failed + 1)); fi
	# The headline: the first figure of the lab's summary.csv.
	src=$(ls "${labs[$i]}"/*.c | head -n 1)
	out=$("${BUILD:-build}/labs/$name/$(basename "$src" .c)" "${args[@]}" --print-out-dir 2>/dev/null)
	headline=$(awk -F, 'NR == 2 { printf "%s = %.4g %s", $2, $3, $4 }' "$out/summary.csv" 2>/dev/null)
	summary+=("$(printf '%-22s %-7s %5ss  %s' "$name" "$status" "$(($(date +%s) - start))" "${headline:--}")")
done
echo
echo "######## course summary"
printf '%-22s %-7s %6s  %s\n' lab status time "headline figure"
printf '%s\n' "${summary[@]}"
echo
# The classic latency table from what the labs just measured (make numbers alone redoes only this).
"${PYTHON:-python3}" scripts/classtools numbers || true
[ "$failed" -eq 0 ]
