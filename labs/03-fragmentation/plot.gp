# SPDX-License-Identifier: MIT
# Lab 3 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

pick(e, k, col) = (strcol("experiment") eq e && strcol("kind") eq k) ? column(col) : NaN
MiB = 1048576.0
# The allocators this run measured (others were skipped): plotting an absent one would only give
# gnuplot warnings.
allocators = system("awk -F, 'NR > 1 && $1 == \"churn\" { printf \"%s \", $2 }' '" . datafile . "'")
steps = "all_allocated every_other_freed large_request after_malloc_trim all_freed"
step_index(s) = sum [i = 1:words(steps)] (word(steps, i) eq s ? i - 1 : 0)
# RSS over live bytes, once the live set is large enough for the ratio to mean something.
overhead(k) = (strcol("experiment") eq "churn_series" && strcol("kind") eq k && column("live_bytes") > 4 * MiB) \
	? column("rss_bytes") / column("live_bytes") : NaN

# Operations in thousands: an axis of 200, 1200 reads better than one of 1.2e+06.
kops(dummy) = column("ops") / 1000.0
set xlabel "churn operations (thousands)"
set ylabel "RSS / live bytes"
set key top left

if (dumb) {
	set title "Lab 3: memory overhead (RSS / live) during the churn (" . machine . ")"
	set yrange [0:*]
	plot for [k in allocators] datafile using (kops(0)):(overhead(k)) with lines title k
	exit
}

set multiplot layout 2,2 title "Lab 3: fragmentation on " . machine font ",12"

set title "Overhead over time: RSS / live bytes (the drain at 80%)"
set yrange [0:*]
plot for [k in allocators] datafile using (kops(0)):(overhead(k)) with lines lw 2 title k

set title "Resident memory over time, and the live bytes"
set ylabel "MiB"
set offsets 0, 0, graph 0.45, 0	# room above the curves for the legend
plot for [k in allocators] datafile using (kops(0)):(pick("churn_series", k, "rss_bytes") / MiB) \
	with lines lw 2 title k . " RSS", \
     datafile using (kops(0)):(pick("churn_series", "glibc", "live_bytes") / MiB) \
	with lines dashtype 2 lw 2 lc rgb "black" title "live bytes"

set offsets 0, 0, 0, 0
set title "Part 1: a million 1 KiB blocks, every other one freed"
set xlabel ""
set ylabel "MiB"
set style data histogram
set style fill solid 0.6 border -1
set boxwidth 0.35
set xrange [-0.6:4.6]
set xtics ("allocated" 0, "half freed" 1, "large request" 2, "malloc_trim" 3, "all freed" 4)
set key top right
plot datafile using (step_index(strcol("step")) - 0.18):(pick("classic", "malloc", "rss_bytes") / MiB) \
	with boxes lc 1 title "RSS", \
     datafile using (step_index(strcol("step")) + 0.18):(pick("classic", "malloc", "heap_free_bytes") / MiB) \
	with boxes lc 2 title "free in the heap"

set title "Churn: ns per operation (free + malloc + writing the object)"
set ylabel "ns per op (median, p5-p95)"
set autoscale x
set xrange [-0.6:words(allocators) - 0.4]
set xtics ()
set for [i = 1:words(allocators)] xtics add (word(allocators, i) i - 1)
set key off
set boxwidth 0.6
plot for [i = 1:words(allocators)] datafile \
	using (i - 1):(pick("churn", word(allocators, i), "ns_per_op_median")) with boxes lc i, \
     for [i = 1:words(allocators)] datafile \
	using (i - 1):(pick("churn", word(allocators, i), "ns_per_op_median")):(pick("churn", word(allocators, i), "ns_per_op_p05")):(pick("churn", word(allocators, i), "ns_per_op_p95")) \
	with yerrorbars lc rgb "black" pt 0
unset multiplot
