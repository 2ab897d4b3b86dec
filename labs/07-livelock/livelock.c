// SPDX-License-Identifier: MIT
// Lab 7: how polite threads stop making progress (a livelock: each takes one resource, fails to get
// the second, gives the first back and retries in step with the others), what it burns, and which
// backoff restores progress. Every run is a supervised child with a deadline; the runs a verdict
// compares are interleaved in rounds.
// Usage: livelock [--quick] [--reps N] [--out DIR] [--jobs N]
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "cli.h"
#include "clock.h"
#include "compare.h"
#include "die.h"
#include "guard.h"
#include "lab.h"
#include "report.h"
#include "stats.h"

#define MAX_WORKERS 64
#define MAX_POINTS 256
#define HOLD_NS 1000		// time a worker holds its first resource before trying the second
#define WORK_NS 1000		// the job itself, with both resources
#define BASE_NS 1000		// the first backoff delay
#define CAP_NS 100000		// the longest backoff delay

enum strategy { IMMEDIATE, FIXED, EXPONENTIAL, FULL_JITTER, DECORRELATED, NR_STRATEGIES };
static const char *const strategy_names[] = {
	"immediate", "fixed_delay", "exponential", "exponential_full_jitter", "decorrelated_jitter",
};

// ---- the polite workers --------------------------------------------------------------------------

// Busy-waits: the time a worker spends preparing with its first resource, and the job itself, are
// CPU work of the modelled program, exact and the same for every worker.
static void spin_ns(uint64_t ns)
{
	uint64_t end = clock_now_ns() + ns;

	while (clock_now_ns() < end)
		;
}

static uint64_t uniform(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return hi > lo ? lo + bench_rand(s) % (hi - lo + 1) : lo;
}

// The delay before retry number `attempt` (0-based). Full and decorrelated jitter follow Marc
// Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015.
static uint64_t backoff_ns(enum strategy s, unsigned attempt, uint64_t *prev, uint64_t *seed)
{
	uint64_t exp = attempt < 20 ? (uint64_t)BASE_NS << attempt : CAP_NS;

	if (exp > CAP_NS)
		exp = CAP_NS;
	switch (s) {
	case IMMEDIATE:
		return 0;
	case FIXED:
		return BASE_NS;
	case EXPONENTIAL:
		return exp;
	case FULL_JITTER:
		return uniform(seed, 0, exp);
	case DECORRELATED:
		*prev = uniform(seed, BASE_NS, *prev * 3 > BASE_NS ? *prev * 3 : BASE_NS);
		if (*prev > CAP_NS)
			*prev = CAP_NS;
		return *prev;
	default:
		return 0;
	}
}

// A backoff delay sleeps, as real retry loops do: a backoff that spun would burn CPU by itself and
// hide what the retries burn. The thread's timer slack is 1 ns (prctl below), so short sleeps are
// not stretched to the default 50 us.
static void sleep_ns(uint64_t ns)
{
	struct timespec d = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };

	if (ns)
		while (nanosleep(&d, &d) != 0 && errno == EINTR)
			;
}

// LOCKSTEP_HARNESS: the lockstep rounds with no worker touching a resource, to measure what the
// barrier itself costs.
enum pace { FREE, LOCKSTEP, LOCKSTEP_HARNESS };
static const char *const pace_names[] = { "free", "lockstep", "lockstep_harness" };

// A spinning barrier with sense reversal: the lockstep workers cross it three times a round, far
// more often than a sleeping pthread barrier could wake them. It yields while it waits, so that more
// workers than PUs still make progress; the spinning costs CPU of its own (measured apart, as the
// lockstep harness). The last thread to arrive samples *stop for everyone, so
// that all workers agree on the round in which they leave (one leaving a round early would leave
// the others waiting at the barrier forever).
struct spin_barrier {
	_Atomic unsigned count;
	_Atomic unsigned sense;
	_Atomic bool decision;
	unsigned nr;
};

static bool spin_barrier_wait(struct spin_barrier *b, unsigned *local_sense, _Atomic bool *stop)
{
	*local_sense = !*local_sense;
	if (atomic_fetch_add(&b->count, 1) == b->nr - 1) {
		atomic_store(&b->decision, atomic_load(stop));
		atomic_store(&b->count, 0);
		atomic_store(&b->sense, *local_sense);
	} else {
		while (atomic_load(&b->sense) != *local_sense)
			sched_yield();
	}
	return atomic_load(&b->decision);
}

