# SPDX-License-Identifier: MIT
# Lab 8 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

is_switch = 'strcol("experiment") eq "switch"'
# Bars for the switch rows, in file order; the label says which mode each is, short enough to fit
# under a bar: thr/proc/task, the channel, 1cpu/2cpu/1thr.
short_kind(k) = k eq "threads" ? "thr" : k eq "processes" ? "proc" : "task"
short_channel(c) = c eq "sched_yield" ? "yield" : c eq "callback" ? "dispatch" : c eq "swapcontext" ? "ucontext" : c
short_place(p) = p eq "same_cpu" ? "1cpu" : p eq "two_cpus" ? "2cpu" : "1thr"
switch_label(dummy) = strcol("experiment") eq "switch" ? label(0) : ""
label(dummy) = short_kind(strcol("kind")) . " " . short_channel(strcol("channel")) . " " . short_place(strcol("placement"))
pick(m, col) = (strcol("experiment") eq "clients" && strcol("kind") eq m) ? column(col) : NaN
models = "thread_per_client event_loop"

set style fill solid 0.6 border -1
set boxwidth 0.6

# The switch rows come first in data.csv: the bar charts show those positions only.
nr_switch = int(system("awk -F, '$1 == \"switch\"' '" . datafile . "' | wc -l"))
set xrange [-0.5:nr_switch - 0.5]

if (dumb) {
	# A terminal has no room for the modes' names under the bars: they are numbered, in the
	# order of Part A's table, which the lab has just printed above the plot.
	set title "Lab 8: ns per context switch (" . machine . ")"
	set ylabel "ns"
	set xlabel "row of Part A's table above (1 = its first row)"
	plot datafile using (strcol("experiment") eq "switch" ? column("ns_per_op_median") : NaN):xtic(sprintf("%d", $0 + 1)) \
		with boxes notitle
	exit
}

set multiplot layout 2,2 title "Lab 8: context switches on " . machine font ",12"

set title "ns per switch (round trip / 2): measured, net of the syscalls, perf bench"
set ylabel "ns per switch (log scale)"
set logscale y 10
set xtics rotate by -35 font ",8"
set key top left
set boxwidth 0.27
set offsets 0, 0, graph 0.3, 0	# the legend above the bars
plot datafile using ($0 - 0.28):(strcol("experiment") eq "switch" ? column("ns_per_op_median") : NaN):xtic(switch_label(0)) \
	with boxes lc 1 title "measured", \
     datafile using ($0):(strcol("experiment") eq "switch" ? column("net_ns_per_switch") : NaN) \
	with boxes lc 2 title "net of the syscalls", \
     datafile using ($0 + 0.28):(strcol("experiment") eq "switch" ? column("perf_bench_ns_per_switch") : NaN) \
	with boxes lc 3 title "perf bench sched pipe"

set xtics norotate font ""
set offsets 0, 0, 0, 0
set xrange [*:*]
unset logscale y
set logscale x 10
set xlabel "clients"
set key top left
set title "How late the wake-ups were (each client: one request per 10 ms)"
set ylabel "lateness, us (log scale)"
set logscale y 10
plot for [m in models] datafile using (pick(m, "clients")):(pick(m, "late_p99_us")) \
	with linespoints lw 2 title m . " p99", \
     for [m in models] datafile using (pick(m, "clients")):(pick(m, "late_p50_us")) \
	with linespoints lw 1 dt 2 title m . " p50"

set key bottom left
set title "Context switches per request"
set ylabel "switches per request"
unset logscale y
set yrange [0:*]
plot for [m in models] datafile using (pick(m, "clients")):(pick(m, "switches_per_request")) \
	with linespoints lw 2 title m

set title "Memory per client: resident vs address space"
set ylabel "bytes per client"
set logscale y 2
set ytics ("16 B" 16, "256 B" 256, "4 KiB" 4096, "64 KiB" 65536, "1 MiB" 2**20, "16 MiB" 2**24, \
	"256 MiB" 2**28)	# a thread's 8 MiB of address space, not 8.38861e+06
set yrange [16:*]
set offsets 0, 0, graph 0.05, 0
plot datafile using (pick("thread_per_client", "clients")):(pick("thread_per_client", "virtual_bytes_per_client")) \
	with linespoints lw 2 title "thread: address space", \
     datafile using (pick("thread_per_client", "clients")):(pick("thread_per_client", "rss_bytes_per_client")) \
	with linespoints lw 2 title "thread: resident", \
     datafile using (pick("thread_per_client", "clients")):(pick("thread_per_client", "kernel_stack_bytes_per_client")) \
	with linespoints lw 2 title "thread: kernel stack", \
     datafile using (pick("event_loop", "clients")):(pick("event_loop", "rss_bytes_per_client")) \
	with linespoints lw 2 title "event loop: resident"
unset multiplot
