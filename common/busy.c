// SPDX-License-Identifier: MIT
// busy: other work competing for the CPUs (see busy.h).
#include "busy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "stats.h"

int busy_read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int err = n < 0 ? -errno : 0;

	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	return 0;
}

int busy_parse_stat(const char *text, uint64_t *busy_ticks, uint64_t *steal_ticks,
		    uint64_t *total_ticks)
{
	uint64_t v[8] = { 0 };	// user nice system idle iowait irq softirq steal

	if (strncmp(text, "cpu ", 4) != 0)
		return -EINVAL;
	int n = sscanf(text + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		       " %" SCNu64 " %" SCNu64 " %" SCNu64, &v[0], &v[1], &v[2], &v[3], &v[4],
		       &v[5], &v[6], &v[7]);
	if (n < 4)
		return -EINVAL;
	// guest and guest_nice are already inside user and nice: they are not added again.
	*busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6];
	*steal_ticks = v[7];
	*total_ticks = *busy_ticks + v[3] + v[4] + v[7];
	return 0;
}

int busy_parse_loadavg(const char *text)
{
	double l1, l5, l15;
	unsigned running, total;

	if (sscanf(text, "%lf %lf %lf %u/%u", &l1, &l5, &l15, &running, &total) != 5)
		return -EINVAL;
	return running > 0 ? (int)running - 1 : 0;	// the reader itself is running
}

static double self_cpu_s(void)
{
	struct rusage self, children;

	// Cannot fail with valid arguments. Children: the supervised children a lab waited for.
	(void)getrusage(RUSAGE_SELF, &self);
	(void)getrusage(RUSAGE_CHILDREN, &children);
	return (clock_timeval_ms(self.ru_utime) + clock_timeval_ms(self.ru_stime) +
		clock_timeval_ms(children.ru_utime) + clock_timeval_ms(children.ru_stime)) / 1e3;
}

void busy_sample(struct busy_meter *m)
{
	char buf[256];

	if (busy_read_proc("/proc/loadavg", buf, sizeof(buf)) != 0)
		return;
	int others = busy_parse_loadavg(buf);
	if (others < 0)
		return;
	size_t slot = m->nr_readings % (sizeof(m->runnable) / sizeof(m->runnable[0]));
	m->runnable[slot] = others;
	m->nr_readings++;
}

static bool read_stat(uint64_t *busy_ticks, uint64_t *steal_ticks, uint64_t *total_ticks)
{
	char buf[512];	// the first line is all we need

	return busy_read_proc("/proc/stat", buf, sizeof(buf)) == 0 &&
	       busy_parse_stat(buf, busy_ticks, steal_ticks, total_ticks) == 0;
}

void busy_start(struct busy_meter *m)
{
	memset(m, 0, sizeof(*m));
	m->start_ns = clock_now_ns();
	m->self_cpu_s = self_cpu_s();
	m->have_stat = read_stat(&m->busy_ticks, &m->steal_ticks, &m->total_ticks);
	busy_sample(m);
}

void busy_stop(const struct busy_meter *m, struct busy *out)
{
	uint64_t busy_ticks, steal_ticks, total_ticks;
	double ticks_per_s = (double)sysconf(_SC_CLK_TCK);

	*out = (struct busy){ .elapsed_s = (double)(clock_now_ns() - m->start_ns) / 1e9,
			      .others_cpus = NAN, .steal_fraction = NAN, .runnable_others = NAN };
	if (m->have_stat && ticks_per_s > 0 && read_stat(&busy_ticks, &steal_ticks, &total_ticks)) {
		double busy_s = (double)(busy_ticks - m->busy_ticks) / ticks_per_s;
		double self_s = self_cpu_s() - m->self_cpu_s;
		uint64_t total = total_ticks - m->total_ticks;

		if (out->elapsed_s > 0)
			out->others_cpus = fmax(0, busy_s - self_s) / out->elapsed_s;
		if (total > 0)
			out->steal_fraction = (double)(steal_ticks - m->steal_ticks) / (double)total;
	}
	size_t n = m->nr_readings < 64 ? m->nr_readings : 64;
	double copy[64];
	struct stats s;

	memcpy(copy, m->runnable, n * sizeof(copy[0]));
	if (n && stats_compute(&s, copy, n) == 0)
		out->runnable_others = s.median;
	out->nr_readings = (unsigned)n;
}

bool busy_is_noisy(const struct busy *b)
{
	// /proc/stat counts in ticks (10 ms at the usual 100 Hz): over a short interval a tick or
	// two of rounding reads as a sizeable fraction of a CPU, so short intervals need more.
	double min_cpus = b->elapsed_s >= 0.5 ? 0.25 : b->elapsed_s >= 0.1 ? 0.5 : INFINITY;
	// One reading of the runnable count can catch a passing task (the pipe reading this
	// program's output): only a median over several readings counts.
	bool runnable = b->nr_readings >= 3 && !isnan(b->runnable_others) &&
			b->runnable_others >= 1;

	return runnable || (!isnan(b->others_cpus) && b->others_cpus >= min_cpus) ||
	       (b->elapsed_s >= 0.5 && !isnan(b->steal_fraction) && b->steal_fraction >= 0.03);
}

const char *busy_describe(const struct busy *b, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	if (!isnan(b->runnable_others))
		used += (size_t)snprintf(buf + used, len - used, "%.0f other runnable task%s",
					 b->runnable_others, b->runnable_others == 1 ? "" : "s");
	if (!isnan(b->others_cpus) && used < len)
		used += (size_t)snprintf(buf + used, len - used, "%sother programs used %.2f CPUs",
					 used ? ", " : "", b->others_cpus);
	if (!isnan(b->steal_fraction) && used < len)
		used += (size_t)snprintf(buf + used, len - used, "%s%.0f%% steal", used ? ", " : "",
					 100 * b->steal_fraction);
	if (!used)
		snprintf(buf, len, "unknown (/proc/stat and /proc/loadavg unreadable)");
	return buf;
}
