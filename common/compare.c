// SPDX-License-Identifier: MIT
// compare: interleaved rounds and paired ratios with an order-statistic interval (see compare.h).
#include "compare.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "guard.h"

const char *compare_status_name(enum compare_status status)
{
	switch (status) {
	case COMPARE_HOLDS:
		return "holds";
	case COMPARE_FAILS:
		return "fails";
	case COMPARE_INCONCLUSIVE:
		return "inconclusive";
	case COMPARE_SHOWN:
		return "shown";
	case COMPARE_NOT_SHOWN:
		break;
	}
	return "not_shown";
}

// ---- one sample, and what disturbed it --------------------------------------------------------

// The sample measure() is taking, for compare_sample_aux() and compare_sample_threads(); NULL
// outside a measure(). A measure() runs on the thread that runs the rounds, so one per thread.
struct sample_slot {
	double *aux;
	double threads_wait_ns, threads_ns;	// from compare_sample_threads(); 0 if not called
};
static _Thread_local struct sample_slot *current_sample;

void compare_sample_aux(size_t i, double value)
{
	if (current_sample && i < COMPARE_NR_AUX)
		current_sample->aux[i] = value;
}

void compare_sample_threads(double wait_ns, double thread_ns)
{
	if (!current_sample || !(thread_ns > 0))
		return;
	current_sample->threads_wait_ns += wait_ns > 0 ? wait_ns : 0;
	current_sample->threads_ns += thread_ns;
}

int compare_thread_wait_ns(double *ns)
{
	char buf[128];
	unsigned long long run, wait;
	int err = busy_read_proc("/proc/thread-self/schedstat", buf, sizeof(buf));

	if (err)
		return err;
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return -EINVAL;
	*ns = (double)wait;
	return 0;
}

// CPU time of the machine from /proc/stat: the aggregate line, and the watched CPUs' lines.
struct cpu_ticks {
	uint64_t steal, total;			// the whole machine
	uint64_t watched_busy, watched_total;	// the watched CPUs (busy includes steal)
	double self_s;				// this process and its children
	bool ok;
};

static double process_cpu_s(void)
{
	struct rusage self, children;

	(void)getrusage(RUSAGE_SELF, &self);	// cannot fail with valid arguments
	(void)getrusage(RUSAGE_CHILDREN, &children);
	return (clock_timeval_ms(self.ru_utime) + clock_timeval_ms(self.ru_stime) +
		clock_timeval_ms(children.ru_utime) + clock_timeval_ms(children.ru_stime)) / 1e3;
}

static void read_ticks(const cpu_set_t *watch, struct cpu_ticks *t)
{
	static char buf[1 << 16];	// one line per CPU: room for a few hundred
	uint64_t busy;

	memset(t, 0, sizeof(*t));
	t->self_s = process_cpu_s();
	if (busy_read_proc("/proc/stat", buf, sizeof(buf)) != 0 ||
	    busy_parse_stat(buf, &busy, &t->steal, &t->total) != 0)
		return;
	t->ok = true;
	for (char *line = strchr(buf, '\n'); watch && line; line = strchr(line + 1, '\n')) {
		unsigned cpu;
		int used = 0;

		if (sscanf(line + 1, "cpu%u %n", &cpu, &used) != 1 || !used || cpu >= CPU_SETSIZE ||
		    !CPU_ISSET(cpu, watch))
			continue;
		uint64_t b, st, tot;
		char one[256];

		// busy_parse_stat() reads a "cpu " line: give it this one under that name.
		snprintf(one, sizeof(one), "cpu %.*s", (int)strcspn(line + 1 + used, "\n"),
			 line + 1 + used);
		if (busy_parse_stat(one, &b, &st, &tot) == 0) {
			t->watched_busy += b + st;
			t->watched_total += tot;
		}
	}
}

// Why a round is disturbed, from its samples' waits and the machine's ticks; 0 when it is not.
struct round_check {
	double wait_ns, thread_ns;	// run-queue wait of the measured threads, and their time
	struct cpu_ticks before;
};