struct table {
	unsigned nr;
	enum strategy strategy;
	enum pace pace;
	struct spin_barrier round;
	_Atomic int owner[MAX_WORKERS];	// lockstep resources: the worker holding each, or -1
	uint64_t jobs_each, deadline_ns;
	uint64_t seed;			// the jitter's draws differ from round to round
	pthread_mutex_t resource[MAX_WORKERS];
	pthread_barrier_t start;
	_Atomic uint64_t successes, retries;
	_Atomic uint64_t failed_ns;	// free-running: time with the first resource in failed attempts
	_Atomic bool stop;
	const struct lab *lab;		// to pin the workers
	int pu[MAX_WORKERS];		// where each was seen after pinning (-1: not pinned)
};

struct worker_arg {
	struct table *t;
	unsigned id;
};

// The lockstep worker: every round all workers cross the barrier, the active ones take their own
// resource, cross again, try their neighbour's, and either do the job or give theirs back and sit
// out the rounds their strategy says (the backoff, counted in rounds). Deterministic strategies keep
// every worker in the same state, so they collide every round, forever: the livelock, made exact.
static void lockstep_worker(struct table *t, unsigned id)
{
	unsigned sense = 0, attempt = 0, right = (id + 1) % t->nr;
	uint64_t seed = 0x9e3779b97f4a7c15u * (id + 1) + t->seed, prev = 1, skip = 0, done = 0;
	bool finished = false;

	// Each round, three barriers: agree (and stop together), take the first resource, try the
	// second, and only then give back (no one may see a resource released in the round it tried).
	while (!spin_barrier_wait(&t->round, &sense, &t->stop)) {
		bool active = !finished && skip == 0 && t->pace == LOCKSTEP, got = false;

		if (skip)
			skip--;
		if (active)
			atomic_store(&t->owner[id], (int)id);	// take the first resource
		(void)spin_barrier_wait(&t->round, &sense, &t->stop);
		if (active) {
			int expected = -1;

			got = atomic_compare_exchange_strong(&t->owner[right], &expected, (int)id);
		}
		(void)spin_barrier_wait(&t->round, &sense, &t->stop);
		if (!active)
			continue;
		if (got) {
			atomic_store(&t->owner[right], -1);	// the job is done: give both back
			if (++done == t->jobs_each)
				finished = true;
			atomic_fetch_add_explicit(&t->successes, 1, memory_order_relaxed);
			attempt = 0;
			prev = 1;
		} else {
			atomic_fetch_add_explicit(&t->retries, 1, memory_order_relaxed);
			// The backoff in rounds: the same rules as in ns, with a base of 1.
			uint64_t ns = backoff_ns(t->strategy, attempt++, &prev, &seed);
			skip = ns / BASE_NS;
		}
		atomic_store(&t->owner[id], -1);
	}
}

// Worker i needs resources i and i+1 (a ring): it takes its own first, politely.
static void *worker(void *arg)
{
	const struct worker_arg *w = arg;
	struct table *t = w->t;
	pthread_mutex_t *first = &t->resource[w->id], *second = &t->resource[(w->id + 1) % t->nr];
	uint64_t seed = 0x9e3779b97f4a7c15u * (w->id + 1) + t->seed, prev = BASE_NS;

	uint64_t failed_ns = 0;

	t->pu[w->id] = lab_pin_worker(t->lab, w->id);	// round robin over the usable PUs
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	pthread_barrier_wait(&t->start);
	if (t->pace != FREE) {
		lockstep_worker(t, w->id);
		return NULL;
	}
	for (uint64_t done = 0; done < t->jobs_each && !atomic_load_explicit(&t->stop, memory_order_relaxed);) {
		for (unsigned attempt = 0;; attempt++) {
			if (atomic_load_explicit(&t->stop, memory_order_relaxed))
				goto out;
			// Polite all the way: a worker never blocks. Its own resource busy (the neighbour
			// holds it as its second) is a failed attempt too.
			uint64_t tried = clock_now_ns();
			bool got_first = pthread_mutex_trylock(first) == 0;
			if (got_first)
				spin_ns(HOLD_NS);	// preparing, with the first resource
			if (got_first && pthread_mutex_trylock(second) == 0) {
				spin_ns(WORK_NS);	// the job
				pthread_mutex_unlock(second);
				pthread_mutex_unlock(first);
				done++;
				atomic_fetch_add_explicit(&t->successes, 1, memory_order_relaxed);
				prev = BASE_NS;
				break;
			}
			// Polite: give the first back so the neighbour can go on, then wait.
			if (got_first)
				pthread_mutex_unlock(first);
			failed_ns += clock_now_ns() - tried;	// running, never blocked: CPU for nothing
			atomic_fetch_add_explicit(&t->retries, 1, memory_order_relaxed);
			sleep_ns(backoff_ns(t->strategy, attempt, &prev, &seed));
		}
	}
out:
	atomic_fetch_add(&t->failed_ns, failed_ns);
	return NULL;
}

