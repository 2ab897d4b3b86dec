// SPDX-License-Identifier: MIT
// Lab 5: what independent counters on one cache line cost two cores (false sharing), what one
// shared counter costs (true sharing), and what padding with alignas fixes, for each way this
// machine's PUs can be paired (same PU, SMT siblings, shared L2, shared L3, other package).
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

#include "cli.h"
#include "clock.h"
#include "counters.h"
#include "die.h"
#include "lab.h"
#include "report.h"
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

// Counted in every worker thread, in this order.
static const enum counters_metric metrics[] = { COUNTERS_CACHE_MISSES, COUNTERS_COHERENCE };
#define NR_METRICS (sizeof(metrics) / sizeof(metrics[0]))

struct point {
	enum experiment experiment;
	const char *kind;		// plain/atomic, or the layout's name
	enum topo_relation placement;
	unsigned nr_threads;
	unsigned distance;
	int pu_a, pu_b;			// where the first two threads were seen running
	bool bound;			// every thread pinned and verified
	uint64_t iters;
	struct stats ns;		// per increment, per thread
	bool count_ok;			// every counter holds exactly what was added
	double per_op[NR_METRICS];	// counter events per increment
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
	uint64_t elapsed_ns;	// of the last sample
	double counts[NR_METRICS];
};

struct team {
	pthread_barrier_t start, done;
	enum mode mode;
	uint64_t iters;
	bool quit;
	const struct topo *topo;
	unsigned nr;
	struct worker w[MAX_THREADS];
};

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
		counters_start(&c);
		uint64_t start = clock_now_ns();
		if (t->mode == PLAIN)
			increment_plain((volatile uint32_t *)w->counter, t->iters);
		else
			increment_atomic((_Atomic uint32_t *)(void *)w->counter, t->iters);
		w->elapsed_ns = clock_now_ns() - start;
		counters_stop(&c, w->counts);
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

// One sample: every thread adds iters to its counter. Returns the slowest thread's time.
static uint64_t team_sample(struct team *t, uint64_t iters)
{
	uint64_t slowest = 0;

	t->iters = iters;
	pthread_barrier_wait(&t->start);
	pthread_barrier_wait(&t->done);
	for (unsigned i = 0; i < t->nr; i++)
		if (t->w[i].elapsed_ns > slowest)
			slowest = t->w[i].elapsed_ns;
	return slowest;
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

struct run {
	struct lab lab;
	unsigned max_threads;
	unsigned line;
	struct point points[MAX_POINTS];
	size_t nr_points;
	bool have_pair[TOPO_NR_RELATIONS];
	unsigned pair[TOPO_NR_RELATIONS][2];
};

static struct point *measure(struct run *run, enum experiment e, const char *kind,
			     enum topo_relation placement, const unsigned *pus, unsigned nr,
			     unsigned distance, enum mode mode)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points (raise MAX_POINTS)");
	struct point *p = &run->points[run->nr_points++];
	size_t bytes = (size_t)nr * (distance ? distance : 4) + 4096;
	char *base = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
	static struct team team;	// large; one at a time
	unsigned n = run->lab.opt.nr_reps;
	double samples[1000], totals[NR_METRICS] = { 0 };

	if (!base)
		die("out of memory");
	memset(base, 0, bytes);
	*p = (struct point){ .experiment = e, .kind = kind, .placement = placement,
			     .nr_threads = nr, .distance = distance };
	team_start(&team, &run->lab.topo, pus, nr, base, distance, mode);

	// Calibrate: a short trial gives the time per increment; scale so a sample lasts
	// min_sample_ns. The trial and one full sample are the warm-up.
	uint64_t trial = 20000;
	uint64_t ns = team_sample(&team, trial);
	p->iters = (uint64_t)((double)trial * (double)run->lab.opt.min_sample_ns / (double)(ns + 1));
	if (p->iters < 1000)
		p->iters = 1000;
	(void)team_sample(&team, p->iters);
	memset(base, 0, bytes);	// count only the measured samples from here
	for (unsigned s = 0; s < n; s++) {
		samples[s] = (double)team_sample(&team, p->iters) / (double)p->iters;
		for (unsigned i = 0; i < nr; i++)
			for (size_t k = 0; k < NR_METRICS; k++)
				totals[k] += team.w[i].counts[k];	// NAN stays NAN
	}
	p->bound = true;
	for (unsigned i = 0; i < nr; i++)
		p->bound = p->bound && team.w[i].bound;
	p->pu_a = team.w[0].pu_observed;
	p->pu_b = nr > 1 ? team.w[1].pu_observed : -1;
	team_stop(&team);

	// The invariant: plain increments on private counters and atomic ones anywhere lose nothing.
	uint64_t want = p->iters * n;
	p->count_ok = true;
	if (distance == 0) {
		p->count_ok = *(uint32_t *)base == (uint32_t)(want * nr);
	} else {
		for (unsigned i = 0; i < nr; i++)
			p->count_ok = p->count_ok && *(uint32_t *)(base + (size_t)i * distance) == (uint32_t)want;
	}
	for (size_t k = 0; k < NR_METRICS; k++)
		p->per_op[k] = totals[k] / ((double)want * nr);
	if (stats_compute(&p->ns, samples, n) != 0)
		die("bad samples");
	free(base);
	return p;
}

