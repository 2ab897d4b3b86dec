// SPDX-License-Identifier: MIT
// Lab 8: what a context switch costs (a ping-pong between two threads or two processes, over a pipe
// or a futex, on one CPU and on two; sched_yield), cross-checked with perf bench sched pipe, beside
// a switch between two tasks inside one thread (an event loop's dispatch, swapcontext); and what
// many waiting clients cost: one thread per client against one epoll event loop.
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
#include <ucontext.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "clock.h"
#include "counters.h"
#include "die.h"
#include "guard.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "term.h"
#include "stats.h"

#define MAX_POINTS 64
#define MAX_LEVELS 8
#define SLOW_RESOURCE_NS 10000000u	// each client's request waits 10 ms for its "slow resource"
#define MAX_LATENCIES 8192

// ---- part A: ping-pong ----------------------------------------------------------------------------

enum channel { PIPE, FUTEX, YIELD, CALLBACK, SWAPCONTEXT };
static const char *const channel_names[] = { "pipe", "futex", "sched_yield", "callback",
					     "swapcontext" };
// TASKS: two tasks inside one thread, switched in user space (no kernel switch at all).
enum partner { THREADS, PROCESSES, TASKS };
static const char *const partner_names[] = { "threads", "processes", "tasks" };
enum placement { SAME_CPU, TWO_CPUS, ONE_THREAD };
static const char *const placement_names[] = { "same_cpu", "two_cpus", "one_thread" };

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
	uint64_t b_waits;		// B's FUTEX_WAIT calls
	uint64_t b_sleeps;		// ...of which slept until woken (returned 0)
	int b_pu_seen;
};

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	// Not the _PRIVATE ops: the word may be shared between two processes.
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

// Waits until *turn == want: sleeps in the kernel while it is not. Counts its FUTEX_WAIT calls: on
// one CPU the woken side often runs first and hands the turn back before the waker gets to wait,
// and then the waker makes no wait call at all. *sleeps (or NULL) counts the calls that slept until
// woken (0): the others found the turn already handed over (EAGAIN) and returned at once.
static void futex_wait_for(_Atomic uint32_t *turn, uint32_t want, uint64_t *calls,
			   uint64_t *sleeps)
{
	uint32_t v;

	while ((v = atomic_load(turn)) != want) {
		long r = futex(turn, FUTEX_WAIT, v);

		(*calls)++;
		if (r == 0 && sleeps)
			(*sleeps)++;
	}
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
			futex_wait_for(&pp->turn, 1, &pp->b_waits, &pp->b_sleeps);
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
	enum placement placement;
	int pu_a, pu_b;			// where the two sides ran
	uint64_t round_trips;		// per timed sample
	struct stats ns_per_switch;	// round trip / 2
	uint64_t timed_round_trips, timed_waits;	// over every timed sample: FUTEX_WAIT calls
	double waits;			// FUTEX_WAIT calls per round trip, both sides
	double net_ns;			// minus the syscalls the round trip made, measured without a switch
	double sw_a, sw_b;		// context switches (voluntary + involuntary) per round trip
	double vol_a;			// ...of which A's voluntary ones
	double papi_a;			// per round trip, PAPI (NAN if unavailable)
	double perf_bench_ns;		// perf bench sched pipe, per switch
	double sleeps;			// FUTEX_WAIT calls that slept until woken, per hand-off
	bool perf_bench;		// not ours: perf bench sched pipe's ping-pong, in our rounds
	struct compare_ratio over_perf;	// ours over perf bench's, per round (same-CPU pipe rows)
};

// The syscalls of a hand-off without a switch, measured in the same rounds as the switches.
enum baseline { PIPE_WRITE_READ, FUTEX_WAKE_NOBODY, FUTEX_WAIT_RETURNS, NR_BASELINES };
static const char *const baseline_names[] = { "pipe write+read", "futex wake (no waiter)",
					      "futex wait (returns at once)" };

// ---- part B: the scheduling tax ----------------------------------------------------------------
//
// Each client's request waits SLOW_RESOURCE_NS for its reply, again and again. The clients' first
// deadlines are spread over the first period, which is a warm-up: only requests whose deadline
// falls in the window [start + one period, end) are counted, so each client has exactly
// (duration / period - 1) of them and the nominal rate is clients x 1 s / period.

enum model { THREAD_PER_CLIENT, EVENT_LOOP };
static const char *const model_names[] = { "thread_per_client", "event_loop" };

struct tax_report {
	uint64_t served;		// requests in the window, each served on its own wake-up
	uint64_t missed;		// the event loop's timer expirations that fired while it was
				// behind: served together with a later one, not on their own
	uint64_t window_ns;
	uint64_t switches;		// context switches while serving the window's requests
	double rss_bytes, vm_bytes, base_rss, base_vm;
	double kernel_stack, base_kernel_stack;	// /proc/meminfo, machine-wide
	double kernel_slab, base_kernel_slab;
	uint64_t nr_late;		// samples in late_us
	double late_us[MAX_LATENCIES];	// how late sampled wake-ups were (every stride-th)
	int done, error;
};

struct tax_job {
	enum model model;
	unsigned clients;
	uint64_t duration_ns;
	struct tax_report *r;
};

// Shared by the child's threads (the child is a fresh process: each model starts from zero).
static _Atomic uint64_t tax_served, tax_missed, tax_nr_late, tax_switches;
static _Atomic uint32_t tax_gate;		// 0 until every client thread exists
static _Atomic bool tax_stop;
static uint64_t tax_start, tax_window_start, tax_end, tax_stride;
static unsigned tax_clients;
static struct tax_report *tax_r;

static bool in_window(uint64_t deadline)
{
	return deadline >= tax_window_start && deadline < tax_end;
}

// Lateness is sampled evenly over the window (every stride-th request), not the first few thousand.
static void record_late(uint64_t late_ns)
{
	uint64_t i = atomic_fetch_add(&tax_nr_late, 1);

	if (i % tax_stride == 0 && i / tax_stride < MAX_LATENCIES)
		tax_r->late_us[i / tax_stride] = (double)late_ns / 1e3;
}

// A tiny bit of work per request, the same in both models.
static __attribute__((noinline)) void serve(void)
{
	__asm__ volatile("");
}

