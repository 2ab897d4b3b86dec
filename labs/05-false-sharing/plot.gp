# SPDX-License-Identifier: MIT
# Lab 5 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

row(e, k, pl) = strcol("experiment") eq e && strcol("kind") eq k && strcol("placement") eq pl
pick(e, k, pl, col) = row(e, k, pl) ? column(col) : NaN
# The placements this machine offered (others have no rows): from the data, in order.
placements = system("awk -F, 'NR > 1 && $1 == \"distance\" && !seen[$3]++ { printf \"%s \", $3 }' '" . datafile . "'")
# Distances 0, 4, 8 ... 256 at evenly spaced positions 0, 1, 2 ... 7.
slot(d) = d == 0 ? 0 : log(d) / log(2) - 1
set xtics ("0 (one shared)" 0, "4" 1, "8" 2, "16" 3, "32" 4, "64" 5, "128" 6, "256" 7)
set xlabel "bytes between neighbouring counters"
set ylabel "ns per increment (median)"
set logscale y 10
set key top right

if (dumb) {
	set title "Lab 5: ns per increment vs distance, plain (" . machine . ")"
	plot for [pl in placements] datafile \
		using (slot(column("distance_bytes"))):(pick("distance", "plain", pl, "ns_per_op_median")) \
		with linespoints title pl
	exit
}

set multiplot layout 2,3 title "Lab 5: false sharing on " . machine font ",12"

set title "Plain (volatile) increments, two threads: ns per increment, p5-p95 bars"
plot for [pl in placements] datafile \
	using (slot(column("distance_bytes"))):(pick("distance", "plain", pl, "ns_per_op_median")):(pick("distance", "plain", pl, "ns_per_op_p05")):(pick("distance", "plain", pl, "ns_per_op_p95")) \
	with yerrorlines lw 2 title pl

set title "Atomic (relaxed) increments: 0 = one counter both threads share"
plot for [pl in placements] datafile \
	using (slot(column("distance_bytes"))):(pick("distance", "atomic", pl, "ns_per_op_median")):(pick("distance", "atomic", pl, "ns_per_op_p05")):(pick("distance", "atomic", pl, "ns_per_op_p95")) \
	with yerrorlines lw 2 title pl

unset logscale y
set title "What padding buys: speed-up over packed counters (atomic)"
set ylabel "times faster than packed"
set xlabel "placement"
set style fill solid 0.6 border -1
set yrange [0:*]
set key top left
set xrange [-0.5:words(placements) - 0.5]
set xtics ()
set for [i = 1:words(placements)] xtics add (word(placements, i) i - 1)
layouts = "alignas_64 alignas_line alignas_128"
layout_label(l) = l eq "alignas_64" ? "alignas(64)" : l eq "alignas_128" ? "alignas(128)" : \
	"alignas(cache line)"
place_index(pl) = sum [i = 1:words(placements)] (pl eq word(placements, i) ? i - 1 : 0)
# x: the placement's slot, shifted per layout; the third column is the box width.
plot for [j = 1:3] datafile \
	using (place_index(strcol("placement")) + (j - 2) * 0.25):\
	(strcol("experiment") eq "layout" && strcol("kind") eq word(layouts, j) ? column("speedup_vs_packed") : NaN):(0.22) \
	with boxes lc j title layout_label(word(layouts, j)), \
     1 with lines dashtype 2 lc rgb "gray40" title "no gain"

