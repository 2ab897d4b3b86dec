#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The course on arm64, as far as this x86-64 machine can tell: cross-compiled for aarch64 (Debian's
# gcc-aarch64-linux-gnu and the arm64 PAPI and hwloc through multiarch) with warnings as errors,
# and every lab run QUICK under qemu-aarch64 (qemu-user). Each must exit 0, write its files, and say
# that it ran under emulation; what arm64 changes that qemu-user shows (glibc's 128 KiB minimum
# thread stack, the frame record stored at the bottom of a frame) is checked; timings are the
# emulator's and are not judged. Skipped, with the reason, where the cross tools are not installed
# ('make deps test' installs them on amd64 Debian).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

need_arm64 "the labs on arm64 under qemu-aarch64" qemu-aarch64 || exit 0
build=$arm64_build
build_arm64_labs
check "the labs cross-compile for aarch64 with -Werror" test $? -eq 0
check "... as aarch64 programs" bash -c "readelf -h '$build'/labs/01-*/stack_vs_heap | grep -q 'Machine: *AArch64'"

for lab_dir in $(scripts/labs.sh built); do
	lab=$(basename "$lab_dir")
	bin=$(BUILD=$build lab_binary "$lab_dir")
	out=$scratch/$lab
	timeout 300 qemu-aarch64 "$bin" --quick --out "$out" >"$scratch/$lab.log" 2>&1
	status=$?
	check "$lab under qemu-aarch64 exits 0 (status $status)" test "$status" -eq 0
	missing=""
	for f in data.csv manifest.txt verdict.txt verdicts.csv summary.csv; do
		[ -s "$out/$f" ] || missing="$missing $f"
	done
	check "$lab under qemu-aarch64 writes its files${missing:+ (missing:$missing)}" test -z "$missing"
	check "$lab says it ran under emulation" grep -q '^emulated: built for arm, this program runs on an x86 CPU' "$scratch/$lab.log"
	check "$lab's manifest says so too" grep -q '^emulated: built for arm' "$out/manifest.txt"
done

# What arm64 changes, that the emulator shows (glibc's aarch64 rules, the compiler's frame layout).
lab2=$scratch/02-recursion-depth
check "Lab 2 skips thread stacks below aarch64's PTHREAD_STACK_MIN, with a note" \
	grep -q 'below this system.s minimum (PTHREAD_STACK_MIN, 131072 bytes) are skipped' "$scratch/02-recursion-depth.log"
check "... so no row of 64 KiB thread stacks" bash -c "! grep -q '^limit,thread_stack,[0-9]*,65536,' '$lab2/data.csv'"
check "... and the guard page is shown catching every overflow of a frame under a page" \
	awk -F, '$2 == "overflow_faults_in_guard_page" && $4 == "shown" { found = 1 } END { exit !found }' "$lab2/verdicts.csv"
exit 0
