// SPDX-License-Identifier: MIT
// Lab 8: what a context switch costs (a ping-pong between two threads or two processes, over a pipe
// or a futex, on one CPU and on two; sched_yield), cross-checked with perf bench sched pipe, and
// what many waiting clients cost: one thread per client against one epoll event loop.
// Usage: context_switch [--quick] [--reps N] [--out DIR] [--max-clients N]
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "clock.h"
#include "counters.h"
#include "die.h"
#include "guard.h"
#include "lab.h"
#include "report.h"
#include "stats.h"

#define MAX_POINTS 64
#define MAX_LEVELS 8
#define SLOW_RESOURCE_NS 10000000u	// each client's request waits 10 ms for its "slow resource"
#define MAX_LATENCIES 8192

// ---- part A: ping-pong ----------------------------------------------------------------------------

enum channel { PIPE, FUTEX, YIELD };
static const char *const channel_names[] = { "pipe", "futex", "sched_yield" };
enum partner { THREADS, PROCESSES };
static const char *const partner_names[] = { "threads", "processes" };

// What both sides of a ping-pong share (in a MAP_SHARED mapping, so a forked child sees it too).
struct pingpong {
	enum channel channel;
	int to_b[2], to_a[2];		// pipes
	_Atomic uint32_t turn;		// futex: 0 = A's turn, 1 = B's turn
	_Atomic uint32_t ready;
	uint64_t round_trips;
	int pu_b;			// where B pins itself
	const struct lab *lab;
	struct rusage b_usage;		// B's own account, for threads
	int b_pu_seen;
};

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	// Not the _PRIVATE ops: the word may be shared between two processes.
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

// Waits until *turn == want: sleeps in the kernel while it is not.
static void futex_wait_for(_Atomic uint32_t *turn, uint32_t want)
{
	uint32_t v;

	while ((v = atomic_load(turn)) != want)
		futex(turn, FUTEX_WAIT, v);
}

static void futex_hand_over(_Atomic uint32_t *turn, uint32_t to)
{
	atomic_store(turn, to);
	futex(turn, FUTEX_WAKE, 1);
}

static void pipe_xfer(int fd_out, int fd_in)
{
	char c = 0;

	if (write(fd_out, &c, 1) != 1 || read(fd_in, &c, 1) != 1)
		_exit(9);	// a broken pipe in a measurement loop: nothing sensible to report
}

// B: answers every ping. Runs on a thread or in a forked child.
static void run_b(struct pingpong *pp, enum channel ch)
{
	char c;

	struct topo_binding b;

	pp->b_pu_seen = topo_bind_thread(&pp->lab->topo, (unsigned)pp->pu_b, &b) == 0
				? b.pu_observed : -1;
	atomic_store(&pp->ready, 1);
	for (uint64_t i = 0; i < pp->round_trips; i++) {
		if (ch == PIPE) {
			if (read(pp->to_b[0], &c, 1) != 1 || write(pp->to_a[1], &c, 1) != 1)
				_exit(9);
		} else if (ch == FUTEX) {
			futex_wait_for(&pp->turn, 1);
			futex_hand_over(&pp->turn, 0);
		} else {
			sched_yield();
		}
	}
	getrusage(RUSAGE_THREAD, &pp->b_usage);
}

static void *b_thread(void *arg)
{
	struct pingpong *pp = arg;

	run_b(pp, pp->channel);
	return NULL;
}

struct b_child_job {
	struct pingpong *pp;
	enum channel ch;
};

static int b_child(void *arg)
{
	const struct b_child_job *j = arg;

	run_b(j->pp, j->ch);
	return 0;
}

struct helper {
	struct b_child_job job;
	struct guard_result result;
	int err;
};

// The supervisor of B's process: guard_run() waits, so it gets a thread of its own.
static void *supervise_b(void *arg)
{
	struct helper *h = arg;
	struct guard_limits limits = { .timeout_ms = 60000 };

	h->err = guard_run(b_child, &h->job, &limits, &h->result);
	return NULL;
}

struct switch_point {
	enum partner partner;
	enum channel channel;
	bool same_cpu;
	int pu_a, pu_b;			// where the two sides ran
	uint64_t round_trips;
	struct stats ns_per_switch;	// round trip / 2
	double net_ns;			// minus the same syscalls without a switch
	double sw_a, sw_b;		// context switches (voluntary + involuntary) per round trip
	double vol_a;			// ...of which A's voluntary ones
	double papi_a;			// per round trip, PAPI (NAN if unavailable)
	double perf_bench_ns;		// perf bench sched pipe, per switch
};

struct run;
static uint64_t pingpong_once(struct run *run, struct switch_point *p, uint64_t round_trips,
			      bool count, struct rusage *a_usage, double *papi);

