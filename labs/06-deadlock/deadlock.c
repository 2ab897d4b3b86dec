// SPDX-License-Identifier: MIT
// Lab 6: how a lock cycle forms (a bank whose transfers lock two accounts), how it is detected (a
// watchdog that prints the wait-for graph; a lock-order checker that finds the cycle even when the
// run did not deadlock), what the safe strategies cost in throughput, and what one lock costs
// when nobody else wants it.
// Usage: deadlock [--quick] [--reps N] [--out DIR] [--order-demo naive|ordered]
// sanitizer-expects: ThreadSanitizer lock-order-inversion (the naive bank takes its locks in either
// order on purpose; tests/e2e/sanitizers.sh checks that TSan says so, and says nothing else)
// valgrind-skip: valgrind runs one thread at a time, so this lab's watchdogs take over a minute
// (ThreadSanitizer and AddressSanitizer cover it instead)
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "clock.h"
#include "die.h"
#include "guard.h"
#include "lab.h"
#include "report.h"
#include "stats.h"

#define MAX_THREADS 64
#define MAX_ACCOUNTS 4096
#define INITIAL_BALANCE 1000
#define MAX_POINTS 256

enum strategy { NAIVE, ORDERED, TRYLOCK, GLOBAL, NR_STRATEGIES };
static const char *const strategy_names[] = { "naive", "ordered", "trylock", "global" };

// ---- the bank --------------------------------------------------------------------------------

struct account {
	pthread_mutex_t lock;
	int64_t balance;
	_Atomic int owner;	// thread holding the lock, -1 if none: for the wait-for graph
};

// What each thread is doing, for the watchdog. Written by the thread, read by the watchdog. Each
// thread's state on lines of its own (128 bytes: a pair of lines, for adjacent-line prefetch), so
// that the threads' bookkeeping does not false-share (Lab 5) and add to every strategy's cost.
struct thread_state {
	_Alignas(128) _Atomic int holding;	// account locked first, -1 if none
	_Atomic int waiting_for;	// account it is blocked on, -1 if none
	_Atomic uint64_t transfers;
	// The work of a transfer besides its locking: bookkeeping stores and the two balance moves,
	// counted so that the strategies can be shown to do the same (work per transfer). A try-lock
	// attempt that backs off counts its own bookkeeping apart, as retry work.
	uint64_t work_ops, retry_ops;
	pthread_t thread;
	clockid_t cpu_clock;
	int pu;			// where hwloc pinned it (-1: not pinned)
};

// The lock-order checker: an edge a -> b when a thread took b while holding a. A cycle in this
// graph is a possible deadlock, whether or not this run deadlocked (lockdep and ThreadSanitizer
// work this way).
struct order_graph {
	unsigned nr;
	_Atomic unsigned char *edge;	// nr * nr
};

struct bank {
	struct thread_state th[MAX_THREADS];	// first: each on lines of its own (see above)
	unsigned nr_accounts, nr_threads;
	enum strategy strategy;
	struct account *acc;
	pthread_mutex_t global;
	struct order_graph *order;	// NULL: not checking
	_Atomic bool stop;
	// Workers that have set their cpu_clock and pu: the watchdog reads those fields only once
	// every worker has counted itself here (release/acquire), not on the strength of a sleep.
	_Atomic unsigned started;
	uint64_t seed;
	const struct lab *lab;	// to pin the workers; NULL: leave them to the scheduler
};

// "0 1 0 1": the PU each thread was pinned to, for the CSV and the wait-for graph.
static void describe_pus(const struct bank *b, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned t = 0; t < b->nr_threads && used < len; t++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", t ? " " : "", b->th[t].pu);
}

// The bookkeeping for the wait-for graph: relaxed stores (plain moves on x86), so that it costs
// next to nothing; the watchdog reads it only once everything has stopped. Each is one unit of work.
static void note(struct thread_state *me, _Atomic int *where, int value)
{
	atomic_store_explicit(where, value, memory_order_relaxed);
	me->work_ops++;
}

static void order_note(struct thread_state *me, struct order_graph *g, int held, int taken)
{
	if (g && held >= 0)
		atomic_store_explicit(&g->edge[(unsigned)held * g->nr + (unsigned)taken], 1,
				      memory_order_relaxed);
	me->work_ops++;
}

// Depth-first search for a cycle; fills cycle[] (accounts) and returns its length, or 0.
static unsigned order_find_cycle(const struct order_graph *g, unsigned *cycle)
{
	for (unsigned a = 0; a < g->nr; a++) {
		for (unsigned b = 0; b < g->nr; b++) {
			if (a != b && g->edge[a * g->nr + b] && g->edge[b * g->nr + a]) {
				cycle[0] = a;
				cycle[1] = b;
				return 2;	// transfers lock two accounts: cycles have length 2 first
			}
		}
	}
	return 0;
}

// Every strategy does the same bookkeeping around its locks: the same notes in the same number,
// counted in work_ops (4 per account taken, 1 per account released, 2 for holding, 2 for the
// money: 14 per transfer). Only the locking differs, so a comparison of the strategies measures
// their locking.
static void took(struct bank *b, struct thread_state *me, unsigned self, unsigned a, int held)
{
	note(me, &me->waiting_for, -1);
	note(me, &b->acc[a].owner, (int)self);
	order_note(me, b->order, held, (int)a);
}

// Takes account a's lock (under the global lock, only the bookkeeping: the global lock covers it).
static void take(struct bank *b, struct thread_state *me, unsigned self, unsigned a, int held)
{
	note(me, &me->waiting_for, (int)a);
	if (b->strategy != GLOBAL)
		pthread_mutex_lock(&b->acc[a].lock);
	took(b, me, self, a, held);
}

static void release(struct bank *b, struct thread_state *me, unsigned a)
{
	note(me, &b->acc[a].owner, -1);
	if (b->strategy != GLOBAL)
		pthread_mutex_unlock(&b->acc[a].lock);
}