static uint64_t first_deadline(unsigned client)
{
	return tax_start + (uint64_t)client * SLOW_RESOURCE_NS / tax_clients;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t thread_switches(void)
{
	struct rusage u;

	getrusage(RUSAGE_THREAD, &u);
	return (uint64_t)(u.ru_nvcsw + u.ru_nivcsw);
}

static void *client_thread(void *arg)
{
	unsigned client = *(const unsigned *)arg;

	// Start together, once every thread exists: creating thousands of threads takes longer than
	// a period, and that is not what the lateness measures.
	futex_wait_for(&tax_gate, 1, &(uint64_t){ 0 }, NULL);
	if (atomic_load(&tax_stop))
		return NULL;
	uint64_t switches_before = UINT64_MAX;
	uint64_t next = first_deadline(client);
	for (; next < tax_end; next += SLOW_RESOURCE_NS) {
		if (in_window(next) && switches_before == UINT64_MAX)
			switches_before = thread_switches();
		sleep_until(next);	// the slow resource: the reply comes at `next`
		// Counted as the event loop counts: a thread that woke a period or more late has
		// missed the deadlines that passed meanwhile (a timerfd would have coalesced them),
		// serves the latest, and is late from that one.
		uint64_t now = clock_now_ns();
		while (next + SLOW_RESOURCE_NS <= now && next + SLOW_RESOURCE_NS < tax_end) {
			if (in_window(next))
				atomic_fetch_add_explicit(&tax_missed, 1, memory_order_relaxed);
			next += SLOW_RESOURCE_NS;
		}
		uint64_t late = now - next;
		serve();
		if (in_window(next)) {
			record_late(late);
			atomic_fetch_add_explicit(&tax_served, 1, memory_order_relaxed);
		}
	}
	// This thread's switches while it served the window's requests, however late they came.
	if (switches_before != UINT64_MAX)
		atomic_fetch_add(&tax_switches, thread_switches() - switches_before);
	return NULL;
}

static void read_memory(double *rss, double *vm, double *kstack, double *slab)
{
	bench_process_memory(rss, vm);
	*kstack = (double)topo_meminfo_bytes("KernelStack");
	*slab = (double)topo_meminfo_bytes("SUnreclaim");
}

static void set_schedule(const struct tax_job *j)
{
	tax_clients = j->clients;
	tax_start = clock_now_ns() + 1000000u;		// 1 ms from now
	tax_window_start = tax_start + SLOW_RESOURCE_NS;
	tax_end = tax_start + j->duration_ns;
	uint64_t expected = (uint64_t)j->clients * ((j->duration_ns / SLOW_RESOURCE_NS) - 1);
	tax_stride = expected / MAX_LATENCIES + 1;
}

static void run_threads(const struct tax_job *j, struct tax_report *r)
{
	static pthread_t th[100000];
	static unsigned ids[100000];
	unsigned created = 0;

	for (; created < j->clients; created++) {
		ids[created] = created;
		if (pthread_create(&th[created], NULL, client_thread, &ids[created]) != 0) {
			r->error = errno ? errno : EAGAIN;
			atomic_store(&tax_stop, true);
			break;
		}
	}
	if (!r->error) {
		read_memory(&r->rss_bytes, &r->vm_bytes, &r->kernel_stack, &r->kernel_slab);
		set_schedule(j);
	}
	atomic_store(&tax_gate, 1);
	futex(&tax_gate, FUTEX_WAKE, INT32_MAX);
	for (unsigned i = 0; i < created; i++)
		pthread_join(th[i], NULL);
	r->switches = atomic_load(&tax_switches);
	r->missed = atomic_load(&tax_missed);
}

// One thread, one timerfd per client. A read returns how many times the timer fired since the last
// one: more than 1 means the loop was more than a period behind. Those expirations are counted as
// missed, and the client's deadline moves past all of them (lateness is from the latest).
static void run_event_loop(const struct tax_job *j, struct tax_report *r)
{
	static uint64_t next[100000];
	static int fds[100000];
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		r->error = errno;
		return;
	}
	for (unsigned i = 0; i < j->clients; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		fds[i] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) {
			r->error = errno;
			return;
		}
	}
	read_memory(&r->rss_bytes, &r->vm_bytes, &r->kernel_stack, &r->kernel_slab);
	set_schedule(j);
	for (unsigned i = 0; i < j->clients; i++) {
		struct itimerspec its = { .it_interval.tv_nsec = SLOW_RESOURCE_NS };

		next[i] = first_deadline(i);
		its.it_value.tv_sec = (time_t)(next[i] / 1000000000u);
		its.it_value.tv_nsec = (long)(next[i] % 1000000000u);
		if (timerfd_settime(fds[i], TFD_TIMER_ABSTIME, &its, NULL) != 0) {
			r->error = errno;
			return;
		}
	}
	unsigned pending = j->clients;		// clients with a deadline still before the end
	uint64_t s0 = 0, before_wait = 0;
	bool in = false;

	while (pending > 0) {
		if (!in)
			before_wait = thread_switches();
		// No short timeout: waking without an event would add switches of the loop's own.
		int n = epoll_wait(ep, evs, 256, 100);
		uint64_t now = clock_now_ns();

		// From before the wait that woke into the window, as a client thread counts from
		// before its first sleep into it: the wake-up's switch is the window's.
		if (!in && now >= tax_window_start) {
			s0 = before_wait;
			in = true;
		}
		if (now > tax_end + 1000000000u) {	// a second past the end: give up, say so
			r->error = ETIMEDOUT;
			return;
		}
		for (int k = 0; k < n; k++) {
			unsigned i = evs[k].data.u32;
			uint64_t fired;

			if (read(fds[i], &fired, sizeof(fired)) != sizeof(fired) || fired == 0)
				continue;
			uint64_t latest = next[i] + (fired - 1) * SLOW_RESOURCE_NS;
			uint64_t late = clock_now_ns() - latest;

			serve();
			for (uint64_t e = 0; e < fired; e++) {
				if (!in_window(next[i] + e * SLOW_RESOURCE_NS))
					continue;
				if (e + 1 < fired) {
					r->missed++;
				} else {
					record_late(late);
					atomic_fetch_add_explicit(&tax_served, 1,
								  memory_order_relaxed);
				}
			}
			bool was_pending = next[i] < tax_end;
			next[i] += fired * SLOW_RESOURCE_NS;
			if (was_pending && next[i] >= tax_end)
				pending--;
		}
	}
	r->switches = thread_switches() - s0;	// until the window's last request was served
}

static int tax_child(void *arg)
{
	const struct tax_job *j = arg;
	struct tax_report *r = j->r;

	tax_r = r;
	bench_process_memory(&r->base_rss, &r->base_vm);
	r->base_kernel_stack = (double)topo_meminfo_bytes("KernelStack");
	r->base_kernel_slab = (double)topo_meminfo_bytes("SUnreclaim");
	if (j->model == THREAD_PER_CLIENT)
		run_threads(j, r);
	else
		run_event_loop(j, r);
	if (r->error)
		return 0;
	r->served = atomic_load(&tax_served);
	uint64_t late = atomic_load(&tax_nr_late);
	r->nr_late = (late + tax_stride - 1) / tax_stride;
	if (r->nr_late > MAX_LATENCIES)
		r->nr_late = MAX_LATENCIES;
	r->window_ns = tax_end - tax_window_start;
	r->done = 1;
	return 0;
}

