#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every unit test binary and every end-to-end script, shows what failed or was skipped (and
# why), and ends with one line: "N passed, N failed, N skipped".
# Usage: tests/run.sh      (BUILD=dir picks the build, default build; make test builds build/test)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export BUILD=${BUILD:-build}

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Reads TAP-like lines on stdin ("ok", "not ok", "... # SKIP") and tallies them. cmocka 1.1.5
# prints skips as "not ok N # SKIP", so SKIP is looked for first.
tally() {
	local suite=$1 line pending=""
	while IFS= read -r line; do
		case "$line" in
		*"# SKIP"*)
			skipped=$((skipped + 1))
			echo "  skip  $suite: ${line#*# SKIP }${pending:+ ($pending)}" ;;
		"not ok"*)
			failed=$((failed + 1))
			echo "  FAIL  $suite: ${line#not ok }" ;;
		"ok"*)
			passed=$((passed + 1)) ;;
		"# skip: "*)
			pending=${line#\# skip: }
			continue ;;
		"# "*)
			# cmocka's group summaries ("# ok - file.c") repeat what was counted.
			[[ "$line" == "# ok - "* || "$line" == "# not ok - "* ]] ||
				echo "        ${line#\# }" ;;
		esac
		pending=""
	done
}

echo "unit tests (common/):"
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" 2>"$log" > "$log.out"
	status=$?
	tally "$name" < "$log.out"
	if [ $status -ne 0 ] && ! grep -q '^not ok' "$log.out"; then
		failed=$((failed + 1))
		echo "  FAIL  $name: exited with status $status"
		sed 's/^/        /' "$log" | tail -n 20
	fi
	rm -f "$log.out"
done

echo "end-to-end tests (labs/):"
for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	timeout 900 bash "$t" > "$log.out" 2>&1
	status=$?
	tally "$(basename "$t" .sh)" < "$log.out"
	if [ $status -ne 0 ] && ! grep -q '^not ok' "$log.out"; then
		failed=$((failed + 1))
		echo "  FAIL  $(basename "$t"): exited with status $status"
		tail -n 20 "$log.out" | sed 's/^/        /'
	fi
	rm -f "$log.out"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