// Try-lock: take the first, try the second, back off if it is busy. Returns with both held.
static void take_both_or_back_off(struct bank *b, struct thread_state *me, unsigned self,
				  unsigned from, unsigned to)
{
	for (;;) {
		uint64_t before = me->work_ops;

		take(b, me, self, from, -1);
		note(me, &me->holding, (int)from);
		note(me, &me->waiting_for, (int)to);
		if (pthread_mutex_trylock(&b->acc[to].lock) == 0) {
			took(b, me, self, to, (int)from);
			return;
		}
		note(me, &me->waiting_for, -1);
		note(me, &me->holding, -1);
		release(b, me, from);
		// This attempt's bookkeeping is the back-off's cost, not the transfer's work.
		me->retry_ops += me->work_ops - before;
		me->work_ops = before;
		sched_yield();
	}
}

// One transfer of an amount between two distinct accounts, with the bank's strategy.
static void transfer(struct bank *b, unsigned self, unsigned from, unsigned to, int64_t amount)
{
	struct thread_state *me = &b->th[self];
	// Ordered: the lower id first, so no cycle can form. Swapped without a branch: the accounts
	// are random, so a branch here would be mispredicted every other transfer (Lab 10: several
	// ns each, a tenth of a transfer here) and the ordering verdict would time the predictor.
	unsigned swap = (unsigned)-(unsigned)(to < from);

	__asm__("" : "+r"(swap));	// a mask the compiler cannot turn back into a branch
	swap &= (unsigned)-(b->strategy == ORDERED);
	unsigned first = from ^ ((from ^ to) & swap), second = to ^ ((from ^ to) & swap);
	if (b->strategy == GLOBAL)
		pthread_mutex_lock(&b->global);
	if (b->strategy == TRYLOCK) {
		take_both_or_back_off(b, me, self, from, to);
	} else {	// NAIVE (from, then to), ORDERED, GLOBAL
		take(b, me, self, first, -1);
		note(me, &me->holding, (int)first);
		take(b, me, self, second, (int)first);
	}
	b->acc[from].balance -= amount;
	b->acc[to].balance += amount;
	me->work_ops += 2;
	release(b, me, second);
	note(me, &me->holding, -1);
	release(b, me, first);
	if (b->strategy == GLOBAL)
		pthread_mutex_unlock(&b->global);
}

struct worker_arg {
	struct bank *bank;
	unsigned self;
};

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct bank *b = w->bank;
	uint64_t s = b->seed + 0x9e3779b97f4a7c15u * (w->self + 1);

	pthread_getcpuclockid(pthread_self(), &b->th[w->self].cpu_clock);
	b->th[w->self].pu = b->lab ? lab_pin_worker(b->lab, w->self) : -1;
	atomic_fetch_add_explicit(&b->started, 1, memory_order_release);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		unsigned from = (unsigned)(bench_rand(&s) % b->nr_accounts);
		unsigned to = (unsigned)(bench_rand(&s) % (b->nr_accounts - 1));

		if (to >= from)
			to++;	// distinct accounts
		transfer(b, w->self, from, to, (int64_t)(bench_rand(&s) % 100));
		atomic_fetch_add_explicit(&b->th[w->self].transfers, 1, memory_order_relaxed);
	}
	return NULL;
}

static int bank_init(struct bank *b, unsigned nr_accounts, unsigned nr_threads, enum strategy s,
		     uint64_t seed, const struct lab *lab)
{
	memset(b, 0, sizeof(*b));
	b->lab = lab;
	b->nr_accounts = nr_accounts;
	b->nr_threads = nr_threads;
	b->strategy = s;
	b->seed = seed;
	b->acc = calloc(nr_accounts, sizeof(*b->acc));
	if (!b->acc)
		return -ENOMEM;
	pthread_mutex_init(&b->global, NULL);
	for (unsigned i = 0; i < nr_accounts; i++) {
		pthread_mutex_init(&b->acc[i].lock, NULL);
		b->acc[i].balance = INITIAL_BALANCE;
		b->acc[i].owner = -1;
	}
	for (unsigned t = 0; t < MAX_THREADS; t++) {
		b->th[t].holding = -1;
		b->th[t].waiting_for = -1;
		b->th[t].pu = -1;
	}
	return 0;
}

static int64_t bank_total(const struct bank *b)
{
	int64_t sum = 0;

	for (unsigned i = 0; i < b->nr_accounts; i++)
		sum += b->acc[i].balance;
	return sum;
}

static uint64_t bank_transfers(struct bank *b)
{
	uint64_t n = 0;

	for (unsigned t = 0; t < b->nr_threads; t++)
		n += atomic_load(&b->th[t].transfers);
	return n;
}

// ---- the deadlock, in a supervised child ---------------------------------------------------------

#define MAX_CYCLE 8
struct deadlock_report {
	int deadlocked;
	double ms_to_deadlock;		// when transfers stopped
	uint64_t transfers;
	unsigned cycle_len;
	int cycle_thread[MAX_CYCLE], cycle_holds[MAX_CYCLE], cycle_waits[MAX_CYCLE];
	double stuck_cpu_ms;		// CPU the stuck threads used in a 100 ms window
	char graph[2048];		// the wait-for graph, as printed
	char pus[256];			// where the threads ran
};

struct deadlock_job {
	const struct lab *lab;
	unsigned nr_accounts, nr_threads;
	uint64_t seed, give_up_ms;
	struct deadlock_report *report;
};