struct tax_point {
	enum model model;
	unsigned clients;
	bool ran;
	char why_not[128];
	uint64_t served, missed, nominal;	// requests in the window; nominal = clients x periods
	double requests_per_s, switches_per_request, rss_per_client, vm_per_client;
	double kernel_stack_per_client, kernel_slab_per_client;	// NAN where /proc/meminfo lacks it
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
	size_t nr_points;		// all of them: this lab's modes, then perf bench's
	size_t nr_own;			// this lab's modes (the rows of the table and data.csv)
	struct stats baseline[NR_BASELINES];		// ns per call, no switch
	uint64_t baseline_iters[NR_BASELINES];
	// Part A in one set of rounds: the switch points, then the baselines (variant nr_points + b).
	struct compare_samples rounds;
	struct tax_point tax[2 * MAX_LEVELS];
	size_t nr_tax;
	char tax_bound[160];
};

// One ping-pong of round_trips; A runs on the calling thread, B on a thread or a child process.
// Returns the elapsed ns; fills A's rusage delta, PAPI's count and both sides' FUTEX_WAIT calls.
// This thread's CPU time in ns (exact).
static double thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return NAN;
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double rusage_cpu_ns(const struct rusage *u)
{
	return (clock_timeval_ms(u->ru_utime) + clock_timeval_ms(u->ru_stime)) * 1e6;
}

// What one ping-pong saw beside its time: both sides' FUTEX_WAIT calls and those that slept, and
// the CPU time the two sides used (B's over its whole run).
struct pingpong_seen {
	uint64_t waits, sleeps;
	double cpu_a_ns, cpu_b_ns;
};

static uint64_t pingpong_once(struct run *run, struct switch_point *p, uint64_t round_trips,
			      bool count, struct rusage *a_usage, double *papi,
			      struct pingpong_seen *seen)
{
	struct pingpong *pp = guard_shared_alloc(sizeof(*pp));
	struct rusage before;
	pthread_t t;
	struct helper h;
	uint64_t a_waits = 0, a_sleeps = 0;

	if (!pp)
		die("cannot share memory");
	pp->round_trips = round_trips;
	pp->channel = p->channel;
	pp->lab = &run->lab;
	pp->pu_b = (int)(p->placement == SAME_CPU ? run->pu_same : run->pu_other);
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
	double cpu0 = thread_cpu_ns();
	uint64_t start = clock_now_ns();
	for (uint64_t i = 0; i < round_trips; i++) {
		if (p->channel == PIPE) {
			pipe_xfer(pp->to_b[1], pp->to_a[0]);
		} else if (p->channel == FUTEX) {
			futex_hand_over(&pp->turn, 1);
			futex_wait_for(&pp->turn, 0, &a_waits, &a_sleeps);
		} else {
			sched_yield();
		}
	}
	uint64_t elapsed = clock_now_ns() - start;
	seen->cpu_a_ns = thread_cpu_ns() - cpu0;
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
	seen->waits = a_waits + pp->b_waits;
	seen->sleeps = a_sleeps + pp->b_sleeps;
	seen->cpu_b_ns = rusage_cpu_ns(&pp->b_usage);
	if (p->channel == PIPE) {
		close(pp->to_b[0]);
		close(pp->to_b[1]);
		close(pp->to_a[0]);
		close(pp->to_a[1]);
	}
	guard_shared_free(pp, sizeof(*pp));
	return elapsed;
}

// ---- two tasks inside one thread: what an event loop or a coroutine library switches ----------

// The loop's ready queue: each task's callback does its step and queues itself again, so the loop
// alternates between the two tasks. One dispatch = pop the next ready task, call it.
struct task {
	void (*step)(struct task *);
	uint64_t steps;
};

#define READY_SLOTS 4		// a power of two, larger than the number of tasks
static struct task *ready_queue[READY_SLOTS];
static unsigned ready_head, ready_tail;

static __attribute__((noinline)) void task_step(struct task *t)
{
	t->steps++;
	ready_queue[ready_tail++ % READY_SLOTS] = t;
}

static uint64_t dispatch_round_trips(uint64_t round_trips)
{
	static struct task tasks[2];

	ready_head = ready_tail = 0;
	for (int i = 0; i < 2; i++) {
		tasks[i] = (struct task){ .step = task_step };
		ready_queue[ready_tail++ % READY_SLOTS] = &tasks[i];
	}
	uint64_t start = clock_now_ns();
	for (uint64_t i = 0; i < 2 * round_trips; i++) {
		struct task *t = ready_queue[ready_head++ % READY_SLOTS];

		t->step(t);
	}
	uint64_t elapsed = clock_now_ns() - start;
	if (tasks[0].steps + tasks[1].steps != 2 * round_trips)
		die("the ready queue lost a task");
	return elapsed;
}

// A coroutine: its own stack, entered and left with swapcontext. glibc's swapcontext also saves
// and restores the signal mask, a system call each way (the man page's caveat; coroutine
// libraries that skip it switch in a few ns).
static ucontext_t main_context, task_context;

static void coroutine_body(void)
{
	for (;;)
		swapcontext(&task_context, &main_context);
}

static uint64_t swapcontext_round_trips(uint64_t round_trips)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));

	if (getcontext(&task_context) != 0)
		die_errno(errno, "getcontext");
	task_context.uc_stack.ss_sp = stack;
	task_context.uc_stack.ss_size = sizeof(stack);
	task_context.uc_link = NULL;
	makecontext(&task_context, coroutine_body, 0);
	uint64_t start = clock_now_ns();
	for (uint64_t i = 0; i < round_trips; i++)
		swapcontext(&main_context, &task_context);
	return clock_now_ns() - start;
}

// One timed round_trips of any switch mode, counters stopped (disabled). A round trip is two switches.
static uint64_t round_trips_once(struct run *run, struct switch_point *p, uint64_t round_trips,
				 struct rusage *a_usage, struct pingpong_seen *seen)
{
	double papi;
	struct rusage before;

	*seen = (struct pingpong_seen){ .cpu_a_ns = NAN, .cpu_b_ns = NAN };
	if (p->partner != TASKS)
		return pingpong_once(run, p, round_trips, false, a_usage, &papi, seen);
	getrusage(RUSAGE_THREAD, &before);
	uint64_t ns = p->channel == CALLBACK ? dispatch_round_trips(round_trips)
					     : swapcontext_round_trips(round_trips);
	getrusage(RUSAGE_THREAD, a_usage);
	a_usage->ru_nvcsw -= before.ru_nvcsw;
	a_usage->ru_nivcsw -= before.ru_nivcsw;
	p->sw_b = (double)(a_usage->ru_nvcsw + a_usage->ru_nivcsw);	// the same thread
	return ns;
}

