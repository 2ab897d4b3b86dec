# SPDX-License-Identifier: MIT
# Lab 7 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

pick(pace, s, col) = (strcol("pace") eq pace && strcol("strategy") eq s) ? column(col) : NaN
strategies = "immediate fixed_delay exponential exponential_full_jitter decorrelated_jitter"
# A run the watchdog stopped did not finish: its time is the deadline, drawn with an open marker.
marker(pace, s) = pick(pace, s, "completed_runs") < pick(pace, s, "runs") ? 6 : 7

set xlabel "workers"
set logscale x 2
set logscale y 10
set key top left

if (dumb) {
	set title "Lab 7: completion time in lockstep, ms (" . machine . ")"
	set ylabel "ms"
	# The strategies that livelock all end at the watchdog's limit, one line over another: said in
	# words above it, and the legend kept clear of it.
	set yrange [1:20000]
	set key at graph 0.98, graph 0.88 right top	# above the watchdog's line, below the words
	set label 1 "the flat line at the top: stopped by the watchdog (livelocked)" at graph 0.02, graph 0.95
	plot for [s in strategies] datafile using (column("nr_workers")):(pick("lockstep", s, "ms_median")) \
		with linespoints title s
	exit
}

set multiplot layout 2,2 title "Lab 7: livelock on " . machine font ",12"

# Each strategy a little to the side of the worker count, so that runs stopped at the same
# deadline do not hide each other.
dodge(i) = column("nr_workers") * (1 + 0.07 * (i - 3))

set key bottom right
do for [pace in "lockstep free"] {
	set title "Completion time, " . pace . " (open markers: stopped by the watchdog)"
	set ylabel "ms (median)"
	plot for [i = 1:words(strategies)] datafile \
		using (dodge(i)):(pick(pace, word(strategies, i), "ms_median")):(marker(pace, word(strategies, i))) \
		with linespoints lw 2 pt variable ps 1.5 lc i title word(strategies, i)
}

set key top right
set title "Retries per completed job, free-running"
set ylabel "retries per success"
# On one PU the free-running workers may never collide (all zeros): keep the log range open.
max_retries = real(system("awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == \"retries_per_success\") c = i; next } $2 == \"free\" && $c + 0 > m { m = $c + 0 } END { print m + 0 }' '" . datafile . "'"))
set yrange [0.001:(max_retries > 0.005 ? 2 * max_retries : 0.01)]
plot for [i = 1:words(strategies)] datafile \
	using (dodge(i)):(pick("free", word(strategies, i), "retries_per_success") + 0.001) \
	with linespoints lw 2 lc i title word(strategies, i)

set title "CPU burned: ms of CPU per ms of wall time"
set ylabel "CPU ms per wall ms"
unset logscale y
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set key bottom left
plot for [i = 1:words(strategies)] datafile \
	using (dodge(i)):(pick("free", word(strategies, i), "cpu_per_wall")) \
	with linespoints lw 2 lc i title word(strategies, i) . " (free)", \
     datafile using (column("nr_workers")):(pick("lockstep", "immediate", "cpu_per_wall")) \
	with linespoints lw 2 dt 2 lc rgb "black" pt 6 ps 1.5 title "immediate, lockstep (livelocked)", \
     datafile using (column("nr_workers")):(pick("lockstep_harness", "immediate", "cpu_per_wall")) \
	with points lc rgb "red" pt 9 ps 2 title "lockstep barrier alone (the harness)"
unset multiplot
