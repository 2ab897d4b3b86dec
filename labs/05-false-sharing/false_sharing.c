// SPDX-License-Identifier: MIT
// Lab 5: what independent counters on one cache line cost two cores (false sharing), what one
// shared counter costs (true sharing), and what padding with alignas fixes, for each way this
// machine's PUs can be paired (same PU, SMT siblings, shared L2, shared L3, other package); and the
// map of every pair: how long handing one cache line from a PU to another takes.
// Usage: false_sharing [--quick] [--reps N] [--out DIR] [--max-threads N]
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "clock.h"
#include "counters.h"
#include "die.h"
#include "lab.h"
#include "report.h"
#include "term.h"
#include "stats.h"
#include "topo.h"

#define MAX_THREADS 64
#define MAX_POINTS 512

static const unsigned distances[] = { 0, 4, 8, 16, 32, 64, 128, 256 };
#define NR_DISTANCES (sizeof(distances) / sizeof(distances[0]))

// The layouts a programmer would write for per-thread counters. sizeof() of each is the distance
// between neighbouring counters in an array of them.
struct packed_counter { _Atomic uint32_t n; };
struct aligned64_counter { alignas(64) _Atomic uint32_t n; };
struct aligned128_counter { alignas(128) _Atomic uint32_t n; };

enum mode { PLAIN, ATOMIC };
static const char *const mode_names[] = { "plain", "atomic" };

enum experiment { DISTANCE, LAYOUT, THREADS };
static const char *const experiment_names[] = { "distance", "layout", "threads" };

// Counted in every worker thread, in separate counting samples (timed samples run with them
// closed), in this order.
static const enum counters_metric metrics[] = { COUNTERS_CACHE_MISSES, COUNTERS_COHERENCE };
#define NR_METRICS (sizeof(metrics) / sizeof(metrics[0]))
enum { SLOT_CACHE_MISSES, SLOT_COHERENCE };	// metrics[]'s order

struct point {
	enum experiment experiment;
	const char *kind;		// plain/atomic, or the layout's name
	enum topo_relation placement;
	unsigned nr_threads;
	unsigned distance;
	int pu_a, pu_b;			// where the first two threads were seen running
	bool bound;			// every thread pinned and verified
	uint64_t iters;
	struct stats ns;		// per increment, per thread: the team's wall time / iters
	double overlap;			// lowest share of a sample during which all threads ran
	bool count_ok;			// every counter holds exactly what was added
	double per_op[NR_METRICS];	// counter events per increment (a separate, counted sample)
};

// ---- the measured loops ---------------------------------------------------------------------
// noinline, and the counter reached through a pointer the compiler cannot see through: every
// increment is a real load and store (plain, volatile) or a locked add (atomic).

static __attribute__((noinline)) void increment_plain(volatile uint32_t *c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		(*c)++;
}

static __attribute__((noinline)) void increment_atomic(_Atomic uint32_t *c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

// ---- a team of pinned threads, started together ------------------------------------------------

struct team;

struct worker {
	struct team *team;
	pthread_t thread;
	unsigned pu;
	int pu_observed;
	bool bound;
	char *counter;		// this thread's counter
	uint64_t start_ns, end_ns;	// of the last sample
	// Of the last sample too: how long the thread waited to run (the run queue) and the CPU
	// time it used, what tells a round that other programs disturbed from a clean one.
	double wait_ns, cpu_ns;
	double counts[NR_METRICS];
	// The thread's own counter slots after its last counted sample: a slot that stopped
	// counting (counters.h) is reported through the lab's probe, which prints the notes.
	struct counters_slot slots[NR_METRICS];
};

struct team {
	pthread_barrier_t start, done;
	enum mode mode;
	uint64_t iters;
	bool count;		// this sample is counted: timed samples run with counters stopped (disabled)
	bool quit;
	const struct topo *topo;
	unsigned nr;
	struct worker w[MAX_THREADS];
};

// This thread's CPU time in ns (exact, unlike getrusage's ticks on some kernels).
static double thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return NAN;
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct team *t = w->team;
	struct topo_binding b;
	struct counters c;

	w->bound = topo_bind_thread(t->topo, w->pu, &b) == 0 && b.verified;
	w->pu_observed = b.pu_observed;
	counters_init(&c, metrics, NR_METRICS);	// an event set belongs to its thread
	for (;;) {
		// Everyone starts behind the barrier, so the threads really run at the same time.
		pthread_barrier_wait(&t->start);
		if (t->quit)
			break;
		// Counters are opened only for counting samples: an open per-thread event costs at
		// every context switch, and starting or stopping one is a system call.
		if (t->count)
			counters_start(&c);
		double wait0 = NAN, wait1 = NAN;
		(void)compare_thread_wait_ns(&wait0);	// NAN where the kernel does not keep it
		double cpu0 = thread_cpu_ns();
		w->start_ns = clock_now_ns();
		if (t->mode == PLAIN)
			increment_plain((volatile uint32_t *)w->counter, t->iters);
		else
			increment_atomic((_Atomic uint32_t *)(void *)w->counter, t->iters);
		w->end_ns = clock_now_ns();
		w->cpu_ns = thread_cpu_ns() - cpu0;
		(void)compare_thread_wait_ns(&wait1);
		w->wait_ns = wait1 - wait0;
		if (t->count) {
			counters_stop(&c, w->counts);
			memcpy(w->slots, c.slots, sizeof(w->slots));
		}
		pthread_barrier_wait(&t->done);
	}
	counters_release(&c);
	return NULL;
}

// Starts one thread per PU in pus[]; thread i's counter is at base + i * distance.
static void team_start(struct team *t, const struct topo *topo, const unsigned *pus, unsigned nr,
		       char *base, unsigned distance, enum mode mode)
{
	memset(t, 0, sizeof(*t));
	t->topo = topo;
	t->nr = nr;
	t->mode = mode;
	if (pthread_barrier_init(&t->start, NULL, nr + 1) != 0 ||
	    pthread_barrier_init(&t->done, NULL, nr + 1) != 0)
		die("cannot create barriers");
	for (unsigned i = 0; i < nr; i++) {
		t->w[i] = (struct worker){ .team = t, .pu = pus[i], .counter = base + (size_t)i * distance };
		if (pthread_create(&t->w[i].thread, NULL, worker_main, &t->w[i]) != 0)
			die("cannot create thread %u", i);
	}
}