// Follows waits-for edges from thread t (thread -> account it waits for -> that account's owner)
// until a thread repeats: that loop is the cycle.
static unsigned find_wait_cycle(struct bank *b, struct deadlock_report *r)
{
	for (unsigned start = 0; start < b->nr_threads; start++) {
		int seen[MAX_THREADS] = { 0 }, order[MAX_THREADS], n = 0;
		int t = (int)start;

		while (t >= 0 && !seen[t] && n < MAX_THREADS) {
			seen[t] = n + 1;
			// cppcheck-suppress negativeIndex ; t >= 0 is the loop condition
			order[n++] = t;
			int waits = atomic_load(&b->th[t].waiting_for);
			t = waits >= 0 ? atomic_load(&b->acc[waits].owner) : -1;
		}
		if (t < 0 || !seen[t])
			continue;
		unsigned len = 0;
		for (int i = seen[t] - 1; i < n && len < MAX_CYCLE; i++, len++) {
			r->cycle_thread[len] = order[i];
			r->cycle_holds[len] = atomic_load(&b->th[order[i]].holding);
			r->cycle_waits[len] = atomic_load(&b->th[order[i]].waiting_for);
		}
		return len;
	}
	return 0;
}

static double cpu_ms(clockid_t c)
{
	struct timespec ts;

	return clock_gettime(c, &ts) == 0 ? (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 : NAN;
}

static int deadlock_child(void *arg)
{
	const struct deadlock_job *job = arg;
	struct deadlock_report *r = job->report;
	// Static, not on this stack: the workers use both until the process ends, which may be after
	// this function has returned.
	static struct bank b;
	static struct worker_arg args[MAX_THREADS];

	if (bank_init(&b, job->nr_accounts, job->nr_threads, NAIVE, job->seed, job->lab) != 0)
		return 2;
	uint64_t start = clock_now_ns(), last_change = start, last = 0;
	for (unsigned t = 0; t < job->nr_threads; t++) {
		args[t] = (struct worker_arg){ &b, t };
		if (pthread_create(&b.th[t].thread, NULL, worker, &args[t]) != 0)
			return 3;
	}
	while (atomic_load_explicit(&b.started, memory_order_acquire) < job->nr_threads) {
		struct timespec wait = { 0, 100000 };	// 0.1 ms

		nanosleep(&wait, NULL);
	}
	// The watchdog: transfers take well under a microsecond, so 100 ms without one means every
	// thread is blocked.
	for (;;) {
		struct timespec tick = { 0, 1000000 };	// 1 ms: the resolution of the time

		nanosleep(&tick, NULL);
		uint64_t now = clock_now_ns(), n = bank_transfers(&b);
		if (n != last) {
			last = n;
			last_change = now;
		} else if (now - last_change > 100 * 1000000ull) {
			break;
		}
		if ((now - start) / 1000000 > job->give_up_ms) {
			r->transfers = n;
			describe_pus(&b, r->pus, sizeof(r->pus));
			_exit(0);	// no deadlock this time (the parent records that); workers still run
		}
	}
	r->deadlocked = 1;
	r->ms_to_deadlock = (double)(last_change - start) / 1e6;
	r->transfers = last;
	r->cycle_len = find_wait_cycle(&b, r);

	// Blocked threads sleep in the kernel: measure their CPU time over 100 ms.
	double before = 0, after = 0;
	for (unsigned t = 0; t < job->nr_threads; t++)
		before += cpu_ms(b.th[t].cpu_clock);
	struct timespec window = { 0, 100000000 };
	nanosleep(&window, NULL);
	for (unsigned t = 0; t < job->nr_threads; t++)
		after += cpu_ms(b.th[t].cpu_clock);
	r->stuck_cpu_ms = after - before;

	size_t used = 0;
	for (unsigned t = 0; t < job->nr_threads && used < sizeof(r->graph); t++) {
		int holds = atomic_load(&b.th[t].holding), waits = atomic_load(&b.th[t].waiting_for);
		int owner = waits >= 0 ? atomic_load(&b.acc[waits].owner) : -1;

		char held[32];

		if (holds >= 0)
			snprintf(held, sizeof(held), "holds account %d", holds);
		else
			snprintf(held, sizeof(held), "holds nothing");
		used += (size_t)snprintf(r->graph + used, sizeof(r->graph) - used,
					 "    thread %u (PU %d) %s, waits for account %d (held by thread "
					 "%d)\n", t, b.th[t].pu, held, waits, owner);
	}
	describe_pus(&b, r->pus, sizeof(r->pus));
	// The threads can never finish: leave without joining them (the process ends them).
	_exit(0);
}

// ---- safe strategies: throughput -------------------------------------------------------------------

struct point {
	const char *experiment;
	enum strategy strategy;
	unsigned nr_accounts, nr_threads;
	struct stats tps;		// transfers per second
	uint64_t transfers, work_ops, retry_ops;	// over every round: work per transfer
	bool invariant_ok;
	double ms_to_deadlock;		// deadlock rows: median over the attempts that deadlocked
	unsigned deadlocks, attempts;
	double stuck_cpu_ms;
	int cycle;			// potential cycle found by the order checker (1/0)
	char pus[256];			// where hwloc pinned the threads ("0 1 0 1")
};

// What one uncontended lock/unlock costs, against a system call, in the same rounds.
enum { LOCK_EMPTY, LOCK_UNCONTENDED, LOCK_SYSCALL, NR_LOCK_KINDS };
struct lock_cost {
	bool measured;
	struct stats net[NR_LOCK_KINDS];	// ns per iteration net of the empty loop, round by round
	struct compare_ratio ratio;		// system call / lock-unlock, both net of the loop
};

struct run {
	struct lab lab;
	unsigned nr_pus;
	struct point points[MAX_POINTS];
	size_t nr_points;
	struct deadlock_report example;	// the first deadlock, for the printout
	bool have_example;
	bool invariant_broken;
	// The strategies' rounds with one thread and with the most threads, for the paired ratios.
	struct compare_samples one_thread, most_threads;
	struct lock_cost lock_cost;
};

// Runs the point's strategy for duration_ns and returns transfers per second; checks the money
// invariant, adds the transfers and their work to the point.
static double run_bank(const struct lab *lab, struct point *p, uint64_t duration_ns, uint64_t seed)
{
	enum strategy s = p->strategy;
	unsigned nr_accounts = p->nr_accounts, nr_threads = p->nr_threads;
	// Static, not on this stack: the workers use both until the process ends, which may be after
	// this function has returned.
	static struct bank b;
	static struct worker_arg args[MAX_THREADS];

	if (bank_init(&b, nr_accounts, nr_threads, s, seed, lab) != 0)
		die("out of memory for %u accounts", nr_accounts);
	uint64_t start = clock_now_ns();
	for (unsigned t = 0; t < nr_threads; t++) {
		args[t] = (struct worker_arg){ &b, t };
		if (pthread_create(&b.th[t].thread, NULL, worker, &args[t]) != 0)
			die("cannot create thread %u", t);
	}
	struct timespec d = { (time_t)(duration_ns / 1000000000u), (long)(duration_ns % 1000000000u) };
	nanosleep(&d, NULL);
	atomic_store(&b.stop, true);
	for (unsigned t = 0; t < nr_threads; t++)
		pthread_join(b.th[t].thread, NULL);
	double seconds = (double)(clock_now_ns() - start) / 1e9;
	if (bank_total(&b) != (int64_t)nr_accounts * INITIAL_BALANCE)
		p->invariant_ok = false;
	describe_pus(&b, p->pus, sizeof(p->pus));
	double tps = (double)bank_transfers(&b) / seconds;
	p->transfers += bank_transfers(&b);
	for (unsigned t = 0; t < nr_threads; t++) {
		p->work_ops += b.th[t].work_ops;
		p->retry_ops += b.th[t].retry_ops;
	}
	for (unsigned i = 0; i < nr_accounts; i++)
		pthread_mutex_destroy(&b.acc[i].lock);
	free(b.acc);
	return tps;
}

static struct point *new_point(struct run *run, const char *experiment, enum strategy s,
			       unsigned accounts, unsigned threads)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .experiment = experiment, .strategy = s, .nr_accounts = accounts,
			     .nr_threads = threads, .ms_to_deadlock = NAN, .stuck_cpu_ms = NAN,
			     .cycle = -1, .invariant_ok = true };
	return p;
}

