# SPDX-License-Identifier: MIT
# Lab 13 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid y
set style fill solid 0.6 border -1
set boxwidth 0.6
set key off

views = "before_free after_free new_owner_before new_owner_after_stale_write"
slot(k) = sum [i = 1:words(views)] (k eq word(views, i) ? i - 1 : 0)
has_cost = system("awk -F, '$1 == \"malloc_free_cost\" { n++ } END { print n + 0 }' '" . datafile . "'")

set xrange [-0.6:3.6]
set xtics ("alice, before free" 0, "alice, after free" 1, "bob, fresh" 2, "bob, after alice->balance = 0" 3)
set ylabel "balance"
set yrange [0:*]

if (dumb) {
	set title "Lab 13: one block, two owners (" . machine . ")"
	plot datafile using (strcol("experiment") eq "use_after_free" ? slot(strcol("kind")) : NaN):"balance" with boxes
	exit
}

set multiplot layout 1,2 title "Lab 13: dangling pointers on " . machine font ",12"
set title "One block, two owners: the balance seen through each pointer"
# Each balance over its bar: bob's 0 (alice's stale write landed in his block) is the point of the
# lab, and a bar of 0 draws nothing.
set offsets 0, 0, graph 0.08, 0
plot datafile using (strcol("experiment") eq "use_after_free" ? slot(strcol("kind")) : NaN):"balance" \
	with boxes lc 1, \
     datafile using (strcol("experiment") eq "use_after_free" ? slot(strcol("kind")) : NaN):"balance":(sprintf("%.0f", column("balance"))) \
	with labels offset 0, 0.8 font ",11"
set offsets 0, 0, 0, 0

set title "The price of catching it: ns per malloc + free (median, p5-p95)"
set xrange [-0.6:1.6]
set xtics ("plain" 0, "AddressSanitizer" 1)
set ylabel "ns"
set logscale y 10
set yrange [1:*]
if (has_cost > 1) {
	plot datafile using (strcol("experiment") eq "malloc_free_cost" ? (strcol("kind") eq "plain" ? 0 : 1) : NaN):"ns_per_op_median" \
		with boxes lc 2, \
	     datafile using (strcol("experiment") eq "malloc_free_cost" ? (strcol("kind") eq "plain" ? 0 : 1) : NaN):"ns_per_op_median":"ns_per_op_p05":"ns_per_op_p95" \
		with yerrorbars lc rgb "black" pt 0
} else {
	plot datafile using (strcol("experiment") eq "malloc_free_cost" ? 0 : NaN):"ns_per_op_median" \
		with boxes lc 2
}
unset multiplot