// What a supervised run reports (shared memory).
struct run_report {
	uint64_t successes, retries, elapsed_ns, failed_ns;
	int completed;		// every worker finished its jobs before the deadline
	char pus[256];		// where the workers ran ("0 1 0 1")
};

struct run_job {
	const struct lab *lab;
	unsigned nr_workers;
	enum strategy strategy;
	enum pace pace;
	uint64_t jobs_each, deadline_ns, seed;
	struct run_report *report;
};

// The child: start the workers together, stop them at the deadline (the watchdog).
static int livelock_child(void *arg)
{
	const struct run_job *job = arg;
	static struct table t;
	pthread_t th[MAX_WORKERS] = { 0 };
	struct worker_arg args[MAX_WORKERS];

	memset(&t, 0, sizeof(t));
	t.nr = job->nr_workers;
	t.strategy = job->strategy;
	t.pace = job->pace;
	t.lab = job->lab;
	t.jobs_each = job->jobs_each;
	t.seed = job->seed;
	t.round.nr = t.nr;
	for (unsigned i = 0; i < t.nr; i++) {
		pthread_mutex_init(&t.resource[i], NULL);
		t.owner[i] = -1;
	}
	pthread_barrier_init(&t.start, NULL, t.nr + 1);
	for (unsigned i = 0; i < t.nr; i++) {
		args[i] = (struct worker_arg){ &t, i };
		if (pthread_create(&th[i], NULL, worker, &args[i]) != 0)
			return 3;
	}
	uint64_t start = clock_now_ns();
	pthread_barrier_wait(&t.start);
	uint64_t want = t.pace == LOCKSTEP_HARNESS ? UINT64_MAX : t.jobs_each * t.nr;
	while (atomic_load(&t.successes) < want && clock_now_ns() - start < job->deadline_ns) {
		struct timespec tick = { 0, 200000 };	// 0.2 ms

		nanosleep(&tick, NULL);
	}
	atomic_store(&t.stop, true);
	for (unsigned i = 0; i < t.nr; i++)
		pthread_join(th[i], NULL);
	job->report->elapsed_ns = clock_now_ns() - start;
	job->report->successes = atomic_load(&t.successes);
	job->report->retries = atomic_load(&t.retries);
	job->report->failed_ns = atomic_load(&t.failed_ns);
	job->report->completed = job->report->successes == want;
	size_t used = 0;
	for (unsigned i = 0; i < t.nr && used < sizeof(job->report->pus); i++)
		used += (size_t)snprintf(job->report->pus + used, sizeof(job->report->pus) - used,
					 "%s%d", i ? " " : "", t.pu[i]);
	return 0;
}

// ---- the lab -------------------------------------------------------------------------------------

struct point {
	enum pace pace;
	enum strategy strategy;
	unsigned nr_workers;
	bool in_rounds;			// judged: measured in the interleaved rounds
	unsigned runs, completed_runs;
	struct stats ms;		// completion time (deadline when not completed)
	double successes, retries;	// totals over the runs
	double cpu_ms, wall_ms, failed_ms;	// totals over the runs
	// Per round (in_rounds points): for the paired verdicts besides completion time.
	double *round_retries_per_success, *round_failed_ms, *round_cpu_ms;
	double *round_needed_ms;	// the CPU the round's completed jobs needed: (hold + job) each
	char pus[256];			// where the workers ran in the first run
};

struct run {
	struct lab lab;
	uint64_t jobs_each;
	unsigned nr_pus;
	struct point points[MAX_POINTS];
	size_t nr_points;
	unsigned levels[4];
	size_t nr_levels;
	struct point *judged[COMPARE_MAX_VARIANTS];	// the in_rounds points, by variant
	size_t nr_judged;
	struct compare_samples rounds;
};

static uint64_t deadline_ns(const struct run *run)
{
	return run->lab.opt.quick ? 200000000u : 500000000u;	// 0.2 s or 0.5 s
}