// The strategies of a throughput comparison: variant v is strategy first + v. With one thread
// the naive bank cannot deadlock, so it runs too: it takes the same two locks as ordered locking,
// without the ordering, which is what "ordering costs nothing" is about.
struct throughput_job {
	struct run *run;
	enum strategy first;
	struct point *p[NR_STRATEGIES];
	uint64_t duration_ns;
};

// What a sample keeps beside its rate (compare_sample_aux): the rounds may run in other
// processes, whose points the parent never sees.
enum { AUX_INVARIANT_OK, AUX_TRANSFERS, AUX_WORK_OPS, AUX_RETRY_OPS };

static int measure_strategy(void *ctx, size_t variant, unsigned round, double *value)
{
	struct throughput_job *j = ctx;
	struct point *p = j->p[j->first + variant];
	struct point before = *p;

	p->invariant_ok = true;
	*value = run_bank(&j->run->lab, p, j->duration_ns, 42 + round);
	compare_sample_aux(AUX_INVARIANT_OK, p->invariant_ok);
	compare_sample_aux(AUX_TRANSFERS, (double)(p->transfers - before.transfers));
	compare_sample_aux(AUX_WORK_OPS, (double)(p->work_ops - before.work_ops));
	compare_sample_aux(AUX_RETRY_OPS, (double)(p->retry_ops - before.retry_ops));
	memcpy(before.pus, p->pus, sizeof(before.pus));
	*p = before;	// the parent adds up every round's figures from the samples
	return 0;
}

// The strategies on the same bank, interleaved in rounds (compare.h), so that they are judged
// against each other under the same conditions. Keeps the samples for the paired ratios
// (variant = strategy - throughput_first(threads)).
static enum strategy throughput_first(unsigned threads)
{
	return threads == 1 ? NAIVE : ORDERED;
}

static void measure_throughput(struct run *run, const char *experiment, unsigned accounts,
			       unsigned threads, struct compare_samples *out)
{
	struct throughput_job j = { .run = run, .first = throughput_first(threads),
				    .duration_ns = run->lab.opt.quick ? 30000000u : 150000000u };

	for (enum strategy s = j.first; s < NR_STRATEGIES; s++)
		j.p[s] = new_point(run, experiment, s, accounts, threads);
	struct compare_plan plan = lab_plan(&run->lab);
	cpu_set_t watch;
	// The workers may outnumber the PUs and wait for them by design: what tells a disturbed
	// round is other programs' share of the PUs, not the workers' waits.
	lab_allowed_cpus(&run->lab, &watch);
	plan.watch_cpus = &watch;
	int err = compare_run(NR_STRATEGIES - j.first, &plan, measure_strategy, &j, out);
	if (err)
		die_errno(err, "measuring throughput");
	for (enum strategy s = j.first; s < NR_STRATEGIES; s++) {
		struct point *p = j.p[s];
		size_t v = s - j.first;

		for (unsigned r = 0; r < out->nr_rounds; r++) {
			p->invariant_ok = p->invariant_ok && compare_aux(out, v, r, AUX_INVARIANT_OK) == 1;
			p->transfers += (uint64_t)compare_aux(out, v, r, AUX_TRANSFERS);
			p->work_ops += (uint64_t)compare_aux(out, v, r, AUX_WORK_OPS);
			p->retry_ops += (uint64_t)compare_aux(out, v, r, AUX_RETRY_OPS);
		}
		if (!p->invariant_ok)
			run->invariant_broken = true;
		if (!p->pus[0])
			lab_worker_pus(&run->lab, p->nr_threads, p->pus, sizeof(p->pus));
		if (compare_variant_stats(out, v, &p->tps) != 0)
			die("bad throughput samples");
	}
}