// ---- part B: the scheduling tax ----------------------------------------------------------------

enum model { THREAD_PER_CLIENT, EVENT_LOOP };
static const char *const model_names[] = { "thread_per_client", "event_loop" };

struct tax_report {
	uint64_t requests, elapsed_ns;
	double rss_bytes, vm_bytes, base_rss, base_vm;
	uint64_t nr_late;
	double late_us[MAX_LATENCIES];	// how late each sampled wake-up was
	int done, error;
};

struct tax_job {
	enum model model;
	unsigned clients;
	uint64_t duration_ns;
	struct tax_report *r;
};

static _Atomic uint64_t tax_requests, tax_nr_late;
static _Atomic bool tax_stop;
static struct tax_report *tax_r;

static void record_late(uint64_t late_ns)
{
	uint64_t i = atomic_fetch_add(&tax_nr_late, 1);

	if (i < MAX_LATENCIES)
		tax_r->late_us[i] = (double)late_ns / 1e3;
}

// A tiny bit of work per request, the same in both models.
static __attribute__((noinline)) void serve(void)
{
	__asm__ volatile("");
}

static void *client_thread(void *arg)
{
	uint64_t next = *(uint64_t *)arg;

	while (!atomic_load_explicit(&tax_stop, memory_order_relaxed)) {
		struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };

		// The slow resource: the reply comes at `next`.
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		record_late(clock_now_ns() - next);
		serve();
		atomic_fetch_add_explicit(&tax_requests, 1, memory_order_relaxed);
		next += SLOW_RESOURCE_NS;
	}
	return NULL;
}

static int tax_child(void *arg)
{
	const struct tax_job *j = arg;
	struct tax_report *r = j->r;
	uint64_t start = clock_now_ns() + 20000000u;	// everyone starts in 20 ms
	static uint64_t first[100000];

	tax_r = r;
	bench_process_memory(&r->base_rss, &r->base_vm);
	if (j->model == THREAD_PER_CLIENT) {
		static pthread_t th[100000];

		for (unsigned i = 0; i < j->clients; i++) {
			// Spread the first requests over one period, like independent clients.
			first[i] = start + (uint64_t)i * SLOW_RESOURCE_NS / j->clients;
			if (pthread_create(&th[i], NULL, client_thread, &first[i]) != 0) {
				r->error = errno ? errno : EAGAIN;
				atomic_store(&tax_stop, true);
				for (unsigned k = 0; k < i; k++)
					pthread_join(th[k], NULL);
				return 0;
			}
		}
		struct timespec d = { 0, 0 };
		uint64_t end = start + j->duration_ns;
		bench_process_memory(&r->rss_bytes, &r->vm_bytes);
		d.tv_sec = (time_t)(end / 1000000000u);
		d.tv_nsec = (long)(end % 1000000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
		atomic_store(&tax_stop, true);
		for (unsigned i = 0; i < j->clients; i++)
			pthread_join(th[i], NULL);
	} else {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		static uint64_t next[100000];
		static int fds[100000];

		if (ep < 0) {
			r->error = errno;
			return 0;
		}
		for (unsigned i = 0; i < j->clients; i++) {
			int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
			struct itimerspec its = { 0 };

			fds[i] = fd;
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

			if (fd < 0) {
				r->error = errno;
				return 0;
			}
			next[i] = start + (uint64_t)i * SLOW_RESOURCE_NS / j->clients;
			its.it_value.tv_sec = (time_t)(next[i] / 1000000000u);
			its.it_value.tv_nsec = (long)(next[i] % 1000000000u);
			its.it_interval.tv_nsec = SLOW_RESOURCE_NS;
			if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) != 0 ||
			    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
				r->error = errno;
				return 0;
			}
		}
		bench_process_memory(&r->rss_bytes, &r->vm_bytes);
		uint64_t end = start + j->duration_ns;
		struct epoll_event evs[256];
		while (clock_now_ns() < end) {
			int n = epoll_wait(ep, evs, 256, 5);

			for (int k = 0; k < n; k++) {
				unsigned i = evs[k].data.u32;
				uint64_t expirations;

				// Consume the expiry (EAGAIN if another reader had it: none here).
				if (read(fds[i], &expirations, sizeof(expirations)) < 0)
					continue;
				record_late(clock_now_ns() - next[i]);
				next[i] += SLOW_RESOURCE_NS;
				serve();
				atomic_fetch_add_explicit(&tax_requests, 1, memory_order_relaxed);
			}
		}
	}
	r->requests = atomic_load(&tax_requests);
	r->nr_late = atomic_load(&tax_nr_late);
	r->elapsed_ns = j->duration_ns;
	r->done = 1;
	return 0;
}

