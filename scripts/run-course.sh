#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every built lab in order, keeps going past a lab that fails, and ends with a summary.
# Usage: scripts/run-course.sh     (QUICK=1 and MACHINE=name as for run-lab.sh)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

mapfile -t labs < <(scripts/labs.sh built)
summary=()
failed=0
for i in "${!labs[@]}"; do
	name=$(basename "${labs[$i]}")
	echo
	echo "######## [$((i + 1))/${#labs[@]}] $name"
	start=$(date +%s)
	if scripts/run-lab.sh "$name"; then status=ok; else status=FAILED; failed=$((failed + 1)); fi
	summary+=("$(printf '%-24s %-7s %5ss' "$name" "$status" "$(($(date +%s) - start))")")
done
echo
echo "######## course summary"
printf '%-24s %-7s %6s\n' lab status time
printf '%s\n' "${summary[@]}"
[ "$failed" -eq 0 ]