// /proc/stat counts CPU time in ticks: a share read over fewer than this many ticks of the watched
// CPUs is noise, and over more it still needs a few ticks of margin.
#define MIN_TICKS_TO_JUDGE 20
#define MARGIN_TICKS 3

// Whether other programs used more than their share of the watched CPUs between two readings:
// 1 yes, 0 no, -1 too short to tell.
static int others_too_busy(const struct cpu_ticks *before, const struct cpu_ticks *after)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	uint64_t watched = after->watched_total - before->watched_total;

	if (!before->ok || !after->ok || hz <= 0 || watched < MIN_TICKS_TO_JUDGE)
		return -1;
	// Their busy time less this process tree's own (which rusage counts exactly).
	double others_ticks = (double)(after->watched_busy - before->watched_busy) -
			      (after->self_s - before->self_s) * hz;
	return others_ticks > COMPARE_MAX_OTHERS_SHARE * (double)watched &&
	       others_ticks > MARGIN_TICKS;
}

// Whether a round was disturbed: 1 yes, 0 no, -1 its watched CPUs could not be judged (too short).
static int round_disturbed(const struct round_check *c, const cpu_set_t *watch)
{
	struct cpu_ticks after;

	if (c->thread_ns > 0 && c->wait_ns > COMPARE_MAX_WAIT_SHARE * c->thread_ns)
		return 1;
	read_ticks(watch, &after);
	if (!after.ok || !c->before.ok)
		return 0;
	uint64_t total = after.total - c->before.total;

	if (total >= MIN_TICKS_TO_JUDGE &&
	    (double)(after.steal - c->before.steal) > COMPARE_MAX_STEAL_SHARE * (double)total)
		return 1;
	return watch ? others_too_busy(&c->before, &after) : 0;
}

// ---- rounds ----------------------------------------------------------------------------------

// One process's rounds: values, aux and disturbed flags for rounds [first, first + n).
static int run_rounds(size_t nv, const struct compare_plan *plan, compare_measure_fn measure,
		      void *ctx, struct compare_samples *out, unsigned first, uint64_t *seed)
{
	size_t order[COMPARE_MAX_VARIANTS];
	unsigned n = plan->nr_rounds;
	unsigned budget = n;	// redos left: as many as there are rounds
	double warm_value = NAN, warm_aux[COMPARE_MAX_VARIANTS * COMPARE_NR_AUX];

	for (size_t v = 0; v < nv; v++)
		order[v] = v;
	for (unsigned i = plan->warmup_round ? 0 : 1; i <= n; i++) {
		bool warmup = i == 0;
		unsigned r = warmup ? first : first + i - 1;

		// Fisher-Yates: each round runs the variants in a new order, so that no variant
		// always runs first (after the harness's own work) or right after a given other.
		for (size_t k = nv - 1; k > 0; k--) {
			size_t j = (size_t)(bench_rand(seed) % (k + 1));
			size_t t = order[k];

			order[k] = order[j];
			order[j] = t;
		}
		struct round_check check = { 0 };

		read_ticks(plan->watch_cpus, &check.before);
		for (size_t k = 0; k < nv; k++) {
			size_t v = order[k];
			struct sample_slot slot = {
				.aux = warmup ? &warm_aux[v * COMPARE_NR_AUX]
					      : &out->aux[((size_t)r * nv + v) * COMPARE_NR_AUX],
			};
			double *value = warmup ? &warm_value : &out->values[(size_t)r * nv + v];
			double wait0 = NAN, wait1 = NAN;

			for (size_t a = 0; a < COMPARE_NR_AUX; a++)
				slot.aux[a] = NAN;
			(void)compare_thread_wait_ns(&wait0);	// NAN stays where unknown
			uint64_t start = clock_now_ns();
			current_sample = &slot;
			int err = measure(ctx, v, r, value);
			current_sample = NULL;
			double wall = (double)(clock_now_ns() - start);

			if (err)
				return err;
			(void)compare_thread_wait_ns(&wait1);
			if (slot.threads_ns > 0) {
				check.wait_ns += slot.threads_wait_ns;
				check.thread_ns += slot.threads_ns;
			} else if (!isnan(wait0) && !isnan(wait1)) {
				check.wait_ns += wait1 - wait0;
				check.thread_ns += wall;
			}
		}
		if (warmup)
			continue;
		int verdict = round_disturbed(&check, plan->watch_cpus);
		bool disturbed = verdict == 1;

		if (verdict < 0)
			out->nr_unjudged++;
		if (disturbed && budget) {
			// Run it again: the same round number, a fresh order.
			budget--;
			out->nr_redone++;
			i--;
			continue;
		}
		out->disturbed[r] = disturbed;
	}
	return 0;
}