struct tax_point {
	enum model model;
	unsigned clients;
	bool ran;
	char why_not[128];
	double requests_per_s, switches_per_request, rss_per_client, vm_per_client;
	double late_p50_us, late_p99_us;
};

// ---- the lab -------------------------------------------------------------------------------------

struct run {
	struct lab lab;
	unsigned max_clients;
	unsigned pu_same, pu_other;
	bool have_two;
	struct counters counters;
	struct switch_point points[MAX_POINTS];
	size_t nr_points;
	double syscall_pipe_ns, syscall_futex_ns;	// the same calls without a switch
	struct compare_samples rounds;	// part A, one variant per point, paired by round
	struct tax_point tax[2 * MAX_LEVELS];
	size_t nr_tax;
	char tax_bound[160];
};

// One ping-pong of round_trips; A runs on the calling thread, B on a thread or a child process.
// Returns the elapsed ns; fills A's rusage delta and PAPI's count.
static uint64_t pingpong_once(struct run *run, struct switch_point *p, uint64_t round_trips,
			      bool count, struct rusage *a_usage, double *papi)
{
	struct pingpong *pp = guard_shared_alloc(sizeof(*pp));
	struct rusage before;
	pthread_t t;
	struct helper h;

	if (!pp)
		die("cannot share memory");
	pp->round_trips = round_trips;
	pp->channel = p->channel;
	pp->lab = &run->lab;
	pp->pu_b = (int)(p->same_cpu ? run->pu_same : run->pu_other);
	if (p->channel == PIPE && (pipe(pp->to_b) != 0 || pipe(pp->to_a) != 0))
		die_errno(errno, "pipe");
	if (p->partner == THREADS) {
		if (pthread_create(&t, NULL, b_thread, pp) != 0)
			die("cannot create a thread");
	} else {
		h = (struct helper){ .job = { pp, p->channel } };
		if (pthread_create(&t, NULL, supervise_b, &h) != 0)
			die("cannot create a thread");
	}
	while (!atomic_load(&pp->ready))
		sched_yield();
	getrusage(RUSAGE_THREAD, &before);
	// Counters open only in counting samples: an open per-thread event costs at every switch,
	// the very thing timed here.
	if (count)
		counters_start(&run->counters);
	uint64_t start = clock_now_ns();
	for (uint64_t i = 0; i < round_trips; i++) {
		if (p->channel == PIPE) {
			pipe_xfer(pp->to_b[1], pp->to_a[0]);
		} else if (p->channel == FUTEX) {
			futex_hand_over(&pp->turn, 1);
			futex_wait_for(&pp->turn, 0);
		} else {
			sched_yield();
		}
	}
	uint64_t elapsed = clock_now_ns() - start;
	double v[1] = { NAN };
	if (count)
		counters_stop(&run->counters, v);
	*papi = v[0];
	getrusage(RUSAGE_THREAD, a_usage);
	a_usage->ru_nvcsw -= before.ru_nvcsw;
	a_usage->ru_nivcsw -= before.ru_nivcsw;
	pthread_join(t, NULL);
	if (p->partner == PROCESSES) {
		if (h.err || h.result.outcome != GUARD_EXITED || h.result.exit_status != 0)
			die("the partner process failed");
		pp->b_usage = h.result.usage;
	}
	p->pu_b = pp->b_pu_seen;
	// B's whole run (its rusage covers only the ping-pong): per round trip below.
	p->sw_b = (double)(pp->b_usage.ru_nvcsw + pp->b_usage.ru_nivcsw);
	if (p->channel == PIPE) {
		close(pp->to_b[0]);
		close(pp->to_b[1]);
		close(pp->to_a[0]);
		close(pp->to_a[1]);
	}
	guard_shared_free(pp, sizeof(*pp));
	return elapsed;
}

static struct switch_point *new_switch(struct run *run, enum partner partner, enum channel ch,
				       bool same)
{
	struct switch_point *p = &run->points[run->nr_points++];

	*p = (struct switch_point){ .partner = partner, .channel = ch, .same_cpu = same,
				    .net_ns = NAN, .perf_bench_ns = NAN };
	return p;
}

// One timed sample of a switch mode, counters closed; the first call calibrates (a short trial,
// then enough round trips for min_sample_ns per sample).
static int measure_switch(void *ctx, size_t variant, unsigned round, double *value)
{
	struct run *run = ctx;
	struct switch_point *p = &run->points[variant];
	struct rusage a;
	double papi;

	(void)round;
	if (!p->round_trips) {
		uint64_t trial = 500;
		uint64_t ns = pingpong_once(run, p, trial, false, &a, &papi);

		p->round_trips = (uint64_t)((double)trial * (double)run->lab.opt.min_sample_ns /
					    (double)(ns + 1));
		if (p->round_trips < 200)
			p->round_trips = 200;
	}
	uint64_t ns = pingpong_once(run, p, p->round_trips, false, &a, &papi);
	*value = (double)ns / (double)p->round_trips / 2;
	return 0;
}

