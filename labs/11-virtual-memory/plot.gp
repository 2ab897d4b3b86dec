# SPDX-License-Identifier: MIT
# Lab 11 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

row(e, k) = strcol("experiment") eq e && strcol("kind") eq k
pick(e, k, col) = row(e, k) ? column(col) : NaN
tib(a) = a / 2.0**40	# an address as TiB from 0
touched = system("awk -F, '$1 == \"noreserve\" { n++ } END { print n + 0 }' '" . datafile . "'")

if (dumb) {
	set title "Lab 11: virtual vs resident bytes as pages are touched (" . machine . ")"
	set logscale y 2
	set xlabel "MiB touched"
	plot datafile using (pick("noreserve", "touch", "touched_bytes") / 2**20):"virtual_bytes" \
		with linespoints title "virtual", \
	     datafile using (pick("noreserve", "touch", "touched_bytes") / 2**20):"resident_bytes" \
		with linespoints title "resident"
	exit
}

set multiplot layout 1,3 title "Lab 11: virtual memory on " . machine font ",12"

set title "Where each kind of data lives, in 3 runs (ASLR)"
set xlabel "run"
set ylabel "address (TiB from 0)"
set xrange [0.5:3.5]
set xtics 1
set key outside bottom center vertical font ",8"
kinds = system("awk -F, '$1 == \"address\" && $3 == 1 { printf \"%s \", $2 }' '" . datafile . "'")
plot for [k in kinds] datafile \
	using (strcol("experiment") eq "address" && strcol("kind") eq k ? column("run") : NaN):(tib(column("address_decimal"))) \
	with linespoints pt 7 title k

set title "A mapping of 4x RAM (MAP_NORESERVE), touched page by page"
set xlabel "MiB touched"
set ylabel "bytes"
set autoscale x
set xtics autofreq
set logscale y 2
set format y "%.0b%B"
set key top left inside font ",10"
if (touched > 0) {
	plot datafile using (pick("noreserve", "touch", "touched_bytes") / 2**20):"virtual_bytes" \
		with linespoints lw 2 title "virtual size (VmSize)", \
	     datafile using (pick("noreserve", "touch", "touched_bytes") / 2**20):"resident_bytes" \
		with linespoints lw 2 title "resident (VmRSS)"
} else {
	set label "the mapping was refused here (see the verdict)" at graph 0.1, graph 0.5
	plot 2**20 notitle lc rgb "white"
	unset label
}

set title "One idle thread: stack reserved vs resident"
set xlabel ""
set xrange [-0.5:1.5]
set xtics ("reserved (virtual)" 0, "resident" 1)
set style fill solid 0.6 border -1
set boxwidth 0.5
set yrange [1024:*]
set key off
plot datafile using (row("thread_stack", "virtual_per_thread") ? 0 : \
	row("thread_stack", "resident_per_thread") ? 1 : NaN):"bytes" with boxes lc 2
unset multiplot