// What a forked process of the plan hands back: its rounds' values, aux figures and flags, its
// counts, and where its shuffles left the generator, in memory it shares with the parent.
struct child_job {
	size_t nv;
	const struct compare_plan *plan;
	compare_measure_fn measure;
	void *ctx;
	struct compare_samples *out;	// the child's copy: where run_rounds() writes
	unsigned first;
	uint64_t seed;
	// Shared with the parent (guard_shared_alloc):
	double *values, *aux;
	unsigned char *disturbed;
	unsigned *counts;		// nr_redone, nr_unjudged
	uint64_t *seed_out;
	int *err;
};

static int child_rounds(void *arg)
{
	struct child_job *j = arg;
	size_t n = j->plan->nr_rounds, at = (size_t)j->first * j->nv;

	if (j->plan->process_setup)
		j->plan->process_setup(j->plan->setup_ctx);
	*j->err = run_rounds(j->nv, j->plan, j->measure, j->ctx, j->out, j->first, &j->seed);
	memcpy(j->values, &j->out->values[at], n * j->nv * sizeof(double));
	memcpy(j->aux, &j->out->aux[at * COMPARE_NR_AUX], n * j->nv * COMPARE_NR_AUX * sizeof(double));
	memcpy(j->disturbed, &j->out->disturbed[j->first], n);
	j->counts[0] = j->out->nr_redone;
	j->counts[1] = j->out->nr_unjudged;
	*j->seed_out = j->seed;
	return 0;
}

// Runs one process's rounds in a supervised child (guard.h: it dies with the lab, Ctrl-C kills
// and reaps it, it starts with default signal handlers) and copies them back.
static int run_in_child(size_t nv, const struct compare_plan *plan, compare_measure_fn measure,
			void *ctx, struct compare_samples *out, unsigned first, uint64_t *seed)
{
	size_t n = plan->nr_rounds, values = n * nv * sizeof(double);
	size_t aux = values * COMPARE_NR_AUX;
	size_t bytes = values + aux + n + 2 * sizeof(unsigned) + sizeof(uint64_t) + sizeof(int) + 64;
	char *shared = guard_shared_alloc(bytes);
	struct guard_result result;

	if (!shared)
		return -ENOMEM;
	// Doubles first, then the smaller fields: every one on its own alignment.
	struct child_job job = {
		.nv = nv, .plan = plan, .measure = measure, .ctx = ctx, .out = out, .first = first,
		.seed = *seed, .values = (double *)(void *)shared,
		.aux = (double *)(void *)(shared + values),
		.seed_out = (uint64_t *)(void *)(shared + values + aux),
		.counts = (unsigned *)(void *)(shared + values + aux + sizeof(uint64_t)),
		.err = (int *)(void *)(shared + values + aux + sizeof(uint64_t) + 2 * sizeof(unsigned)),
		.disturbed = (unsigned char *)shared + values + aux + sizeof(uint64_t) +
			     2 * sizeof(unsigned) + sizeof(int),
	};
	*job.err = -ECHILD;	// stays so if the child dies before it reports
	int err = guard_run(child_rounds, &job, NULL, &result);

	if (!err && (result.outcome != GUARD_EXITED || result.exit_status != 0))
		err = -ECHILD;
	if (!err)
		err = *job.err;
	if (!err) {
		size_t at = (size_t)first * nv;

		memcpy(&out->values[at], job.values, values);
		memcpy(&out->aux[at * COMPARE_NR_AUX], job.aux, aux);
		memcpy(&out->disturbed[first], job.disturbed, n);
		// The child counted onto the parent's totals, and its shuffles continue the parent's
		// sequence: both come back, so the next process goes on from there.
		out->nr_redone = job.counts[0];
		out->nr_unjudged = job.counts[1];
		*seed = *job.seed_out;
	}
	guard_shared_free(shared, bytes);
	return err;
}