// The counts of a switch mode, from one sample of its own (counters open, not timed): per round
// trip. On one CPU the woken side often preempts the waker: that hand-off counts as an
// involuntary switch. Voluntary + involuntary is what must match the hand-offs.
static void count_switch(struct run *run, struct switch_point *p)
{
	struct rusage a;
	double papi;

	(void)pingpong_once(run, p, p->round_trips, true, &a, &papi);
	p->vol_a = (double)a.ru_nvcsw / (double)p->round_trips;
	p->sw_a = (double)(a.ru_nvcsw + a.ru_nivcsw) / (double)p->round_trips;
	p->sw_b /= (double)p->round_trips;
	p->papi_a = papi / (double)p->round_trips;
	double sys = p->channel == PIPE ? run->syscall_pipe_ns
		     : p->channel == FUTEX ? run->syscall_futex_ns : NAN;
	p->net_ns = p->ns_per_switch.median - sys;
}

// The syscalls of one hand-off, without a switch: a write and a read on a pipe, or a wake with no
// waiter and a wait that returns at once (the value already changed).
static void measure_syscall_baselines(struct run *run)
{
	int fds[2];
	char c = 0;
	_Atomic uint32_t word = 0;
	const unsigned n = 20000;

	if (pipe(fds) != 0)
		die_errno(errno, "pipe");
	uint64_t start = clock_now_ns();
	for (unsigned i = 0; i < n; i++)
		if (write(fds[1], &c, 1) != 1 || read(fds[0], &c, 1) != 1)
			die("pipe baseline failed");
	run->syscall_pipe_ns = (double)(clock_now_ns() - start) / n;
	close(fds[0]);
	close(fds[1]);
	start = clock_now_ns();
	for (unsigned i = 0; i < n; i++) {
		futex(&word, FUTEX_WAKE, 1);
		futex(&word, FUTEX_WAIT, 1);	// the word is 0: returns EAGAIN at once
	}
	run->syscall_futex_ns = (double)(clock_now_ns() - start) / n;
}

// perf bench sched pipe: the kernel developers' own ping-pong, pinned like ours with taskset.
static double perf_bench_pipe_ns(const char *cpus, bool threads, unsigned loops)
{
	char cmd[160], line[256];
	double us = NAN;

	snprintf(cmd, sizeof(cmd), "timeout 60 taskset -c %s perf bench sched pipe %s -l %u 2>/dev/null",
		 cpus, threads ? "-T" : "", loops);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NAN;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "usecs/op") && sscanf(line, "%lf", &us) != 1)
			us = NAN;
	if (pclose(f) != 0)
		return NAN;
	return us * 1000 / 2;	// one op is a round trip: two switches
}

static void measure_part_a(struct run *run)
{
	struct topo_binding b;
	int pu_a = topo_bind_thread(&run->lab.topo, run->pu_same, &b) == 0 ? b.pu_observed : -1;

	measure_syscall_baselines(run);
	for (int same = 1; same >= 0; same--) {
		if (!same && !run->have_two)
			continue;
		for (enum partner pa = THREADS; pa <= PROCESSES; pa++)
			for (enum channel ch = PIPE; ch <= FUTEX; ch++)
				new_switch(run, pa, ch, same);
	}
	new_switch(run, THREADS, YIELD, true);
	// Every mode in every round (compare.h): the verdicts compare them with each other.
	int err = compare_rounds(run->nr_points, lab_rounds(&run->lab), measure_switch, run,
				 &run->rounds);
	if (err)
		die_errno(err, "measuring the switches");
	for (size_t i = 0; i < run->nr_points; i++) {
		struct switch_point *p = &run->points[i];

		p->pu_a = pu_a;
		if (compare_variant_stats(&run->rounds, i, &p->ns_per_switch) != 0)
			die("bad samples");
		count_switch(run, p);
	}
	// The cross-check, for the pipe modes.
	char cpus_same[16], cpus_two[32];
	unsigned loops = run->lab.opt.quick ? 2000 : 20000;
	snprintf(cpus_same, sizeof(cpus_same), "%u", run->pu_same);
	snprintf(cpus_two, sizeof(cpus_two), "%u,%u", run->pu_same, run->pu_other);
	for (size_t i = 0; i < run->nr_points; i++) {
		struct switch_point *p = &run->points[i];

		if (p->channel == PIPE)
			p->perf_bench_ns = perf_bench_pipe_ns(p->same_cpu ? cpus_same : cpus_two,
							      p->partner == THREADS, loops);
	}
}

