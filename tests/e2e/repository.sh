#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The repository itself: every path it tracks, and every file a run left in its working tree, is
# printable ASCII (two empty files named with control bytes were committed once: a stray redirect
# into a variable that held binary data).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/lib.sh

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	skip "tracked paths" "not a git checkout (or no git)"
	exit 0
fi
# The names with a byte outside printable ASCII, shown with cat -v (^A, M-^@).
unprintable() { LC_ALL=C grep -zv '^[ -~]*$' | tr '\0' '\n' | cat -v | head -n 5 | tr '\n' ' '; }
bad=$(git ls-files -z | unprintable)
check "every tracked path is printable ASCII${bad:+ (found: $bad)}" test -z "$bad"
bad=$(git ls-files -z --others --exclude-standard | unprintable)
check "no untracked file with an unprintable name in the working tree${bad:+ (found: $bad)}" test -z "$bad"
exit 0
