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
	set format y "%.0b %BB"	# 64 GiB, not 6.87195e+10
	set offsets 0, 0, graph 0.05, graph 0.05	# the virtual line off the border
	set key bottom right
	set xlabel "MiB touched"
	plot datafile using (pick("noreserve", "touch", "touched_bytes") / 2**20):"virtual_bytes" \
		with linespoints title "virtual", \
	     datafile using (pick("noreserve", "touch", "touched_bytes") / 2**20):"resident_bytes" \
		with linespoints title "resident"
	exit
}

set multiplot layout 2,2 title "Lab 11: virtual memory on " . machine font ",12"

# The sample objects, one line each, in address order of the first run: index, name, the address
# in TiB, and how far runs 2 and 3 moved it (bytes), as CSV with a header like data.csv's. awk
# reads data.csv; gnuplot plots its output.
regions = "< awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next } " . \
	"$1 == \"address\" { a[$2, $3] = $h[\"address_decimal\"]; if ($3 == 1) k[++n] = $2 } " . \
	"END { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[k[j], 1] < a[k[j - 1], 1]; j--) " . \
	"{ t = k[j]; k[j] = k[j - 1]; k[j - 1] = t } " . \
	"print \"index,kind,tib,moved_2,moved_3\"; " . \
	"for (i = 1; i <= n; i++) { d2 = a[k[i], 2] - a[k[i], 1]; d3 = a[k[i], 3] - a[k[i], 1]; " . \
	"printf \"%d,%s,%.6f,%.0f,%.0f\\n\", i, k[i], a[k[i], 1] / 2^40, d2 < 0 ? -d2 : d2, " . \
	"d3 < 0 ? -d3 : d3 } }' '" . datafile . "'"

set title "Where each kind of data lives (run 1), low to high address"
set xlabel ""
set ylabel "address (TiB from 0)"
set xtics rotate by -30 font ",9"
set key off
set offsets 0.5, 0.5, 4, 2
plot regions using 1:3:xtic(2) with points pt 7 ps 1.8 lc rgb "#0072B2", \
     regions using 1:3:(sprintf("%.1f", $3)) with labels offset 0, 1 font ",8" notitle

set title "How far ASLR moved each one in the next two runs"
set ylabel "distance from run 1's address"
set logscale y 2
set format y "%.0b%B"
set key bottom left font ",9"
set offsets 0.5, 0.5, 0, 0
plot regions using ($1 - 0.1):4:xtic(2) with points pt 7 ps 1.5 lc rgb "#E69F00" title "run 2", \
     regions using ($1 + 0.1):5 with points pt 5 ps 1.5 lc rgb "#009E73" title "run 3"
unset logscale y
set format y "% h"
set xtics norotate font ""
set offsets 0, 0, 0, 0

set title "A mapping of 4x RAM (MAP_NORESERVE), touched page by page"
set xlabel "MiB touched"
set ylabel "bytes"
set autoscale x
set xtics autofreq
set logscale y 2
set format y "%.0b%B"
set key bottom right font ",10"	# resident climbs from the bottom left: this corner stays clear
set offsets 0, 0, graph 0.06, 0	# the virtual size's flat line off the top border
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