// compare_run() calls in this process, for the manifest (compare_nr_runs()).
static unsigned nr_runs;

unsigned compare_nr_runs(void)
{
	return nr_runs;
}

int compare_run(size_t nr_variants, const struct compare_plan *plan, compare_measure_fn measure,
		void *ctx, struct compare_samples *out)
{
	// A fixed seed: the same shuffles on every run and machine, so two runs differ only by
	// what the machine did.
	uint64_t seed = 0x2545f4914f6cdd1du;
	struct busy_meter meter;
	unsigned np = plan->nr_processes ? plan->nr_processes : 1;

	memset(out, 0, sizeof(*out));
	if (nr_variants == 0 || nr_variants > COMPARE_MAX_VARIANTS || plan->nr_rounds == 0 ||
	    np > 255)
		return -EINVAL;
	nr_runs++;
	size_t n = (size_t)plan->nr_rounds * np;

	out->values = calloc(n * nr_variants, sizeof(*out->values));
	out->aux = calloc(n * nr_variants * COMPARE_NR_AUX, sizeof(*out->aux));
	out->disturbed = calloc(n, 1);
	out->process = calloc(n, 1);
	if (!out->values || !out->aux || !out->disturbed || !out->process) {
		compare_samples_release(out);
		return -ENOMEM;
	}
	out->nr_variants = nr_variants;
	out->nr_rounds = (unsigned)n;
	out->nr_processes = np;
	struct cpu_ticks at_start, at_end;
	read_ticks(plan->watch_cpus, &at_start);
	busy_start(&meter);
	for (unsigned p = 0; p < np; p++) {
		unsigned first = p * plan->nr_rounds;
		int err = np == 1 ? run_rounds(nr_variants, plan, measure, ctx, out, first, &seed)
				  : run_in_child(nr_variants, plan, measure, ctx, out, first, &seed);

		if (err) {
			compare_samples_release(out);
			return err;
		}
		memset(&out->process[first], (int)p, plan->nr_rounds);
		busy_sample(&meter);	// between processes: never inside a timed region
	}
	busy_stop(&meter, &out->busy);
	// Rounds too short for /proc/stat's ticks are judged together: when other programs used
	// their share of the watched CPUs over the whole comparison, none of them is clean.
	read_ticks(plan->watch_cpus, &at_end);
	int whole = plan->watch_cpus && out->nr_unjudged ? others_too_busy(&at_start, &at_end) : 0;
	// Too short even together for the ticks (a quick run's few milliseconds): then another task
	// ready to run on the machine for most of the comparison (loadavg's count, busy.h) says it.
	if (whole == 1 || (whole < 0 && out->busy.runnable_others >= 1))
		memset(out->disturbed, 1, n);
	// A busy machine that disturbed half as many rounds as were kept disturbed the rest too: a
	// round that ran between two of another program's time slices starts with caches, and on a
	// CPU without PCID (page-table isolation, no tagged TLB) the whole TLB, emptied by a switch.
	// Seen here: a busy loop sharing this VM's CPU left every other round clean by its run-queue
	// wait, and the huge-page claim of Lab 10 came out 0.37x in one run and 7.8x in the next.
	// Only where other work was seen: a quiet machine can disturb the short rounds of a
	// comparison in its first second (a daemon's wake-up) without harming the ones kept.
	bool others_seen = out->busy.runnable_others >= 1 || out->busy.others_cpus >= 0.25;
	if ((size_t)out->nr_redone * 2 >= n && others_seen)
		memset(out->disturbed, 1, n);
	return 0;
}

int compare_rounds(size_t nr_variants, unsigned nr_rounds, compare_measure_fn measure, void *ctx,
		   struct compare_samples *out)
{
	struct compare_plan plan = { .nr_rounds = nr_rounds, .nr_processes = 1 };

	return compare_run(nr_variants, &plan, measure, ctx, out);
}

void compare_samples_release(struct compare_samples *s)
{
	free(s->values);
	free(s->aux);
	free(s->disturbed);
	free(s->process);
	memset(s, 0, sizeof(*s));
}