// One supervised run of a point; adds it to the point's totals. Returns its completion time in ms
// (the deadline when the watchdog stopped it).
static double run_point(struct run *run, struct point *p, unsigned round)
{
	static struct run_report *r;
	char why[128];

	if (!r && !(r = guard_shared_alloc(sizeof(*r))))
		die("cannot share memory with the child");
	struct run_job job = { &run->lab, p->nr_workers, p->strategy, p->pace, run->jobs_each,
			       deadline_ns(run), 0x2545f4914f6cdd1du * round, r };
	// The deadline is the watchdog; the time limit is only a safety net behind it.
	struct guard_limits limits = { .timeout_ms = deadline_ns(run) / 1000000 + 5000 };
	struct guard_result g;

	memset(r, 0, sizeof(*r));
	int err = guard_run(livelock_child, &job, &limits, &g);
	if (err)
		die_errno(err, "cannot start the supervised child");
	if (g.outcome != GUARD_EXITED || g.exit_status != 0)
		die("a livelock run failed: %s", guard_describe(&g, why, sizeof(why)));
	if (p->runs++ == 0)
		snprintf(p->pus, sizeof(p->pus), "%s", r->pus);
	double ms = (double)r->elapsed_ns / 1e6;
	double cpu = clock_timeval_ms(g.usage.ru_utime) + clock_timeval_ms(g.usage.ru_stime);

	p->completed_runs += (unsigned)r->completed;
	p->successes += (double)r->successes;
	p->retries += (double)r->retries;
	p->cpu_ms += cpu;
	p->wall_ms += ms;
	p->failed_ms += (double)r->failed_ns / 1e6;
	(void)round;
	return ms;
}

// What a sample keeps beside its completion time (compare_sample_aux): the rounds may run in
// other processes, whose points the parent never sees; it adds them up from the samples.
enum { AUX_COMPLETED, AUX_SUCCESSES, AUX_RETRIES, AUX_CPU_MS, AUX_FAILED_MS };

static int measure_round(void *ctx, size_t variant, unsigned round, double *value)
{
	struct run *run = ctx;
	struct point *p = run->judged[variant], before = *p;

	*value = run_point(run, p, round);
	compare_sample_aux(AUX_COMPLETED, p->completed_runs - before.completed_runs);
	compare_sample_aux(AUX_SUCCESSES, p->successes - before.successes);
	compare_sample_aux(AUX_RETRIES, p->retries - before.retries);
	compare_sample_aux(AUX_CPU_MS, p->cpu_ms - before.cpu_ms);
	compare_sample_aux(AUX_FAILED_MS, p->failed_ms - before.failed_ms);
	memcpy(before.pus, p->pus, sizeof(before.pus));
	before.runs = p->runs ? 1 : 0;	// the pus of the first run are kept
	*p = before;
	return 0;
}

// The judged points' totals and per-round figures, from every round's samples.
static void add_up_rounds(struct run *run)
{
	const struct compare_samples *s = &run->rounds;

	for (size_t v = 0; v < run->nr_judged; v++) {
		struct point *p = run->judged[v];

		p->runs = s->nr_rounds;
		p->round_retries_per_success = calloc(s->nr_rounds, sizeof(double));
		p->round_failed_ms = calloc(s->nr_rounds, sizeof(double));
		p->round_cpu_ms = calloc(s->nr_rounds, sizeof(double));
		p->round_needed_ms = calloc(s->nr_rounds, sizeof(double));
		if (!p->round_retries_per_success || !p->round_failed_ms || !p->round_cpu_ms ||
		    !p->round_needed_ms)
			die("out of memory");
		for (unsigned r = 0; r < s->nr_rounds; r++) {
			double ok = compare_aux(s, v, r, AUX_COMPLETED);
			double succ = compare_aux(s, v, r, AUX_SUCCESSES);
			double retries = compare_aux(s, v, r, AUX_RETRIES);

			p->completed_runs += (unsigned)ok;
			p->successes += succ;
			p->retries += retries;
			p->cpu_ms += compare_aux(s, v, r, AUX_CPU_MS);
			p->failed_ms += compare_aux(s, v, r, AUX_FAILED_MS);
			p->wall_ms += compare_sample(s, v, r);
			p->round_retries_per_success[r] = succ ? retries / succ : NAN;
			p->round_failed_ms[r] = compare_aux(s, v, r, AUX_FAILED_MS);
			p->round_cpu_ms[r] = compare_aux(s, v, r, AUX_CPU_MS);
			p->round_needed_ms[r] = succ * (HOLD_NS + WORK_NS) / 1e6;
		}
	}
}