// One sample: every thread adds iters to its counter. Returns the team's wall time, from the
// first thread's start to the last one's end: on one PU the threads take turns, and a thread's
// own clock would include the other's slices. *overlap: the share of that time during which all
// of them were running (1 when they ran side by side, 0 when one finished before another began).
static uint64_t team_sample(struct team *t, uint64_t iters, bool count, double *overlap)
{
	uint64_t first_start = UINT64_MAX, last_start = 0, first_end = UINT64_MAX, last_end = 0;

	t->iters = iters;
	t->count = count;
	pthread_barrier_wait(&t->start);
	pthread_barrier_wait(&t->done);
	for (unsigned i = 0; i < t->nr; i++) {
		const struct worker *w = &t->w[i];

		first_start = w->start_ns < first_start ? w->start_ns : first_start;
		last_start = w->start_ns > last_start ? w->start_ns : last_start;
		first_end = w->end_ns < first_end ? w->end_ns : first_end;
		last_end = w->end_ns > last_end ? w->end_ns : last_end;
	}
	uint64_t wall = last_end - first_start;
	if (overlap)
		*overlap = first_end > last_start && wall ? (double)(first_end - last_start) /
							    (double)wall : 0;
	// What kept the threads from running, for compare's check of the round (compare.h). On one
	// PU the threads take turns, so each waits for the other by design: there what counts is the
	// wall time the two did not use between them (another program's). Elsewhere, each thread's
	// run-queue wait over its own time.
	bool one_pu = true;
	double wait = 0, own = 0, cpu = 0;
	for (unsigned i = 0; i < t->nr; i++) {
		one_pu = one_pu && t->w[i].pu == t->w[0].pu;
		wait += t->w[i].wait_ns;
		own += (double)(t->w[i].end_ns - t->w[i].start_ns);
		cpu += t->w[i].cpu_ns;
	}
	if (t->nr > 1 && one_pu)
		compare_sample_threads((double)wall - cpu, (double)wall);
	else
		compare_sample_threads(wait, own);
	return wall;
}

static void team_stop(struct team *t)
{
	t->quit = true;
	pthread_barrier_wait(&t->start);
	for (unsigned i = 0; i < t->nr; i++)
		pthread_join(t->w[i].thread, NULL);
	pthread_barrier_destroy(&t->start);
	pthread_barrier_destroy(&t->done);
}

// ---- measuring -----------------------------------------------------------------------------------

// What one placement's rounds measured: the samples, and which variant is which.
struct placement_result {
	bool measured;
	struct compare_samples samples;
	size_t variant[2][NR_DISTANCES];	// [mode][distance index]; COMPARE_NONE: none
	size_t layout[4];			// packed, alignas(64), alignas(line), alignas(128)
};

// ---- the core-to-core map: its data -----------------------------------------------------------
// Every pair of usable PUs (a sample of them on a big machine: PUs squared grows fast) hands one
// cache line back and forth; the map's axes follow hwloc's logical order, so the PUs that share a
// cache are neighbours, and boxes mark them.
#define C2C_MAX_PUS 256
#define C2C_MAX_PAIRS 256	// about 1 ms a pair a round: a few seconds at most
#define C2C_MAX_GROUPS 64
// The claim's threshold: PUs that share a cache hand a line over this much faster or more (the
// published maps show 2x to 5x between a shared L3 and none, nviennot/core-to-core-latency).
#define C2C_SHARING_RATIO 1.2

struct c2c_pair {
	unsigned pos_a, pos_b;		// positions in c2c.pus (logical order)
	enum topo_relation rel;
	bool bound;			// both threads pinned where asked, in every round
	double *ns;			// one-way ns, one per round
	struct stats s;
};

// The levels whose groups the heatmap draws as boxes, nearest first.
static const struct { hwloc_obj_type_t type; const char *name; } c2c_levels[] = {
	{ HWLOC_OBJ_L2CACHE, "l2" }, { HWLOC_OBJ_L3CACHE, "l3" },
	{ HWLOC_OBJ_NUMANODE, "numa" }, { HWLOC_OBJ_PACKAGE, "package" },
};
#define C2C_NR_LEVELS (sizeof(c2c_levels) / sizeof(c2c_levels[0]))

struct c2c {
	unsigned pus[C2C_MAX_PUS];	// OS indices, logical order
	size_t nr_pus;
	struct c2c_pair pairs[C2C_MAX_PAIRS];
	size_t nr_pairs, nr_all_pairs;
	unsigned nr_rounds;
	uint64_t round_trips;		// per sample
	struct topo_group groups[C2C_NR_LEVELS][C2C_MAX_GROUPS];
	size_t nr_groups[C2C_NR_LEVELS];
};

struct run {
	struct lab lab;
	struct c2c c2c;
	struct counters probe;		// which metrics this machine counts
	unsigned max_threads;
	unsigned line;
	struct point points[MAX_POINTS];
	size_t nr_points;
	bool have_pair[TOPO_NR_RELATIONS];
	unsigned pair[TOPO_NR_RELATIONS][2];
	struct placement_result result[TOPO_NR_RELATIONS];
};

// One variant of a comparison: a team layout measured in every round.
struct variant {
	struct point *p;
	const unsigned *pus;
	unsigned distance;
	enum mode mode;
};

struct comparison {
	struct run *run;
	struct variant v[COMPARE_MAX_VARIANTS];
	size_t nr;
};

static struct point *new_point(struct run *run, enum experiment e, const char *kind,
			       enum topo_relation placement, unsigned nr, unsigned distance)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points (raise MAX_POINTS)");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .experiment = e, .kind = kind, .placement = placement,
			     .nr_threads = nr, .distance = distance, .count_ok = true,
			     .bound = true };
	return p;
}

