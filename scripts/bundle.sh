#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packs this machine's results into one archive to hand in or compare: results/<machine>.tar.gz with
# every lab's files, the hwloc topology (XML and text) and the doctor's report.
# Usage: scripts/bundle.sh      (MACHINE=name as for the labs; RESULTS=dir in place of results/)
set -euo pipefail
cd "$(dirname "$0")/.."

# The machine id exactly as the labs compute it: ask a lab program where it would write.
mapfile -t labs < <(scripts/labs.sh built)
[ ${#labs[@]} -gt 0 ] || { echo "bundle: no lab is built" >&2; exit 1; }
sources=("${labs[0]}"/*.c)
bin=${BUILD:-build}/labs/$(basename "${labs[0]}")/$(basename "${sources[0]}" .c)
[ -x "$bin" ] || { echo "bundle: the labs are not built: run 'make course' first" >&2; exit 1; }
id=$(basename "$(dirname "$("$bin" --print-out-dir)")")
results=${RESULTS:-results}
dir=$results/$id
if ! ls "$dir"/*/data.csv >/dev/null 2>&1; then
	echo "bundle: no results for machine '$id' in $dir: run 'make course' (or make lab-N) first" >&2
	exit 1
fi

lstopo-no-graphics --of xml >"$dir/topology.xml" 2>/dev/null || rm -f "$dir/topology.xml"
lstopo-no-graphics --of console --no-io >"$dir/topology.txt" 2>/dev/null || rm -f "$dir/topology.txt"
scripts/doctor.sh >"$dir/doctor.txt" 2>&1 || true	# the doctor reports problems, it does not fail

tmp=$results/.$id.tar.gz.tmp.$$
trap 'rm -f "$tmp"' EXIT
# Only regular files and directories, owned by nobody in particular, and no hidden file (a
# temporary a killed run left behind): what import accepts.
tar -C "$results" --owner=0 --group=0 --numeric-owner --exclude='.*' -czf "$tmp" "$id"
mv -f "$tmp" "$results/$id.tar.gz"
echo "bundle: $results/$id.tar.gz ($(du -h "$results/$id.tar.gz" | cut -f1), $(ls -d "$dir"/*/ | wc -l) labs)"
