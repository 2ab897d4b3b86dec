#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make cluster on a real, throw-away Slurm: munged, slurmctld and slurmd from Debian's packages,
# started here with a configuration, key, state and ports of their own in a scratch directory (the
# machine's own Slurm and munge, if any, are not touched). A job array of three exclusive tasks,
# each a QUICK run of Labs 1 and 4 under its own machine name, and the dependent job that imports
# the bundles and builds the report. The daemons are stopped and everything removed, also when a
# check fails. Skipped, with the reason, where Slurm is not installed or will not start.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

for cmd in munged munge slurmctld slurmd sbatch squeue scontrol; do
	command -v "$cmd" >/dev/null 2>&1 && continue
	skip "make cluster on a throw-away Slurm" \
		"$cmd is not installed ('make deps test' installs slurmctld, slurmd, slurm-client and munge)"
	exit 0
done

slurm=$scratch/slurm	# short: munge's socket path must fit in 108 bytes
mkdir -p "$slurm/state" "$slurm/spool"
export SLURM_CONF=$slurm/slurm.conf

# Everything this test started: the daemons by their pid files, then any process (a job's
# slurmstepd or script) that still carries this test's directory in its environment.
stop_all() {
	local pidfile pid
	scancel --full --quiet --user="$(id -un)" 2>/dev/null
	for pidfile in "$slurm"/slurmd.pid "$slurm"/slurmctld.pid "$slurm"/munged.pid; do
		[ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
	done
	sleep 1
	for pid in $(grep -lzs "CLUSTER_DIR=$slurm" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		kill -9 "$pid" 2>/dev/null
	done
	for pidfile in "$slurm"/slurmd.pid "$slurm"/slurmctld.pid "$slurm"/munged.pid; do
		[ -s "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
	done
}
trap 'stop_all; rm -rf "$scratch"' EXIT

# Two free TCP ports, away from Slurm's usual 6817/6818.
free_port() {
	local port
	while :; do
		port=$((30000 + RANDOM % 20000))
		[ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && echo "$port" && return
	done
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
[ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$((ctld_port + 1))
node=$(hostname -s)
user=$(id -un)

head -c 1024 /dev/urandom >"$slurm/munge.key"
chmod 400 "$slurm/munge.key"
cat >"$SLURM_CONF" <<CONF
ClusterName=labs-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$slurm/munge.socket
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$slurm/state
SlurmdSpoolDir=$slurm/spool
SlurmctldPidFile=$slurm/slurmctld.pid
SlurmdPidFile=$slurm/slurmd.pid
SlurmctldLogFile=$slurm/slurmctld.log
SlurmdLogFile=$slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2
ReturnToService=2
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=labs Nodes=ALL Default=YES MaxTime=30 State=UP
CONF

start_failed() {	# WHAT LOG
	skip "make cluster on a throw-away Slurm" "$1 did not start here: $(tail -n 1 "$2" 2>/dev/null)"
	exit 0
}
munged --key-file="$slurm/munge.key" --socket="$slurm/munge.socket" --pid-file="$slurm/munged.pid" \
	--log-file="$slurm/munged.log" --seed-file="$slurm/munge.seed" --force >/dev/null 2>&1 ||
	start_failed munged "$slurm/munged.log"
slurmctld -i >/dev/null 2>&1 || start_failed slurmctld "$slurm/slurmctld.log"
slurmd >/dev/null 2>&1 || start_failed slurmd "$slurm/slurmd.log"
for _ in $(seq 30); do
	[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
	sleep 1
done
[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] || start_failed "the Slurm node" "$slurm/slurmd.log"
pass "a throw-away Slurm is up (ports $ctld_port and $slurmd_port)"

share=$slurm/share
res=$scratch/results
CLUSTER_DIR=$share RESULTS=$res NODES=3 QUICK=1 LABS="1 4" MACHINE=node scripts/slurm/submit.sh \
	>"$scratch/submit.out" 2>&1
check "make cluster submits (status $?)" grep -q "imports the bundles" "$scratch/submit.out"
check "... one job array of 3 exclusive tasks" grep -q "job array [0-9]*: 3 exclusive node" "$scratch/submit.out"
collect=$(cat "$share/collect-job" 2>/dev/null)
check "... and a collecting job that waits for the array" \
	bash -c "scontrol show job '$collect' | grep -q 'Dependency=afterany'"

# Three QUICK runs of two labs, one after the other on this one node: about 10 s; bounded.
for _ in $(seq 240); do
	[ -s "$share/collect-status" ] && break
	sleep 1
done
check "the collecting job ended within 4 minutes" test -s "$share/collect-status"
check "... and succeeded" test "$(cat "$share/collect-status" 2>/dev/null)" = 0
check "three bundles in the shared directory" test "$(ls "$share"/bundles/*.tar.gz 2>/dev/null | wc -l)" -eq 3
for task in 1 2 3; do
	check "array task $task's results imported under its machine name" \
		test -s "$res/node-labs-$task/01-stack-vs-heap/data.csv" -a -s "$res/node-labs-$task/04-syscall-batching/summary.csv"
done
check "the report names the three machines" \
	bash -c "for t in 1 2 3; do grep -q 'node-labs-'\$t $res/report/index.html || exit 1; done"
check "every task's log is kept" test "$(ls "$share"/logs/course-*.out | wc -l)" -eq 3
check "no task work directory is left" test -z "$(ls "$share/work" 2>/dev/null)"

stop_all
sleep 1
running=0
for pidfile in "$slurm"/slurmd.pid "$slurm"/slurmctld.pid "$slurm"/munged.pid; do
	[ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && running=$((running + 1))
done
left=$(grep -lzs "CLUSTER_DIR=$slurm" /proc/[0-9]*/environ 2>/dev/null | wc -l)
check "stopping leaves no daemon ($running) or job process ($left) of this test" test "$running" -eq 0 -a "$left" -eq 0
exit 0
