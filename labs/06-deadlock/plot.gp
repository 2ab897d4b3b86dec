# SPDX-License-Identifier: MIT
# Lab 6 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

pick(e, s, col) = (strcol("experiment") eq e && strcol("strategy") eq s) ? column(col) : NaN
safe = "ordered trylock global"
M = 1e6

set xlabel "threads"
set ylabel "million transfers per second"
set logscale x 2
set key top right

if (dumb) {
	set title "Lab 6: throughput vs threads, 64 accounts (" . machine . ")"
	plot for [s in safe] datafile using (column("nr_threads")):(pick("threads", s, "transfers_per_s_median") / M) \
		with linespoints title s
	exit
}

set multiplot layout 2,2 title "Lab 6: deadlock on " . machine font ",12"

set title "Safe strategies: throughput vs threads (64 accounts), p5-p95 bars"
plot for [s in safe] datafile \
	using (column("nr_threads")):(pick("threads", s, "transfers_per_s_median") / M):(pick("threads", s, "transfers_per_s_p05") / M):(pick("threads", s, "transfers_per_s_p95") / M) \
	with yerrorlines lw 2 title s

set title "Safe strategies: throughput vs accounts (most threads)"
set xlabel "accounts"
set logscale x 10
plot for [s in safe] datafile \
	using (column("nr_accounts")):(pick("accounts", s, "transfers_per_s_median") / M) \
	with linespoints lw 2 title s

set title "The naive bank: time until it deadlocks (median of the runs)"
set ylabel "ms to deadlock"
set logscale y 10
set key off
plot datafile using (column("nr_accounts")):(pick("deadlock", "naive", "ms_to_deadlock_median")) \
	with linespoints lw 2 pt 7 lc 7

unset logscale
set title "Deadlocked threads: CPU used in 100 ms (median run)"
set ylabel "ms of CPU, all stuck threads"
# All zeros is the expected result: give the axis a height anyway.
stats datafile using (pick("deadlock", "naive", "stuck_cpu_ms_per_100ms")) nooutput
set yrange [0:(STATS_max > 1 ? 1.2 * STATS_max : 1)]
set logscale x 10
# The flat line on the axis is the finding: say it in words, so that it does not read as no data.
if (STATS_max < 0.5) {
	set label 1 "about 0 ms: deadlocked threads sleep on their locks (a livelock burns CPU: Lab 7)" \
		at graph 0.03, graph 0.5 font ",9"
}
plot datafile using (column("nr_accounts")):(pick("deadlock", "naive", "stuck_cpu_ms_per_100ms")) \
	with linespoints lw 2 pt 7 lc 7 notitle
unset multiplot
