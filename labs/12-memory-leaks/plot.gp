# SPDX-License-Identifier: MIT
# Lab 12 plots from data.csv. Called by scripts/plot.sh, which sets the terminal and output and
# defines: datafile (path to data.csv), machine (one-line description), dumb (1: terminal plot).
set datafile separator comma
set datafile columnheaders
set datafile missing NaN
set grid

row(e, k) = strcol("experiment") eq e && strcol("kind") eq k
pick(e, k, col) = row(e, k) ? column(col) : NaN
servers = "leaky fixed reachable"
set key top left

if (dumb) {
	set title "Lab 12: RSS against requests served (" . machine . ")"
	set xlabel "requests (thousands)"
	set ylabel "RSS (MiB)"
	plot for [s in servers] datafile using (pick("rss", s, "requests") / 1000):(column("rss_bytes") / 2**20) \
		with lines title s
	exit
}

set multiplot layout 1,2 title "Lab 12: memory leaks on " . machine font ",12"

set title "Seen from outside: RSS against requests served"
set xlabel "requests (thousands)"
set ylabel "RSS (MiB)"
plot for [s in servers] datafile using (pick("rss", s, "requests") / 1000):(column("rss_bytes") / 2**20) \
	with lines lw 2 title s

set title "The same over time, and the allocator's own count (dashed)"
set xlabel "ms"
set ylabel "MiB"
plot for [s in servers] datafile using (pick("rss", s, "ms")):(column("rss_bytes") / 2**20) \
	with lines lw 2 title s . " RSS", \
     for [s in servers] datafile using (pick("rss", s, "ms")):(column("heap_bytes") / 2**20) \
	with lines dashtype 2 title s . " heap in use"
unset multiplot
