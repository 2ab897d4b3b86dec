# SPDX-License-Identifier: MIT
# Lab 8 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

is_switch = 'strcol("experiment") eq "switch"'
# Bars for the switch rows, in file order; the label says which mode each is.
label(dummy) = strcol("kind") . " " . strcol("channel") . " " . strcol("placement")
pick(m, col) = (strcol("experiment") eq "clients" && strcol("kind") eq m) ? column(col) : NaN
models = "thread_per_client event_loop"

set style fill solid 0.6 border -1
set boxwidth 0.6

if (dumb) {
	set title "Lab 8: ns per context switch (" . machine . ")"
	set ylabel "ns"
	set xtics rotate by -45 font ",8"
	plot datafile using (strcol("experiment") eq "switch" ? column("ns_per_op_median") : NaN):xtic(label(0)) \
		with boxes notitle
	exit
}

set multiplot layout 2,2 title "Lab 8: context switches on " . machine font ",12"

set title "ns per switch (round trip / 2): measured, net of the syscalls, perf bench"
set ylabel "ns per switch"
set xtics rotate by -35 font ",8"
set key top left
set boxwidth 0.27
plot datafile using ($0 - 0.28):(strcol("experiment") eq "switch" ? column("ns_per_op_median") : NaN):xtic(label(0)) \
	with boxes lc 1 title "measured", \
     datafile using ($0):(strcol("experiment") eq "switch" ? column("net_ns_per_switch") : NaN) \
	with boxes lc 2 title "net of the syscalls", \
     datafile using ($0 + 0.28):(strcol("experiment") eq "switch" ? column("perf_bench_ns_per_switch") : NaN) \
	with boxes lc 3 title "perf bench sched pipe"

set xtics norotate font ""
set logscale x 10
set xlabel "clients"
set key top left
set title "Requests per second served (each client: one request per 10 ms)"
set ylabel "requests/s"
set logscale y 10
plot for [m in models] datafile using (pick(m, "clients")):(pick(m, "requests_per_s")) \
	with linespoints lw 2 title m

set title "Context switches per request"
set ylabel "switches per request"
unset logscale y
set yrange [0:*]
plot for [m in models] datafile using (pick(m, "clients")):(pick(m, "switches_per_request")) \
	with linespoints lw 2 title m

set title "Memory per client: resident vs address space"
set ylabel "bytes per client"
set logscale y 10
set yrange [10:*]
plot datafile using (pick("thread_per_client", "clients")):(pick("thread_per_client", "virtual_bytes_per_client")) \
	with linespoints lw 2 title "thread: address space", \
     datafile using (pick("thread_per_client", "clients")):(pick("thread_per_client", "rss_bytes_per_client")) \
	with linespoints lw 2 title "thread: resident", \
     datafile using (pick("event_loop", "clients")):(pick("event_loop", "rss_bytes_per_client")) \
	with linespoints lw 2 title "event loop: resident"
unset multiplot