static struct point *new_point(struct run *run, enum pace pace, enum strategy s, unsigned workers)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .pace = pace, .strategy = s, .nr_workers = workers };
	return p;
}

// The deterministic strategies in lockstep livelock by construction: shown once each, not judged.
// Everything that could come out either way runs in interleaved rounds: the jittered strategies in
// lockstep and every strategy free-running.
static void measure_all(struct run *run)
{
	for (enum pace pace = FREE; pace <= LOCKSTEP; pace++)
		for (enum strategy s = 0; s < NR_STRATEGIES; s++)
			for (size_t l = 0; l < run->nr_levels; l++) {
				struct point *p = new_point(run, pace, s, run->levels[l]);

				p->in_rounds = pace == FREE || s > EXPONENTIAL;
				if (!p->in_rounds)
					continue;
				if (run->nr_judged == COMPARE_MAX_VARIANTS)
					die("too many interleaved points");
				run->judged[run->nr_judged++] = p;
			}
	printf(" lockstep livelocks and its harness");
	fflush(stdout);
	new_point(run, LOCKSTEP_HARNESS, IMMEDIATE, run->levels[0]);
	for (size_t i = 0; i < run->nr_points; i++) {
		struct point *p = &run->points[i];

		if (!p->in_rounds) {
			double ms = run_point(run, p, 0);

			if (stats_compute(&p->ms, &ms, 1) != 0)
				die("bad samples");
		}
	}
	struct compare_plan plan = lab_plan(&run->lab);
	cpu_set_t watch;
	// The workers outnumber the PUs at the higher levels and wait for them by design: what tells
	// a disturbed round is other programs' share of the PUs.
	lab_allowed_cpus(&run->lab, &watch);
	plan.watch_cpus = &watch;
	printf(", %u rounds of the rest", plan.nr_rounds * plan.nr_processes);
	fflush(stdout);
	int err = compare_run(run->nr_judged, &plan, measure_round, run, &run->rounds);
	if (err)
		die_errno(err, "measuring the strategies");
	add_up_rounds(run);
	for (size_t v = 0; v < run->nr_judged; v++)
		if (!run->judged[v]->pus[0])	// its runs were in other processes
			lab_worker_pus(&run->lab, run->judged[v]->nr_workers, run->judged[v]->pus,
				       sizeof(run->judged[v]->pus));
	for (size_t v = 0; v < run->nr_judged; v++)
		if (compare_variant_stats(&run->rounds, v, &run->judged[v]->ms) != 0)
			die("bad samples");
}

static struct point *find(const struct run *run, enum pace pace, enum strategy s, unsigned workers)
{
	for (size_t i = 0; i < run->nr_points; i++)
		if (run->points[i].pace == pace && run->points[i].strategy == s &&
		    run->points[i].nr_workers == workers)
			return (struct point *)&run->points[i];
	return NULL;
}

static size_t variant_of(const struct run *run, const struct point *p)
{
	for (size_t v = 0; v < run->nr_judged; v++)
		if (run->judged[v] == p)
			return v;
	die("not a judged point");
}

static double retries_per_success(const struct point *p)
{
	return p->successes > 0 ? p->retries / p->successes : INFINITY;
}

static void print_table(const struct run *run, enum pace pace)
{
	printf("\n%s: completion time (ms, median; '>' = stopped by the watchdog; ~ = noisy), "
	       "retries per success\n", pace == LOCKSTEP ? "Lockstep (every round behind a barrier; "
	       "the three livelocking strategies run once)" : "Free-running (no barrier after the "
	       "start; backoff sleeps)");
	printf("  %-24s", "strategy");
	for (size_t l = 0; l < run->nr_levels; l++)
		printf(" %7u wkrs %8s", run->levels[l], "retries");
	printf("\n");
	for (enum strategy s = 0; s < NR_STRATEGIES; s++) {
		printf("  %-24s", strategy_names[s]);
		for (size_t l = 0; l < run->nr_levels; l++) {
			const struct point *p = find(run, pace, s, run->levels[l]);
			char t[32];

			snprintf(t, sizeof(t), "%s%.1f%s", p->completed_runs < p->runs ? ">" : "",
				 p->ms.median, stats_noisy_mark(&p->ms));
			// Enough digits to tell 0.0275 from 0.
			printf(" %12s %8.3g", t, retries_per_success(p));
		}
		printf("\n");
	}
}