static void measure_part_b(struct run *run)
{
	unsigned levels[MAX_LEVELS] = { 0 }, nr = 0;
	struct rlimit nofile, nproc;

	(void)getrlimit(RLIMIT_NOFILE, &nofile);
	(void)getrlimit(RLIMIT_NPROC, &nproc);
	for (unsigned k = 1; k <= run->max_clients && nr < MAX_LEVELS; k *= 10)
		levels[nr++] = k;
	if (nr > 0 && levels[nr - 1] != run->max_clients && nr < MAX_LEVELS)
		levels[nr++] = run->max_clients;
	for (size_t l = 0; l < nr; l++) {
		for (enum model m = THREAD_PER_CLIENT; m <= EVENT_LOOP; m++) {
			struct tax_point *tp = &run->tax[run->nr_tax++];
			unsigned k = levels[l];

			*tp = (struct tax_point){ .model = m, .clients = k };
			// The bounds: one descriptor per client for the event loop, one task per client
			// for the threads.
			if (m == EVENT_LOOP && nofile.rlim_cur != RLIM_INFINITY && k + 16 > nofile.rlim_cur) {
				snprintf(tp->why_not, sizeof(tp->why_not),
					 "RLIMIT_NOFILE is %llu: raise it with ulimit -n",
					 (unsigned long long)nofile.rlim_cur);
				snprintf(run->tax_bound, sizeof(run->tax_bound), "%s", tp->why_not);
				continue;
			}
			if (m == THREAD_PER_CLIENT && nproc.rlim_cur != RLIM_INFINITY &&
			    k + 64 > nproc.rlim_cur) {
				snprintf(tp->why_not, sizeof(tp->why_not),
					 "RLIMIT_NPROC is %llu: raise it with ulimit -u",
					 (unsigned long long)nproc.rlim_cur);
				snprintf(run->tax_bound, sizeof(run->tax_bound), "%s", tp->why_not);
				continue;
			}
			struct tax_report *r = guard_shared_alloc(sizeof(*r));
			struct tax_job job = { m, k, run->lab.opt.quick ? 100000000u : 400000000u, r };
			struct guard_limits limits = { .timeout_ms = 30000 };
			struct guard_result g;
			char why[128];

			if (!r)
				die("cannot share memory");
			int err = guard_run(tax_child, &job, &limits, &g);
			if (err || g.outcome != GUARD_EXITED || !r->done || r->error) {
				snprintf(tp->why_not, sizeof(tp->why_not), "%s",
					 r->error ? strerror(r->error)
					 : err ? strerror(-err) : guard_describe(&g, why, sizeof(why)));
				snprintf(run->tax_bound, sizeof(run->tax_bound), "%u clients: %s", k,
					 tp->why_not);
				guard_shared_free(r, sizeof(*r));
				continue;
			}
			tp->ran = true;
			tp->requests_per_s = (double)r->requests / ((double)r->elapsed_ns / 1e9);
			tp->switches_per_request = (double)(g.usage.ru_nvcsw + g.usage.ru_nivcsw) /
						   (double)(r->requests ? r->requests : 1);
			tp->rss_per_client = (r->rss_bytes - r->base_rss) / k;
			tp->vm_per_client = (r->vm_bytes - r->base_vm) / k;
			size_t nl = r->nr_late < MAX_LATENCIES ? r->nr_late : MAX_LATENCIES;
			struct stats st;
			if (nl && stats_compute(&st, r->late_us, nl) == 0) {
				tp->late_p50_us = st.median;
				tp->late_p99_us = stats_quantile_sorted(r->late_us, nl, 0.99);
			}
			guard_shared_free(r, sizeof(*r));
		}
	}
}

// ---- reporting -----------------------------------------------------------------------------------

static const char *switch_name(const struct switch_point *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %s", partner_names[p->partner], channel_names[p->channel],
		 p->same_cpu ? "same-cpu" : "two-cpus");
	return buf;
}

static const struct switch_point *find_switch(const struct run *run, enum partner pa,
					      enum channel ch, bool same)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct switch_point *p = &run->points[i];

		if (p->partner == pa && p->channel == ch && p->same_cpu == same)
			return p;
	}
	return NULL;
}