unsigned compare_nr_disturbed(const struct compare_samples *s)
{
	unsigned n = 0;

	for (unsigned r = 0; s->disturbed && r < s->nr_rounds; r++)
		n += s->disturbed[r] != 0;
	return n;
}

int compare_variant_stats(const struct compare_samples *s, size_t variant, struct stats *out)
{
	return compare_difference_stats(s, variant, COMPARE_NONE, 1, out);
}

// scale x (sample(a) - sample(b)) of round r; b COMPARE_NONE: scale x sample(a).
static double round_difference(const struct compare_samples *s, size_t a, size_t b, double scale,
			       unsigned r)
{
	return scale * (compare_sample(s, a, r) - (b == COMPARE_NONE ? 0 : compare_sample(s, b, r)));
}

int compare_difference_stats(const struct compare_samples *s, size_t a, size_t b, double scale,
			     struct stats *out)
{
	if (a >= s->nr_variants || (b != COMPARE_NONE && b >= s->nr_variants) || s->nr_rounds == 0)
		return -EINVAL;
	double *v = malloc(s->nr_rounds * sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	// Undisturbed rounds only, as in the ratios; all of them if none is.
	for (unsigned r = 0; r < s->nr_rounds; r++)
		if (!s->disturbed || !s->disturbed[r])
			v[n++] = round_difference(s, a, b, scale, r);
	for (unsigned r = 0; n == 0 && r < s->nr_rounds; r++)
		v[r] = round_difference(s, a, b, scale, r);
	int err = stats_compute(out, v, n ? n : s->nr_rounds);
	free(v);
	return err;
}

static int time_kernel(void *ctx, size_t variant, unsigned round, double *value)
{
	struct compare_kernel *k = &((struct compare_kernel *)ctx)[variant];

	(void)round;
	uint64_t start = clock_now_ns();
	k->kernel(k->arg, k->iters);
	uint64_t end = clock_now_ns();
	*value = (double)(end - start) / (double)k->iters;
	return 0;
}

int compare_kernels(struct compare_kernel *variants, size_t nr_variants,
		    const struct compare_plan *plan, uint64_t min_sample_ns, uint64_t max_iters,
		    struct compare_samples *out)
{
	struct compare_plan p = *plan;

