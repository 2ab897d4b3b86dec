#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One array task of make cluster (scripts/slurm/submit.sh submits it): runs the course on this
# node into a directory of its own, bundles the results and leaves the bundle in the shared
# directory. A lab that fails is in the log and the bundle still carries the others.
#SBATCH --job-name=labs-course
set -uo pipefail
: "${COURSE_ROOT:?submit with scripts/slurm/submit.sh (make cluster)}" "${CLUSTER_DIR:?}"
cd "$COURSE_ROOT" || exit 1

task=${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID:-0}
# Each task its own results directory: two tasks on one node cannot write over each other.
export RESULTS=$CLUSTER_DIR/work/$task
[ -z "${MACHINE:-}" ] || export MACHINE=$MACHINE-${SLURM_JOB_PARTITION:-default}-${SLURM_ARRAY_TASK_ID:-0}
echo "course-task $task on $(hostname) (partition ${SLURM_JOB_PARTITION:-?}), results in $RESULTS"
mkdir -p "$RESULTS"
scripts/run-course.sh
status=$?
# The bundle goes to the shared directory under a name no other task uses; import names the
# machine from the bundle's contents, not from this file name.
if scripts/bundle.sh; then
	mv -f "$RESULTS"/*.tar.gz "$CLUSTER_DIR/bundles/$(basename "$RESULTS"/*.tar.gz .tar.gz)-$task.tar.gz"
	rm -rf "$RESULTS"
else
	status=1
fi
exit "$status"
