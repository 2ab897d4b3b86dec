# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Helpers for end-to-end tests: TAP-like result lines that tests/run.sh counts, and lab lookup.
# Sourced, not run.

BUILD=${BUILD:-build}
nr_tests=0

pass() { nr_tests=$((nr_tests + 1)); echo "ok $nr_tests - $1"; }
fail() {	# DESCRIPTION [DETAIL...]
	nr_tests=$((nr_tests + 1))
	echo "not ok $nr_tests - $1"
	shift
	local detail
	for detail in "$@"; do printf '%s\n' "$detail" | head -n 15 | sed 's/^/# /'; done
}
skip() { nr_tests=$((nr_tests + 1)); echo "ok $nr_tests # SKIP $1: $2"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc" "command: $*"; fi
}

# quiet COMMAND...: runs it with its output discarded (it must not mix with the result lines).
quiet() { "$@" >/dev/null 2>&1; }

# The program of a lab directory: labs/NN-name/prog.c -> $BUILD/labs/NN-name/prog
lab_binary() {
	local src
	src=$(ls "$1"/*.c | head -n 1)
	echo "$BUILD/labs/$(basename "$1")/$(basename "$src" .c)"
}

# Absolute path of the repository (tests run from it).
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# A scratch directory removed when the test script exits.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The value of column NAME in a CSV header line.
csv_col() { tr ',' '\n' <<<"$1" | grep -nx "$2" | cut -d: -f1; }