static void measure_placements(struct run *run)
{
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		printf(" %s", topo_relation_name(rel));
		fflush(stdout);
		for (size_t d = 0; d < NR_DISTANCES; d++) {
			for (int mode = PLAIN; mode <= ATOMIC; mode++) {
				// One shared counter needs atomic increments: plain ones would lose
				// updates (a data race), which is another lab.
				if (distances[d] == 0 && mode == PLAIN)
					continue;
				measure(run, DISTANCE, mode_names[mode], rel, run->pair[rel], 2,
					distances[d], mode);
			}
		}
		const struct { const char *name; unsigned size; } layouts[] = {
			{ "packed", sizeof(struct packed_counter) },
			{ "alignas_64", sizeof(struct aligned64_counter) },
			{ "alignas_line", run->line },	// alignas(hwloc's line size), sized at run time
			{ "alignas_128", sizeof(struct aligned128_counter) },
		};
		for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++)
			measure(run, LAYOUT, layouts[l].name, rel, run->pair[rel], 2, layouts[l].size,
				ATOMIC);
	}
}

// More threads, one per allowed PU in logical order: packed against padded counters.
static void measure_threads(struct run *run)
{
	unsigned pus[MAX_THREADS], n = 0;
	int pu = -1;

	while ((pu = hwloc_bitmap_next(run->lab.allowed_pus, pu)) >= 0 && n < run->max_threads)
		pus[n++] = (unsigned)pu;
	for (unsigned t = 2; t <= n; t *= 2) {
		measure(run, THREADS, "packed", TOPO_NR_RELATIONS, pus, t, 4, ATOMIC);
		measure(run, THREADS, "padded", TOPO_NR_RELATIONS, pus, t, run->line, ATOMIC);
	}
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

static void print_tables(const struct run *run)
{
	printf("\nns per increment (median of %u samples) by distance between the counters\n",
	       run->lab.opt.nr_reps);
	printf("  %-14s %-6s", "placement", "mode");
	for (size_t d = 0; d < NR_DISTANCES; d++)
		printf(" %7u", distances[d]);
	printf("\n");
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		for (int mode = PLAIN; mode <= ATOMIC; mode++) {
			printf("  %-14s %-6s", topo_relation_name(rel), mode_names[mode]);
			for (size_t d = 0; d < NR_DISTANCES; d++) {
				const struct point *p = find(run, DISTANCE, mode_names[mode], rel,
							     distances[d]);
				if (p)
					printf(" %7.2f", p->ns.median);
				else
					printf(" %7s", "-");
			}
			printf("\n");
		}
	}
	printf("\nThe layouts (atomic increments): sizeof(struct) = distance\n");
	printf("  %-14s %12s %12s %12s %12s\n", "placement", "packed", "alignas(64)",
	       "alignas(line)", "alignas(128)");
	for (int rel = 0; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		printf("  %-14s", topo_relation_name(rel));
		static const char *const names[] = { "packed", "alignas_64", "alignas_line",
						     "alignas_128" };
		for (size_t l = 0; l < 4; l++) {
			for (size_t i = 0; i < run->nr_points; i++) {
				const struct point *p = &run->points[i];

				if (p->experiment == LAYOUT && !strcmp(p->kind, names[l]) &&
				    (int)p->placement == rel)
					printf(" %7.2f (%3u)", p->ns.median, p->distance);
			}
		}
		printf("\n");
	}
}

// The smallest distance from which plain increments cost at most 1.3x the 256-byte figure.
static unsigned drop_distance(const struct run *run, int rel)
{
	const struct point *far = find(run, DISTANCE, "plain", rel, 256);

	for (size_t d = 1; d < NR_DISTANCES && far; d++) {
		const struct point *p = find(run, DISTANCE, "plain", rel, distances[d]);

		if (p && p->ns.median <= 1.3 * far->ns.median)
			return distances[d];
	}
	return 0;
}

