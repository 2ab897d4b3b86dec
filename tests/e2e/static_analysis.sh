#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis with the checked-in configurations, zero findings: clang-tidy (.clang-tidy) and
# cppcheck (cppcheck.cfg) on every C file, shellcheck on every shell script, pyflakes on the Python
# scripts, their tests and the benchmarks. New labs, scripts and tests are picked up by the globs.
# A tool that is not installed is skipped ('make deps test' installs them where the distribution
# has them).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

mapfile -t c_files < <(ls common/*.c labs/*/*.c tests/unit/*.c tests/tools/*.c)
# The generated header the sources include (make writes it; the tests run after make).
gen=$BUILD/gen
includes=(-I common -I "$gen")
# shellcheck disable=SC2207 # pkg-config prints flags separated by blanks
includes+=($(pkg-config --cflags papi hwloc cmocka 2>/dev/null))

if command -v clang-tidy >/dev/null 2>&1; then
	# One file per process, as many at once as there are CPUs; --quiet prints findings only.
	printf '%s\n' "${c_files[@]}" | xargs -P "$(nproc)" -I{} \
		clang-tidy --quiet {} -- -std=c17 -D_GNU_SOURCE "${includes[@]}" >"$scratch/tidy" 2>/dev/null
	findings=$(grep -cE '(warning|error): .*\[[a-z]' "$scratch/tidy")
	check "clang-tidy: no findings in ${#c_files[@]} files (got $findings)" test "$findings" -eq 0
	[ "$findings" -eq 0 ] || grep -E '(warning|error): ' "$scratch/tidy" | head -n 10 | sed 's/^/# /'
else
	skip "clang-tidy" "not installed ('make deps test' installs it)"
fi

if command -v cppcheck >/dev/null 2>&1; then
	cppcheck -q --enable=warning,performance,portability --std=c11 --inline-suppr -D_GNU_SOURCE \
		--library=cppcheck.cfg "${includes[@]}" --suppress=missingIncludeSystem \
		--error-exitcode=1 "${c_files[@]}" >"$scratch/cppcheck" 2>&1
	check "cppcheck: no findings" test $? -eq 0
	grep -E '^(common|labs|tests)/' "$scratch/cppcheck" | head -n 10 | sed 's/^/# /'
else
	skip "cppcheck" "not installed ('make deps test' installs it)"
fi

if command -v shellcheck >/dev/null 2>&1; then
	mapfile -t scripts < <(ls scripts/*.sh scripts/*/*.sh tests/*.sh tests/e2e/*.sh tests/tools/*.sh .ci/run)
	shellcheck -x -S warning "${scripts[@]}" >"$scratch/shellcheck" 2>&1
	check "shellcheck: no warnings in ${#scripts[@]} scripts" test $? -eq 0
	head -n 20 "$scratch/shellcheck" | sed 's/^/# /'
else
	skip "shellcheck" "not installed ('make deps test' installs it)"
fi
if command -v pyflakes3 >/dev/null 2>&1; then
	pyflakes3 scripts/*.py scripts/classtools tests/python tests/bench >"$scratch/pyflakes" 2>&1
	check "pyflakes: no findings in the Python scripts (class tools, handouts) and their tests" test $? -eq 0
	head -n 20 "$scratch/pyflakes" | sed 's/^/# /'
else
	skip "pyflakes" "not installed ('make deps test' installs it)"
fi
exit 0
