# SPDX-License-Identifier: MIT
# Lab 2 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

# Rows of one experiment and kind (and array size); others give NaN, which gnuplot skips.
pick(e, k, col) = (strcol("experiment") eq e && strcol("kind") eq k) ? column(col) : NaN
pick_array(e, k, a, col) = (column("array_bytes") == a) ? pick(e, k, col) : NaN
arrays = "0 64 256 1024 4096 16384"
at_least_1(x) = x < 1 ? 1 : x

set logscale xy 10
set xlabel "predicted depth = stack size / measured frame size"
set ylabel "measured maximum depth"
set key top left

if (dumb) {
	set title "Lab 2: maximum recursion depth, measured vs predicted (" . machine . ")"
	plot for [a in arrays] datafile \
		using (pick_array("limit", "thread_stack", a + 0, "predicted_depth")):(column("max_depth")) \
		with points title "thread stack, " . a . " B array", \
	     x with lines title "measured = predicted"
	exit
}

set multiplot layout 2,2 title "Lab 2: recursion depth on " . machine font ",12"

set title "Maximum depth: measured vs stack size / frame size"
set key bottom right	# the points lie on the diagonal: this corner is empty
plot for [a in arrays] datafile \
	using (pick_array("limit", "thread_stack", a + 0, "predicted_depth")):(column("max_depth")) \
	with points pt 7 ps 1.2 title "thread, " . a . " B array", \
     for [a in arrays] datafile \
	using (pick_array("limit", "rlimit_stack", a + 0, "predicted_depth")):(column("max_depth")) \
	with points pt 6 ps 1.6 title "RLIMIT_STACK, " . a . " B array", \
     x with lines dashtype 2 lc rgb "gray40" title "measured = predicted"

set title "Frame size: measured distance between frames vs the compiler's report"
set key top left
set logscale x 2
set logscale y 2
set xlabel "local array (bytes; 0 drawn at 1)"
set ylabel "bytes per frame"
plot datafile using (at_least_1(column("array_bytes"))):(pick("frame", strcol("kind"), "frame_bytes_measured")) \
	with linespoints pt 7 lw 2 title "measured", \
     '' using (at_least_1(column("array_bytes"))):(pick("frame", strcol("kind"), "frame_bytes_compiler")) \
	with points pt 6 ps 2 title "-fstack-usage"

unset logscale
set style fill solid 0.6 border -1
set boxwidth 0.6
set key off
set title "Page faults per KiB of stack grown (1 KiB frames)"
set xlabel ""
set ylabel "faults per KiB"
set yrange [0:*]
set xrange [-0.5:1.5]
set xtics ("first descent" 0, "second descent" 1)
# Each bar's value over it: a bar of 0 (the second descent, usually) is a label, not a blank.
set offsets 0, 0, graph 0.1, 0
plot datafile using (0):(pick("faults", "first_descent", "faults_per_kib")) with boxes lc 3, \
     '' using (1):(pick("faults", "second_descent", "faults_per_kib")) with boxes lc 4, \
     '' using (0):(pick("faults", "first_descent", "faults_per_kib")):(sprintf("%.3g", column("faults_per_kib"))) \
	with labels offset 0, 0.8, \
     '' using (1):(pick("faults", "second_descent", "faults_per_kib")):(sprintf("%.3g", column("faults_per_kib"))) \
	with labels offset 0, 0.8

set title "Cost per level: the same hash chain, recursive vs loop"
set ylabel "ns per level (median, p5-p95)"
set xtics ("recursive" 0, "loop" 1)
plot datafile using (0):(pick("cost", "recursive", "ns_per_op_median")) with boxes lc 6, \
     '' using (1):(pick("cost", "iterative", "ns_per_op_median")) with boxes lc 7, \
     '' using (0):(pick("cost", "recursive", "ns_per_op_median")):(pick("cost", "recursive", "ns_per_op_p05")):(pick("cost", "recursive", "ns_per_op_p95")) \
	with yerrorbars lc rgb "black" pt 0, \
     '' using (1):(pick("cost", "iterative", "ns_per_op_median")):(pick("cost", "iterative", "ns_per_op_p05")):(pick("cost", "iterative", "ns_per_op_p95")) \
	with yerrorbars lc rgb "black" pt 0
unset multiplot
