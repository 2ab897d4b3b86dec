#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The handouts are true to the example run (scripts/handouts.py): the example comes from one clean
# revision, every quote region is what regenerating it from the example gives, every figure in the
# prose is one the example shows, and a handout is at most 1,500 words. One line per file.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

problems=$(python3 -c 'import sys; sys.path.insert(0, "scripts"); import handouts
print("\n".join(handouts.revision_problems()))')
check "results/examples/dev-vm comes from one clean revision" test -z "$problems"
for file in labs/*/README.md labs/*/expected.md COURSE.md; do
	problems=$(scripts/handouts.py --check "$file" | grep -v '^results/examples/')
	if [ -z "$problems" ]; then
		pass "$file: its quotes and figures are the example's, and its length within bounds"
	else
		fail "$file: differs from the example ($(printf '%s\n' "$problems" | wc -l) problems)" "$problems"
	fi
done
exit 0