static void print_tables(const struct run *run)
{
	char name[64];

	printf("\nPart A: ns per switch (round trip / 2, median of %u interleaved rounds, counters "
	       "closed; %s); the same syscalls without a switch cost %.0f ns (pipe write+read) and "
	       "%.0f ns (futex wake+wait)\n", lab_rounds(&run->lab), STATS_NOISY_LEGEND,
	       run->syscall_pipe_ns, run->syscall_futex_ns);
	printf("  %-30s %9s %9s %9s %9s %9s %11s\n", "mode", "ns", "net ns", "sw/rt A",
	       "sw/rt B", "PAPI/rt A", "perf bench");
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct switch_point *p = &run->points[i];

		printf("  %-30s %8.0f%1s %9.0f %9.2f %9.2f %9.2f %11.0f\n",
		       switch_name(p, name, sizeof(name)), p->ns_per_switch.median,
		       stats_noisy_mark(&p->ns_per_switch), p->net_ns, p->sw_a, p->sw_b, p->papi_a,
		       p->perf_bench_ns);
	}
	printf("\nPart B: clients waiting %u ms on a slow resource, one thread each vs one epoll loop\n",
	       SLOW_RESOURCE_NS / 1000000);
	printf("  %-18s %8s %12s %10s %10s %10s %12s %12s\n", "model", "clients", "requests/s",
	       "switch/req", "p50 us", "p99 us", "RSS/client", "virt/client");
	for (size_t i = 0; i < run->nr_tax; i++) {
		const struct tax_point *t = &run->tax[i];
		char a[32], b[32];

		if (!t->ran) {
			printf("  %-18s %8u  skipped: %s\n", model_names[t->model], t->clients, t->why_not);
			continue;
		}
		printf("  %-18s %8u %12.0f %10.2f %10.1f %10.1f %12s %12s\n", model_names[t->model],
		       t->clients, t->requests_per_s, t->switches_per_request, t->late_p50_us,
		       t->late_p99_us, cli_format_size((uint64_t)fmax(t->rss_per_client, 0), a, sizeof(a)),
		       cli_format_size((uint64_t)fmax(t->vm_per_client, 0), b, sizeof(b)));
	}
}

static const struct tax_point *find_tax(const struct run *run, enum model m, unsigned clients)
{
	for (size_t i = 0; i < run->nr_tax; i++)
		if (run->tax[i].model == m && run->tax[i].clients == clients && run->tax[i].ran)
			return &run->tax[i];
	return NULL;
}