# The thread counts this machine allowed (1, 2, 4... up to its usable PUs), from the data.
nr_counts = int(system("awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == \"nr_threads\") c = i; next } $1 == \"threads\" && !seen[$c]++ { n++ } END { print n + 0 }' '" . datafile . "'"))
set title sprintf("One thread per PU: packed vs padded (atomic; %d thread count%s)", nr_counts, nr_counts == 1 ? "" : "s")
set xlabel "threads"
set ylabel "ns per increment"
set xrange [0.5:*]
set offsets 0, 1, 0, 0
set xtics 1	# thread counts are whole numbers
set logscale y 10
set yrange [*:*]
set key top left
if (nr_counts == 0) {
	# Nothing to draw (an old data file, or the experiment skipped): say so instead of failing.
	unset logscale y
	set xrange [0:1]
	set yrange [0:1]
	set label 1 "no thread-count rows in data.csv" at graph 0.5, 0.5 center
	plot -1 notitle
} else {
	plot datafile using (pick("threads", "packed", "spread", "nr_threads")):(column("ns_per_op_median")) \
		with linespoints lw 2 title "packed (4 B apart)", \
	     datafile using (pick("threads", "padded", "spread", "nr_threads")):(column("ns_per_op_median")) \
		with linespoints lw 2 title "padded (a line apart)"
}

# The core-to-core map: one cell per measured pair of PUs (drawn on both sides of the diagonal),
# coloured by the one-way hand-off time; the axes follow hwloc's logical order (data.csv's pos_a and
# pos_b; pu_a and pu_b are the OS numbers), and boxes mark the PUs that share an L2 (thin), an L3,
# a NUMA node or a package (thickest).
cell(col) = strcol("experiment") eq "core_to_core" ? column(col) : NaN
box(col, level) = strcol("experiment") eq "core_to_core_group" && strcol("kind") eq level ? column(col) : NaN
nr_cells = int(system("awk -F, '$1 == \"core_to_core\" { n++ } END { print n + 0 }' '" . datafile . "'"))
nr_map_pus = int(system("awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == \"pos_b\") c = i; next } $1 == \"core_to_core\" && $c + 1 > m { m = $c + 1 } END { print m + 0 }' '" . datafile . "'"))
unset logscale y
unset offsets
set key off
set title sprintf("Core to core: one-way hand-off of a cache line, ns (%d pair%s measured)", nr_cells, nr_cells == 1 ? "" : "s")
set xlabel "PU, in hwloc's logical order"
set ylabel "PU"
set xtics 1
set ytics 1
set size ratio -1
set palette defined (0 "#FFF7BC", 0.5 "#FE9929", 1 "#993404")
if (nr_cells == 0) {
	set xrange [0:1]
	set yrange [0:1]
	set label 1 "no core-to-core rows in data.csv (one usable PU, or an older run)" at graph 0.5, 0.5 center
	plot -1 notitle
} else {
	unset label 1
	# One pair (two PUs) is one colour: give the scale some room around it.
	set xrange [*:*]
	set yrange [*:*]
	stats datafile using (cell("ns_per_op_median")) nooutput
	if (STATS_min < STATS_max) { set cbrange [STATS_min:STATS_max] } else { set cbrange [STATS_min * 0.9:STATS_max * 1.1] }
	set xrange [-0.5:nr_map_pus - 0.5]
	set yrange [nr_map_pus - 0.5:-0.5]
	set cblabel "ns, one way"
	# The levels with a box here (a VM may have none but its package), nearest first.
	levels = system("awk -F, '$1 == \"core_to_core_group\" && !seen[$2]++ { printf \"%s \", $2 }' '" . datafile . "'")
	nr_levels = words(levels)
	plot datafile using (cell("pos_a")):(cell("pos_b")):(0.5):(0.5):(cell("ns_per_op_median")) \
		with boxxyerror fs solid 1.0 noborder lc palette, \
	     datafile using (cell("pos_b")):(cell("pos_a")):(0.5):(0.5):(cell("ns_per_op_median")) \
		with boxxyerror fs solid 1.0 noborder lc palette, \
	     for [j = 1:nr_levels] datafile using ((box("pos_a", word(levels, j)) + box("pos_b", word(levels, j))) / 2.0):\
		((box("pos_a", word(levels, j)) + box("pos_b", word(levels, j))) / 2.0):\
		((box("pos_b", word(levels, j)) - box("pos_a", word(levels, j)) + 1) / 2.0):\
		((box("pos_b", word(levels, j)) - box("pos_a", word(levels, j)) + 1) / 2.0) \
		with boxxyerror fs empty border lc rgb "black" lw j
}
unset multiplot
