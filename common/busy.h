/* SPDX-License-Identifier: MIT */
/*
 * busy: is other work competing for the CPUs while a lab measures? Reads /proc/stat (CPU time of
 * the whole machine, and steal time: what the hypervisor gave to other guests) and /proc/loadavg
 * (tasks runnable right now), and subtracts this process's own CPU time (getrusage), so that what
 * is left is other programs. A lab prints one line when the answer is yes and records the figures
 * in its manifest: a noisy verdict then has a visible cause.
 */
#ifndef COMMON_BUSY_H
#define COMMON_BUSY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What was seen between busy_start() and busy_stop(). A figure that could not be read is NAN. */
struct busy {
	double elapsed_s;
	double others_cpus;	/* CPUs' worth of time that other processes used (0.5: half a CPU) */
	double steal_fraction;	/* share of the machine's CPU time stolen by the hypervisor */
	double runnable_others;	/* runnable tasks besides this one, median of the readings */
	unsigned nr_readings;	/* of the runnable count */
};

/* A running measurement of the above. Plain data: no release needed. */
struct busy_meter {
	uint64_t start_ns;
	double self_cpu_s;		/* this process and its waited-for children, at start */
	uint64_t busy_ticks, steal_ticks, total_ticks;	/* /proc/stat's "cpu" line, at start */
	bool have_stat;
	double runnable[64];		/* readings of the runnable count; the newest overwrite */
	unsigned nr_readings;
};

/* Reads a small /proc file whole into buf (NUL-terminated) with one read(2): no stdio buffer to
 * allocate between samples. Returns 0 or -errno. */
int busy_read_proc(const char *path, char *buf, size_t len);

/* Starts measuring now, with a first reading of the runnable count. Never fails. */
void busy_start(struct busy_meter *m);

/* One more reading of the runnable count (cheap: one small /proc read). Call between samples,
 * never inside a timed region. */
void busy_sample(struct busy_meter *m);

/* The figures from busy_start() until now. Never fails; unreadable figures are NAN. */
void busy_stop(const struct busy_meter *m, struct busy *out);

/*
 * True when other work competed enough to make timings noisy: other processes used at least a
 * quarter of a CPU over half a second or more (half a CPU over 0.1 s or more: /proc/stat counts
 * in ticks of 10 ms), at least 3% steal over half a second or more, or at least one other
 * runnable task in the median of three or more readings.
 */
bool busy_is_noisy(const struct busy *b);

/*
 * "1 other runnable task, other programs used 0.9 CPUs, 4% steal" (the figures that are known).
 * Returns buf.
 */
const char *busy_describe(const struct busy *b, char *buf, size_t len);

/*
 * Parses the text of /proc/stat: the aggregate "cpu" line into busy (user, nice, system, irq,
 * softirq), steal and total ticks. Returns 0 or -EINVAL. Public for the unit tests.
 */
int busy_parse_stat(const char *text, uint64_t *busy_ticks, uint64_t *steal_ticks,
		    uint64_t *total_ticks);

/* Parses /proc/loadavg's text: runnable tasks (the "R" of its fourth field "R/T") minus the reader
 * itself. Returns >= 0, or -EINVAL. Public for the unit tests. */
int busy_parse_loadavg(const char *text);

#endif