	if (max_iters == 0)
		max_iters = (uint64_t)1 << 32;
	// Calibration warms each variant up (caches, branch predictors, lazily bound symbols);
	// then each process runs one full-length round that is dropped, as bench_run() drops a
	// sample: the first still pays for frequency ramp-up, for pages the shorter calibration
	// runs did not reach and, in a forked process, for its copy-on-write faults.
	for (size_t v = 0; v < nr_variants; v++) {
		struct compare_kernel *k = &variants[v];

		if (k->iters == 0)
			k->iters = clock_calibrate(k->kernel, k->arg, min_sample_ns, max_iters);
	}
	p.warmup_round = true;
	return compare_run(nr_variants, &p, time_kernel, variants, out);
}

// log C(n, i) / 2^n, for the binomial(n, 1/2) probabilities without overflow at large n.
static double log_binomial_half(size_t n, size_t i)
{
	return lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
	       (double)n * log(2.0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double compare_median_interval(double *values, size_t nr, double *median, double *low,
			       double *high)
{
	qsort(values, nr, sizeof(values[0]), cmp_double);
	*median = stats_quantile_sorted(values, nr, 0.5);
	// tail(k) = P(Binomial(nr, 1/2) < k); [x_(k), x_(nr+1-k)] misses the median with
	// probability 2 * tail(k). Take the largest k whose coverage is still >= 95%.
	size_t k = 1;
	double tail = exp(log_binomial_half(nr, 0));	// P(X < 1)
	double coverage = 1 - 2 * tail;

	while (k + 1 <= (nr + 1) / 2) {
		double next_tail = tail + exp(log_binomial_half(nr, k));	// P(X < k + 1)

		if (1 - 2 * next_tail < 0.95)
			break;
		tail = next_tail;
		coverage = 1 - 2 * tail;
		k++;
	}
	*low = values[k - 1];
	*high = values[nr - k];
	return coverage < 0 ? 0 : coverage;
}

static void ratio_unknown(struct compare_ratio *out)
{
	*out = (struct compare_ratio){ .median = NAN, .low = NAN, .high = NAN, .coverage = 0,
				       .nr_processes = 1 };
}

static bool usable(double x)
{
	return isfinite(x) && x > 0;
}

// The median of the usable values and its interval; returns the coverage, or -1 if none.
static double median_interval_of(const double *values, size_t nr, double *median, double *low,
				 double *high, unsigned *nr_used)
{
	double *copy = malloc((nr ? nr : 1) * sizeof(*copy));
	size_t n = 0;
	double coverage = -1;

	if (!copy)
		return -1;
	for (size_t i = 0; i < nr; i++)
		if (usable(values[i]))
			copy[n++] = values[i];
	if (n)
		coverage = compare_median_interval(copy, n, median, low, high);
	*nr_used = (unsigned)n;
	free(copy);
	return coverage;
}

// One round's ratio: num / den where both are positive; a positive num over a den that is zero
// or negative (a baseline subtracted left nothing) is larger than any ratio, and the mirror image
// smaller than any: dropping them would drop the most extreme rounds and bias the median. NAN
// (left out) where both are zero or negative, or either is not finite.
static double round_ratio(double num, double den)
{
	if (!isfinite(num) || !isfinite(den) || (num <= 0 && den <= 0))
		return NAN;
	if (den <= 0)
		return INFINITY;
	return num <= 0 ? 0 : num / den;
}

// The median and interval of the ratios that are not NAN; fills out's figures. -EINVAL if none.
static int ratio_interval(double *ratios, size_t nr, struct compare_ratio *out)
{
	size_t n = 0;

	for (size_t i = 0; i < nr; i++)
		if (!isnan(ratios[i]))
			ratios[n++] = ratios[i];
	out->nr_unusable += (unsigned)(nr - n);
	out->nr_rounds = (unsigned)n;
	if (n == 0)
		return -EINVAL;
	out->coverage = compare_median_interval(ratios, n, &out->median, &out->low, &out->high);
	return 0;
}

int compare_paired_ratio(const double *num, const double *den, size_t nr_rounds,
			 struct compare_ratio *out)
{
	double *ratios = malloc((nr_rounds ? nr_rounds : 1) * sizeof(*ratios));

	ratio_unknown(out);
	if (!ratios)
		return -ENOMEM;
	for (size_t r = 0; r < nr_rounds; r++)
		ratios[r] = round_ratio(num[r], den[r]);
	int err = ratio_interval(ratios, nr_rounds, out);

	free(ratios);
	if (err) {
		unsigned unusable = out->nr_unusable;

		ratio_unknown(out);
		out->nr_unusable = unusable;
	}
	return err;
}

// Too few undisturbed rounds to judge: fewer than COMPARE_MIN_CLEAN_SHARE of them, or fewer than
// 3 (all of them, below 3).
static bool too_few_clean(unsigned clean, unsigned total)
{
	unsigned need = (unsigned)ceil(COMPARE_MIN_CLEAN_SHARE * total);

	if (need < (total < 3 ? total : 3))
		need = total < 3 ? total : 3;
	return clean < need;
}

int compare_ratio_of(const struct compare_samples *s, const double *num, const double *den,
		     struct compare_ratio *out)
{
	unsigned n = s->nr_rounds, clean = n - compare_nr_disturbed(s);
	double *ratios = malloc((n ? n : 1) * sizeof(*ratios));

	ratio_unknown(out);
	if (!ratios)
		return -ENOMEM;
	// Undisturbed rounds only; all of them when none is left, to show what was measured.
	size_t m = 0;
	// (A hand-made compare_samples may have no disturbed or process arrays: none disturbed,
	// one process.)
	for (unsigned r = 0; r < n; r++)
		if (!s->disturbed || !s->disturbed[r] || clean == 0)
			ratios[m++] = round_ratio(num[r], den[r]);
	int err = ratio_interval(ratios, m, out);

	// Each process's own median: the interval is widened to hold them all, so that what one
	// process had fixed (its placement, its pages) is inside it.
	for (unsigned p = 0; !err && s->process && s->nr_processes > 1 && p < s->nr_processes; p++) {
		size_t k = 0;
		double med, lo, hi;

		for (unsigned r = 0; r < n; r++) {
			double x = round_ratio(num[r], den[r]);

			if (s->process[r] == p && (!s->disturbed || !s->disturbed[r] || clean == 0) &&
			    !isnan(x))
				ratios[k++] = x;
		}
		if (k == 0)
			continue;
		(void)compare_median_interval(ratios, k, &med, &lo, &hi);
		out->low = fmin(out->low, med);
		out->high = fmax(out->high, med);
	}
	free(ratios);
	out->nr_processes = s->nr_processes ? s->nr_processes : 1;
	out->nr_disturbed = n - clean;
	out->nr_total = n;
	out->nr_redone = s->nr_redone;
	out->busy = too_few_clean(clean, n);
	if (err) {
		struct compare_ratio keep = *out;

		ratio_unknown(out);
		out->nr_unusable = keep.nr_unusable;
		out->nr_processes = keep.nr_processes;
		out->nr_disturbed = keep.nr_disturbed;
		out->nr_total = keep.nr_total;
		out->nr_redone = keep.nr_redone;
		out->busy = keep.busy;
	}
	return err;
}

int compare_ratio(const struct compare_samples *s, size_t num, size_t den, size_t baseline,
		  struct compare_ratio *out)
{
	unsigned n = s->nr_rounds;

	ratio_unknown(out);
	if (num >= s->nr_variants || den >= s->nr_variants ||
	    (baseline != COMPARE_NONE && baseline >= s->nr_variants) || n == 0)
		return -EINVAL;
	double *a = malloc((size_t)2 * n * sizeof(*a));
	if (!a)
		return -ENOMEM;
	double *b = a + n;
	for (unsigned r = 0; r < n; r++) {
		double base = baseline == COMPARE_NONE ? 0 : compare_sample(s, baseline, r);

		a[r] = compare_sample(s, num, r) - base;
		b[r] = compare_sample(s, den, r) - base;
	}
	int err = compare_ratio_of(s, a, b, out);
	free(a);
	return err;
}

int compare_unpaired_ratio(const double *num, size_t nr_num, const double *den, size_t nr_den,
			   struct compare_ratio *out)
{
	double nm = NAN, nl = NAN, nh = NAN, dm = NAN, dl = NAN, dh = NAN;
	unsigned un = 0, ud = 0;
	double cn = median_interval_of(num, nr_num, &nm, &nl, &nh, &un);
	double cd = median_interval_of(den, nr_den, &dm, &dl, &dh, &ud);

	ratio_unknown(out);
	if (cn < 0 || cd < 0)
		return -EINVAL;
	*out = (struct compare_ratio){ .median = nm / dm, .low = nl / dh, .high = nh / dl,
				       .coverage = cn * cd, .nr_rounds = un < ud ? un : ud,
				       .nr_processes = 1 };
	return 0;
}

// How far an interval must clear a threshold (1: at all). See compare_set_margin().
static double margin = 1;

void compare_set_margin(double m)
{
	margin = m >= 1 ? m : 1;
}

double compare_margin(void)
{
	return margin;
}

enum compare_status compare_at_least(const struct compare_ratio *r, double threshold)
{
	if (!r->nr_rounds || isnan(r->median))
		return COMPARE_NOT_SHOWN;
	if (r->busy)
		return COMPARE_INCONCLUSIVE;
	if (r->low / margin >= threshold)
		return COMPARE_HOLDS;
	if (r->high * margin < threshold)
		return COMPARE_FAILS;
	return COMPARE_INCONCLUSIVE;
}

enum compare_status compare_at_most(const struct compare_ratio *r, double threshold)
{
	if (!r->nr_rounds || isnan(r->median))
		return COMPARE_NOT_SHOWN;
	if (r->busy)
		return COMPARE_INCONCLUSIVE;
	if (r->high * margin <= threshold)
		return COMPARE_HOLDS;
	if (r->low / margin > threshold)
		return COMPARE_FAILS;
	return COMPARE_INCONCLUSIVE;
}

enum compare_status compare_within(const struct compare_ratio *r, double tolerance)
{
	double lo = 1 / (1 + tolerance), hi = 1 + tolerance;

	if (!r->nr_rounds || isnan(r->median))
		return COMPARE_NOT_SHOWN;
	if (r->busy)
		return COMPARE_INCONCLUSIVE;
	if (r->low / margin >= lo && r->high * margin <= hi)
		return COMPARE_HOLDS;
	if (r->low / margin > hi || r->high * margin < lo)
		return COMPARE_FAILS;
	return COMPARE_INCONCLUSIVE;
}

const char *compare_within_undecided(const struct compare_ratio *r, double tolerance, char *buf,
				     size_t len)
{
	double lo = 1 / (1 + tolerance), hi = 1 + tolerance;

	if (r->busy)
		snprintf(buf, len, "too many rounds were disturbed to tell");
	else if (r->low >= lo && r->high <= hi)
		snprintf(buf, len, "inside %.0f%%, but not by the %.0f%% margin a judgement asks for",
			 100 * tolerance, 100 * (margin - 1));
	else
		snprintf(buf, len, "the interval reaches past %.0f%%: these rounds cannot tell",
			 100 * tolerance);
	return buf;
}

// Enough significant digits to tell 1.02 from 1.0 and 0.0275 from 0; "unbounded" for a round
// whose denominator was used up by its baseline.
// extra: one digit more, for an interval whose ends would otherwise print alike ("1.00-1.00x").
static const char *format_digits(double x, int extra, char *buf, size_t len)
{
	double a = fabs(x);

	if (isinf(x))
		snprintf(buf, len, "unbounded");
	else if (a >= 0.1 || a == 0)
		snprintf(buf, len, "%.*f", (a >= 100 ? 0 : a >= 10 ? 1 : 2) + extra, x);
	else
		snprintf(buf, len, "%.*g", 3 + extra, x);
	return buf;
}

static const char *format_number(double x, char *buf, size_t len)
{
	return format_digits(x, 0, buf, len);
}

const char *compare_format_ratio(const struct compare_ratio *r, char *buf, size_t len)
{
	char m[32], lo[32], hi[32], more[160] = "";
	size_t used = 0;
	unsigned total = r->nr_rounds + r->nr_unusable;

	if (!r->nr_rounds || isnan(r->median)) {
		snprintf(buf, len, "not measured");
		return buf;
	}
	if (r->nr_processes > 1)
		used += (size_t)snprintf(more + used, sizeof(more) - used, " in %u processes",
					 r->nr_processes);
	if (r->nr_redone && used < sizeof(more))
		used += (size_t)snprintf(more + used, sizeof(more) - used, ", %u redone (busy)",
					 r->nr_redone);
	if (r->nr_unusable && used < sizeof(more))
		used += (size_t)snprintf(more + used, sizeof(more) - used, ", %u of %u unusable",
					 r->nr_unusable, total);
	if (r->busy) {
		snprintf(buf, len, "busy: %u of %u rounds disturbed, too few left to judge; %sx "
			 "(%s-%sx) over %s", r->nr_disturbed, r->nr_total,
			 format_number(r->median, m, sizeof(m)), format_number(r->low, lo, sizeof(lo)),
			 format_number(r->high, hi, sizeof(hi)),
			 r->nr_disturbed < r->nr_total ? "the rest" : "all of them");
		return buf;
	}
	if (r->nr_disturbed && used < sizeof(more))
		snprintf(more + used, sizeof(more) - used, ", %u disturbed left out", r->nr_disturbed);
	int extra = r->low < r->high && !strcmp(format_number(r->low, lo, sizeof(lo)),
						format_number(r->high, hi, sizeof(hi)));
	snprintf(buf, len, "%sx (%s-%sx, %.0f%%, %u rounds%s)",
		 format_digits(r->median, extra, m, sizeof(m)),
		 format_digits(r->low, extra, lo, sizeof(lo)),
		 format_digits(r->high, extra, hi, sizeof(hi)), 100 * r->coverage, r->nr_rounds, more);
	return buf;
}
