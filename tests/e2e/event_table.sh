#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What each metric counts on CPUs this machine is not, with no PMU needed: tests/tools/event_table.c
# looks up every candidate of common/counters.c in libpfm4's tables for one CPU model at a time
# (LIBPFM_FORCE_PMU): x86 models natively, arm64 models through the arm64 build under qemu-aarch64
# (libpfm4 compiles each architecture's tables only into that architecture's build). Fails when a
# vendor event is unknown to a model it is meant for, or when common/counter-events.md, the table
# kept as documentation, no longer says what the code resolves.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

x86_models="amd64_fam17h_zen2 amd64_fam19h_zen3 amd64_fam19h_zen4 hsw skl icl spr"
arm64_models="arm_ac53 arm_ac57 arm_n1 arm_n2 arm_v1"
doc=common/counter-events.md

tool=$scratch/event_table
# shellcheck disable=SC2046 # pkg-config prints flags separated by blanks
cc -std=c17 -D_GNU_SOURCE -I common tests/tools/event_table.c "$BUILD/libcommon.a" \
	$(pkg-config --cflags --libs papi hwloc) -lpthread -lm -o "$tool" 2>"$scratch/cc.err"
check "the event-table tool builds" test -x "$tool"

table=$scratch/table.md
: >"$table"
run_model() {	# MODEL COMMAND...
	local model=$1 st
	shift
	LIBPFM_FORCE_PMU=$model "$@" >>"$table" 2>"$scratch/$model.err"
	st=$?
	check "$model: every vendor event meant for it is in libpfm4's tables (status $st)" test "$st" -eq 0
	[ "$st" -eq 0 ] || sed 's/^/# /' "$scratch/$model.err"
}
for model in $x86_models; do
	run_model "$model" "$tool"
done

arm64_lib=$arm64_build/libcommon.a
if need_arm64 "arm64 CPU models" qemu-aarch64; then
	build_arm64_labs	# up to date: a libcommon.a older than common/ would describe old code
	# shellcheck disable=SC2046
	aarch64-linux-gnu-gcc -std=c17 -D_GNU_SOURCE -I common tests/tools/event_table.c "$arm64_lib" \
		$(PKG_CONFIG_LIBDIR=$arm64_pc pkg-config --cflags --libs papi hwloc) -lpthread -lm \
		-o "$tool-arm64" 2>>"$scratch/cc.err"
	check "the event-table tool builds for arm64" test -x "$tool-arm64"
	for model in $arm64_models; do
		run_model "$model" qemu-aarch64 "$tool-arm64"
	done
	have_arm64=1
else
	have_arm64=0
fi

# The documented table: the rows between the markers, the arm64 ones only where they were made.
sed -n '/^<!-- table: begin -->$/,/^<!-- table: end -->$/p' "$doc" | grep '^| [a-z]' |
	grep -v '^| model ' >"$scratch/doc.md"
[ "$have_arm64" = 1 ] || grep -v '^| arm_' "$scratch/doc.md" >"$scratch/doc.x86" && mv "$scratch/doc.x86" "$scratch/doc.md" 2>/dev/null
check "$doc says what the code resolves on every model" cmp -s "$table" "$scratch/doc.md"
if ! cmp -s "$table" "$scratch/doc.md"; then
	diff "$scratch/doc.md" "$table" | head -n 10 | sed 's/^/# /'
	[ -n "${KEEP_EVENT_TABLE:-}" ] && cp "$table" "$KEEP_EVENT_TABLE"
fi
exit 0
