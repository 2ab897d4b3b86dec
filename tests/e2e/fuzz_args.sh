#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input, fuzzed: every lab's options (read from its --help, so a new lab is covered by itself)
# with random malformed values, in random order and company. Every command line must be refused
# with exit status 2 and one line on stderr, within seconds: never a crash, a hang or a run.
# FUZZ_SEED=n replays a run; FUZZ_CASES=n sets the cases per lab (default 40, a bounded CI run).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

seed=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
cases=${FUZZ_CASES:-40}
echo "# fuzz seed $seed, $cases cases per lab (FUZZ_SEED=$seed replays them)"
RANDOM=$seed

long=$(printf '9%.0s' $(seq 1 300))
# Values no option accepts: not numbers, out of range, trailing junk, format strings, huge,
# not UTF-8, empty. (0 and negative numbers are left out: 0 is valid for some options.)
# shellcheck disable=SC2034 # used through pick's name reference
bad_values=("" "abc" "1x" "12 34" " 7" "7 " "+-3" "0x1G" "1e999" "nan" "inf" "18446744073709551616"
	"99999999999999999999999" "$long" "%s%s%n" "1K1" "1.5.5" "--" "-" "4KiB!" "10QB" $'\xff\xfe'
	"1,5" "1_000" "$(printf 'a%.0s' $(seq 1 5000))")

pick() { local -n arr=$1; printf '%s' "${arr[RANDOM % ${#arr[@]}]}"; }

for lab in $(scripts/labs.sh built); do
	name=$(basename "$lab")
	bin=$(lab_binary "$lab")
	# The options that take a value: "--name VALUE" lines of --help, except --out (any path is a
	# path: it is tested on its own below).
	mapfile -t valued < <("$bin" --help | sed -n 's/^  \(--[a-z-]*\) [A-Z][A-Z]*.*/\1/p' | grep -vx -- --out)
	mapfile -t flags < <("$bin" --help | sed -n 's/^  \(--[a-z-]*\)  .*/\1/p' |
		grep -vx -- '--help\|--version\|--print-out-dir\|--counters\|--machine')
	if [ ${#valued[@]} -eq 0 ]; then
		fail "$name: --help lists options that take a value"
		continue
	fi
	refused=0 bad=()
	for ((i = 0; i < cases; i++)); do
		args=()
		# Up to two good companions (flags), then the malformed option, in random order.
		for ((k = RANDOM % 3; k > 0; k--)); do
			[ ${#flags[@]} -gt 0 ] && args+=("$(pick flags)")
		done
		opt=$(pick valued)
		val=$(pick bad_values)
		if ((RANDOM % 4 == 0)); then
			args=("$opt" "$val" "${args[@]}")
		else
			args+=("$opt" "$val")
		fi
		# Sometimes a stray word or a missing value at the end.
		case $((RANDOM % 6)) in
		0) args+=("stray") ;;
		1) args+=("$(pick valued)") ;;
		esac
		timeout 10 "$bin" "${args[@]}" --out "$scratch/fuzz" >/dev/null 2>"$scratch/err"
		st=$?
		if [ "$st" -eq 2 ] && [ "$(wc -l <"$scratch/err")" -eq 1 ]; then
			refused=$((refused + 1))
		else
			bad+=("status $st, $(wc -l <"$scratch/err") lines: $(printf '%q ' "${args[@]}" | cut -c1-160)")
		fi
	done
	if [ ${#bad[@]} -eq 0 ]; then
		pass "$name: $cases fuzzed command lines refused with exit 2 and one line"
	else
		fail "$name: $refused of $cases fuzzed command lines refused properly" "${bad[@]}"
	fi
	check "$name: the fuzzing left nothing behind" test ! -e "$scratch/fuzz"

	# --out: too long, through a file, empty.
	for out in "$scratch/$(printf 'd%.0s' $(seq 1 5000))" /dev/null/x ""; do
		timeout 10 "$bin" --quick --out "$out" >/dev/null 2>"$scratch/err"
		st=$?
		check "$name: --out '${out:0:40}' -> exit 2 with one line (got $st)" \
			test "$st" -eq 2 -a "$(wc -l <"$scratch/err")" -eq 1
	done
done
exit 0
