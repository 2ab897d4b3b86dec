#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bundle packs a machine's results with its topology and doctor report; make import unpacks
# bundles (several, or a directory of them), never over other results (a name already taken by
# another machine's results gets -2), a second time as a no-op, and refuses hostile archives (absolute paths, '..', links, devices, a
# decompression bomb, two top directories, an unsafe name) with one line, writing nothing.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

id=e2e-bundle-$$
cleanup_results() { rm -rf "results/$id" "results/$id-2" "results/$id.tar.gz" results/hostile-*; }
trap 'cleanup_results; rm -rf "$scratch"' EXIT

QUICK=1 MACHINE=$id scripts/run-lab.sh 1 >/dev/null 2>&1
touch "results/$id/01-stack-vs-heap/.data.csv.tmp.99"	# what a run killed with SIGKILL leaves
MACHINE=$id scripts/bundle.sh >"$scratch/bundle.out" 2>&1
check "make bundle writes results/$id.tar.gz" test -s "results/$id.tar.gz"
listing=$(tar -tzf "results/$id.tar.gz")
for f in topology.xml topology.txt doctor.txt 01-stack-vs-heap/data.csv 01-stack-vs-heap/manifest.txt \
	 01-stack-vs-heap/summary.csv; do
	check "the bundle holds $f" grep -qx "$id/$f" <<<"$listing"
done
check "the bundle leaves out a hidden temporary file (import would refuse it)" \
	bash -c "! grep -q '/\\.' <<<'$listing'"
check "the bundle holds nothing but files and directories" \
	bash -c "tar -tvzf 'results/$id.tar.gz' | cut -c1 | sort -u | tr -d '\n' | grep -qxE '[-d]+'"

cp "results/$id.tar.gz" "$scratch/good.tgz"
rm -rf "results/$id"
classtools import "$scratch/good.tgz" >/dev/null 2>&1
check "import unpacks the bundle" test -s "results/$id/01-stack-vs-heap/data.csv"
sum1=$(cat "results/$id/01-stack-vs-heap/data.csv" | cksum)
classtools import "$scratch/good.tgz" >/dev/null 2>&1
check "importing the same bundle twice is harmless" \
	test $? -eq 0 -a "$(cat "results/$id/01-stack-vs-heap/data.csv" | cksum)" = "$sum1"
check "import leaves no staging directory" test -z "$(find results -maxdepth 1 -name '.import.*')"
classtools import "$scratch/good.tgz" >"$scratch/again.out" 2>&1
check "... and says it changed nothing" grep -q 'already imported as results/.*nothing changed' "$scratch/again.out"

# Another machine with the same name: imported beside the first, never over it, and the line names
# the collision. Several bundles, and a directory of them, in one command.
mkdir -p "$scratch/other/$id" "$scratch/class"
cp -r "results/$id/." "$scratch/other/$id/"
echo "another machine" >"$scratch/other/$id/doctor.txt"
(cd "$scratch/other" && tar -czf "$scratch/class/other.tar.gz" "$id")
cp "$scratch/good.tgz" "$scratch/class/good.tar.gz"
classtools import "$scratch/class" >"$scratch/class.out" 2>&1
check "a directory of bundles imports each (status $?)" test -d "results/$id-2"
check "... the same name from another machine lands beside the first, and the line says so" \
	grep -q "already holds other results.*imported as results/$id-2/" "$scratch/class.out"
check "... the first machine's results are untouched" \
	test "$(cat "results/$id/01-stack-vs-heap/data.csv" | cksum)" = "$sum1" -a "$(cat "results/$id/doctor.txt")" != "another machine"
classtools import "$scratch/good.tgz" "$scratch/class/other.tar.gz" >"$scratch/both.out" 2>&1
check "several bundles in one command: both already there, nothing changed" \
	test "$(grep -c 'nothing changed' "$scratch/both.out")" -eq 2 -a ! -e "results/$id-3"

# Hostile archives, each made here.
h=$scratch/hostile
mkdir -p "$h/m/lab" "$h/other"
echo x >"$h/m/lab/data.csv"
echo y >"$h/other/f"
(cd "$h" && tar -czf abs.tgz -P "$h/m/lab/data.csv")
(cd "$h/m" && tar -czf ../dotdot.tgz -P ../other/f)
(cd "$h" && tar -czf middle.tgz --transform 's,^m/,m/../../,' m/lab/data.csv)
(cd "$h" && ln -s /etc/passwd m/lab/link && tar -czf link.tgz m && rm m/lab/link)
(cd "$h" && tar -czf two.tgz m other)
(cd "$h" && mkdir .hidden && echo z >.hidden/f && tar -czf hidden.tgz .hidden)
(cd "$h" && mkdir -p bomb && truncate -s 600M bomb/zeros && tar -S -czf bomb.tgz bomb && rm -rf bomb)
printf 'not a tar' >"$h/garbage.tgz"
cases="abs dotdot middle link two hidden bomb garbage"
if [ "$(id -u)" -eq 0 ] && (cd "$h" && mkdir -p dev && mknod dev/null c 1 3 2>/dev/null); then
	(cd "$h" && tar -czf dev.tgz dev)
	cases="$cases dev"
else
	skip "a device in a bundle" "creating a device node needs root"
fi
before=$(ls -A results | sort | tr '\n' ' ')
for c in $cases; do
	classtools import "$h/$c.tgz" >/dev/null 2>"$scratch/err"
	st=$?
	check "import refuses the '$c' archive: exit 2, one line ($(head -c 90 "$scratch/err"))" \
		test "$st" -eq 2 -a "$(wc -l <"$scratch/err")" -eq 1
done
check "refused archives wrote nothing in results/" test "$(ls -A results | sort | tr '\n' ' ')" = "$before"
classtools import "$h/none.tgz" >/dev/null 2>&1
check "a missing bundle -> exit 2" test $? -eq 2
