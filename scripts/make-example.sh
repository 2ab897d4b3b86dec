#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates results/examples/<machine> from one `make course` of the committed revision (HEAD),
# built and run in a scratch worktree, so the example names one clean revision whatever the working
# tree holds: every lab's files, what each lab printed (output.txt, at 100 columns, as the handouts
# quote it), the course's summary and latency numbers (course.txt, numbers.csv), the machine's
# topology and doctor report. Then it rebuilds the handouts' quotes from it (scripts/handouts.py
# --write). Run it as root on the development VM (Lab 11 shows physical frames only to root), on a
# quiet machine: it takes as long as the course.
# Usage: scripts/make-example.sh [MACHINE]      (default dev-vm)
set -euo pipefail
cd "$(dirname "$0")/.."
machine=${1:-dev-vm}
case "$machine" in *[!A-Za-z0-9._-]* | "" | .*) echo "make-example: bad machine name '$machine'" >&2; exit 2 ;; esac

scratch=$(mktemp -d)
tree=$scratch/tree
cleanup() { git worktree remove --force "$tree" 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
git worktree add --quiet --detach "$tree" HEAD
echo "make-example: revision $(git -C "$tree" describe --always --dirty) in $tree"

make -C "$tree" --no-print-directory all >/dev/null
COLUMNS=100 make -C "$tree" --no-print-directory course MACHINE="$machine" RESULTS="$scratch/results" 2>&1 |
	tee "$scratch/course.log"
dir=$scratch/results/$machine
# One output.txt per lab: the course log between one lab's "######## [i/N] name" line and the next;
# course.txt: the summary and the latency numbers the course ends with.
awk -v dir="$dir" '
	/^######## \[[0-9]+\/[0-9]+\] / { out = dir "/" $3 "/output.txt"; next }
	/^######## course summary/ { out = dir "/course.txt"; next }
	out != "" { print > out }' "$scratch/course.log"
# The run wrote into a scratch folder; a learner's run writes into results/: say that.
find "$dir" -name '*.txt' -exec sed -i -e "s|$scratch/results/|results/|g" -e "s|$tree/build/|build/|g" {} +
lstopo-no-graphics --of xml >"$dir/topology.xml"
lstopo-no-graphics --of console --no-io >"$dir/topology.txt"
(cd "$tree" && COLUMNS=100 scripts/doctor.sh) >"$dir/doctor.txt" 2>&1 || true	# it reports, it does not fail

target=results/examples/$machine
rm -rf "$target"
mkdir -p "$target"
cp -R "$dir"/. "$target"/
scripts/handouts.py --write
echo "make-example: $target from revision $(git rev-parse --short HEAD); now check: scripts/handouts.py --check"