// Runs one sample of a variant with a fresh team (starting threads costs microseconds against
// samples of milliseconds): on the first call it calibrates with every thread running, so that a
// sample is long enough for all of them to be running together; then a short warm-up, then the
// sample. count: a counted sample instead of a timed one.
static double team_run(struct run *run, struct variant *v, bool count, double *overlap)
{
	struct point *p = v->p;
	size_t bytes = (size_t)p->nr_threads * (v->distance ? v->distance : 4) + 4096;
	char *base = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
	static struct team team;	// large; one at a time

	if (!base)
		die("out of memory");
	memset(base, 0, bytes);
	team_start(&team, &run->lab.topo, v->pus, p->nr_threads, base, v->distance, v->mode);
	if (!p->iters) {
		// Double a trial until the team's time is a quarter of a sample: long past the
		// microseconds it takes to wake the other CPUs. Then scale.
		uint64_t trial = 20000, ns;
		while ((ns = team_sample(&team, trial, false, NULL)) * 4 < run->lab.opt.min_sample_ns &&
		       trial < ((uint64_t)1 << 40))
			trial *= 2;
		p->iters = (uint64_t)((double)trial * (double)run->lab.opt.min_sample_ns /
				      (double)(ns + 1));
		if (p->iters < 1000)
			p->iters = 1000;
	}
	(void)team_sample(&team, p->iters / 10 + 1, false, NULL);	// wake every thread up
	memset(base, 0, bytes);	// count only the measured sample from here
	uint64_t ns = team_sample(&team, p->iters, count, overlap);
	for (size_t k = 0; count && k < NR_METRICS; k++)
		p->per_op[k] = 0;
	for (unsigned i = 0; i < p->nr_threads; i++) {
		p->bound = p->bound && team.w[i].bound;
		// Events per increment, averaged over the threads. NAN (not counted) stays NAN.
		for (size_t k = 0; count && k < NR_METRICS; k++) {
			p->per_op[k] += team.w[i].counts[k] / (double)p->iters / p->nr_threads;
			if (team.w[i].slots[k].stalled && !run->probe.slots[k].stalled)
				run->probe.slots[k] = team.w[i].slots[k];
		}
	}
	p->pu_a = team.w[0].pu_observed;
	p->pu_b = p->nr_threads > 1 ? team.w[1].pu_observed : -1;
	team_stop(&team);

	// The invariant: plain increments on private counters and atomic ones anywhere lose nothing.
	if (v->distance == 0)
		p->count_ok = p->count_ok && *(uint32_t *)base == (uint32_t)(p->iters * p->nr_threads);
	for (unsigned i = 0; v->distance && i < p->nr_threads; i++)
		p->count_ok = p->count_ok &&
			      *(uint32_t *)(base + (size_t)i * v->distance) == (uint32_t)p->iters;
	free(base);
	return (double)ns / (double)p->iters;
}

// What a sample keeps beside its time (compare_sample_aux): the rounds may run in other
// processes, whose points the parent never sees.
enum { AUX_OVERLAP, AUX_COUNT_OK };

static int measure_variant(void *ctx, size_t variant, unsigned round, double *value)
{
	struct comparison *c = ctx;
	struct variant *v = &c->v[variant];
	double overlap;

	(void)round;
	v->p->count_ok = true;
	*value = team_run(c->run, v, false, &overlap);
	compare_sample_aux(AUX_OVERLAP, overlap);
	compare_sample_aux(AUX_COUNT_OK, v->p->count_ok);
	return 0;
}

// Measures the comparison's variants interleaved, in rounds spread over processes (compare.h),
// with the PUs used watched for other programs; then one sample of each here (counted where the
// counters work), for the placement that was observed. Fills each point. The caller keeps the
// samples for the paired ratios.
static void run_comparison(struct run *run, struct comparison *c, struct compare_samples *out,
			   const unsigned *pus, unsigned nr_pus)
{
	struct compare_plan plan = lab_plan(&run->lab);
	cpu_set_t watch;

	CPU_ZERO(&watch);
	for (unsigned i = 0; i < nr_pus; i++)
		CPU_SET(pus[i], &watch);
	plan.watch_cpus = &watch;
	int err = compare_run(c->nr, &plan, measure_variant, c, out);

	if (err)
		die_errno(err, "measuring");
	for (size_t i = 0; i < c->nr; i++) {
		struct variant *v = &c->v[i];
		double overlap = 1;
		bool ok = true;

		if (compare_variant_stats(out, i, &v->p->ns) != 0)
			die("no samples");
		for (unsigned r = 0; r < out->nr_rounds; r++) {
			overlap = fmin(overlap, compare_aux(out, i, r, AUX_OVERLAP));
			ok = ok && compare_aux(out, i, r, AUX_COUNT_OK) == 1;
		}
		bool counted = counters_nr_available(&run->probe) > 0;
		(void)team_run(run, v, counted, NULL);
		v->p->overlap = overlap;
		v->p->count_ok = ok && v->p->count_ok;
		for (size_t k = 0; !counted && k < NR_METRICS; k++)
			v->p->per_op[k] = NAN;
	}
}

static size_t add_variant(struct comparison *c, struct point *p, const unsigned *pus,
			  unsigned distance, enum mode mode)
{
	if (c->nr == COMPARE_MAX_VARIANTS)
		die("too many variants (raise COMPARE_MAX_VARIANTS)");
	c->v[c->nr] = (struct variant){ .p = p, .pus = pus, .distance = distance, .mode = mode };
	return c->nr++;
}

// The layouts a programmer would write, compared in the same rounds as the distances.
enum { LAYOUT_PACKED, LAYOUT_64, LAYOUT_LINE, LAYOUT_128, NR_LAYOUTS };
static const char *const layout_names[NR_LAYOUTS] = { "packed", "alignas_64", "alignas_line",
						      "alignas_128" };

static void measure_placement(struct run *run, int rel)
{
	static struct comparison c;
	struct placement_result *r = &run->result[rel];
	const unsigned *pus = run->pair[rel];

	c = (struct comparison){ .run = run };
	for (size_t d = 0; d < NR_DISTANCES; d++) {
		for (int mode = PLAIN; mode <= ATOMIC; mode++) {
			// One shared counter needs atomic increments: plain ones would lose
			// updates (a data race), which is another lab.
			if (distances[d] == 0 && mode == PLAIN)
				continue;
			struct point *p = new_point(run, DISTANCE, mode_names[mode], rel, 2,
						    distances[d]);
			r->variant[mode][d] = add_variant(&c, p, pus, distances[d], mode);
		}
	}
	r->variant[PLAIN][0] = COMPARE_NONE;
	const unsigned layout_sizes[NR_LAYOUTS] = {
		sizeof(struct packed_counter), sizeof(struct aligned64_counter),
		run->line,	// alignas(hwloc's line size), sized at run time
		sizeof(struct aligned128_counter),
	};
	for (size_t l = 0; l < NR_LAYOUTS; l++) {
		struct point *p = new_point(run, LAYOUT, layout_names[l], rel, 2, layout_sizes[l]);

		r->layout[l] = add_variant(&c, p, pus, layout_sizes[l], ATOMIC);
	}
	run_comparison(run, &c, &r->samples, pus, 2);
	r->measured = true;
}

static void measure_placements(struct run *run)
{
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		printf(" %s", topo_relation_name(rel));
		fflush(stdout);
		measure_placement(run, rel);
	}
}

// More threads, one per allowed PU in logical order: packed against padded counters, in rounds.
// From one thread (nothing to share: the two layouts must agree), doubling up to the usable PUs.
static void measure_threads(struct run *run)
{
	static unsigned pus[MAX_THREADS];
	static struct comparison c;
	struct compare_samples s;
	unsigned n = 0;
	int pu = -1;

	while ((pu = hwloc_bitmap_next(run->lab.allowed_pus, pu)) >= 0 && n < run->max_threads)
		pus[n++] = (unsigned)pu;
	c = (struct comparison){ .run = run };
	for (unsigned t = 1; t <= n && c.nr + 2 <= COMPARE_MAX_VARIANTS; t *= 2) {
		add_variant(&c, new_point(run, THREADS, "packed", TOPO_NR_RELATIONS, t, 4), pus, 4,
			    ATOMIC);
		add_variant(&c, new_point(run, THREADS, "padded", TOPO_NR_RELATIONS, t, run->line),
			    pus, run->line, ATOMIC);
	}
	if (!c.nr)
		return;
	run_comparison(run, &c, &s, pus, n);
	compare_samples_release(&s);
}