static void measure_deadlocks(struct run *run)
{
	static const unsigned accounts[] = { 2, 4, 16, 64, 256, 1024 };
	struct deadlock_report *r = guard_shared_alloc(sizeof(*r));
	unsigned attempts = run->lab.opt.quick ? 1 : 5;
	unsigned threads = run->nr_pus * 2 < 4 ? 4 : run->nr_pus * 2;
	char why[128];

	if (!r)
		die("cannot share memory with the child");
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	for (size_t a = 0; a < sizeof(accounts) / sizeof(accounts[0]); a++) {
		struct point *p = new_point(run, "deadlock", NAIVE, accounts[a], threads);
		double ms[16], cpu = 0;
		unsigned nr_ms = 0;

		for (unsigned i = 0; i < attempts; i++) {
			struct deadlock_job job = { &run->lab, accounts[a], threads, 1000 + i,
						    run->lab.opt.quick ? 500 : 2000, r };
			struct guard_limits limits = { .timeout_ms = 10000 };
			struct guard_result g;

			memset(r, 0, sizeof(*r));
			int err = guard_run(deadlock_child, &job, &limits, &g);
			if (err)
				die_errno(err, "cannot start the supervised child");
			if (g.outcome != GUARD_EXITED)
				die("the deadlock child did not end as planned: %s",
				    guard_describe(&g, why, sizeof(why)));
			p->attempts++;
			snprintf(p->pus, sizeof(p->pus), "%s", r->pus);
			if (!r->deadlocked)
				continue;
			p->deadlocks++;
			ms[nr_ms++] = r->ms_to_deadlock;
			cpu += r->stuck_cpu_ms;
			if (!run->have_example && r->cycle_len >= 2) {
				run->example = *r;
				run->have_example = true;
			}
		}
		struct stats st;
		if (nr_ms && stats_compute(&st, ms, nr_ms) == 0)
			p->ms_to_deadlock = st.median;
		p->stuck_cpu_ms = nr_ms ? cpu / nr_ms : NAN;
	}
	guard_shared_free(r, sizeof(*r));
}

// The checker on runs that cannot deadlock: one thread, so nothing ever waits.
static void measure_order_checker(struct run *run)
{
	for (enum strategy s = NAIVE; s <= ORDERED; s++) {
		static struct bank b;
		struct order_graph g = { .nr = 16 };
		struct worker_arg arg;
		unsigned cycle[2];

		g.edge = calloc((size_t)g.nr * g.nr, 1);
		if (!g.edge || bank_init(&b, g.nr, 1, s, 7, NULL) != 0)
			die("out of memory");
		b.order = &g;
		arg = (struct worker_arg){ &b, 0 };
		if (pthread_create(&b.th[0].thread, NULL, worker, &arg) != 0)
			die("cannot create a thread");
		struct timespec d = { 0, 20000000 };
		nanosleep(&d, NULL);
		atomic_store(&b.stop, true);
		pthread_join(b.th[0].thread, NULL);
		struct point *p = new_point(run, "order_checker", s, g.nr, 1);
		p->cycle = order_find_cycle(&g, cycle) > 0;
		free((void *)g.edge);
		free(b.acc);
	}
}

// ---- one uncontended lock ---------------------------------------------------------------------

// The classic table's "mutex lock/unlock" row. One thread, so the lock is always free: glibc takes
// and gives it with an atomic instruction each and never enters the kernel (it calls futex only
// to put a waiter to sleep or wake one). Both are measured net of a loop that calls an empty
// function (bench_empty_kernel), in the same rounds; syscall(SYS_getppid), the cheapest real
// kernel entry (Lab 4), is what entering the kernel would cost.
static void lock_unlock_kernel(void *arg, uint64_t iters)
{
	pthread_mutex_t *m = arg;

	for (uint64_t i = 0; i < iters; i++) {
		(void)pthread_mutex_lock(m);	// a default mutex, free: cannot fail
		(void)pthread_mutex_unlock(m);
	}
}

static void syscall_kernel(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++)
		(void)syscall(SYS_getppid);	// cannot fail
}

static void *no_work(void *arg)
{
	return arg;
}

static void measure_lock_cost(struct run *run)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct lock_cost *lc = &run->lock_cost;
	struct compare_kernel v[NR_LOCK_KINDS] = {
		[LOCK_EMPTY] = { "empty loop", bench_empty_kernel, NULL, 0 },
		[LOCK_UNCONTENDED] = { "lock/unlock", lock_unlock_kernel, &m, 0 },
		[LOCK_SYSCALL] = { "getppid", syscall_kernel, NULL, 0 },
	};
	struct compare_plan plan = lab_plan(&run->lab);
	struct compare_samples s;
	pthread_t other;

	// While a process has never had a second thread, glibc takes and gives a lock with plain
	// stores, no atomic instruction (glibc 2.36 on this VM: 5 ns a pair, 14 ns once a thread had
	// been started). A lock worth measuring is one another thread could take: one is started
	// first, whatever the parts before did (a forked process keeps the mark).
	if (pthread_create(&other, NULL, no_work, NULL) != 0)
		die("cannot create a thread");
	pthread_join(other, NULL);
	int err = compare_kernels(v, NR_LOCK_KINDS, &plan, run->lab.opt.min_sample_ns, 0, &s);
	if (err)
		die_errno(err, "timing a lock/unlock");
	(void)compare_ratio(&s, LOCK_SYSCALL, LOCK_UNCONTENDED, LOCK_EMPTY, &lc->ratio);
	lc->measured = true;
	for (int k = LOCK_UNCONTENDED; k < NR_LOCK_KINDS; k++)
		lc->measured = lc->measured &&
			       compare_difference_stats(&s, (size_t)k, LOCK_EMPTY, 1, &lc->net[k]) == 0;
	compare_samples_release(&s);
}

// ---- --order-demo: the input for ThreadSanitizer ------------------------------------------------

// Two threads, one after the other (never at the same time, so no deadlock is possible): the
// first transfers 0 -> 1, the second 1 -> 0. Built with -fsanitize=thread, the naive strategy makes
// TSan report a lock-order inversion; the ordered strategy does not. Prints what our checker finds.
struct demo_step {
	struct bank *bank;
	unsigned self, from, to;
};

