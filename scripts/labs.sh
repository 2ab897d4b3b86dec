#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The lab catalogue: resolves what a user types (5, 05, false-sharing, 05-false-sharing) to a lab
# directory, and lists the labs.
# Usage: scripts/labs.sh resolve NAME   -> prints labs/NN-name, or one line on stderr and exit 2
#        scripts/labs.sh list           -> every lab of the course, built or planned
#        scripts/labs.sh built          -> the directories of the labs that exist, in order
set -euo pipefail
cd "$(dirname "$0")/.."

# Every lab of the course (DESIGN.md), built or not, so a learner asking for a planned lab is told
# it is planned rather than that it does not exist.
catalogue=(
	01-stack-vs-heap 02-recursion-depth 03-fragmentation 04-syscall-batching 05-false-sharing
	06-deadlock 07-livelock 08-context-switch 09-page-faults 10-memory-hierarchy
	11-virtual-memory 12-memory-leaks 13-dangling-pointers
)

built() {
	local d
	for d in labs/[0-9][0-9]-*/; do
		[ -d "$d" ] && ls "$d"*.c >/dev/null 2>&1 && echo "${d%/}"
	done
	return 0
}

list() {
	local name status
	for name in "${catalogue[@]}"; do
		if [ -d "labs/$name" ]; then status="ready"; else status="planned"; fi
		printf '  %2d  %-22s %s\n' "$((10#${name%%-*}))" "${name#*-}" "$status"
	done
}

resolve() {
	local want=$1 name num
	for name in "${catalogue[@]}"; do
		num=${name%%-*}
		if [ "$want" = "$name" ] || [ "$want" = "${name#*-}" ] ||
		   { [[ "$want" =~ ^[0-9]+$ ]] && [ "$((10#$want))" -eq "$((10#$num))" ]; }; then
			if [ -d "labs/$name" ]; then
				echo "labs/$name"
				return 0
			fi
			echo "lab '$want' ($name) is not built yet. The labs:" >&2
			list >&2
			exit 2
		fi
	done
	echo "no lab '$want'. The labs (make lab-N, lab-0N or lab-<name>):" >&2
	list >&2
	exit 2
}

case "${1:-}" in
resolve) resolve "${2:?usage: labs.sh resolve NAME}" ;;
list) list ;;
built) built ;;
*) echo "usage: scripts/labs.sh resolve NAME | list | built" >&2; exit 2 ;;
esac