// ---- the core-to-core map: measuring -------------------------------------------------------------

// The line the two threads hand over, alone on its own 128 bytes (two lines where the prefetcher
// pairs them). turn counts hand-offs: even, the first thread may take it; odd, the second.
struct c2c_line {
	alignas(128) _Atomic uint64_t turn;
	char pad[128 - sizeof(uint64_t)];
};

struct c2c_side {
	const struct topo *topo;
	struct c2c_line *line;
	pthread_barrier_t *ready;
	_Atomic bool *abort;
	unsigned pu;
	unsigned parity;		// 0: takes even turns (and times), 1: odd
	uint64_t round_trips;
	bool bound;
	uint64_t ns;
};

static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

// One side of the ping-pong: compare-and-swap the turn from the other side's value to its own,
// round_trips times. The first side times the whole exchange, until the second's last turn.
static void *c2c_side_main(void *arg)
{
	struct c2c_side *side = arg;
	struct topo_binding b;

	side->bound = topo_bind_thread(side->topo, side->pu, &b) == 0 && b.verified;
	if (!side->bound)
		atomic_store(side->abort, true);
	pthread_barrier_wait(side->ready);
	// Both must really be on their PUs: two spinning threads sharing one PU would hand over
	// once a time slice, milliseconds each.
	if (atomic_load(side->abort))
		return NULL;
	uint64_t start = clock_now_ns();
	for (uint64_t k = 0; k < side->round_trips; k++) {
		uint64_t from = 2 * k + side->parity;

		for (uint64_t want = from;
		     !atomic_compare_exchange_weak(&side->line->turn, &want, from + 1); want = from)
			spin_pause();
	}
	if (side->parity == 0)
		while (atomic_load(&side->line->turn) != 2 * side->round_trips)
			spin_pause();
	side->ns = clock_now_ns() - start;
	return NULL;
}

// One sample of one pair: one-way ns, or NAN when the threads could not be pinned apart.
static double c2c_sample(const struct run *run, unsigned pu_a, unsigned pu_b, uint64_t round_trips)
{
	static struct c2c_line line;
	pthread_barrier_t ready;
	_Atomic bool abort = false;
	struct c2c_side side[2];
	pthread_t thread[2];

	atomic_store(&line.turn, 0);
	if (pthread_barrier_init(&ready, NULL, 2) != 0)
		die("cannot create a barrier");
	for (unsigned i = 0; i < 2; i++) {
		side[i] = (struct c2c_side){ .topo = &run->lab.topo, .line = &line, .ready = &ready,
					     .abort = &abort, .pu = i ? pu_b : pu_a, .parity = i,
					     .round_trips = round_trips };
		if (pthread_create(&thread[i], NULL, c2c_side_main, &side[i]) != 0)
			die("cannot create a thread");
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(thread[i], NULL);
	pthread_barrier_destroy(&ready);
	if (!side[0].bound || !side[1].bound)
		return NAN;
	return (double)side[0].ns / (double)(2 * round_trips);
}

// The pairs to measure: every pair of usable PUs, or on a big machine C2C_MAX_PAIRS of them, at
// least one of each relation there is (so that the claim has both kinds) and the rest at random.
static void c2c_choose_pairs(struct run *run)
{
	struct c2c *m = &run->c2c;
	size_t n = m->nr_pus, all = n * (n - 1) / 2, k = 0;
	uint32_t *cand = malloc(all * sizeof(*cand) * 2 + 1), *order = malloc(all * sizeof(*order) + 1);
	bool rel_taken[TOPO_NR_RELATIONS] = { false };
	uint64_t seed = 5;	// fixed: the same sample each run

	if (!cand || !order)
		die("out of memory");
	for (unsigned a = 0; a < n; a++)
		for (unsigned b = a + 1; b < n; b++, k++) {
			cand[2 * k] = a;
			cand[2 * k + 1] = b;
		}
	m->nr_all_pairs = all;
	bench_random_order(order, all, &seed);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < all && m->nr_pairs < C2C_MAX_PAIRS; i++) {
			uint32_t *pair = &cand[2 * (size_t)order[i]];
			enum topo_relation rel = TOPO_SAME_PACKAGE;

			if (pair[0] == UINT32_MAX ||
			    topo_relation_of(&run->lab.topo, m->pus[pair[0]], m->pus[pair[1]], &rel) != 0)
				continue;
			if (pass == 0 && rel_taken[rel])
				continue;	// the first pass takes one pair of each relation
			rel_taken[rel] = true;
			m->pairs[m->nr_pairs++] = (struct c2c_pair){ .pos_a = pair[0], .pos_b = pair[1],
								     .rel = rel, .bound = true };
			pair[0] = UINT32_MAX;	// taken
		}
	}
	free(order);
	free(cand);
}

// The map, in rounds: each round measures every chosen pair once, in a new order, so that a
// slow minute of the machine spreads over the pairs instead of landing on a few.
static void measure_core_to_core(struct run *run)
{
	struct c2c *m = &run->c2c;
	uint64_t seed = 11;

	m->nr_pus = topo_pus_in_order(&run->lab.topo, run->lab.allowed_pus, m->pus, C2C_MAX_PUS);
	if (m->nr_pus > C2C_MAX_PUS)
		m->nr_pus = C2C_MAX_PUS;
	for (size_t l = 0; l < C2C_NR_LEVELS; l++)
		m->nr_groups[l] = topo_pu_groups(&run->lab.topo, c2c_levels[l].type, m->pus, m->nr_pus,
						 m->groups[l], C2C_MAX_GROUPS);
	if (m->nr_pus < 2)
		return;
	c2c_choose_pairs(run);
	m->nr_rounds = lab_rounds(&run->lab);
	// Round trips per sample: a tenth of the lab's sample time on the first pair, at least 1000.
	uint64_t trips = 1000;
	double ns;
	while (!isnan(ns = c2c_sample(run, m->pus[m->pairs[0].pos_a], m->pus[m->pairs[0].pos_b], trips)) &&
	       ns * 2 * (double)trips * 10 < (double)run->lab.opt.min_sample_ns && trips < (1u << 24))
		trips *= 2;
	m->round_trips = trips;
	uint32_t order[C2C_MAX_PAIRS];
	for (size_t i = 0; i < m->nr_pairs; i++) {
		m->pairs[i].ns = calloc(m->nr_rounds, sizeof(double));
		if (!m->pairs[i].ns)
			die("out of memory");
	}
	for (unsigned r = 0; r < m->nr_rounds; r++) {
		bench_random_order(order, m->nr_pairs, &seed);
		for (size_t i = 0; i < m->nr_pairs; i++) {
			struct c2c_pair *p = &m->pairs[order[i]];

			p->ns[r] = c2c_sample(run, m->pus[p->pos_a], m->pus[p->pos_b], m->round_trips);
			p->bound = p->bound && !isnan(p->ns[r]);
		}
	}
	for (size_t i = 0; i < m->nr_pairs; i++) {
		struct c2c_pair *p = &m->pairs[i];
		double *copy = malloc(m->nr_rounds * sizeof(double));

		if (!copy)
			die("out of memory");
		memcpy(copy, p->ns, m->nr_rounds * sizeof(double));
		if (!p->bound || stats_compute(&p->s, copy, m->nr_rounds) != 0)
			p->s = (struct stats){ .median = NAN, .p05 = NAN, .p95 = NAN };
		free(copy);
	}
}