static void *demo_transfer(void *arg)
{
	const struct demo_step *d = arg;

	transfer(d->bank, d->self, d->from, d->to, 10);
	return NULL;
}

static int order_demo(enum strategy s)
{
	static struct bank b;
	struct order_graph g = { .nr = 2 };
	unsigned cycle[2];

	g.edge = calloc(4, 1);
	if (!g.edge || bank_init(&b, 2, 2, s, 1, NULL) != 0) {
		free(g.edge);
		return 1;
	}
	b.order = &g;
	for (unsigned t = 0; t < 2; t++) {
		struct demo_step d = { &b, t, t, 1 - t };
		pthread_t th;

		if (pthread_create(&th, NULL, demo_transfer, &d) != 0) {
			free(g.edge);
			return 1;
		}
		pthread_join(th, NULL);
	}
	bool found = order_find_cycle(&g, cycle) > 0;
	printf("order-demo %s: %s\n", strategy_names[s],
	       found ? "potential deadlock: accounts 0 and 1 are locked in both orders"
		     : "no lock-order cycle");
	free((void *)g.edge);
	free(b.acc);
	return 0;
}

// ---- reporting -----------------------------------------------------------------------------------

static const struct point *find(const struct run *run, const char *e, enum strategy s,
				unsigned accounts, unsigned threads)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (!strcmp(p->experiment, e) && p->strategy == s &&
		    (!accounts || p->nr_accounts == accounts) && (!threads || p->nr_threads == threads))
			return p;
	}
	return NULL;
}