static void verdicts(struct run *run)
{
	const struct switch_point *same = find_switch(run, THREADS, FUTEX, true);
	const struct switch_point *two = find_switch(run, THREADS, FUTEX, false);
	const struct switch_point *pipe_same = find_switch(run, PROCESSES, PIPE, true);
	const struct switch_point *yield = find_switch(run, THREADS, YIELD, true);
	const struct switch_point *tp = find_switch(run, THREADS, PIPE, true);
	lab_headline(&run->lab, "same_cpu_switch_threads_pipe", tp->ns_per_switch.median, "ns",
		     tp->perf_bench_ns);
	if (two)
		lab_headline(&run->lab, "two_cpu_handoff_threads_futex", two->ns_per_switch.median,
			     "ns", NAN);
	struct compare_ratio proc_over_thread, two_over_one;
	(void)compare_ratio(&run->rounds, (size_t)(pipe_same - run->points),
			    (size_t)(tp - run->points), COMPARE_NONE, &proc_over_thread);
	lab_verdict(&run->lab,
		    "a switch between two threads on one CPU costs %.0f ns (%.0f ns net of the futex "
		    "calls), sched_yield to a runnable thread %.0f ns; per round trip each side "
		    "switched out %.2f and %.2f times (getrusage, voluntary + involuntary; PAPI %.2f)",
		    same->ns_per_switch.median, same->net_ns, yield->ns_per_switch.median, same->sw_a,
		    same->sw_b, same->papi_a);
	// With PCIDs a process switch keeps the TLB: it may cost no more than a thread switch.
	lab_judge_ratio(&run->lab, "process_switch_costs_more",
			"switching between processes costs more than between threads (1.1x or "
			"more)", compare_at_least(&proc_over_thread, 1.1), &proc_over_thread,
			"over a pipe on one CPU: processes %.0f ns, threads %.0f ns per switch",
			pipe_same->ns_per_switch.median, tp->ns_per_switch.median);
	if (two) {
		(void)compare_ratio(&run->rounds, (size_t)(two - run->points),
				    (size_t)(same - run->points), COMPARE_NONE, &two_over_one);
		lab_judge_ratio(&run->lab, "cross_cpu_handoff_costs_more",
				"a hand-off across two CPUs costs more than a switch on one (1.1x or "
				"more)", compare_at_least(&two_over_one, 1.1), &two_over_one,
				"threads over a futex: %.0f ns across two CPUs, %.0f ns on one%s",
				two->ns_per_switch.median, same->ns_per_switch.median,
				two_over_one.median > 1
					? lab_in_vm() ? ": the waiting vCPU halts when idle and must "
						"be woken through the host"
						      : ": the idle partner CPU must be woken from "
							"a sleep state"
					: ": both sides run at once and only the wake-up crosses");
	} else
		lab_note("only one usable CPU: the cross-CPU hand-off could not be measured");
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct switch_point *p = &run->points[i];
		char name[64];

		if (p->channel == PIPE && !isnan(p->perf_bench_ns) && p->same_cpu) {
			double apart = fabs(p->perf_bench_ns - p->ns_per_switch.median) /
				       p->ns_per_switch.median;

			lab_verdict(&run->lab,
				    "cross-check (%s): perf bench sched pipe says %.0f ns per switch, "
				    "this lab %.0f ns (%.0f%% apart%s)", switch_name(p, name, sizeof(name)),
				    p->perf_bench_ns, p->ns_per_switch.median, 100 * apart,
				    apart > 0.10 ? ": more than 10%, beyond this figure's noise; rerun "
						   "on a quiet machine" : "");
			break;
		}
	}
	if (isnan(pipe_same->perf_bench_ns))
		lab_note("no cross-check: 'perf bench sched pipe' is not available here (Debian: apt "
			 "install linux-perf)");

	unsigned top = 0;
	for (size_t i = 0; i < run->nr_tax; i++)
		if (run->tax[i].ran && run->tax[i].model == THREAD_PER_CLIENT && run->tax[i].clients > top &&
		    find_tax(run, EVENT_LOOP, run->tax[i].clients))
			top = run->tax[i].clients;
	const struct tax_point *th = find_tax(run, THREAD_PER_CLIENT, top);
	const struct tax_point *ev = find_tax(run, EVENT_LOOP, top);
	if (th && ev) {
		char a[32], b[32], c[32];
		// Counts, not timings: every request of a thread per client is a wake-up and a
		// sleep; the loop can serve many per wake-up. The counts move by a few tenths from
		// run to run, so between "half or less" and "nearly as many" this run cannot tell.
		double fewer = ev->switches_per_request / th->switches_per_request;
		lab_judge(&run->lab, "event_loop_fewer_switches",
			  "an event loop needs half the context switches per request of a thread per "
			  "client or fewer", fewer <= 0.5 ? COMPARE_HOLDS
			  : fewer >= 0.9 ? COMPARE_FAILS : COMPARE_INCONCLUSIVE, fewer, NAN, NAN, "x",
			  "%u clients: one thread each made %.2f context switches per request and "
			    "%.0f requests/s (p99 %.0f us late), one event loop %.3f switches per request "
			    "and %.0f requests/s (p99 %.0f us); a thread cost %s of address space but %s "
			    "resident, a client of the loop %s",
			  top, th->switches_per_request, th->requests_per_s, th->late_p99_us,
			  ev->switches_per_request, ev->requests_per_s, ev->late_p99_us,
			  cli_format_size((uint64_t)fmax(th->vm_per_client, 0), a, sizeof(a)),
			  cli_format_size((uint64_t)fmax(th->rss_per_client, 0), b, sizeof(b)),
			  cli_format_size((uint64_t)fmax(ev->rss_per_client, 0), c, sizeof(c)));
	}
	if (run->tax_bound[0])
		lab_note("part B stopped early: %s", run->tax_bound);
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "channel", "placement", "pu_a", "pu_b", "clients",
		"ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95", "net_ns_per_switch",
		"switches_per_round_trip_a", "switches_per_round_trip_b",
		"voluntary_per_round_trip_a", "papi_switches_per_round_trip_a",
		"perf_bench_ns_per_switch", "requests_per_s", "switches_per_request",
		"late_p50_us", "late_p99_us", "rss_bytes_per_client", "virtual_bytes_per_client",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct switch_point *p = &run->points[i];

		report_csv_str(&csv, "switch");
		report_csv_str(&csv, partner_names[p->partner]);
		report_csv_str(&csv, channel_names[p->channel]);
		report_csv_str(&csv, p->same_cpu ? "same_cpu" : "two_cpus");
		report_csv_double(&csv, p->pu_a);
		report_csv_double(&csv, p->pu_b);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, p->ns_per_switch.median);
		report_csv_double(&csv, p->ns_per_switch.p05);
		report_csv_double(&csv, p->ns_per_switch.p95);
		report_csv_double(&csv, p->net_ns);
		report_csv_double(&csv, p->sw_a);
		report_csv_double(&csv, p->sw_b);
		report_csv_double(&csv, p->vol_a);
		report_csv_double(&csv, p->papi_a);
		report_csv_double(&csv, p->perf_bench_ns);
		for (int k = 0; k < 6; k++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	for (size_t i = 0; i < run->nr_tax; i++) {
		const struct tax_point *t = &run->tax[i];

		if (!t->ran)
			continue;
		report_csv_str(&csv, "clients");
		report_csv_str(&csv, model_names[t->model]);
		report_csv_str(&csv, "");
		report_csv_str(&csv, "");
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		report_csv_u64(&csv, t->clients);
		// ns per request, for the whole server.
		report_csv_double(&csv, 1e9 / t->requests_per_s);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		for (int k = 0; k < 6; k++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, t->requests_per_s);
		report_csv_double(&csv, t->switches_per_request);
		report_csv_double(&csv, t->late_p50_us);
		report_csv_double(&csv, t->late_p99_us);
		report_csv_double(&csv, t->rss_per_client);
		report_csv_double(&csv, t->vm_per_client);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "cpus", "same-cpu runs on PU %u; two-cpu runs on PUs %u and %u", run->pu_same,
		  run->pu_same, run->pu_other);
	report_kv(m, "syscall_pipe_ns", "%.1f (write + read, no switch)", run->syscall_pipe_ns);
	report_kv(m, "syscall_futex_ns", "%.1f (wake + wait, no switch)", run->syscall_futex_ns);
	report_kv(m, "slow_resource_ns", "%u", SLOW_RESOURCE_NS);
	report_kv(m, "max_clients", "%u", run->max_clients);
}

