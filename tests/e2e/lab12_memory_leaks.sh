#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 12 end to end: leaks are deterministic, so they are asserted tightly: the leaky server's RSS
# and heap grow by one glibc chunk per request (208 bytes for 200), the fixed one's by nothing, the
# reachable one's by as much; LeakSanitizer and valgrind (where present) find exactly the lost
# sessions, name new_session in this lab's source, and do not call the reachable ones lost. Leaks
# outside malloc are counts too: a mapping never unmapped grows the address space by exactly its
# 64 KiB per request, a descriptor never closed leaves one more open, a thread never joined keeps
# its stack; valgrind --track-fds=yes lists the descriptors.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

bin=$(lab_binary labs/12-memory-leaks)
out=$scratch/out
"$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 ||
	{ fail "lab 12 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")
col() { csv_col "$header" "$1"; }
value() { awk -F, -v e="$1" -v k="$2" -v c="$(col "$3")" '$1 == e && $2 == k { print $c }' "$csv"; }
between() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

check "the three servers were watched (20 samples or more each)" \
	awk -F, '$1 == "rss" { n[$2]++ } END { exit !(n["leaky"] >= 20 && n["fixed"] >= 20 && n["reachable"] >= 20) }' "$csv"
check "leaky: RSS grows 208 bytes per request, within 10% ($(value slope leaky rss_per_request_bytes))" \
	between "$(value slope leaky rss_per_request_bytes)" 187 229
check "leaky: glibc's count agrees within 2% ($(value slope leaky heap_per_request_bytes))" \
	between "$(value slope leaky heap_per_request_bytes)" 204 212
check "fixed: under 4 bytes per request ($(value slope fixed rss_per_request_bytes))" \
	between "$(value slope fixed rss_per_request_bytes)" -4 4
check "reachable: grows like the leaky one ($(value slope reachable rss_per_request_bytes))" \
	between "$(value slope reachable rss_per_request_bytes)" 187 260

if grep -q "^note: LeakSanitizer not run" "$scratch/stdout"; then
	skip "LeakSanitizer" "$(sed -n 's/^note: LeakSanitizer not run: //p' "$scratch/stdout")"
else
	check "LeakSanitizer: 2000 x 200 bytes lost in the leaky server" test "$(value lsan leaky leaked_bytes)" = 400000
	check "LeakSanitizer: nothing lost in the fixed and reachable servers" \
		test "$(value lsan fixed leaked_bytes)/$(value lsan reachable leaked_bytes)" = "0/0"
	check "LeakSanitizer names new_session in this lab's source" \
		grep -q "in new_session labs/12-memory-leaks/memory_leaks.c:[0-9]" "$scratch/stdout"
fi
if grep -q "^note: valgrind not run" "$scratch/stdout"; then
	skip "valgrind" "$(sed -n 's/^note: valgrind not run: //p' "$scratch/stdout")"
else
	check "valgrind: 500 x 200 bytes definitely lost in the leaky server" test "$(value valgrind leaky leaked_bytes)" = 100000
	check "valgrind: the reachable sessions are still reachable, not lost" \
		bash -c "[ '$(value valgrind reachable leaked_bytes)' = 0 ] && awk -v v='$(value valgrind reachable reachable_bytes)' 'BEGIN { exit !(v >= 100000) }'"
fi
# Outside malloc (64 requests each).
check "mmap never unmapped: the address space grows 64 KiB per request ($(value outside_malloc mmap vm_per_request_bytes))" \
	test "$(value outside_malloc mmap vm_per_request_bytes)" = 65536
check "... while RSS grows by the one page touched, at most 2 ($(value outside_malloc mmap rss_per_request_bytes))" \
	between "$(value outside_malloc mmap rss_per_request_bytes)" 0 8192
check "fd never closed: one more descriptor open per request ($(value outside_malloc fd fds_per_request))" \
	test "$(value outside_malloc fd fds_per_request)" = 1
check "thread never joined: its stack stays mapped, 1 MiB or more of address space per request ($(value outside_malloc thread vm_per_request_bytes))" \
	between "$(value outside_malloc thread vm_per_request_bytes)" 1048576 67108864
check "... and the finished threads are gone from Threads (1 left: main) ($(value outside_malloc thread threads_after))" \
	test "$(value outside_malloc thread threads_after)" = 1
check "leaks outside the heap are shown, not judged, in verdicts.csv" \
	grep -q '^12-memory-leaks,leaks_only_on_heap,.*,shown,' "$out/verdicts.csv"
if ! grep -q "^note: valgrind not run" "$scratch/stdout"; then
	check "valgrind --track-fds=yes lists the leaked descriptors at exit (64 and more)" \
		awk -v v="$(value valgrind fd fds_open_at_exit)" 'BEGIN { exit !(v >= 64) }'
	check "... and does not see the mmap leak (it tracks malloc, not mappings)" \
		test "$(value valgrind mmap leaked_bytes)" = 0
fi
# Under a descriptor limit the fd leak stops, and the lab says so.
(ulimit -n 32 && exec "$bin" --quick --out "$scratch/nofile") >"$scratch/nofile.stdout" 2>&1
st=$?
check "under ulimit -n 32 the run exits 0 (got $st)" test "$st" -eq 0
check "... and says the descriptor leak hit the limit" \
	grep -q 'the descriptor leak stopped after [0-9]* requests: Too many open files' "$scratch/nofile.stdout"

check "the --server mode refuses a bad command line (exit 2)" \
	bash -c "'$bin' --server nosuch --requests 5 2>/dev/null; test \$? -eq 2"
check_bad_args "$bin" "--leak-bytes 1" "--leak-bytes x" "--leak-bytes 99999999"
exit 0
