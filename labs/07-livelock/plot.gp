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
	plot for [s in strategies] datafile using (column("nr_workers")):(pick("lockstep", s, "ms_median")) \
		with linespoints title s
	exit
}

set multiplot layout 2,2 title "Lab 7: livelock on " . machine font ",12"

do for [pace in "lockstep free"] {
	set title "Completion time, " . pace . " (open markers: stopped by the watchdog)"
	set ylabel "ms (median)"
	plot for [i = 1:words(strategies)] datafile \
		using (column("nr_workers")):(pick(pace, word(strategies, i), "ms_median")):(marker(pace, word(strategies, i))) \
		with linespoints lw 2 pt variable ps 1.5 lc i title word(strategies, i)
}

set title "Retries per completed job (lockstep: livelocked runs complete none)"
set ylabel "retries per success"
set yrange [0.001:*]
plot for [i = 1:words(strategies)] datafile \
	using (column("nr_workers")):(pick("free", word(strategies, i), "retries_per_success") + 0.001) \
	with linespoints lw 2 lc i title word(strategies, i) . " (free)"

set title "CPU burned per completed job (free-running)"
set ylabel "us of CPU per job"
set yrange [*:*]
plot for [i = 1:words(strategies)] datafile \
	using (column("nr_workers")):(pick("free", word(strategies, i), "cpu_us_per_success")) \
	with linespoints lw 2 lc i title word(strategies, i)
unset multiplot