static bool shares_a_cache(enum topo_relation rel)
{
	return rel == TOPO_SMT_SIBLINGS || rel == TOPO_SHARED_L2 || rel == TOPO_SHARED_L3;
}

// The median over the pairs of one kind (sharing a cache or not) in round r; NAN if none.
static double c2c_round_median(const struct c2c *m, unsigned r, bool sharing)
{
	double v[C2C_MAX_PAIRS];
	size_t n = 0;

	for (size_t i = 0; i < m->nr_pairs; i++)
		if (m->pairs[i].bound && shares_a_cache(m->pairs[i].rel) == sharing)
			v[n++] = m->pairs[i].ns[r];
	if (!n)
		return NAN;
	struct stats s;
	return stats_compute(&s, v, n) == 0 ? s.median : NAN;
}

static void print_core_to_core(const struct run *run)
{
	const struct c2c *m = &run->c2c;

	if (m->nr_pairs == 0)
		return;
	printf("\nCore to core: one-way hand-off of a cache line between two PUs (compare-and-swap "
	       "ping-pong, %llu round trips a sample, median of %u rounds), %zu of %zu pairs of %zu "
	       "PUs%s; the map is in plot.png\n", (unsigned long long)m->round_trips, m->nr_rounds,
	       m->nr_pairs, m->nr_all_pairs, m->nr_pus, m->nr_pairs < m->nr_all_pairs ? " (sampled)" : "");
	printf("  %-14s %6s %10s %10s %10s\n", "placement", "pairs", "median ns", "fastest", "slowest");
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		double v[C2C_MAX_PAIRS];
		size_t n = 0;
		struct stats s;

		for (size_t i = 0; i < m->nr_pairs; i++)
			if ((int)m->pairs[i].rel == rel && m->pairs[i].bound)
				v[n++] = m->pairs[i].s.median;
		if (n && stats_compute(&s, v, n) == 0)
			printf("  %-14s %6zu %10.1f %10.1f %10.1f\n", topo_relation_name(rel), n, s.median,
			       s.min, s.max);
	}
}

static void verdict_core_to_core(struct run *run)
{
	const struct c2c *m = &run->c2c;
	const char *id = "sharing_a_cache_hands_over_faster";
	char claim[128];
	bool sharing = false, apart = false;

	snprintf(claim, sizeof(claim), "PUs that share a cache hand a line over %.1fx or more faster "
		 "than PUs that do not", C2C_SHARING_RATIO);
	for (size_t i = 0; i < m->nr_pairs; i++) {
		sharing = sharing || (m->pairs[i].bound && shares_a_cache(m->pairs[i].rel));
		apart = apart || (m->pairs[i].bound && !shares_a_cache(m->pairs[i].rel));
	}
	if (m->nr_pus < 2 || m->nr_pairs == 0) {
		lab_judge(&run->lab, id, claim, COMPARE_NOT_SHOWN, NAN, NAN, NAN, "x",
			  "the map needs two usable PUs, this process has %zu", m->nr_pus);
		return;
	}
	double medians[C2C_MAX_PAIRS];
	size_t n = 0;
	struct stats all;
	for (size_t i = 0; i < m->nr_pairs; i++)
		if (m->pairs[i].bound)
			medians[n++] = m->pairs[i].s.median;
	if (n && stats_compute(&all, medians, n) == 0)
		lab_headline(&run->lab, "core_to_core_one_way", all.median, "ns", NAN);
	if (!sharing || !apart) {
		lab_judge(&run->lab, id, claim, COMPARE_NOT_SHOWN, NAN, NAN, NAN, "x",
			  "every pair measured here %s (%s): the claim needs pairs of both kinds",
			  sharing ? "shares a cache" : "shares no cache",
			  topo_relation_name(m->pairs[0].rel));
		return;
	}
	double *num = malloc(m->nr_rounds * sizeof(double)), *den = malloc(m->nr_rounds * sizeof(double));
	struct compare_ratio ratio;

	if (!num || !den)
		die("out of memory");
	for (unsigned r = 0; r < m->nr_rounds; r++) {
		num[r] = c2c_round_median(m, r, false);
		den[r] = c2c_round_median(m, r, true);
	}
	if (compare_paired_ratio(num, den, m->nr_rounds, &ratio) != 0)
		ratio = (struct compare_ratio){ .median = NAN, .low = NAN, .high = NAN };
	lab_judge_ratio(&run->lab, id, claim, compare_at_least(&ratio, C2C_SHARING_RATIO), &ratio,
			"per round, the median pair that shares no cache over the median pair that "
			"shares one (one process: the map is one more experiment, not a placement "
			"comparison)");
	free(num);
	free(den);
}

// ---- reporting -----------------------------------------------------------------------------------

static const struct point *find(const struct run *run, enum experiment e, const char *kind,
				int placement, unsigned distance)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->experiment == e && !strcmp(p->kind, kind) && (int)p->placement == placement &&
		    p->distance == distance)
			return p;
	}
	return NULL;
}

static void print_ns(const struct point *p, int width)
{
	if (p)
		printf(" %*.2f%1s", width - 1, p->ns.median, stats_noisy_mark(&p->ns));
	else
		printf(" %*s", width, "-");
}

#define DISTANCE_TABLE_WIDTH 87