// The syscalls of one hand-off, without a switch: n of one kind.
static uint64_t baseline_once(enum baseline which, uint64_t n)
{
	static int fds[2] = { -1, -1 };
	static _Atomic uint32_t *word;	// in a shared mapping, like the ping-pong's (its futex key)
	char c = 0;

	if (which == PIPE_WRITE_READ && fds[0] < 0 && pipe(fds) != 0)
		die_errno(errno, "pipe");
	if (!word && !(word = guard_shared_alloc(sizeof(*word))))
		die("cannot share memory");
	uint64_t start = clock_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (which == PIPE_WRITE_READ) {
			if (write(fds[1], &c, 1) != 1 || read(fds[0], &c, 1) != 1)
				die("pipe baseline failed");
		} else if (which == FUTEX_WAKE_NOBODY) {
			futex(word, FUTEX_WAKE, 1);
		} else {
			futex(word, FUTEX_WAIT, 1);	// the word is 0: returns EAGAIN at once
		}
	}
	return clock_now_ns() - start;
}

// Enough iterations for min_sample_ns per sample, from a short trial.
static uint64_t calibrate(uint64_t trial, uint64_t trial_ns, uint64_t min_sample_ns, uint64_t least)
{
	uint64_t n = (uint64_t)((double)trial * (double)min_sample_ns / (double)(trial_ns + 1));

	return n < least ? least : n;
}

// perf bench sched pipe: the kernel developers' own ping-pong, pinned like ours with taskset. It
// has no option to put its two ends on two chosen CPUs: 'taskset -c a,b' would let the scheduler
// put both on one, so only the same-CPU modes are cross-checked.
static double perf_bench_pipe_ns(unsigned pu, bool threads, unsigned loops)
{
	char cpu[16], n[16];
	const char *argv[] = { "taskset", "-c", cpu, "perf", "bench", "sched", "pipe", "-l", n,
			       threads ? "-T" : NULL, NULL };

	snprintf(cpu, sizeof(cpu), "%u", pu);
	snprintf(n, sizeof(n), "%u", loops);
	return lab_perf_bench_us(argv) * 1000 / 2;	// one op is a round trip: two switches
}

// What a sample keeps beside its time (compare_sample_aux): the rounds run in other processes,
// whose points the parent never sees.
enum { AUX_ROUND_TRIPS, AUX_WAITS, AUX_SLEEPS };

// One timed sample of variant (a switch point, perf bench's ping-pong, or a baseline), counters
// closed. The first sample of each calibrates.
static int measure_variant(void *ctx, size_t variant, unsigned round, double *value)
{
	struct run *run = ctx;
	uint64_t min_ns = run->lab.opt.min_sample_ns;

	(void)round;
	if (variant >= run->nr_points) {
		enum baseline which = (enum baseline)(variant - run->nr_points);
		uint64_t *n = &run->baseline_iters[which];

		if (!*n)
			*n = calibrate(2000, baseline_once(which, 2000), min_ns, 2000);
		*value = (double)baseline_once(which, *n) / (double)*n;
		return 0;
	}
	struct switch_point *p = &run->points[variant];
	struct rusage a;
	struct pingpong_seen seen;

	if (p->perf_bench) {
		*value = perf_bench_pipe_ns(run->pu_same, p->partner == THREADS,
					    run->lab.opt.quick ? 2000 : 20000);
		return 0;
	}
	if (!p->round_trips) {
		uint64_t trial = p->partner == TASKS ? 20000 : 500;

		p->round_trips = calibrate(trial, round_trips_once(run, p, trial, &a, &seen), min_ns,
					   p->partner == TASKS ? 20000 : 200);
	}
	uint64_t ns = round_trips_once(run, p, p->round_trips, &a, &seen);
	*value = (double)ns / (double)p->round_trips / 2;
	compare_sample_aux(AUX_ROUND_TRIPS, (double)p->round_trips);
	compare_sample_aux(AUX_WAITS, (double)seen.waits);
	compare_sample_aux(AUX_SLEEPS, (double)seen.sleeps);
	// What kept the two sides from running (compare.h). On one CPU they take turns, each waiting
	// for the other by design: other programs' time is the wall time neither side used. Across
	// two CPUs a side's run-queue wait is its wake-up, the very thing timed: there the plan
	// watches the two CPUs for other programs instead.
	if (p->placement == SAME_CPU && !isnan(seen.cpu_a_ns) && !isnan(seen.cpu_b_ns))
		compare_sample_threads((double)ns - seen.cpu_a_ns - seen.cpu_b_ns, (double)ns);
	else if (p->placement == TWO_CPUS)
		compare_sample_threads(0, (double)ns);
	return 0;
}

// The counts of a switch mode, from one sample of its own (counters open, not timed): per round
// trip. On one CPU the woken side often preempts the waker: that hand-off counts as an
// involuntary switch. Voluntary + involuntary is what must match the hand-offs.
static void count_switch(struct run *run, struct switch_point *p)
{
	struct rusage a;
	double papi = NAN;
	struct pingpong_seen seen;

	if (p->partner == TASKS)
		(void)round_trips_once(run, p, p->round_trips, &a, &seen);
	else
		(void)pingpong_once(run, p, p->round_trips, true, &a, &papi, &seen);
	p->vol_a = (double)a.ru_nvcsw / (double)p->round_trips;
	p->sw_a = (double)(a.ru_nvcsw + a.ru_nivcsw) / (double)p->round_trips;
	p->sw_b /= (double)p->round_trips;
	p->papi_a = papi / (double)p->round_trips;
}

// Net of the syscalls: the ones this round trip made, counted in the timed samples, each at its
// own cost without a switch. A pipe round trip always makes two writes and two reads; a futex
// round trip two wakes and however many waits the sides made (fewer than two when the woken side
// ran first). Only on one CPU, where everything runs one after the other: across two CPUs the two
// sides' syscalls overlap in time, and the round trip is not their sum.
static void net_of_syscalls(struct run *run, struct switch_point *p)
{
	double per_rt;

	p->waits = p->timed_round_trips ? (double)p->timed_waits / (double)p->timed_round_trips : NAN;
	if (p->placement != SAME_CPU)
		return;
	if (p->channel == PIPE)
		per_rt = 2 * run->baseline[PIPE_WRITE_READ].median;
	else if (p->channel == FUTEX)
		per_rt = 2 * run->baseline[FUTEX_WAKE_NOBODY].median +
			 p->waits * run->baseline[FUTEX_WAIT_RETURNS].median;
	else
		return;		// sched_yield is itself the switch; the tasks make no syscall
	p->net_ns = p->ns_per_switch.median - per_rt / 2;
}

