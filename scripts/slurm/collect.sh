#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The last job of make cluster (scripts/slurm/submit.sh): runs after every array task has ended,
# however it ended; imports every bundle from the shared directory, says which tasks left none,
# and builds the report.
#SBATCH --job-name=labs-collect
set -uo pipefail
: "${COURSE_ROOT:?submit with scripts/slurm/submit.sh (make cluster)}" "${CLUSTER_DIR:?}"
cd "$COURSE_ROOT" || exit 1

# The array tasks that left no bundle: their logs say why (a node without the libraries, a time
# limit, a cancelled job).
while read -r partition id count; do
	for task in $(seq 1 "$count"); do
		ls "$CLUSTER_DIR"/bundles/*-"${id}_$task".tar.gz >/dev/null 2>&1 ||
			echo "collect: array task ${id}_$task (partition $partition) left no bundle:" \
				"see $CLUSTER_DIR/logs/course-${id}_$task.out"
	done
done <"$CLUSTER_DIR/expected"
python3 scripts/classtools import "$CLUSTER_DIR/bundles"
status=$?
python3 scripts/classtools report || status=1
echo "$status" >"$CLUSTER_DIR/collect-status"
exit "$status"
