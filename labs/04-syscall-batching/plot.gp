# SPDX-License-Identifier: MIT
# Lab 4 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

# Rows of one experiment and kind; other rows give NaN, which gnuplot skips without breaking lines.
series(e, k, col) = (strcol("experiment") eq e && strcol("kind") eq k) ? column(col) : NaN
writes = "write_devnull write_file stdio_buffered stdio_unbuffered"

set logscale xy 2
set format x "%.0b%B"
set xlabel "buffer per call (bytes)"

if (dumb) {
	set title "Lab 4: write throughput by buffer size (" . machine . ")"
	set logscale y 10
	set ylabel "MB/s"
	set key top left
	plot for [k in "write_file stdio_buffered stdio_unbuffered"] datafile \
		using (column("buffer_bytes")):(series("write", k, "mb_per_s_median")) \
		with linespoints title k
	exit
}

set multiplot layout 2,2 title "Lab 4: syscall batching on " . machine font ",12"

set title "Throughput by buffer size: median MB/s, p5-p95 bars"
set logscale y 10
set ylabel "MB/s"
set key top left
plot for [k in writes] datafile \
	using (column("buffer_bytes")):(series("write", k, "mb_per_s_median")):(series("write", k, "mb_per_s_p05")):(series("write", k, "mb_per_s_p95")) \
	with yerrorlines title k

set title "Cost of one call: the entry is fixed, the copy grows with the buffer"
set ylabel "ns per call"
set key top left
plot for [k in writes] datafile \
	using (column("buffer_bytes")):(series("write", k, "ns_per_op_median")) \
	with linespoints title k

unset logscale
set logscale y 10
set title "The price of one call (ns, log scale)"
set ylabel "ns per call"
set xlabel ""
set style fill solid 0.6 border -1
set boxwidth 0.6
set xrange [-0.5:3.5]
set key off
set xtics ("function call" 0, "vDSO clock_gettime" 1, "syscall(getppid)" 2, "perf bench" 3) noenhanced
plot datafile using (0):(series("entry", "function_call", "ns_per_op_median")) with boxes lc 1, \
     '' using (1):(series("entry", "vdso_clock_gettime", "ns_per_op_median")) with boxes lc 2, \
     '' using (2):(series("entry", "raw_syscall_getppid", "ns_per_op_median")) with boxes lc 3, \
     '' using (3):(series("entry", "raw_syscall_getppid", "perf_bench_ns_per_op")) with boxes lc 4

unset logscale
set title "Streaming the output: peak resident memory of the child"
set ylabel "peak RSS (MiB)"
set yrange [0:*]
set xrange [-0.5:1.5]
set xtics ("build then write" 0, "64 KiB buffer" 1)
plot datafile using (0):(series("streaming", "build_then_write", "peak_rss_kib") / 1024) with boxes lc 6, \
     '' using (1):(series("streaming", "fixed_buffer", "peak_rss_kib") / 1024) with boxes lc 7
unset multiplot