static struct switch_point *new_switch(struct run *run, enum partner partner, enum channel ch,
				       enum placement where)
{
	struct switch_point *p = &run->points[run->nr_points++];

	*p = (struct switch_point){ .partner = partner, .channel = ch, .placement = where,
				    .net_ns = NAN, .waits = NAN, .perf_bench_ns = NAN };
	return p;
}

static const struct switch_point *find_switch(const struct run *run, enum partner pa,
					      enum channel ch, enum placement where)
{
	for (size_t i = 0; i < run->nr_own; i++) {
		const struct switch_point *p = &run->points[i];

		if (p->partner == pa && p->channel == ch && p->placement == where)
			return p;
	}
	return NULL;
}

static void measure_part_a(struct run *run)
{
	struct topo_binding b;
	int pu_a = topo_bind_thread(&run->lab.topo, run->pu_same, &b) == 0 ? b.pu_observed : -1;

	for (enum placement where = SAME_CPU; where <= TWO_CPUS; where++) {
		if (where == TWO_CPUS && !run->have_two)
			continue;
		for (enum partner pa = THREADS; pa <= PROCESSES; pa++)
			for (enum channel ch = PIPE; ch <= FUTEX; ch++)
				new_switch(run, pa, ch, where);
	}
	new_switch(run, THREADS, YIELD, SAME_CPU);
	new_switch(run, TASKS, CALLBACK, ONE_THREAD);
	new_switch(run, TASKS, SWAPCONTEXT, ONE_THREAD);
	// perf bench sched pipe, the kernel developers' own ping-pong, as variants of the same
	// rounds: the cross-check alternates with this lab's own timing and gets a paired interval.
	size_t first_perf = run->nr_own = run->nr_points;
	if (!isnan(perf_bench_pipe_ns(run->pu_same, true, 200)))
		for (enum partner pa = THREADS; pa <= PROCESSES; pa++)
			new_switch(run, pa, PIPE, SAME_CPU)->perf_bench = true;
	size_t nr_perf = run->nr_points - first_perf;
	// Every mode and every baseline in every round (compare.h), on the same pinned CPU: the
	// verdicts compare them with each other, and the net figures subtract baselines measured
	// beside them. The two CPUs are watched for other programs.
	struct compare_plan plan = lab_plan(&run->lab);
	cpu_set_t watch;
	CPU_ZERO(&watch);
	CPU_SET(run->pu_same, &watch);
	if (run->have_two)
		CPU_SET(run->pu_other, &watch);
	plan.watch_cpus = &watch;
	int err = compare_run(run->nr_points + NR_BASELINES, &plan, measure_variant, run,
			      &run->rounds);
	if (err)
		die_errno(err, "measuring the switches");
	for (enum baseline w = 0; w < NR_BASELINES; w++)
		if (compare_variant_stats(&run->rounds, run->nr_points + w, &run->baseline[w]) != 0)
			die("bad samples");
	for (size_t i = 0; i < run->nr_points; i++) {
		struct switch_point *p = &run->points[i];

		p->pu_a = pu_a;
		if (compare_variant_stats(&run->rounds, i, &p->ns_per_switch) != 0)
			die("bad samples");
		if (p->perf_bench)
			continue;
		double trips = 0, waits = 0, sleeps = 0;
		for (unsigned r = 0; r < run->rounds.nr_rounds; r++) {
			trips += compare_aux(&run->rounds, i, r, AUX_ROUND_TRIPS);
			waits += compare_aux(&run->rounds, i, r, AUX_WAITS);
			sleeps += compare_aux(&run->rounds, i, r, AUX_SLEEPS);
		}
		p->timed_round_trips = (uint64_t)trips;
		p->timed_waits = (uint64_t)waits;
		p->sleeps = trips ? sleeps / (2 * trips) : NAN;
		p->round_trips = (uint64_t)(trips / run->rounds.nr_rounds);
		count_switch(run, p);
		net_of_syscalls(run, p);
		if (p->partner == TASKS)
			p->pu_b = pu_a;
	}
	// Each perf row's figure goes to the row of ours it checks, with the paired ratio.
	for (size_t k = 0; k < nr_perf; k++) {
		const struct switch_point *perf = &run->points[first_perf + k];
		struct switch_point *ours = (struct switch_point *)find_switch(run, perf->partner, PIPE,
										SAME_CPU);

		ours->perf_bench_ns = perf->ns_per_switch.median;
		(void)compare_ratio(&run->rounds, (size_t)(ours - run->points), first_perf + k,
				    COMPARE_NONE, &ours->over_perf);
	}
}

static void measure_part_b(struct run *run)
{
	unsigned levels[MAX_LEVELS] = { 0 }, nr = 0;
	struct rlimit nofile, nproc;
	cpu_set_t all;

	// Part A pinned this thread; the servers forked from it would inherit that one PU. A server
	// may use every PU this process may, as a real one would.
	lab_allowed_cpus(&run->lab, &all);
	if (sched_setaffinity(0, sizeof(all), &all) != 0)
		lab_note("Part B could not unpin itself (%s): its servers run on PU %u only",
			 strerror(errno), run->pu_same);

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
			tp->served = r->served;
			tp->missed = r->missed;
			tp->nominal = (uint64_t)k * (r->window_ns / SLOW_RESOURCE_NS);
			tp->requests_per_s = (double)r->served / ((double)r->window_ns / 1e9);
			tp->switches_per_request = (double)r->switches /
						   (double)(r->served ? r->served : 1);
			tp->rss_per_client = (r->rss_bytes - r->base_rss) / k;
			tp->vm_per_client = (r->vm_bytes - r->base_vm) / k;
			tp->kernel_stack_per_client = r->kernel_stack > 0
				? (r->kernel_stack - r->base_kernel_stack) / k : NAN;
			tp->kernel_slab_per_client = r->kernel_slab > 0
				? (r->kernel_slab - r->base_kernel_slab) / k : NAN;
			struct stats st;
			if (r->nr_late && stats_compute(&st, r->late_us, r->nr_late) == 0) {
				tp->late_p50_us = st.median;
				tp->late_p99_us = stats_quantile_sorted(r->late_us, r->nr_late, 0.99);
			}
			guard_shared_free(r, sizeof(*r));
		}
	}
}

// ---- reporting -----------------------------------------------------------------------------------