static void print_tables(const struct run *run)
{
	printf("\nns per increment per thread (the team's wall time / increments; median of %u "
	       "interleaved rounds; %s)\nby distance between the counters in bytes\n",
	       lab_rounds(&run->lab), STATS_NOISY_LEGEND);
	// DISTANCE_TABLE_WIDTH columns; one less per figure in a narrower terminal (a figure over
	// 99.99 then pushes its row one column wider).
	int w = term_width() < DISTANCE_TABLE_WIDTH ? 6 : 7;
	printf("  %-14s %-6s", "placement", "mode");
	for (size_t d = 0; d < NR_DISTANCES; d++)
		printf(" %*u", w, distances[d]);
	printf("\n");
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		for (int mode = PLAIN; mode <= ATOMIC; mode++) {
			printf("  %-14s %-6s", topo_relation_name(rel), mode_names[mode]);
			for (size_t d = 0; d < NR_DISTANCES; d++)
				print_ns(find(run, DISTANCE, mode_names[mode], rel, distances[d]), w);
			printf("\n");
		}
	}
	printf("\nThe layouts (atomic increments), same rounds: sizeof(struct) = distance\n");
	printf("  %-14s %12s %12s %12s %12s\n", "placement", "packed", "alignas(64)",
	       "alignas(line)", "alignas(128)");
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		printf("  %-14s", topo_relation_name(rel));
		for (size_t l = 0; l < NR_LAYOUTS; l++) {
			for (size_t i = 0; i < run->nr_points; i++) {
				const struct point *p = &run->points[i];

				if (p->experiment == LAYOUT && !strcmp(p->kind, layout_names[l]) &&
				    (int)p->placement == rel) {
					print_ns(p, 7);
					printf(" (%3u)", p->distance);
				}
			}
		}
		printf("\n");
	}
	bool any_threads = false;
	for (size_t i = 0; i < run->nr_points; i++)
		any_threads = any_threads || run->points[i].experiment == THREADS;
	if (!any_threads)
		return;
	printf("\nMore threads, one per PU (atomic): packed and padded, ns per increment per thread\n");
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->experiment != THREADS || strcmp(p->kind, "packed") != 0)
			continue;
		printf("  %2u thread%s: packed", p->nr_threads, p->nr_threads == 1 ? " " : "s");
		print_ns(p, 8);
		printf(", padded");
		for (size_t j = 0; j < run->nr_points; j++)
			if (run->points[j].experiment == THREADS &&
			    !strcmp(run->points[j].kind, "padded") &&
			    run->points[j].nr_threads == p->nr_threads)
				print_ns(&run->points[j], 8);
		printf("\n");
	}
	if (run->lab.nr_allowed_pus < 4)
		lab_note("only %u usable PU%s: the thread counts go up to %u; the trend with more threads "
			 "needs a machine with more PUs", run->lab.nr_allowed_pus,
			 run->lab.nr_allowed_pus == 1 ? "" : "s", run->lab.nr_allowed_pus >= 2 ? 2 : 1);
}

// The index of a distance in distances[], or -1.
static int distance_index(unsigned distance)
{
	for (size_t d = 0; d < NR_DISTANCES; d++)
		if (distances[d] == distance)
			return (int)d;
	return -1;
}

// The paired ratio of two variants of one placement's rounds.
static struct compare_ratio ratio_of(const struct run *run, int rel, size_t num, size_t den)
{
	struct compare_ratio r;

	(void)compare_ratio(&run->result[rel].samples, num, den, COMPARE_NONE, &r);
	return r;
}

// A distance costs "the same as far apart" when its paired ratio to the 256-byte point is at
// most this, and "more" when it is at least this: the step the table shows.
#define STEP_RATIO 1.3
// The claim's size: counters on one line are at least this many times slower than a line apart
// ("several times", the prediction says; twice is the least that is "several"). Apart from
// STEP_RATIO on purpose: between the two, a distance costs something, but not the claim's cost.
#define FALSE_SHARING_RATIO 2.0

// Where the cost of plain increments drops, from the same paired rounds the table shows: the
// smallest distance from which every larger one is judged no slower than STEP_RATIO x the 256-byte
// point; and the judgement of the distance just below it (slower by STEP_RATIO or more?).
static unsigned drop_distance(const struct run *run, int rel, enum compare_status *below)
{
	const struct placement_result *r = &run->result[rel];
	size_t far = r->variant[PLAIN][NR_DISTANCES - 1];
	size_t d = NR_DISTANCES - 1;

	while (d > 1) {
		struct compare_ratio x = ratio_of(run, rel, r->variant[PLAIN][d - 1], far);

		if (compare_at_most(&x, STEP_RATIO) != COMPARE_HOLDS)
			break;
		d--;
	}
	*below = COMPARE_NOT_SHOWN;
	if (d > 1) {
		struct compare_ratio x = ratio_of(run, rel, r->variant[PLAIN][d - 1], far);

		*below = compare_at_least(&x, STEP_RATIO);
	}
	return distances[d];
}

// A verdict id for one placement: "prefix_" and the placement's name in snake_case, the same on
// every machine ("false_sharing_slows_shared_l3").
static const char *placement_id(char *buf, size_t len, const char *prefix, int rel)
{
	snprintf(buf, len, "%s_%s", prefix, topo_relation_name(rel));
	for (char *c = buf; *c; c++)
		if (*c == '-')
			*c = '_';
	return buf;
}

// The index in distances[] of the padded layout: hwloc's line, or 64 bytes if the line is not
// one of the distances.
static size_t padded_index(const struct run *run)
{
	int d = distance_index(run->line);

	return d > 0 ? (size_t)d : (size_t)distance_index(64);
}