static bool stuck(const struct point *p)
{
	return p->completed_runs < p->runs;
}

static double cpu_per_wall(const struct point *p)
{
	return p->wall_ms > 0 ? p->cpu_ms / p->wall_ms : NAN;
}

static void print_and_verdict(struct run *run)
{
	unsigned w = run->levels[0], most = run->levels[run->nr_levels - 1];
	char buf[64];

	printf("\n%llu jobs per worker; the watchdog stops a run after %s\n",
	       (unsigned long long)run->jobs_each, run->lab.opt.quick ? "0.2 s" : "0.5 s");
	print_table(run, LOCKSTEP);
	print_table(run, FREE);

	const struct point *imm = find(run, LOCKSTEP, IMMEDIATE, w);
	const struct point *exp = find(run, LOCKSTEP, EXPONENTIAL, w);
	const struct point *full = find(run, LOCKSTEP, FULL_JITTER, w);
	const struct point *dec = find(run, LOCKSTEP, DECORRELATED, w);
	const struct point *harness = find(run, LOCKSTEP_HARNESS, IMMEDIATE, w);
	unsigned nr_stuck = 0;
	for (enum strategy s = IMMEDIATE; s <= EXPONENTIAL; s++)
		nr_stuck += stuck(find(run, LOCKSTEP, s, w));
	snprintf(buf, sizeof(buf), "%.0f jobs done", imm->successes / imm->runs);
	lab_headline(&run->lab, "lockstep_strategies_livelocked", nr_stuck, "of 3", NAN);
	lab_headline(&run->lab, "full_jitter_completion", full->ms.median, "ms", NAN);
	// The lockstep livelock is built in: equal delays behind a barrier cannot separate
	// symmetric workers. A demonstration (counted as shown), unless a strategy got through.
	lab_demonstrate(&run->lab, nr_stuck == 3, "lockstep_backoff_livelocks",
			"in lockstep, immediate retry, a fixed delay and exponential backoff all "
			"livelock", nr_stuck, "of 3",
			"%u workers: %u of 3 stopped by the watchdog, by construction (immediate "
			"retry: %s, %.0f retries)", w, nr_stuck,
			imm->successes > 0 ? buf : "no job done", imm->retries / imm->runs);
	bool all_finished = true;
	for (size_t l = 0; l < run->nr_levels; l++)
		all_finished = all_finished && !stuck(find(run, LOCKSTEP, FULL_JITTER, run->levels[l])) &&
			       !stuck(find(run, LOCKSTEP, DECORRELATED, run->levels[l]));
	lab_judge(&run->lab, "jitter_ends_livelock",
		  "random jitter separates symmetric workers: both jittered backoffs finish",
		  all_finished ? COMPARE_HOLDS : COMPARE_FAILS, NAN, NAN, NAN, "",
		  "in lockstep, in every round and at every number of workers; %u workers: full "
		  "jitter %.3g retries per success, done in %.1f ms; decorrelated jitter %.3g (%.1f ms)",
		  w, retries_per_success(full), full->ms.median, retries_per_success(dec),
		  dec->ms.median);
	if (stuck(exp))
		lab_shown(&run->lab,
			  "exponential backoff alone does not help symmetric workers: they all wait "
			  "1, 2, 4... rounds and come back together; the jitter is what works");

	// Which jitter finishes first, and how retries grow with contention: either way is possible.
	const struct point *full_most = find(run, LOCKSTEP, FULL_JITTER, most);
	const struct point *dec_most = find(run, LOCKSTEP, DECORRELATED, most);
	struct compare_ratio dec_over_full, growth;
	(void)compare_ratio(&run->rounds, variant_of(run, dec_most), variant_of(run, full_most),
			    COMPARE_NONE, &dec_over_full);
	lab_judge_ratio(&run->lab, "full_jitter_finishes_first",
			"full jitter finishes before decorrelated jitter (decorrelated takes 1.05x "
			"or more)", compare_at_least(&dec_over_full, 1.05), &dec_over_full,
			"in lockstep with %u workers: full jitter %.1f ms, decorrelated %.1f ms", most,
			full_most->ms.median, dec_most->ms.median);
	(void)compare_ratio_of(&run->rounds, full_most->round_retries_per_success,
			       full->round_retries_per_success, &growth);
	lab_judge_ratio(&run->lab, "retries_grow_with_contention",
			"with full jitter the retries per success grow with contention (1.5x or more "
			"from 2 workers to the most)", compare_at_least(&growth, 1.5), &growth,
			"in lockstep: %.3g retries per success with %u workers, %.3g with %u",
			retries_per_success(full), w, retries_per_success(full_most), most);

	const struct point *fimm = find(run, FREE, IMMEDIATE, w);
	const struct point *ffull = find(run, FREE, FULL_JITTER, w);
	lab_shown(&run->lab,
		  "free-running, the same code without the barrier: immediate retry %s with %.3g "
		  "retries per success, full jitter %.3g: real livelocks are probabilistic, timing "
		  "noise breaks the symmetry now and then",
		  stuck(fimm) ? "was stopped by the watchdog" : "finished", retries_per_success(fimm),
		  retries_per_success(ffull));
	// The burn, where no harness spins: free-running workers that retry at once never sleep.
	// Judged per completed job against full jitter's, in the same rounds: every strategy pays a
	// few microseconds a job beyond its hold and work here (the retry loop, the shared counters),
	// so only the comparison isolates what retrying at once adds. (The share of CPU inside failed
	// attempts alone came out 0.75 in one run and 0.25 in the next on this VM: whether a failure
	// finds its own resource taken and gives up at once, or fails after its hold, depends on how
	// the two workers happen to fall into step.)
	double *imm_per_job = calloc(run->rounds.nr_rounds, sizeof(double)),
	       *full_per_job = calloc(run->rounds.nr_rounds, sizeof(double));
	if (!imm_per_job || !full_per_job)
		die("out of memory");
	for (unsigned r = 0; r < run->rounds.nr_rounds; r++) {
		imm_per_job[r] = fimm->round_cpu_ms[r] / fimm->round_needed_ms[r];
		full_per_job[r] = ffull->round_cpu_ms[r] / ffull->round_needed_ms[r];
	}
	struct compare_ratio burn;
	(void)compare_ratio_of(&run->rounds, imm_per_job, full_per_job, &burn);
	free(imm_per_job);
	free(full_per_job);
	if (run->nr_pus < w)
		lab_note("one usable PU: the two workers take turns, and a failed attempt's time is "
			 "not all CPU; the burn is not judged (run on two or more PUs)");
	lab_judge_ratio(&run->lab, "livelock_burns_cpu",
			"retrying at once burns more CPU per completed job than backing off with full "
			"jitter (1.1x or more)", run->nr_pus < w ? COMPARE_NOT_SHOWN
								: compare_at_least(&burn, 1.1),
			&burn,
			"free-running, %u workers: %.3g us of CPU per completed job retrying at once "
			"(%.3g retries per success, %.2f ms of CPU per ms of wall time), %.3g us with "
			"full jitter (%.3g retries per success), against the %.0f us a job's hold and "
			"work need; Lab 6's deadlocked threads used none", w,
			fimm->successes ? 1000 * fimm->cpu_ms / fimm->successes : NAN,
			retries_per_success(fimm), cpu_per_wall(fimm),
			ffull->successes ? 1000 * ffull->cpu_ms / ffull->successes : NAN,
			retries_per_success(ffull), (HOLD_NS + WORK_NS) / 1e3);
	lab_shown(&run->lab,
		  "the lockstep harness burns CPU by itself: the livelocked lockstep workers used "
		  "%.2f ms of CPU per ms, and the same barrier rounds with no worker touching a "
		  "resource %.2f ms per ms (its spinning barrier); so the burn is judged "
		  "free-running, where nothing but the workers' own retries runs",
		  cpu_per_wall(imm), cpu_per_wall(harness));
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "pace", "strategy", "nr_workers", "runs", "completed_runs",
		"ms_median", "ms_p05", "ms_p95", "ns_per_op_median", "ns_per_op_p05",
		"ns_per_op_p95", "successes", "retries_per_success", "cpu_ms", "cpu_per_wall",
		"cpu_us_per_success", "failed_attempt_cpu_share", "worker_pus",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];
		// ns per completed job, for the whole team: wall time / successes per run.
		double per_run = p->successes / p->runs;

		report_csv_str(&csv, "livelock");
		report_csv_str(&csv, pace_names[p->pace]);
		report_csv_str(&csv, strategy_names[p->strategy]);
		report_csv_u64(&csv, p->nr_workers);
		report_csv_u64(&csv, p->runs);
		report_csv_u64(&csv, p->completed_runs);
		report_csv_double(&csv, p->ms.median);
		report_csv_double(&csv, p->ms.p05);
		report_csv_double(&csv, p->ms.p95);
		report_csv_double(&csv, per_run > 0 ? p->ms.median * 1e6 / per_run : NAN);
		report_csv_double(&csv, per_run > 0 ? p->ms.p05 * 1e6 / per_run : NAN);
		report_csv_double(&csv, per_run > 0 ? p->ms.p95 * 1e6 / per_run : NAN);
		report_csv_double(&csv, p->successes);
		report_csv_double(&csv, p->successes > 0 ? p->retries / p->successes : NAN);
		report_csv_double(&csv, p->cpu_ms);
		report_csv_double(&csv, p->cpu_ms / p->wall_ms);
		report_csv_double(&csv, p->successes > 0 ? p->cpu_ms * 1e3 / p->successes : NAN);
		// Timed by the clock, so only where every worker has a PU of its own (a worker
		// preempted during a failed attempt would count time that is not CPU).
		report_csv_double(&csv, p->pace == FREE && p->cpu_ms > 0 && p->nr_workers <= run->nr_pus
					? p->failed_ms / p->cpu_ms : NAN);
		report_csv_str(&csv, p->pus);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "jobs_per_worker", "%llu", (unsigned long long)run->jobs_each);
	report_kv(m, "hold_ns", "%d", HOLD_NS);
	report_kv(m, "work_ns", "%d", WORK_NS);
	report_kv(m, "backoff_base_ns", "%d", BASE_NS);
	report_kv(m, "backoff_cap_ns", "%d", CAP_NS);
}

