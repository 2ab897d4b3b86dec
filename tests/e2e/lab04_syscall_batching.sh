#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lab 4 end to end: every buffer size has its rows, the system calls counted by the program match
# the kernel's count (/proc/self/io) and strace's, stdio batches, streaming memory follows the
# buffer, and no scratch file survives a run or a Ctrl-C.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

lab=labs/04-syscall-batching
bin=$(lab_binary "$lab")
out=$scratch/out
mkdir -p "$scratch/tmp"
TMPDIR=$scratch/tmp "$bin" --quick --out "$out" >"$scratch/stdout" 2>&1 ||
	{ fail "lab 4 quick run" "$(tail "$scratch/stdout")"; exit 0; }
csv=$out/data.csv
header=$(head -n 1 "$csv")

# cell EXPERIMENT KIND BUFFER COLUMN (BUFFER empty for entry rows)
cell() {
	awk -F, -v e="$1" -v k="$2" -v b="$3" -v c="$(csv_col "$header" "$4")" \
		'$1 == e && $2 == k && $3 == b { print $c }' "$csv"
}

missing=""
for ((b = 1; b <= 1048576; b *= 4)); do
	for k in write_devnull write_file stdio_buffered stdio_unbuffered; do
		n=$(awk -F, -v k="$k" -v b="$b" '$1 == "write" && $2 == k && $3 == b' "$csv" | wc -l)
		[ "$n" -eq 1 ] || missing="$missing $k@$b($n)"
	done
done
check "every buffer 1 B..1 MiB (x4) has one row per write kind${missing:+ (bad:$missing)}" test -z "$missing"
check "three kernel-entry rows and two streaming rows" \
	test "$(grep -c '^entry,' "$csv")" -eq 3 -a "$(grep -c '^streaming,' "$csv")" -eq 2
check "no scratch file or directory is left in TMPDIR" test -z "$(ls -A "$scratch/tmp")"

# Counts, not timings.
bad=""
for k in write_devnull write_file stdio_unbuffered; do
	for b in 1 64 4096 1048576; do
		calls=$(cell write "$k" "$b" nr_calls)
		io=$(cell write "$k" "$b" syscalls_per_sample_proc_io)
		[ "$io" = "$calls" ] || bad="$bad $k@$b:$io/$calls"
	done
done
check "one write(2) per call for raw and unbuffered writes, by /proc/self/io${bad:+ (bad:$bad)}" test -z "$bad"
bad=""
for k in write_devnull write_file; do
	for b in 1 4096; do
		[ "$(cell write "$k" "$b" syscalls_per_sample)" = "$(cell write "$k" "$b" nr_calls)" ] || bad="$bad $k@$b"
	done
done
check "the program's own count of write(2) calls matches${bad:+ (bad:$bad)}" test -z "$bad"
calls=$(cell write stdio_buffered 1 nr_calls)
io=$(cell write stdio_buffered 1 syscalls_per_sample_proc_io)
check "stdio's buffer turns $calls one-byte fwrites into at most 1/100 as many write(2) calls ($io)" \
	awk -v c="$calls" -v s="$io" 'BEGIN { exit !(s >= 1 && s <= c / 100) }'

# strace's count of write(2) to /dev/null over a whole run equals the program's:
# (samples + 1 warm-up) x write(2) calls per sample, summed over the /dev/null rows. Only the lab's
# own process is traced (no -f): its streaming children and perf write to /dev/null too.
if command -v strace >/dev/null 2>&1; then
	TMPDIR=$scratch/tmp strace -qq -y -e trace=write -o "$scratch/strace" \
		"$bin" --quick --total 64K --out "$scratch/traced" >/dev/null 2>&1
	# Descriptors 0-2 are the program's own output, sent to /dev/null here too.
	traced=$(grep -cE '^write\(([3-9]|[1-9][0-9]+)</dev/null>' "$scratch/strace")
	expected=$(awk -F, -v c="$(csv_col "$header" syscalls_per_sample)" -v s="$(csv_col "$header" nr_samples)" \
		'$2 == "write_devnull" { n += $c * ($s + 1) } END { print n }' "$scratch/traced/data.csv")
	check "strace counts as many write(2) calls to /dev/null as the program ($traced vs $expected)" \
		test "$traced" -eq "$expected"
else
	skip "strace cross-check" "strace is not installed (make deps installs it)"
fi

# Order-of-magnitude effects.
fn=$(cell entry function_call "" ns_per_op_median)
sys=$(cell entry raw_syscall_getppid "" ns_per_op_median)
check "a system call costs over 10x a function call ($sys vs $fn ns)" \
	awk -v a="$sys" -v b="$fn" 'BEGIN { exit !(a > 10 * b) }'
one=$(cell write write_file 1 mb_per_s_median)
big=$(cell write write_file 65536 mb_per_s_median)
check "64 KiB writes to a file are over 20x faster than 1-byte writes ($big vs $one MB/s)" \
	awk -v a="$big" -v b="$one" 'BEGIN { exit !(a > 20 * b) }'
perf_ns=$(cell entry raw_syscall_getppid "" perf_bench_ns_per_op)
if command -v perf >/dev/null 2>&1 && perf bench syscall basic -l 1000 >/dev/null 2>&1; then
	check "perf bench's figure is recorded beside the lab's ($perf_ns ns)" test -n "$perf_ns"
	check "... and is printed" grep -q '^shown: *cross-check: perf bench syscall basic' "$scratch/stdout"
else
	skip "perf bench cross-check" "perf bench syscall basic does not run here"
fi

# Streaming: building 4 MiB first costs about 4 MiB more peak memory than a 64 KiB buffer.
all=$(cell streaming build_then_write 4194304 peak_rss_kib)
fixed=$(cell streaming fixed_buffer 65536 peak_rss_kib)
check "build-then-write peaks at least 3.5 MiB above the 64 KiB buffer ($all vs $fixed KiB)" \
	awk -v a="$all" -v b="$fixed" 'BEGIN { exit !(a - b >= 3584) }'
check "five verdict lines or more" test "$(wc -l <"$out/verdict.txt")" -ge 5

# A system call is a mode switch, not a context switch: over a million of them the pinned thread
# is preempted a few times at most (the timer), never once per call.
per_call=$(awk -F, -v c="$(csv_col "$(head -n 1 "$csv")" context_switches_per_syscall)" \
	'$2 == "raw_syscall_getppid" { print $c }' "$csv")
check "a million system calls: context switches per syscall are reported, and far below 1 ($per_call)" \
	awk -v v="$per_call" 'BEGIN { exit !(v != "" && v >= 0 && v < 0.01) }'
check "... and 'a system call is not a context switch' is shown, not judged, in verdicts.csv" \
	grep -q '^04-syscall-batching,syscall_is_context_switch,.*,shown,' "$out/verdicts.csv"

# Bad options of the lab's own: one line, exit 2, nothing left behind.
check_bad_args "$bin" "--total 1" "--total 2G" "--max-buffer 0" "--tmpdir /nonexistent/dir"

# Ctrl-C in the middle of the full run: the scratch directory goes too.
mkdir -p "$scratch/int"
set -m
TMPDIR=$scratch/int "$bin" --out "$scratch/int-out" >/dev/null 2>&1 &
pid=$!
set +m
sleep 1.5
check "a scratch directory exists while the run is going" test -n "$(ls -A "$scratch/int")"
kill -INT "$pid"
wait "$pid"
check "SIGINT ends the run (status $?) and removes the scratch directory" test -z "$(ls -A "$scratch/int")"
