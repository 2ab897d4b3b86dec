# SPDX-License-Identifier: MIT
# Lab 9 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

pick(m, col) = strcol("mode") eq m ? column(col) : NaN
# populate_touch takes no faults at all (MAP_POPULATE did them): nothing to draw per fault.
faulting = "anon_write anon_read anon_write_after_read populate_mmap hugepage file_cached file_uncached cow_child"
MiB = 1048576.0
# The largest size, for the last panel (stats honours the x range: take it before any is set).
stats datafile using (column("size_bytes")) nooutput
largest = STATS_max

set logscale x 2
set format x "%.0b%B"
set xlabel "mapping size (bytes)"
set logscale y 10
set key outside right

if (dumb) {
	set title "Lab 9: ns per fault by size (" . machine . ")"
	set ylabel "ns per fault"
	plot for [m in "anon_write anon_write_after_read hugepage file_cached cow_child"] datafile \
		using (column("size_bytes")):(pick(m, "ns_per_fault")) with linespoints title m
	exit
}

set multiplot layout 2,2 title "Lab 9: page faults on " . machine font ",12"

set title "Faults per MiB (getrusage)"
set ylabel "faults per MiB"
# One fault per page is the same value for five modes: their lines lie on one another.
set label 1 "one per page: the anon_*, populate_mmap and cow_child lines coincide" \
	at graph 0.02, graph 0.96 font ",8"
plot for [m in faulting] datafile \
	using (column("size_bytes")):(pick(m, "faults") / (column("size_bytes") / MiB)) \
	with linespoints lw 2 title m
unset label 1

set title "ns per fault (median time / faults)"
set ylabel "ns per fault"
plot for [m in faulting] datafile \
	using (column("size_bytes")):(pick(m, "ns_per_fault")) with linespoints lw 2 title m

set title "ns per page of the mapping (median, p5-p95)"
set ylabel "ns per page"
plot for [m in faulting . " populate_touch"] datafile \
	using (column("size_bytes")):(pick(m, "ns_per_op_median")):(pick(m, "ns_per_op_p05")):(pick(m, "ns_per_op_p95")) \
	with yerrorlines lw 2 title m

set title "getrusage vs PAPI: faults per page (largest size)"
unset logscale
set style fill solid 0.6 border -1
set boxwidth 0.35
set ylabel "faults per page"
set yrange [0:1.2]
set xrange [-0.6:7.6]
set xlabel ""
set format x "%g"
set key top right inside
set xtics rotate by -30 ("anon_write" 0, "anon_read" 1, "write_after_read" 2, "populate_mmap" 3, "hugepage" 4, "file_cached" 5, "file_uncached" 6, "cow_child" 7)
idx(m) = sum [i = 1:words(faulting)] (word(faulting, i) eq m ? i - 1 : 0)
in_faulting(m) = sum [i = 1:words(faulting)] (word(faulting, i) eq m ? 1 : 0)
# PAPI's bars only where PAPI counted: an empty column (no counters on this machine) is skipped
# with a note in the title instead of a gnuplot warning.
nr_papi = 0
set table $papi_count
plot datafile using (strcol("faults_papi") ne "" ? nr_papi = nr_papi + 1 : 0):(0) with points
unset table
if (nr_papi > 0) {
plot datafile using (in_faulting(strcol("mode")) && column("size_bytes") == largest ? idx(strcol("mode")) - 0.18 : NaN):(column("faults_per_page")) \
	with boxes lc 1 title "getrusage", \
     datafile using (in_faulting(strcol("mode")) && column("size_bytes") == largest ? idx(strcol("mode")) + 0.18 : NaN):(column("faults_papi") / column("pages")) \
	with boxes lc 2 title "PAPI"
} else {
plot datafile using (in_faulting(strcol("mode")) && column("size_bytes") == largest ? idx(strcol("mode")) - 0.18 : NaN):(column("faults_per_page")) \
	with boxes lc 1 title "getrusage (PAPI: not counted here)"
}
unset multiplot