enum { OPT_JOBS = 256 };

static int on_option(int val, const char *arg, void *ctx)
{
	if (val != OPT_JOBS)
		return -EINVAL;
	return cli_arg_u64("--jobs", arg, 10, 1000000, ctx);
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = { { "jobs", required_argument, NULL, OPT_JOBS }, { 0 } };
	const struct cli_lab info = {
		.name = "07-livelock",
		.summary = "Makes polite workers livelock in supervised children and measures which "
			   "backoff restores progress, and at what cost in time and CPU.",
		.options_help = "  --jobs N           jobs each worker must finish (default 2000, quick 300)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.jobs_each,
	};

	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 7: livelock", argc, argv);
	printf("counters: none needed (CPU time comes from the children's rusage)\n");
	if (!run.jobs_each)
		run.jobs_each = run.lab.opt.quick ? 300 : 2000;
	// The PUs this process may use (taskset, a cgroup), not all the machine has.
	run.nr_pus = run.lab.nr_allowed_pus ? run.lab.nr_allowed_pus : 2;
	// Contention: 2 workers, then one per PU, two and four per PU.
	unsigned candidates[] = { 2, run.nr_pus, run.nr_pus * 2, run.nr_pus * 4 };
	for (size_t i = 0; i < 4; i++) {
		unsigned c = candidates[i] > MAX_WORKERS ? MAX_WORKERS : candidates[i];
		bool seen = false;

		for (size_t k = 0; k < run.nr_levels; k++)
			seen = seen || run.levels[k] == c;
		if (!seen && c >= 2 && (!run.lab.opt.quick || run.nr_levels < 2))
			run.levels[run.nr_levels++] = c;
	}
	lab_prediction("immediate retry and fixed delays keep symmetric workers in step: many "
		       "retries per success, and the watchdog has to stop them; exponential backoff "
		       "alone does not help, jitter does");
	lab_prediction("with the most workers, full jitter finishes before decorrelated jitter "
		       "(decorrelated takes 1.05x or more), and its retries per success grow with "
		       "contention (1.5x or more from 2 workers to the most)");
	lab_prediction("workers that retry at once burn the CPU they get, more per completed job "
		       "than workers that back off with full jitter (1.1x or more), unlike Lab 6's "
		       "deadlocked threads");

	// measure
	printf("measuring (supervised children):");
	fflush(stdout);
	measure_all(&run);
	printf(" done\n");

	// report
	print_and_verdict(&run);
	write_csv(&run);
	lab_write_manifest(&run.lab, NULL, manifest_extra, &run);
	for (size_t i = 0; i < run.nr_points; i++) {
		free(run.points[i].round_retries_per_success);
		free(run.points[i].round_failed_ms);
		free(run.points[i].round_cpu_ms);
		free(run.points[i].round_needed_ms);
	}
	compare_samples_release(&run.rounds);
	lab_finish(&run.lab);
	return 0;
}
