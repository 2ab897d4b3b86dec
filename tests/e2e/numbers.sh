#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make numbers: the classic latency table from results already there (the example's labs copied
# as a machine of their own), running no lab: every row measured or not_shown with why, lines
# that fit 100 columns, numbers.csv and numbers.png; a machine with no results is one line.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$scratch/results/learner"
cp -R results/examples/dev-vm/. "$scratch/results/learner/"
start=$(date +%s%N)
RESULTS=$scratch/results make -s numbers MACHINE=learner >"$scratch/out" 2>&1
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "make numbers exits 0 (status $status) in ${ms} ms, running no lab" \
	bash -c "[ $status -eq 0 ] && ! grep -q '^== Lab' '$scratch/out'"
check "its table has a line per classic row, each measured or not shown" \
	bash -c "grep -qE '^  L1 cache reference +[0-9.]+ ns .*(holds|fails|inconclusive)$' '$scratch/out' &&
		grep -qE '^  Branch mispredict +[0-9.]+ ns .*(holds|fails|inconclusive)$' '$scratch/out' &&
		grep -qE '^  Mutex lock/unlock +[0-9.]+ ns .*(holds|fails|inconclusive)$' '$scratch/out'"
check "every line fits 100 columns" awk 'length($0) > 100 { bad = 1 } END { exit bad }' "$scratch/out"
csv=$scratch/results/learner/numbers.csv
check "numbers.csv: a header and one row per classic or course row (11 lines)" \
	test "$(wc -l <"$csv")" -eq 11
check "numbers.csv: every status is one the course knows, and every not_shown row says why" \
	python3 - "$csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ok = all(r["status"] in ("holds", "fails", "inconclusive", "shown", "not_shown") for r in rows)
ok = ok and all(r["why"] for r in rows if r["status"] == "not_shown")
sys.exit(0 if ok else 1)
PY
if command -v gnuplot >/dev/null 2>&1; then
	check "numbers.png is a PNG" bash -c "head -c 8 '$scratch/results/learner/numbers.png' | grep -q PNG"
else
	skip "numbers.png" "gnuplot is not installed ('make deps' installs it)"
fi
RESULTS=$scratch/results classtools numbers nobody >"$scratch/none" 2>&1
status=$?
check "a machine with no results: exit 1 with one line (status $status, $(wc -l <"$scratch/none") lines)" \
	bash -c "[ $status -eq 1 ] && [ \$(grep -c . '$scratch/none') -eq 1 ] && grep -q 'make course' '$scratch/none'"
exit 0