static const char *switch_name(const struct switch_point *p, char *buf, size_t len)
{
	static const char *const shown[] = { "same-cpu", "two-cpus", "one-thread" };

	snprintf(buf, len, "%s %s %s", partner_names[p->partner], channel_names[p->channel],
		 shown[p->placement]);
	return buf;
}

static size_t variant_of(const struct run *run, const struct switch_point *p)
{
	return (size_t)(p - run->points);
}

// The tables' full widths (Parts A and B).
#define SWITCH_TABLE_WIDTH 95
#define TAX_TABLE_WIDTH 107

static void print_tables(const struct run *run)
{
	char name[64];

	printf("\nPart A: ns per switch (round trip / 2, median of %u interleaved rounds, counters "
	       "stopped; %s)\n", lab_rounds(&run->lab), STATS_NOISY_LEGEND);
	printf("  the same syscalls without a switch, pinned, in the same rounds:");
	for (enum baseline w = 0; w < NR_BASELINES; w++)
		printf("%s %s %.0f ns", w ? "," : "", baseline_names[w], run->baseline[w].median);
	printf("\n  net = ns minus the syscalls each round trip made (futex: waits/rt counted); one CPU "
	       "only: across two the sides' syscalls overlap in time\n");
	// Under their full width the tables leave out, in this order, what matters least to the
	// verdicts: Part A the partner's switches and PAPI's count, Part B the per-client virtual and
	// kernel memory and the median lateness.
	bool narrow_a = term_width() < SWITCH_TABLE_WIDTH, narrow_b = term_width() < TAX_TABLE_WIDTH;
	int mw = narrow_a ? 28 : 30, ww = narrow_a ? 8 : 7;	// the mode and waits/rt columns
	printf("  %-*s %8s %8s %*s %7s", mw, "mode", "ns", "net ns", ww, "waits/rt", "sw/rt A");
	if (!narrow_a)
		printf(" %7s %9s", "sw/rt B", "PAPI/rt A");
	printf(" %10s\n", "perf bench");
	for (size_t i = 0; i < run->nr_own; i++) {
		const struct switch_point *p = &run->points[i];

		// A loop's dispatch takes a nanosecond or two: a decimal, as its verdict prints it.
		printf("  %-*s %7.*f%1s %8.0f %*.2f %7.2f", mw, switch_name(p, name, sizeof(name)),
		       p->ns_per_switch.median < 10 ? 1 : 0, p->ns_per_switch.median,
		       stats_noisy_mark(&p->ns_per_switch), p->net_ns,
		       ww, p->waits, p->sw_a);
		if (!narrow_a)
			printf(" %7.2f %9.2f", p->sw_b, p->papi_a);
		printf(" %10.0f\n", p->perf_bench_ns);
	}
	if (narrow_a)
		term_note_left_out("sw/rt B and PAPI/rt A", SWITCH_TABLE_WIDTH);
	printf("\nPart B: clients waiting %u ms on a slow resource, one thread each vs one epoll loop\n"
	       "  requests: those whose deadline falls in the window after a one-period warm-up; "
	       "missed: deadlines a thread or the loop woke a period or more too late to serve on "
	       "their own (served with a later one, as a timerfd coalesces them); kernel: "
	       "KernelStack + slab growth per client (/proc/meminfo, machine-wide)\n",
	       SLOW_RESOURCE_NS / 1000000);
	printf("  %-17s %7s %10s %7s %9s", "model", "clients", "requests/s", "missed", "switch/req");
	if (!narrow_b)
		printf(" %9s", "p50 us");
	printf(" %9s %9s", "p99 us", "RSS/cl");
	if (!narrow_b)
		printf(" %9s %9s", "virt/cl", "kernel/cl");
	printf("\n");
	for (size_t i = 0; i < run->nr_tax; i++) {
		const struct tax_point *t = &run->tax[i];
		char a[32], b[32], c[32];

		if (!t->ran) {
			printf("  %-17s %7u  skipped: %s\n", model_names[t->model], t->clients, t->why_not);
			continue;
		}
		double kernel = t->kernel_stack_per_client + t->kernel_slab_per_client;
		printf("  %-17s %7u %10.0f %7llu %9.3f", model_names[t->model], t->clients,
		       t->requests_per_s, (unsigned long long)t->missed, t->switches_per_request);
		if (!narrow_b)
			printf(" %9.1f", t->late_p50_us);
		printf(" %9.1f %9s", t->late_p99_us,
		       cli_format_size((uint64_t)fmax(t->rss_per_client, 0), a, sizeof(a)));
		if (!narrow_b)
			printf(" %9s %9s", cli_format_size((uint64_t)fmax(t->vm_per_client, 0), b, sizeof(b)),
			       isnan(kernel) ? "-" : cli_format_size((uint64_t)fmax(kernel, 0), c, sizeof(c)));
		printf("\n");
	}
	if (narrow_b)
		term_note_left_out("p50 us, virt/cl and kernel/cl", TAX_TABLE_WIDTH);
}

static const struct tax_point *find_tax(const struct run *run, enum model m, unsigned clients)
{
	for (size_t i = 0; i < run->nr_tax; i++)
		if (run->tax[i].model == m && run->tax[i].clients == clients && run->tax[i].ran)
			return &run->tax[i];
	return NULL;
}