static void verdicts(struct run *run)
{
	bool any_pair = false, any_pair_recorded = false;

	for (int rel = TOPO_SMT_SIBLINGS; rel < TOPO_NR_RELATIONS; rel++) {
		if (!run->have_pair[rel])
			continue;
		any_pair = true;
		const struct point *packed = find(run, DISTANCE, "plain", rel, 4);
		const struct point *padded = find(run, DISTANCE, "plain", rel, run->line);
		const struct point *shared = find(run, DISTANCE, "atomic", rel, 0);
		const struct point *apad = find(run, DISTANCE, "atomic", rel, run->line);
		if (!padded)
			padded = find(run, DISTANCE, "plain", rel, 64);
		if (!apad)
			apad = find(run, DISTANCE, "atomic", rel, 64);
		double ratio = packed->ns.median / padded->ns.median;
		unsigned drop = drop_distance(run, rel);

		if (!any_pair_recorded) {	// the nearest two-PU placement is the headline
			lab_headline(&run->lab, "false_sharing_cost", ratio, "x", NAN);
			lab_headline(&run->lab, "cost_drop_distance", drop, "bytes", run->line);
			any_pair_recorded = true;
		}

		lab_verdict(&run->lab,
			    "%s (PUs %d and %d): neighbours 4 bytes apart cost %.2f ns per increment, "
			    "%u bytes apart %.2f ns: false sharing costs %.1fx; one shared atomic counter "
			    "%.2f ns (%.1fx a padded atomic one); the cost drops from %u bytes, hwloc's "
			    "line is %u B%s",
			    topo_relation_name(rel), packed->pu_a, packed->pu_b, packed->ns.median,
			    padded->distance, padded->ns.median, ratio, shared->ns.median,
			    shared->ns.median / apad->ns.median, drop, run->line,
			    drop == run->line ? " (as predicted)"
			    : drop == 2 * run->line ? " (twice the line: the adjacent-line prefetcher "
						      "pairs lines, or the line is 128 B)"
						    : "");
		if (ratio < 1.3) {
			lab_note("%s: the effect is under 1.3x. Likely: %s", topo_relation_name(rel),
				 rel == TOPO_SMT_SIBLINGS
					 ? "SMT siblings share one L1, so their line never moves"
				 : lab_in_vm() ? "a VM whose two vCPUs run on one physical core, or a host "
					"that moves them; run on bare metal to see it"
				      : "a CPU that keeps such lines close; compare the atomic rows");
		}
	}
	if (!any_pair)
		lab_note("this process may use only %u PU: false sharing needs two (run without "
			 "taskset, or give the VM two CPUs); only the same-PU numbers were measured",
			 run->lab.nr_allowed_pus);
	const struct point *same = find(run, DISTANCE, "plain", TOPO_SAME_PU, 4);
	const struct point *same_pad = find(run, DISTANCE, "plain", TOPO_SAME_PU, 64);
	if (same && same_pad)
		lab_headline(&run->lab, "same_pu_packed_over_padded",
			     same->ns.median / same_pad->ns.median, "x", NAN);
	if (same && same_pad)
		lab_verdict(&run->lab,
			    "same PU: packed %.2f ns, padded %.2f ns (%.1fx): two threads taking turns on "
			    "one PU share its cache, so there is nothing to bounce",
			    same->ns.median, same_pad->ns.median, same->ns.median / same_pad->ns.median);
	bool all_ok = true, all_bound = true;
	for (size_t i = 0; i < run->nr_points; i++) {
		all_ok = all_ok && run->points[i].count_ok;
		all_bound = all_bound && run->points[i].bound;
	}
	lab_verdict(&run->lab, "every counter held exactly the increments made: %s",
		    all_ok ? "yes" : "NO (a bug: see data.csv count_ok)");
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

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "placement", "pu_a", "pu_b", "pinned", "nr_threads",
		"distance_bytes", "iters_per_sample", "nr_samples", "ns_per_op_median",
		"ns_per_op_p05", "ns_per_op_p95", "speedup_vs_packed", "count_ok",
		"cache_misses_per_op", "coherence_misses_per_op",
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
		report_csv_u64(&csv, p->count_ok);
		report_csv_double(&csv, p->per_op[0]);
		report_csv_double(&csv, p->per_op[1]);
		lab_csv_end_row(&csv);
	}
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
	struct counters probe;

	// parse -> describe the machine (the threads pin themselves: the main thread stays free)
	lab_init(&run.lab, &info, "Lab 5: false sharing", argc, argv);
	counters_init(&probe, metrics, NR_METRICS);
	lab_print_counters(&probe);
	plan(&run);
	lab_prediction("two threads incrementing counters on one %u-byte line are several times "
		       "slower than with the counters a line apart: the line bounces between their "
		       "caches; the cost drops at %u bytes (or 128 with adjacent-line prefetching)",
		       run.line, run.line);
	lab_prediction("on one PU, or on SMT siblings sharing an L1, there is nothing to bounce: "
		       "little or no effect; one shared atomic counter is slower still");

	// measure
	printf("measuring:");
	measure_placements(&run);
	printf(" threads...");
	fflush(stdout);
	measure_threads(&run);
	printf(" done\n");

	// report
	print_tables(&run);
	printf("\n");
	verdicts(&run);
	lab_note_missing_counters(&probe);
	write_csv(&run);
	lab_write_manifest(&run.lab, &probe, manifest_extra, &run);

	// release
	counters_release(&probe);
	lab_finish(&run.lab);
	return 0;
}
