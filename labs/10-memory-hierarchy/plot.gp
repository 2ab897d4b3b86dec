# SPDX-License-Identifier: MIT
# Lab 10 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

row(e, k) = strcol("experiment") eq e && strcol("kind") eq k
pick(e, k, col) = row(e, k) ? column(col) : NaN
huge = system("awk -F, '$1 == \"tlb\" && $2 == \"huge_pages\" { n++ } END { print n + 0 }' '" . datafile . "'")
set logscale x 2
set format x "%.0b%B"
set xlabel "working set (bytes)"
# hwloc's cache sizes (rows "cache,L1d,32768,..."): a dashed vertical line and a name each, as
# gnuplot commands written by awk (q is a double quote).
cache_marks = system("awk -F, '$1 == \"cache\" { q = sprintf(\"%c\", 34); printf \"set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lc rgb %sgray40%s; set label %s%s%s at first %s, graph 0.95 offset 0.5, 0 tc rgb %sgray30%s front; \", $3, $3, q, q, q, $2, q, $3, q, q }' '" . datafile . "'")
eval cache_marks

if (dumb) {
	set title "Lab 10: ns per load, random chase (" . machine . ")"
	set logscale y 10
	plot datafile using "size_bytes":(pick("latency", "random", "ns_per_load")) \
		with linespoints title "random", \
	     datafile using "size_bytes":(pick("sequential_chase", "address_order", "ns_per_load")) \
		with linespoints title "address order"
	exit
}

set multiplot layout 2,2 title "Lab 10: the memory hierarchy of " . machine font ",12"

set title "Load latency: random chase vs address order (dashed: hwloc's caches)"
set ylabel "ns per load (median, p5-p95 bars)"
set logscale y 10
set key bottom right
plot datafile using "size_bytes":(pick("latency", "random", "ns_per_load")): \
	(pick("latency", "random", "ns_per_op_p05")):(pick("latency", "random", "ns_per_op_p95")) \
	with yerrorlines lw 2 title "random (the latency)", \
     datafile using "size_bytes":(pick("sequential_chase", "address_order", "ns_per_load")) \
	with linespoints lw 2 title "address order (the prefetcher)"

set title "The TLB: one load per page"
# Arrows and labels are not clipped: the L1d's (left of this range) would land in the plot beside.
unset arrow
unset label
if (huge > 0) {
	plot datafile using "size_bytes":(pick("tlb", "4k_pages", "ns_per_load")) \
		with linespoints lw 2 title "base pages", \
	     datafile using "size_bytes":(pick("tlb", "huge_pages", "ns_per_load")) \
		with linespoints lw 2 title "huge pages (THP)"
} else {
	plot datafile using "size_bytes":(pick("tlb", "4k_pages", "ns_per_load")) \
		with linespoints lw 2 title "base pages (no huge pages here)"
}

set title "Sequential read bandwidth"
eval cache_marks
set ylabel "GB/s"
unset logscale y
set yrange [0:*]
set key bottom left
plot datafile using "size_bytes":(pick("bandwidth", "read", "gb_per_s")) \
	with linespoints lw 2 title "read, 8-byte loads"

set title "Memory mountain: read GB/s by stride and size"
unset arrow
unset label
set ylabel "stride (bytes)"
set logscale y 2
set yrange [4:1024]
set cblabel "GB/s"
set palette rgbformulae 33,13,10
set offsets graph 0.04, graph 0.04, 0, 0	# the outer squares clear of the axes' numbers
plot datafile using "size_bytes":(pick("mountain", "read", "stride_bytes")):"gb_per_s" \
	with points pt 5 ps 3 lc palette notitle
unset multiplot
