#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Memory limits a container or CI job sets: the labs size themselves from the smallest of
# MemAvailable, the memory cgroup's room and RLIMIT_AS (common/memlimit), say which bound they used,
# and record it. First under a fake 256 MiB cgroup tree (LABS_CGROUP_ROOT: works anywhere), then,
# where this user may create one, inside a real 256 MiB memory cgroup, where a lab that sized itself
# from MemAvailable was killed (Lab 3's default run, before this existed).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

limit=$((256 * 1024 * 1024))

# --- a fake tree: the limit at the root, in both the v2 and the v1 layout --------------------------
fake=$scratch/cgroup
mkdir -p "$fake/memory"
echo "$limit" >"$fake/memory.max"
echo 0 >"$fake/memory.current"
echo "$limit" >"$fake/memory/memory.limit_in_bytes"
echo 0 >"$fake/memory/memory.usage_in_bytes"

mkdir -p "$scratch/fake" "$scratch/as"
for lab in labs/03-fragmentation labs/09-page-faults labs/12-memory-leaks; do
	name=$(basename "$lab")
	out=$scratch/fake/$name
	LABS_CGROUP_ROOT=$fake timeout 300 "$(lab_binary "$lab")" --out "$out" >"$out.stdout" 2>&1
	st=$?
	check "fake 256 MiB cgroup: $name exits 0 (got $st)" test "$st" -eq 0
	check "fake 256 MiB cgroup: $name says it sized itself below the cgroup limit" \
		grep -q '^memory:   sized below the cgroup v[12] memory limit' "$out.stdout"
	check "fake 256 MiB cgroup: $name records the bound in the manifest" \
		grep -q "^memory_bound: $limit (the cgroup" "$out/manifest.txt"
done
rss=$(csv_max "$scratch/fake/03-fragmentation/data.csv" rss_bytes)
check "fake 256 MiB cgroup: Lab 3's blocks stay under half of it (largest RSS $rss B)" \
	awk -v r="$rss" -v l="$limit" 'BEGIN { exit !(r > 0 && r < l / 2) }'
size=$(csv_max "$scratch/fake/09-page-faults/data.csv" size_bytes)
check "fake 256 MiB cgroup: Lab 9's sweep stops at a quarter of it ($size B)" \
	awk -v s="$size" -v l="$limit" 'BEGIN { exit !(s > 0 && s <= l / 4) }'
check "... and says so" grep -q 'the sweep stops at .*a quarter of the memory this process may use' \
	"$scratch/fake/09-page-faults.stdout"

# --- RLIMIT_AS: the other bound -----------------------------------------------------------------------
out=$scratch/as/09-page-faults
(ulimit -v 1048576 && exec "$(lab_binary labs/09-page-faults)" --quick --out "$out") >"$out.stdout" 2>&1
check "RLIMIT_AS of 1 GiB: Lab 9 names it as its bound when it is the smallest" \
	grep -qE '^memory_bound: [0-9]+ \((RLIMIT_AS|the cgroup)' "$out/manifest.txt"

# --- a real memory cgroup, where this user may make one ----------------------------------------------
real=""
if [ -w /sys/fs/cgroup/memory ] && [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
	real=/sys/fs/cgroup/memory/labs-e2e-$$
	limit_file=memory.limit_in_bytes
elif [ -w /sys/fs/cgroup ] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	real=/sys/fs/cgroup/labs-e2e-$$
	limit_file=memory.max
fi
if [ -n "$real" ] && mkdir "$real" 2>/dev/null; then
	trap 'rmdir "$real" 2>/dev/null; rm -rf "$scratch"' EXIT
	echo "$limit" >"$real/$limit_file"
	out=$scratch/real/03-fragmentation
	mkdir -p "$scratch/real"
	(echo "$BASHPID" >"$real/cgroup.procs" &&
		exec timeout 300 "$(lab_binary labs/03-fragmentation)" --out "$out") >"$out.stdout" 2>&1
	st=$?
	check "a real 256 MiB memory cgroup: Lab 3's default run exits 0, nothing killed (got $st)" \
		test "$st" -eq 0
	check "... and says it sized itself below that cgroup's limit" \
		grep -q '^memory:   sized below the cgroup v[12] memory limit' "$out.stdout"
	check "... its supervised children were not killed" bash -c "! grep -q 'killed by' '$out.stdout'"
else
	skip "a real memory cgroup" "this user cannot create one here (needs root and a writable memory controller)"
fi
exit 0