// ---- setup ---------------------------------------------------------------------------------------

enum { OPT_MAX_CLIENTS = 256 };

static int on_option(int val, const char *arg, void *ctx)
{
	uint64_t v;

	if (val != OPT_MAX_CLIENTS || cli_arg_u64("--max-clients", arg, 1, 100000, &v) < 0)
		return -EINVAL;
	*(unsigned *)ctx = (unsigned)v;
	return 0;
}

static void plan(struct run *run)
{
	static const enum topo_relation prefer[] = {
		TOPO_SHARED_L2, TOPO_SHARED_L3, TOPO_SAME_PACKAGE, TOPO_OTHER_NUMA,
		TOPO_OTHER_PACKAGE, TOPO_SMT_SIBLINGS,
	};
	unsigned a, b;

	if (!run->lab.have_topo || !run->lab.allowed_pus)
		die("hwloc could not load the topology: this lab pins with it");
	run->pu_same = (unsigned)hwloc_bitmap_first(run->lab.allowed_pus);
	for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]) && !run->have_two; i++) {
		if (topo_pick_pair(&run->lab.topo, prefer[i], run->lab.allowed_pus, &a, &b) == 0) {
			run->pu_same = a;
			run->pu_other = b;
			run->have_two = true;
		}
	}
	// 250 clients per PU: each wakes 100 times a second, and past that a small machine spends
	// the run creating and joining threads rather than serving.
	if (!run->max_clients) {
		unsigned per_machine = 250 * run->lab.nr_allowed_pus;

		run->max_clients = run->lab.opt.quick ? 100 : per_machine > 4000 ? 4000 : per_machine;
	}
	printf("placement: same-CPU runs on PU %u", run->pu_same);
	if (run->have_two)
		printf(", two-CPU runs on PUs %u and %u", run->pu_same, run->pu_other);
	printf("\n");
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "08-context-switch",
		.summary = "Measures what a context switch costs (threads, processes, pipe, futex, one "
			   "CPU or two) and what many waiting clients cost: threads vs an event loop.",
		.options_help = "  --max-clients N    most clients in part B (default 250 per PU, at most "
				"4000; quick 100)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.max_clients,
	};
	const enum counters_metric metrics[] = { COUNTERS_CONTEXT_SWITCHES };

	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 8: context switches", argc, argv);
	counters_init(&run.counters, metrics, 1);
	lab_print_counters(&run.counters);
	plan(&run);
	lab_prediction("a switch on one CPU costs a few us (two syscalls and the scheduler); across "
		       "two CPUs it is a wake-up of another CPU, cheaper on busy bare metal, dearer when "
		       "the other CPU sleeps (a VM's vCPU halts)");
	lab_prediction("a thread per client costs a switch per request and 8 MiB of address space, "
		       "but little resident memory; one event loop still sleeps between sparse events, "
		       "and saves switches only when events come faster than it serves them");

	// measure
	printf("measuring: switches...");
	fflush(stdout);
	measure_part_a(&run);
	printf(" clients...");
	fflush(stdout);
	measure_part_b(&run);
	printf(" done\n");

	// report
	print_tables(&run);
	printf("\n");
	verdicts(&run);
	lab_note_missing_counters(&run.counters);
	write_csv(&run);
	lab_write_manifest(&run.lab, &run.counters, manifest_extra, &run);
	compare_samples_release(&run.rounds);
	counters_release(&run.counters);
	lab_finish(&run.lab);
	return 0;
}