// The claims about one pair of PUs that do not share a PU.
static void verdicts_for_pair(struct run *run, int rel, bool headline)
{
	const struct placement_result *r = &run->result[rel];
	const char *name = topo_relation_name(rel);
	char id[48], claim[160];
	size_t line_idx = padded_index(run);
	size_t packed = r->variant[PLAIN][1], padded = r->variant[PLAIN][line_idx];
	struct compare_ratio cost = ratio_of(run, rel, packed, padded);
	const struct point *pk = r->measured ? find(run, DISTANCE, "plain", rel, 4) : NULL;
	enum compare_status below;
	unsigned drop = drop_distance(run, rel, &below);

	if (!pk)
		return;
	if (headline) {
		lab_headline(&run->lab, "false_sharing_cost", cost.median, "x", NAN);
		lab_headline(&run->lab, "cost_drop_distance", drop, "bytes", run->line);
	}
	// ids: the claim and the placement, in snake_case, the same on every machine.
	snprintf(claim, sizeof(claim), "counters on one line are %.0fx or more slower than a line "
		 "apart (%s)", FALSE_SHARING_RATIO, name);
	lab_judge_ratio(&run->lab, placement_id(id, sizeof(id), "false_sharing_slows", rel), claim,
			compare_at_least(&cost, FALSE_SHARING_RATIO), &cost,
			"PUs %d and %d: plain increments 4 bytes apart against %u bytes apart",
			pk->pu_a, pk->pu_b, distances[line_idx]);
	enum compare_status st = compare_at_least(&cost, FALSE_SHARING_RATIO) != COMPARE_HOLDS
				 ? COMPARE_NOT_SHOWN
				 : below == COMPARE_INCONCLUSIVE ? COMPARE_INCONCLUSIVE
				 : drop == run->line && below == COMPARE_HOLDS ? COMPARE_HOLDS
									: COMPARE_FAILS;
	snprintf(claim, sizeof(claim), "the cost drops at the cache line size (%s)", name);
	lab_judge(&run->lab, placement_id(id, sizeof(id), "cost_drops_at_line", rel), claim, st,
		  drop, NAN, NAN, "bytes",
		  "every distance from %u bytes on is within %.1fx of 256 bytes (paired rounds), "
		  "hwloc's line is %u B%s", drop, STEP_RATIO, run->line,
		  st == COMPARE_NOT_SHOWN ? ": no false-sharing cost here to drop"
		  : drop == 2 * run->line ? ": twice the line (the adjacent-line prefetcher pairs "
					    "lines, or the line is really 128 B)" : "");

	struct compare_ratio shared = ratio_of(run, rel, r->variant[ATOMIC][0], r->variant[ATOMIC][1]);
	snprintf(claim, sizeof(claim), "one shared atomic counter is 1.1x or more slower than "
		 "false-shared atomic ones (%s)", name);
	lab_judge_ratio(&run->lab, placement_id(id, sizeof(id), "true_sharing_worse", rel), claim,
			compare_at_least(&shared, 1.1), &shared,
			"one counter both threads add to, against two counters 4 bytes apart: both "
			"bounce the same line, and the shared one also serialises the adds");

	struct compare_ratio pad = ratio_of(run, rel, r->layout[LAYOUT_64], r->layout[LAYOUT_128]);
	snprintf(claim, sizeof(claim), "alignas(64) padding fixes false sharing: as fast as "
		 "alignas(128) (%s)", name);
	lab_judge_ratio(&run->lab, placement_id(id, sizeof(id), "alignas64_is_enough", rel), claim,
			compare_within(&pad, 0.10), &pad,
			"alignas(64) against alignas(128) (within 10%% holds); hwloc's line is %u B%s",
			run->line, run->line > 64 ? ": 64 bytes is less than a line here" : "");
	if (compare_at_least(&cost, FALSE_SHARING_RATIO) != COMPARE_HOLDS && !cost.busy)
		lab_note("%s: no clear false-sharing cost. Likely: %s", name,
			 rel == TOPO_SMT_SIBLINGS
				 ? "SMT siblings share one L1, so their line never moves"
			 : lab_in_vm() ? "a VM whose two vCPUs run on one physical core, or a host "
				"that moves them; run on bare metal to see it"
			      : "a CPU that keeps such lines close; compare the atomic rows");
	if (pk->overlap < 0.9)
		lab_note("%s: in some samples the two threads ran side by side for only %.0f%% of "
			 "the time (the other was not scheduled): those samples understate the effect",
			 name, 100 * pk->overlap);
}

static void verdicts(struct run *run)
{
	bool any_pair = false, headline = false;

	for (int rel = TOPO_SMT_SIBLINGS; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		// The headline is the nearest placement with a cache line to bounce: SMT siblings
		// share their L1, where the prediction is no effect at all.
		bool this_one = !headline && rel != TOPO_SMT_SIBLINGS;
		verdicts_for_pair(run, rel, this_one);
		headline = headline || this_one;
		any_pair = true;
	}
	if (!any_pair)
		lab_note("this process may use only %u PU: false sharing needs two (run without "
			 "taskset, or give the VM two CPUs); only the same-PU numbers were measured",
			 run->lab.nr_allowed_pus);
	if (run->result[TOPO_SAME_PU].measured) {
		const struct placement_result *r = &run->result[TOPO_SAME_PU];
		size_t line_idx = padded_index(run);
		struct compare_ratio same = ratio_of(run, TOPO_SAME_PU, r->variant[PLAIN][1],
						     r->variant[PLAIN][line_idx]);

		lab_headline(&run->lab, "same_pu_packed_over_padded", same.median, "x", NAN);
		lab_judge_ratio(&run->lab, "same_pu_no_false_sharing",
				"on one PU packed and padded counters cost the same",
				compare_within(&same, 0.10), &same,
				"two threads taking turns on one PU share its cache, so there is "
				"nothing to bounce (within 10%% holds)");
	}
	bool all_ok = true, all_bound = true;
	for (size_t i = 0; i < run->nr_points; i++) {
		all_ok = all_ok && run->points[i].count_ok;
		all_bound = all_bound && run->points[i].bound;
	}
	// Shown, not judged: plain increments go to private counters and shared ones are atomic,
	// so nothing can be lost on Linux; a lost increment would be a bug in this lab.
	if (all_ok)
		lab_show(&run->lab, "counters_exact", "every counter holds exactly the increments made",
			 1, "", "checked after every sample, in every process");
	else
		lab_judge(&run->lab, "counters_exact", "every counter holds exactly the increments "
			  "made", COMPARE_FAILS, 0, NAN, NAN, "", "NO: a bug (see count_ok in data.csv)");
	if (!all_bound)
		lab_note("some threads could not be pinned where asked (see pu_a/pu_b in data.csv): "
			 "placements may be mixed");
}

// How many times faster than its packed counterpart a point is: the same placement, mode and
// experiment with counters 4 bytes apart. NAN where there is none.
static double speedup_vs_packed(const struct run *run, const struct point *p)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *q = &run->points[i];
		bool same_series = q->experiment == p->experiment && q->placement == p->placement &&
				   q->nr_threads == p->nr_threads;

		if (!same_series || q->distance != 4)
			continue;
		if (p->experiment == DISTANCE && strcmp(q->kind, p->kind) != 0)
			continue;	// plain with plain, atomic with atomic
		return q->ns.median / p->ns.median;
	}
	return NAN;
}