static void part_a_verdicts(struct run *run)
{
	const struct switch_point *same = find_switch(run, THREADS, FUTEX, SAME_CPU);
	const struct switch_point *two = find_switch(run, THREADS, FUTEX, TWO_CPUS);
	const struct switch_point *pipe_same = find_switch(run, PROCESSES, PIPE, SAME_CPU);
	const struct switch_point *yield = find_switch(run, THREADS, YIELD, SAME_CPU);
	const struct switch_point *tp = find_switch(run, THREADS, PIPE, SAME_CPU);
	const struct switch_point *dispatch = find_switch(run, TASKS, CALLBACK, ONE_THREAD);
	const struct switch_point *coroutine = find_switch(run, TASKS, SWAPCONTEXT, ONE_THREAD);
	struct compare_ratio proc_over_thread, two_over_one, kernel_over_loop;

	lab_headline(&run->lab, "same_cpu_switch_threads_pipe", tp->ns_per_switch.median, "ns",
		     tp->perf_bench_ns);
	if (two)
		lab_headline(&run->lab, "two_cpu_handoff_threads_futex", two->ns_per_switch.median,
			     "ns", NAN);
	// A switch enters the kernel twice: the mitigations move its cost (machine.h).
	char mitigations[256];
	lab_shown(&run->lab,
		  "a switch between two threads on one CPU costs %.0f ns (%.0f ns net of the %.2f "
		  "futex waits and 2 wakes per round trip), sched_yield to a runnable thread %.0f ns; "
		  "per round trip each side switched out %.2f and %.2f times (getrusage, voluntary + "
		  "involuntary; PAPI %.2f); mitigations on entry: %s", same->ns_per_switch.median,
		  same->net_ns, same->waits, yield->ns_per_switch.median, same->sw_a, same->sw_b,
		  same->papi_a, machine_entry_mitigations(mitigations, sizeof(mitigations)));
	(void)compare_ratio(&run->rounds, variant_of(run, same), variant_of(run, dispatch),
			    COMPARE_NONE, &kernel_over_loop);
	lab_judge_ratio(&run->lab, "event_loop_switch_ns_threads_us",
			"an event loop switches between tasks in nanoseconds and threads in "
			"microseconds (100x or more apart)", compare_at_least(&kernel_over_loop, 100),
			&kernel_over_loop,
			"one dispatch from the loop's ready queue %.1f ns, a thread switch over a futex "
			"on one CPU %.0f ns; a coroutine switch with glibc's swapcontext %.0f ns (it "
			"also sets the signal mask, a syscall; %.2f kernel switches per round trip)",
			dispatch->ns_per_switch.median, same->ns_per_switch.median,
			coroutine->ns_per_switch.median, coroutine->sw_a);
	// With PCIDs a process switch keeps the TLB: it may cost no more than a thread switch.
	(void)compare_ratio(&run->rounds, variant_of(run, pipe_same), variant_of(run, tp),
			    COMPARE_NONE, &proc_over_thread);
	lab_judge_ratio(&run->lab, "process_switch_costs_more",
			"switching between processes costs more than between threads (1.1x or "
			"more)", compare_at_least(&proc_over_thread, 1.1), &proc_over_thread,
			"over a pipe on one CPU: processes %.0f ns, threads %.0f ns per switch",
			pipe_same->ns_per_switch.median, tp->ns_per_switch.median);
	if (two) {
		(void)compare_ratio(&run->rounds, variant_of(run, two), variant_of(run, same),
				    COMPARE_NONE, &two_over_one);
		// Why, from what the hand-offs did: a side that slept in FUTEX_WAIT left its CPU idle,
		// and the hand-off then includes waking that CPU (in a VM, a halted vCPU the host
		// must schedule again); one that found the turn already handed over did not sleep.
		char why[256];
		if (isnan(two->sleeps))
			snprintf(why, sizeof(why), "%s", "");
		else if (two->sleeps >= 0.5)
			snprintf(why, sizeof(why), "; in %.0f%% of the hand-offs the woken side's "
				 "FUTEX_WAIT blocked until the wake (at most that many slept), and a "
				 "sleeper's hand-off includes waking an idle CPU%s", 100 * two->sleeps,
				 lab_in_vm() ?
				 " (here a vCPU the host halted and must schedule again)" :
				 " from its sleep state");
		else
			snprintf(why, sizeof(why), "; in only %.0f%% of the hand-offs the woken side's "
				 "FUTEX_WAIT blocked until the wake (at most that many slept): mostly "
				 "both sides ran at once and only the wake-up crossed", 100 * two->sleeps);
		lab_judge_ratio(&run->lab, "cross_cpu_handoff_costs_more",
				"a hand-off across two CPUs costs more than a switch on one (1.1x or "
				"more)", compare_at_least(&two_over_one, 1.1), &two_over_one,
				"threads over a futex: %.0f ns per hand-off across two CPUs, %.0f ns per "
				"switch on one%s", two->ns_per_switch.median, same->ns_per_switch.median,
				why);
	} else
		lab_note("only one usable CPU: the cross-CPU hand-off could not be measured");
	for (size_t i = 0; i < run->nr_own; i++) {
		const struct switch_point *p = &run->points[i];
		char name[64], ratio[256], why[128];

		if (p->channel != PIPE || isnan(p->perf_bench_ns))
			continue;
		// Within 10% where the paired interval says so; apart where it lies wholly outside.
		enum compare_status same_st = compare_within(&p->over_perf, 0.10);
		lab_shown(&run->lab,
			  "cross-check (%s): perf bench sched pipe says %.0f ns per switch, this lab "
			  "%.0f ns; in the same rounds, this lab over perf round by round: %s, %s",
			  switch_name(p, name, sizeof(name)),
			  p->perf_bench_ns, p->ns_per_switch.median,
			  compare_format_ratio(&p->over_perf, ratio, sizeof(ratio)),
			  same_st == COMPARE_HOLDS ? "within 10%" :
			  same_st == COMPARE_FAILS ? "more than 10% apart, the whole interval: the "
						     "two do not time the same thing" :
			  compare_within_undecided(&p->over_perf, 0.10, why, sizeof(why)));
	}
	if (isnan(pipe_same->perf_bench_ns))
		lab_note("no cross-check: 'perf bench sched pipe' is not available here (Debian: apt "
			 "install linux-perf)");
	else if (two)
		lab_note("the two-CPU rows have no perf bench figure: it cannot put its two ends on two "
			 "chosen CPUs, and 'taskset -c a,b' lets the scheduler run both on one");
}

