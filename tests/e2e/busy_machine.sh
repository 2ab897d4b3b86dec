#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A lab on a busy machine: one CPU hog per CPU beside a quick run of Lab 1 and Lab 5. The hogs are
# bounded in time (timeout) and reaped at the end. What is checked is what must hold however
# noisy the machine: the run exits 0, says the machine is busy, every verdict has a valid status,
# and verdicts.csv parses. Which status each verdict gets is not checked: under load
# "inconclusive" is an honest answer.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

hogs=()
stop_hogs() {
	local pid
	for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${hogs[@]}"; do wait "$pid" 2>/dev/null; done
	hogs=()
}
trap 'stop_hogs; rm -rf "$scratch"' EXIT

nr_cpus=$(nproc)
for ((i = 0; i < nr_cpus; i++)); do
	timeout 60 sh -c 'while :; do :; done' &
	hogs+=($!)
done
sleep 0.5	# let the hogs show in /proc/stat

for lab in labs/01-stack-vs-heap labs/05-false-sharing; do
	name=$(basename "$lab")
	bin=$(lab_binary "$lab")
	out=$scratch/$name
	"$bin" --quick --out "$out" >"$scratch/$name.stdout" 2>"$scratch/$name.stderr"
	check "$name beside $nr_cpus CPU hogs: exits 0" test $? -eq 0
	check "$name beside CPU hogs: says the machine is busy" \
		grep -q '^busy: ' "$scratch/$name.stdout"
	check "$name beside CPU hogs: the manifest records it" \
		grep -q '^busy_during_run: .*(noisy)' "$out/manifest.txt"
	check_verdicts_csv "$name" "$out" "$scratch/$name.stdout"
done
stop_hogs
check "the hogs are gone" test -z "$(jobs -pr)"
