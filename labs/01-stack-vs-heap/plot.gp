# SPDX-License-Identifier: MIT
# Lab 1 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set logscale x 2
set format x "%.0b%B"
set xlabel "allocation size (bytes)"
set grid
set key top left

kind(k) = strcol("kind") eq k
mode(m) = strcol("malloc_mode") eq m
size = 'column("size_bytes")'
# A series: rows of one kind and malloc mode. Other rows give NaN, which "set datafile missing NaN"
# makes gnuplot skip without breaking the line.
series(k, m, col) = (kind(k) && mode(m)) ? column(col) : NaN
threshold = 131072
# The kinds as the lab's text names them.
label(k) = k eq "malloc_free" ? "malloc+free" : k eq "malloc_touch_free" ? "malloc+touch+free" : \
	k eq "calloc_free" ? "calloc+free" : k eq "stack_touch" ? "stack+touch" : \
	k eq "stack_array" ? "stack array" : k eq "heap_array" ? "heap array" : \
	k eq "list_in_order" ? "list in order" : k eq "list_scattered" ? "scattered list" : k
# Per size, each heap kind's time over the stack's (dynamic threshold): size,touch_ratio,alloc_ratio,
# read from data.csv by awk (gnuplot cannot join two rows).
ratios = "< awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next } " . \
	"$1 == \"alloc\" { ns[$2, $3, $4] = $h[\"ns_per_op_median\"]; if ($2 == \"stack_touch\") s[++n] = $4 } " . \
	"END { print \"size,touch_ratio,alloc_ratio\"; for (i = 1; i <= n; i++) { z = s[i]; st = ns[\"stack_touch\", \"\", z]; " . \
	"t = ns[\"malloc_touch_free\", \"dynamic_threshold\", z]; a = ns[\"malloc_free\", \"dynamic_threshold\", z]; " . \
	"if (st > 0 && t > 0 && a > 0) printf \"%s,%g,%g\\n\", z, t / st, a / st } }' '" . datafile . "'"

if (dumb) {
	set title "Lab 1: ns per allocation+free by size (" . machine . ")"
	set logscale y 10
	set ylabel "ns/op"
	set key top left
	plot datafile using (column("size_bytes")):(series("stack_touch", "", "ns_per_op_median")) \
	          with linespoints title "stack+touch", \
	     '' using (column("size_bytes")):(series("malloc_free", "dynamic_threshold", "ns_per_op_median")) \
	          with linespoints title "malloc+free dyn", \
	     '' using (column("size_bytes")):(series("malloc_free", "fixed_threshold", "ns_per_op_median")) \
	          with linespoints title "malloc+free fixed", \
	     '' using (column("size_bytes")):(series("malloc_touch_free", "fixed_threshold", "ns_per_op_median")) \
	          with linespoints title "malloc+touch+free fixed"
	exit
}

set multiplot layout 2,2 title "Lab 1: stack vs heap on " . machine font ",12"

set title "Cost of one allocation (+free): median ns/op, p5-p95 bars"
set logscale y 10
set ylabel "ns per op"
set arrow 1 from threshold, graph 0 to threshold, graph 1 nohead dashtype 2 lc rgb "gray40"
set label 1 "128 KiB: default mmap threshold" at threshold, graph 0.95 offset 0.5,0 font ",8"
plot for [k in "stack_touch"] datafile \
	using (column("size_bytes")):(series(k, "", "ns_per_op_median")):(series(k, "", "ns_per_op_p05")):(series(k, "", "ns_per_op_p95")) \
	with yerrorlines lw 2 title "stack+touch", \
     for [k in "malloc_free malloc_touch_free calloc_free"] datafile \
	using (column("size_bytes")):(series(k, "dynamic_threshold", "ns_per_op_median")) \
	with linespoints title label(k) . " (dynamic)", \
     for [k in "malloc_free malloc_touch_free calloc_free"] datafile \
	using (column("size_bytes")):(series(k, "fixed_threshold", "ns_per_op_median")) \
	with linespoints dashtype 2 title label(k) . " (fixed)"

set title "Page faults per op (getrusage): who pays for fresh pages"
unset logscale y
set ylabel "page faults per op"
plot datafile using (column("size_bytes")):(series("malloc_touch_free", "dynamic_threshold", "faults_per_op_rusage")) \
	with linespoints lw 2 title "malloc+touch+free (dynamic)", \
     '' using (column("size_bytes")):(series("malloc_touch_free", "fixed_threshold", "faults_per_op_rusage")) \
	with linespoints lw 2 dashtype 2 title "malloc+touch+free (fixed)", \
     '' using (column("size_bytes")):(series("calloc_free", "fixed_threshold", "faults_per_op_rusage")) \
	with linespoints title "calloc+free (fixed)"

unset arrow 1
unset label 1
set title "Reading data: ns per 8-byte element summed"
set logscale y 10
set xlabel "working set (bytes of values)"
set ylabel "ns per element"
plot for [k in "stack_array heap_array list_in_order list_scattered"] datafile \
	using (column("size_bytes")):(series(k, "", "ns_per_op_median")):(series(k, "", "ns_per_op_p05")):(series(k, "", "ns_per_op_p95")) \
	with yerrorlines lw 2 title label(k)

set title "The claim, size by size: heap time over stack time (dynamic threshold)"
set xlabel "allocation size (bytes)"
set ylabel "heap time / stack time (log scale)"
set yrange [*:100]
set key top right
set arrow 2 from graph 0, first 10 to graph 1, first 10 nohead dashtype 2 lc rgb "gray40"
set label 2 "the tutorials' 10x" at graph 0.02, first 10 offset 0,0.6 font ",8"
set arrow 3 from graph 0, first 1 to graph 1, first 1 nohead lc rgb "gray60"
set label 3 "the same" at graph 0.02, first 1 offset 0,0.6 font ",8"
plot ratios using "size":"touch_ratio" with linespoints title "malloc+touch+free / stack+touch (the same work)", \
     ratios using "size":"alloc_ratio" with linespoints title "malloc+free (nothing touched) / stack+touch"

unset multiplot
