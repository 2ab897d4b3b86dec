#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the course on many machines of a Slurm cluster at once (make cluster): one job array per
# partition, each array task an exclusive node that runs the course and leaves its bundle in a
# shared directory, then one job that waits for all of them (--dependency=afterany), imports every
# bundle and builds the report. The scheduler does the placing and the waiting; nothing here does.
# Usage: scripts/slurm/submit.sh       (make cluster)
# Environment:
#   PARTITIONS="a b c"  one job array per partition (default: the cluster's default partition)
#   NODES=N             array tasks (exclusive nodes) per partition (default 1)
#   CLUSTER_DIR=dir     the shared directory for bundles and logs (default results/cluster/<time>);
#                       every node must see it and this checkout at the same path
#   QUICK=1, LABS="1 4", MACHINE=name   as for make course; MACHINE names the tasks
#                       name-<partition>-<task> (default: each node's own machine id)
#   RESULTS=dir         where the bundles are imported and the report is built (default results/)
#   sbatch's own variables pass through: SBATCH_ACCOUNT, SBATCH_QOS, SBATCH_TIMELIMIT ...
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v sbatch >/dev/null 2>&1 ||
	{ echo "cluster: sbatch not found: run this on a Slurm login node (or 'make course' here)" >&2; exit 1; }
nodes=${NODES:-1}
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "cluster: NODES must be a positive number, not '$nodes'" >&2; exit 2; }
dir=${CLUSTER_DIR:-results/cluster/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$dir/bundles" "$dir/logs"
dir=$(cd "$dir" && pwd)
export CLUSTER_DIR=$dir COURSE_ROOT=$PWD

# One array per partition; "" is the cluster's default partition.
read -r -a partitions <<<"${PARTITIONS:-}"
[ ${#partitions[@]} -gt 0 ] || partitions=("")
ids=()
: >"$dir/expected"
for p in "${partitions[@]}"; do
	opts=(--parsable --job-name=labs-course --exclusive --nodes=1 --ntasks=1 --array="1-$nodes"
	      --output="$dir/logs/course-%A_%a.out")
	[ -z "$p" ] || opts+=(--partition="$p")
	id=$(sbatch "${opts[@]}" scripts/slurm/course-task.sh)
	id=${id%%;*}	# "jobid;cluster" on a federation
	ids+=("$id")
	echo "${p:-default} $id $nodes" >>"$dir/expected"
	echo "cluster: job array $id: $nodes exclusive node(s) in partition ${p:-(default)}"
done
opts=(--parsable --job-name=labs-collect --nodes=1 --ntasks=1 --output="$dir/logs/collect-%j.out"
      --dependency="afterany:$(IFS=:; echo "${ids[*]}")")
[ -z "${partitions[0]}" ] || opts+=(--partition="${partitions[0]}")
collect=$(sbatch "${opts[@]}" scripts/slurm/collect.sh)
collect=${collect%%;*}
echo "$collect" >"$dir/collect-job"
echo "cluster: job $collect imports the bundles and builds the report once the arrays end"
echo "cluster: follow with 'squeue --me'; bundles in $dir/bundles, logs in $dir/logs,"
echo "         then ${RESULTS:-results}/report/index.html"