static void part_b_verdicts(struct run *run)
{
	unsigned top = 0;

	for (size_t i = 0; i < run->nr_tax; i++)
		if (run->tax[i].ran && run->tax[i].model == THREAD_PER_CLIENT && run->tax[i].clients > top &&
		    find_tax(run, EVENT_LOOP, run->tax[i].clients))
			top = run->tax[i].clients;
	const struct tax_point *th = find_tax(run, THREAD_PER_CLIENT, top);
	const struct tax_point *ev = find_tax(run, EVENT_LOOP, top);
	if (th && ev) {
		char a[32], b[32], c[32], d[32], e[32], f[32];
		// Counts, not timings: every request of a thread per client is a wake-up and a
		// sleep; the loop can serve many per wake-up. The counts move by a few tenths from
		// run to run, so between "half or less" and "nearly as many" this run cannot tell.
		double fewer = ev->switches_per_request / th->switches_per_request;
		// A loop that fell behind (missed more than 1 in 1000 of its expirations) serves many
		// requests per wake-up because they queued while it was late, not by design: its
		// count says nothing about the claim, so it is not judged.
		bool behind = ev->nominal && ev->missed * 1000 > ev->nominal;
		// A quick run's 100 clients send 10,000 events a second: too sparse for the loop to
		// serve several per wake-up, so it would teach the opposite of a full run.
		lab_judge(&run->lab, "event_loop_fewer_switches",
			  "an event loop needs half the context switches per request of a thread per "
			  "client or fewer", run->lab.opt.quick || behind ? COMPARE_INCONCLUSIVE
			  : fewer <= 0.5 ? COMPARE_HOLDS
			  : fewer >= 0.9 ? COMPARE_FAILS : COMPARE_INCONCLUSIVE, fewer, NAN, NAN, "x",
			  "%s%u clients: one thread each made %.3f context switches per request and "
			    "%.0f requests/s (p99 %.0f us late), one event loop %.3f switches per request "
			    "and %.0f requests/s (p99 %.0f us, %llu expirations missed)",
			  run->lab.opt.quick ? "judged in full runs only (a quick run's clients are too few "
					       "for the loop to batch); "
			  : behind ? "not judged: the loop fell behind (it missed more than 1 in 1000 "
				     "expirations), so it batched because it was late; " : "",
			  top, th->switches_per_request, th->requests_per_s, th->late_p99_us,
			  ev->switches_per_request, ev->requests_per_s, ev->late_p99_us,
			  (unsigned long long)ev->missed);
		lab_shown(&run->lab,
			  "memory per client at %u clients: a thread took %s of address space, %s "
			  "resident in user space and %s of kernel stack plus %s of kernel slab "
			  "(KernelStack, SUnreclaim in /proc/meminfo); a client of the loop %s resident "
			  "and %s of kernel slab (its timerfd and epoll entry)",
			  top, cli_format_size((uint64_t)fmax(th->vm_per_client, 0), a, sizeof(a)),
			  cli_format_size((uint64_t)fmax(th->rss_per_client, 0), b, sizeof(b)),
			  isnan(th->kernel_stack_per_client) ? "?"
			  : cli_format_size((uint64_t)fmax(th->kernel_stack_per_client, 0), c, sizeof(c)),
			  isnan(th->kernel_slab_per_client) ? "?"
			  : cli_format_size((uint64_t)fmax(th->kernel_slab_per_client, 0), d, sizeof(d)),
			  cli_format_size((uint64_t)fmax(ev->rss_per_client, 0), e, sizeof(e)),
			  isnan(ev->kernel_slab_per_client) ? "?"
			  : cli_format_size((uint64_t)fmax(ev->kernel_slab_per_client, 0), f, sizeof(f)));
	}
	if (run->tax_bound[0])
		lab_note("part B stopped early: %s", run->tax_bound);
	// Under strict overcommit every thread's stack (RLIMIT_STACK, 8 MiB by default) is committed
	// against CommitLimit when the thread starts, so hundreds of threads can be refused (EAGAIN)
	// long before memory is short.
	if (kernel_overcommit_mode() == 2)
		lab_note("vm.overcommit_memory is 2 (strict) here: each thread's whole stack is committed "
			 "when it starts, so thread per client may stop early with 'Resource temporarily "
			 "unavailable'%s", run->tax_bound[0] ? " (it did)" : " (it did not)");
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "channel", "placement", "pu_a", "pu_b", "clients",
		"ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95", "net_ns_per_switch",
		"futex_waits_per_round_trip", "switches_per_round_trip_a",
		"switches_per_round_trip_b", "voluntary_per_round_trip_a",
		"papi_switches_per_round_trip_a", "perf_bench_ns_per_switch", "requests_per_s",
		"requests_served", "requests_nominal", "missed_expirations", "switches_per_request",
		"late_p50_us", "late_p99_us", "rss_bytes_per_client", "virtual_bytes_per_client",
		"kernel_stack_bytes_per_client", "kernel_slab_bytes_per_client",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_own; i++) {
		const struct switch_point *p = &run->points[i];

		report_csv_str(&csv, "switch");
		report_csv_str(&csv, partner_names[p->partner]);
		report_csv_str(&csv, channel_names[p->channel]);
		report_csv_str(&csv, placement_names[p->placement]);
		report_csv_double(&csv, p->pu_a);
		report_csv_double(&csv, p->pu_b);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, p->ns_per_switch.median);
		report_csv_double(&csv, p->ns_per_switch.p05);
		report_csv_double(&csv, p->ns_per_switch.p95);
		report_csv_double(&csv, p->net_ns);
		report_csv_double(&csv, p->waits);
		report_csv_double(&csv, p->sw_a);
		report_csv_double(&csv, p->sw_b);
		report_csv_double(&csv, p->vol_a);
		report_csv_double(&csv, p->papi_a);
		report_csv_double(&csv, p->perf_bench_ns);
		for (int k = 0; k < 11; k++)
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
		for (int k = 0; k < 9; k++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, t->requests_per_s);
		report_csv_u64(&csv, t->served);
		report_csv_u64(&csv, t->nominal);
		report_csv_u64(&csv, t->missed);
		report_csv_double(&csv, t->switches_per_request);
		report_csv_double(&csv, t->late_p50_us);
		report_csv_double(&csv, t->late_p99_us);
		report_csv_double(&csv, t->rss_per_client);
		report_csv_double(&csv, t->vm_per_client);
		report_csv_double(&csv, t->kernel_stack_per_client);
		report_csv_double(&csv, t->kernel_slab_per_client);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;
	static const char *const keys[] = { "syscall_pipe_write_read_ns", "syscall_futex_wake_ns",
					    "syscall_futex_wait_eagain_ns" };

	report_kv(m, "cpus", "same-cpu runs on PU %u; two-cpu runs on PUs %u and %u", run->pu_same,
		  run->pu_same, run->pu_other);
	for (enum baseline w = 0; w < NR_BASELINES; w++)
		report_kv(m, keys[w], "%.1f (p05 %.1f, p95 %.1f; no switch, in the same rounds)",
			  run->baseline[w].median, run->baseline[w].p05, run->baseline[w].p95);
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
		       "two CPUs it is a wake-up of another CPU: where the other CPU is idle (in a VM, "
		       "often) it must first wake up (a VM's vCPU halts), so a hand-off costs 1.1x or "
		       "more a switch on one CPU (on busy bare metal it can be cheaper)");
	lab_prediction("a task switch inside one thread (an event loop's dispatch) costs a few ns, "
		       "a hundred times less than a kernel switch");
	lab_prediction("a thread per client costs a switch per request and 8 MiB of address space, "
		       "but little resident user memory, plus a kernel stack (16 KiB on x86-64 and "
		       "arm64); one event loop still sleeps between sparse events, and saves switches "
		       "only when events come faster than it serves them");

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
	part_a_verdicts(&run);
	part_b_verdicts(&run);
	lab_note_missing_counters(&run.counters);
	write_csv(&run);
	lab_write_manifest(&run.lab, &run.counters, manifest_extra, &run);
	compare_samples_release(&run.rounds);
	counters_release(&run.counters);
	lab_finish(&run.lab);
	return 0;
}