static void print_and_verdict(struct run *run)
{
	printf("\nThe naive bank (lock 'from', then 'to'), %u threads, in supervised children:\n",
	       run->points[0].nr_threads);
	printf("  %-9s %10s %18s\n", "accounts", "deadlocks", "ms to deadlock");
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (!strcmp(p->experiment, "deadlock"))
			printf("  %-9u %6u/%-3u %18.1f\n", p->nr_accounts, p->deadlocks, p->attempts,
			       p->ms_to_deadlock);
	}
	if (run->have_example) {
		const struct deadlock_report *r = &run->example;

		printf("\nThe first deadlock: the wait-for graph when transfers stopped (after %.0f ms, "
		       "%llu transfers)\n%s", r->ms_to_deadlock, (unsigned long long)r->transfers,
		       r->graph);
		printf("  the cycle:");
		for (unsigned i = 0; i < r->cycle_len; i++) {
			if (r->cycle_holds[i] < 0)
				printf(" thread %d (holds nothing) -> account %d ->",
				       r->cycle_thread[i], r->cycle_waits[i]);
			else
				printf(" thread %d (holds %d) -> account %d ->", r->cycle_thread[i],
				       r->cycle_holds[i], r->cycle_waits[i]);
		}
		printf(" thread %d\n", r->cycle_thread[0]);
	}

	printf("\nSafe strategies: transfers per second (median of %u interleaved rounds; %s)\n"
	       "  %-8s", lab_rounds(&run->lab), STATS_NOISY_LEGEND, "threads");
	// The naive order runs with one thread only, where it cannot deadlock.
	for (enum strategy s = NAIVE; s < NR_STRATEGIES; s++)
		printf(" %12s", strategy_names[s]);
	printf("\n");
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (strcmp(p->experiment, "threads") != 0 || p->strategy != ORDERED)
			continue;
		printf("  %-8u", p->nr_threads);
		for (enum strategy s = NAIVE; s < NR_STRATEGIES; s++) {
			const struct point *q = find(run, "threads", s, 0, p->nr_threads);

			if (q)
				printf(" %11.0f%1s", q->tps.median, stats_noisy_mark(&q->tps));
			else
				printf(" %12s", "-");
		}
		printf("\n");
	}

	// Verdicts, after a blank line.
	printf("\n");
	unsigned dl = 0, att = 0;
	double cpu = 0;
	unsigned nr_cpu = 0;
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (strcmp(p->experiment, "deadlock") != 0)
			continue;
		dl += p->deadlocks;
		att += p->attempts;
		if (!isnan(p->stuck_cpu_ms)) {
			cpu += p->stuck_cpu_ms;
			nr_cpu++;
		}
	}
	const struct point *few = find(run, "deadlock", NAIVE, 2, 0);
	const struct point *many = find(run, "deadlock", NAIVE, 1024, 0);
	lab_headline(&run->lab, "ms_to_deadlock_2_accounts", few->ms_to_deadlock, "ms", NAN);
	lab_headline(&run->lab, "deadlocked_runs", dl, "runs", att);
	lab_judge(&run->lab, "naive_bank_deadlocks", "two threads locking accounts in "
		  "opposite orders deadlock", !att ? COMPARE_NOT_SHOWN
		  : dl * 2 >= att ? COMPARE_HOLDS : COMPARE_FAILS, dl, NAN, NAN, "of attempts",
		  "the naive bank deadlocked in %u of %u runs: after %.1f ms with 2 accounts, %.1f "
		  "ms with 1024 (fewer collisions, later cycle)%s",
		  dl, att, few->ms_to_deadlock, many->ms_to_deadlock,
		  run->have_example && run->example.cycle_len >= 2
			  ? "; the watchdog found the cycle in the wait-for graph" : "");
	// Shown, not judged: a thread blocked on a mutex sleeps in the kernel (a futex wait), so
	// on Linux it cannot burn CPU; CPU burnt would be a finding, and fails.
	if (nr_cpu && cpu / nr_cpu < 1)
		lab_show(&run->lab, "deadlock_burns_no_cpu", "deadlocked threads burn no CPU",
			 cpu / nr_cpu, "ms per 100 ms", "%.2f ms of CPU for all of them over a 100 ms "
			 "window: they sleep in the kernel, waiting on the mutex", cpu / nr_cpu);
	else if (nr_cpu)
		lab_judge(&run->lab, "deadlock_burns_no_cpu", "deadlocked threads burn no CPU",
			  COMPARE_FAILS, cpu / nr_cpu, NAN, NAN, "ms per 100 ms",
			  "%.2f ms of CPU for all of them over a 100 ms window: more than a sleeping "
			  "thread takes", cpu / nr_cpu);
	// Shown: the ordered bank records only lower-to-higher edges, so it can have no cycle;
	// the naive one takes thousands of random pairs in both orders. What it demonstrates is
	// that the checker needs no deadlock to find the cycle.
	const struct point *naive_chk = find(run, "order_checker", NAIVE, 0, 0);
	const struct point *ordered_chk = find(run, "order_checker", ORDERED, 0, 0);
	bool found = naive_chk->cycle && !ordered_chk->cycle;
	if (found)
		lab_show(&run->lab, "order_checker_finds_cycle",
			 "a lock-order checker finds the cycle in a run that cannot deadlock", 1, "",
			 "on one thread: naive has a cycle, ordered has none");
	else
		lab_judge(&run->lab, "order_checker_finds_cycle",
			  "a lock-order checker finds the cycle in a run that cannot deadlock",
			  COMPARE_FAILS, NAN, NAN, NAN, "", "on one thread: naive %s, ordered %s",
			  naive_chk->cycle ? "has a cycle" : "has NO cycle",
			  ordered_chk->cycle ? "HAS a cycle" : "has none");
	unsigned top = 0;
	for (size_t i = 0; i < run->nr_points; i++)
		if (!strcmp(run->points[i].experiment, "threads") &&
		    run->points[i].nr_threads > top)
			top = run->points[i].nr_threads;
	const struct point *o1 = find(run, "threads", ORDERED, 0, 1);
	const struct point *n1 = find(run, "threads", NAIVE, 0, 1);
	const struct point *g1 = find(run, "threads", GLOBAL, 0, 1);
	const struct point *ot = find(run, "threads", ORDERED, 0, top);
	const struct point *tt = find(run, "threads", TRYLOCK, 0, top);
	const struct point *gt = find(run, "threads", GLOBAL, 0, top);
	struct compare_ratio alone, crowded;
	enum strategy first1 = throughput_first(1), first_top = throughput_first(top);
	lab_headline(&run->lab, "ordered_transfers_per_s", ot->tps.median, "transfers/s", NAN);
	// One thread: no contention, and the naive order cannot deadlock; the two take the same
	// two locks, so the ratio is what the ordering itself costs.
	(void)compare_ratio(&run->one_thread, ORDERED - first1, NAIVE - first1, COMPARE_NONE,
			    &alone);
	lab_judge_ratio(&run->lab, "ordering_costs_nothing",
			"ordering the locks costs nothing: as fast as taking the same two locks "
			"unordered (one thread; within 10%)", compare_within(&alone, 0.10), &alone,
			"ordered / naive transfers per second with one thread: %.2fM against %.2fM; "
			"one global lock (one mutex instead of two) %.2fM", o1->tps.median / 1e6,
			n1->tps.median / 1e6, g1->tps.median / 1e6);
	if (top > 1) {
		(void)compare_ratio(&run->most_threads, ORDERED - first_top, GLOBAL - first_top,
				    COMPARE_NONE, &crowded);
		lab_judge_ratio(&run->lab, "account_locks_beat_global_lock",
				"with many threads per-account locks beat one global lock (1.1x or "
				"more)", compare_at_least(&crowded, 1.1), &crowded,
				"ordered / global-lock with %u threads on %u PUs: %.2fM against %.2fM; "
				"try-lock %.2fM", top, run->nr_pus, ot->tps.median / 1e6,
				gt->tps.median / 1e6, tt->tps.median / 1e6);
	}
	const struct lock_cost *lc = &run->lock_cost;
	if (lc->measured) {
		lab_headline(&run->lab, "uncontended_lock_unlock", lc->net[LOCK_UNCONTENDED].median, "ns",
			     NAN);
		lab_judge_ratio(&run->lab, "uncontended_lock_stays_in_user_space",
				"an uncontended lock/unlock stays in user space: 3x or more cheaper "
				"than a system call", compare_at_least(&lc->ratio, 3), &lc->ratio,
				"one thread, in rounds of their own, net of an empty loop: a "
				"pthread_mutex_lock and unlock %.1f ns (%.1f-%.1f over the rounds), "
				"syscall(SYS_getppid) %.0f ns", lc->net[LOCK_UNCONTENDED].median,
				lc->net[LOCK_UNCONTENDED].p05, lc->net[LOCK_UNCONTENDED].p95,
				lc->net[LOCK_SYSCALL].median);
	}
	// Shown: every safe strategy holds both locks (or the global one) while it moves money.
	if (!run->invariant_broken)
		lab_show(&run->lab, "money_conserved", "with any safe strategy every transfer is whole",
			 1, "", "the total of all accounts was checked after every run: always the "
			 "same");
	else
		lab_judge(&run->lab, "money_conserved", "with any safe strategy every transfer is "
			  "whole", COMPARE_FAILS, NAN, NAN, NAN, "", "the total of all accounts was "
			  "checked after every run: money was lost or made (a bug)");
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "strategy", "nr_accounts", "nr_threads", "transfers_per_s_median",
		"transfers_per_s_p05", "transfers_per_s_p95", "ns_per_op_median", "ns_per_op_p05",
		"ns_per_op_p95", "invariant_ok", "deadlocks", "attempts", "ms_to_deadlock_median",
		"stuck_cpu_ms_per_100ms", "order_cycle", "thread_pus", "work_ops_per_transfer",
		"retry_ops_per_transfer",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];
		bool tp = p->tps.nr_samples > 0;

		report_csv_str(&csv, p->experiment);
		report_csv_str(&csv, strategy_names[p->strategy]);
		report_csv_u64(&csv, p->nr_accounts);
		report_csv_u64(&csv, p->nr_threads);
		report_csv_double(&csv, tp ? p->tps.median : NAN);
		report_csv_double(&csv, tp ? p->tps.p05 : NAN);
		report_csv_double(&csv, tp ? p->tps.p95 : NAN);
		// One op is one transfer of the whole bank: wall time / all threads' transfers.
		report_csv_double(&csv, tp ? 1e9 / p->tps.median : NAN);
		report_csv_double(&csv, tp ? 1e9 / p->tps.p95 : NAN);
		report_csv_double(&csv, tp ? 1e9 / p->tps.p05 : NAN);
		report_csv_double(&csv, tp ? (double)p->invariant_ok : NAN);
		report_csv_double(&csv, p->attempts ? (double)p->deadlocks : NAN);
		report_csv_double(&csv, p->attempts ? (double)p->attempts : NAN);
		report_csv_double(&csv, p->ms_to_deadlock);
		report_csv_double(&csv, p->stuck_cpu_ms);
		report_csv_double(&csv, p->cycle >= 0 ? (double)p->cycle : NAN);
		report_csv_str(&csv, p->pus);
		report_csv_double(&csv, p->transfers ? (double)p->work_ops / (double)p->transfers : NAN);
		report_csv_double(&csv, p->transfers ? (double)p->retry_ops / (double)p->transfers : NAN);
		lab_csv_end_row(&csv);
	}
	// One uncontended lock/unlock and one system call, ns net of the empty loop, on one thread.
	static const char *const lock_kinds[NR_LOCK_KINDS] = { "", "uncontended_lock_unlock",
							       "getppid" };
	for (int k = LOCK_UNCONTENDED; run->lock_cost.measured && k < NR_LOCK_KINDS; k++) {
		const struct stats *st = &run->lock_cost.net[k];

		report_csv_str(&csv, "lock_cost");
		report_csv_str(&csv, lock_kinds[k]);
		report_csv_u64(&csv, 0);
		report_csv_u64(&csv, 1);
		for (int c = 0; c < 3; c++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, st->median);
		report_csv_double(&csv, st->p05);
		report_csv_double(&csv, st->p95);
		for (int c = 0; c < 6; c++)
			report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

// ---- setup ---------------------------------------------------------------------------------------

enum { OPT_ORDER_DEMO = 256 };

static int on_option(int val, const char *arg, void *ctx)
{
	int *demo = ctx;

	if (val != OPT_ORDER_DEMO)
		return -EINVAL;
	if (!strcmp(arg, "naive"))
		*demo = 0;
	else if (!strcmp(arg, "ordered"))
		*demo = 1;
	else {
		fprintf(stderr, "%s: --order-demo: '%s' is not naive or ordered\n",
			program_invocation_short_name, arg);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "order-demo", required_argument, NULL, OPT_ORDER_DEMO },
		{ 0 },
	};
	int demo = -1;
	const struct cli_lab info = {
		.name = "06-deadlock",
		.summary = "Makes a bank deadlock in a supervised child and shows the cycle, finds lock "
			   "order cycles before they happen, measures the safe strategies, and times "
			   "one uncontended lock.",
		.options_help = "  --order-demo S     only run two transfers in opposite orders with "
				"strategy S\n"
				"                     (naive or ordered): the input for "
				"ThreadSanitizer; writes nothing\n",
		.options = options,
		.on_option = on_option,
		.ctx = &demo,
	};

	// The ThreadSanitizer demonstration runs on its own, before the lab's header and files.
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--order-demo")) {
			if (on_option(OPT_ORDER_DEMO, argv[i + 1], &demo) < 0)
				return DIE_USAGE_STATUS;
			return order_demo(demo == 0 ? NAIVE : ORDERED);
		}
	}

	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 6: deadlock", argc, argv);
	printf("counters: none needed (CPU time of the stuck threads comes from their CPU clocks)\n");
	// The PUs this process may use (taskset, a cpuset), not all the machine has: more threads
	// than that would oversubscribe without saying so.
	run.nr_pus = run.lab.nr_allowed_pus ? run.lab.nr_allowed_pus : 2;
	lab_prediction("the naive bank deadlocks within milliseconds: two threads each hold the "
		       "account the other waits for; the more accounts, the later");
	lab_prediction("deadlocked threads burn no CPU; a lock-order checker finds the cycle even in "
		       "a run that cannot deadlock; ordering the locks costs nothing");
	lab_prediction("a lock nobody else holds is taken and given back with two atomic "
		       "instructions, never entering the kernel: 10-50 ns, 3x or more cheaper than a "
		       "system call");

	// measure
	printf("measuring: deadlocks (supervised children)...");
	fflush(stdout);
	measure_deadlocks(&run);
	printf(" order checker...");
	fflush(stdout);
	measure_order_checker(&run);
	printf(" throughput...");
	fflush(stdout);
	unsigned max_threads = run.nr_pus * 2 > MAX_THREADS ? MAX_THREADS : run.nr_pus * 2;
	for (unsigned t = 1; t <= max_threads; t *= 2) {
		struct compare_samples s;

		measure_throughput(&run, "threads", 64, t, &s);
		if (t == 1)
			run.one_thread = s;
		else if (t * 2 > max_threads)
			run.most_threads = s;
		else
			compare_samples_release(&s);
	}
	static const unsigned accounts[] = { 2, 16, 256, 4096 };
	for (size_t a = 0; a < 4; a++) {
		struct compare_samples s;

		measure_throughput(&run, "accounts", accounts[a], max_threads, &s);
		compare_samples_release(&s);
	}
	printf(" one lock...");
	fflush(stdout);
	measure_lock_cost(&run);
	printf(" done\n");

	// report
	print_and_verdict(&run);
	write_csv(&run);
	lab_write_manifest(&run.lab, NULL, NULL, NULL);
	compare_samples_release(&run.one_thread);
	compare_samples_release(&run.most_threads);
	lab_finish(&run.lab);
	return run.invariant_broken ? 1 : 0;
}