// The map's rows: one per measured pair (pos_a < pos_b: the heatmap mirrors it), and one per box
// (experiment core_to_core_group, kind the level, pos_a and pos_b its first and last position).
static void write_core_to_core_rows(const struct run *run, struct report_csv *csv)
{
	const struct c2c *m = &run->c2c;

	for (size_t i = 0; i < m->nr_pairs; i++) {
		const struct c2c_pair *p = &m->pairs[i];

		report_csv_str(csv, "core_to_core");
		report_csv_str(csv, "cas_ping_pong");
		report_csv_str(csv, topo_relation_name(p->rel));
		report_csv_u64(csv, m->pus[p->pos_a]);
		report_csv_u64(csv, m->pus[p->pos_b]);
		report_csv_u64(csv, p->bound);
		report_csv_u64(csv, 2);
		report_csv_u64(csv, 0);
		report_csv_u64(csv, m->round_trips);
		report_csv_u64(csv, m->nr_rounds);
		report_csv_double(csv, p->s.median);	// one-way ns
		report_csv_double(csv, p->s.p05);
		report_csv_double(csv, p->s.p95);
		for (int k = 0; k < 5; k++)	// speedup .. coherence: not for the map
			report_csv_double(csv, NAN);
		report_csv_u64(csv, p->pos_a);
		report_csv_u64(csv, p->pos_b);
		lab_csv_end_row(csv);
	}
	for (size_t l = 0; l < C2C_NR_LEVELS; l++)
		for (size_t g = 0; g < m->nr_groups[l]; g++) {
			report_csv_str(csv, "core_to_core_group");
			report_csv_str(csv, c2c_levels[l].name);
			report_csv_str(csv, "");
			for (int k = 0; k < 15; k++)	// pu_a .. coherence: not for a box
				report_csv_double(csv, NAN);
			report_csv_u64(csv, m->groups[l][g].first);
			report_csv_u64(csv, m->groups[l][g].last);
			lab_csv_end_row(csv);
		}
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "placement", "pu_a", "pu_b", "pinned", "nr_threads",
		"distance_bytes", "iters_per_sample", "nr_samples", "ns_per_op_median",
		"ns_per_op_p05", "ns_per_op_p95", "speedup_vs_packed", "overlap_min", "count_ok",
		"cache_misses_per_op", "coherence_misses_per_op", "pos_a", "pos_b",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		report_csv_str(&csv, experiment_names[p->experiment]);
		report_csv_str(&csv, p->kind);
		report_csv_str(&csv, p->placement < TOPO_NR_RELATIONS ? topo_relation_name(p->placement)
								       : "spread");
		report_csv_double(&csv, p->pu_a);
		report_csv_double(&csv, p->pu_b >= 0 ? (double)p->pu_b : NAN);
		report_csv_u64(&csv, p->bound);
		report_csv_u64(&csv, p->nr_threads);
		report_csv_u64(&csv, p->distance);
		report_csv_u64(&csv, p->iters);
		report_csv_u64(&csv, p->ns.nr_samples);
		report_csv_double(&csv, p->ns.median);
		report_csv_double(&csv, p->ns.p05);
		report_csv_double(&csv, p->ns.p95);
		report_csv_double(&csv, speedup_vs_packed(run, p));
		report_csv_double(&csv, p->overlap);
		report_csv_u64(&csv, p->count_ok);
		report_csv_double(&csv, p->per_op[SLOT_CACHE_MISSES]);
		report_csv_double(&csv, p->per_op[SLOT_COHERENCE]);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	write_core_to_core_rows(run, &csv);
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "usable_pus", "%u", run->lab.nr_allowed_pus);
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		char key[64];

		snprintf(key, sizeof(key), "placement.%s", topo_relation_name(rel));
		if (run->have_pair[rel])
			report_kv(m, key, "PUs %u and %u", run->pair[rel][0], run->pair[rel][1]);
		else
			report_kv(m, key, "none on this machine");
	}
	report_kv(m, "counter_bytes", "4 (uint32_t)");
}

// ---- setup ---------------------------------------------------------------------------------------

enum { OPT_MAX_THREADS = 256 };

static int on_option(int val, const char *arg, void *ctx)
{
	uint64_t v;

	if (val != OPT_MAX_THREADS || cli_arg_u64("--max-threads", arg, 2, MAX_THREADS, &v) < 0)
		return -EINVAL;
	*(unsigned *)ctx = (unsigned)v;
	return 0;
}

static void plan(struct run *run)
{
	if (!run->lab.have_topo)
		die("hwloc could not load the topology: this lab places threads with it");
	if (!run->lab.allowed_pus)
		die("cannot read this process's CPU affinity");
	run->line = topo_line_bytes(&run->lab.topo);
	printf("placements:");
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		unsigned *pair = run->pair[rel];

		run->have_pair[rel] = topo_pick_pair(&run->lab.topo, rel, run->lab.allowed_pus,
						     &pair[0], &pair[1]) == 0;
		if (run->have_pair[rel])
			printf(" %s (PUs %u, %u)", topo_relation_name(rel), pair[0], pair[1]);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	static struct run run = { .max_threads = 8 };
	static const struct option options[] = {
		{ "max-threads", required_argument, NULL, OPT_MAX_THREADS },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "05-false-sharing",
		.summary = "Measures what counters on one cache line cost threads on two PUs, for every "
			   "placement this machine offers, and what padding fixes.",
		.options_help = "  --max-threads N    most threads in the thread sweep (default 8)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.max_threads,
	};
	// parse -> describe the machine (the threads pin themselves: the main thread stays free)
	lab_init(&run.lab, &info, "Lab 5: false sharing", argc, argv);
	counters_init(&run.probe, metrics, NR_METRICS);
	lab_print_counters(&run.probe);
	plan(&run);
	lab_prediction("two threads incrementing counters on one %u-byte line are several times "
		       "(2x or more) slower than with the counters a line apart: the line bounces "
		       "between their caches; the cost drops at %u bytes (or 128 with adjacent-line "
		       "prefetching)", run.line, run.line);
	lab_prediction("on one PU, or on SMT siblings sharing an L1, there is nothing to bounce: "
		       "little or no effect; one shared atomic counter is slower still, and "
		       "alignas(64) is as good as alignas(128) where the line is 64 bytes");
	// What the coherence event will show follows from what it counts (common/counter-events.md):
	// an increment loads its counter before it stores, so every event here sees the bounces.
	const struct counters_slot *coherence = &run.probe.slots[SLOT_COHERENCE];
	if (coherence->event)
		lab_prediction("%s counts %s: up to one per increment while the two counters share a "
			       "line (each increment loads the line the other core just wrote), about 0 "
			       "a line apart; a pair on two sockets is not counted by it",
			       coherence->event, coherence->counts);

	// measure
	printf("measuring:");
	measure_placements(&run);
	printf(" threads...");
	fflush(stdout);
	measure_threads(&run);
	printf(" core-to-core...");
	fflush(stdout);
	measure_core_to_core(&run);
	printf(" done\n");

	// report
	print_tables(&run);
	print_core_to_core(&run);
	printf("\n");
	verdicts(&run);
	verdict_core_to_core(&run);
	lab_note_missing_counters(&run.probe);
	write_csv(&run);
	lab_write_manifest(&run.lab, &run.probe, manifest_extra, &run);

	// release
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++)
		compare_samples_release(&run.result[rel].samples);
	for (size_t i = 0; i < run.c2c.nr_pairs; i++)
		free(run.c2c.pairs[i].ns);
	counters_release(&run.probe);
	lab_finish(&run.lab);
	return 0;
}
