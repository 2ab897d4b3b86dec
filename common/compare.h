/* SPDX-License-Identifier: MIT */
/*
 * compare: the one way a lab compares measurements. The variants a verdict compares are measured
 * interleaved, in rounds (each round runs every variant once, in a shuffled order), so that drift
 * (another program starting, steal time, a frequency change) hits all of them alike; a claim is
 * then judged from the paired per-round ratios, with an interval.
 *
 * The interval is the distribution-free order-statistic interval of the median of the per-round
 * ratios: with n ratios sorted, [r_(k), r_(n+1-k)] covers the true median with probability
 * 1 - 2 * P(Binomial(n, 1/2) < k), whatever the distribution of the ratios. k is the largest that
 * keeps that coverage at or above 95%. Why this one: per-round ratios on a shared machine have
 * heavy tails (an interrupt, a preemption), so a mean and a t interval would follow the outliers;
 * the median does not, and this interval needs no assumption about their shape and no random
 * resampling (a bootstrap would make the verdict itself vary from run to run). With fewer than 6
 * rounds no interval reaches 95%: the whole range is used and its real coverage is reported
 * (75% for 3 rounds), which is why --quick runs are for tests, not conclusions.
 *
 * That coverage is of the rounds of one run. What stays fixed for a whole process (where its
 * threads and pages landed, how another program's time slices fall) varies from run to run and is
 * not in it: so a plan spreads its rounds over several forked processes, and the interval is
 * widened to hold each process's own median (compare_ratio()); and a round that other programs
 * disturbed is run again or left out (COMPARE_MAX_WAIT_SHARE). tests/bench/calibrate.py measures
 * how often the intervals then cover the median of many runs.
 */
#ifndef COMMON_COMPARE_H
#define COMMON_COMPARE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "busy.h"
#include "clock.h"
#include "stats.h"

#define COMPARE_MAX_VARIANTS 32
#define COMPARE_NONE ((size_t)-1)

/* The outcome of a claim. The names are the `status` column of verdicts.csv. */
enum compare_status {
	COMPARE_HOLDS,
	COMPARE_FAILS,
	COMPARE_INCONCLUSIVE,	/* the interval straddles the claim's threshold, or too few rounds
				   were undisturbed to judge */
	COMPARE_NOT_SHOWN,	/* the effect could not be measured here (the reason is printed) */
	COMPARE_SHOWN,		/* a demonstration: it cannot come out otherwise on Linux, so it is
				   shown with its numbers and not counted as a claim that held */
};

/* "holds", "fails", "inconclusive", "not_shown", "shown". */
const char *compare_status_name(enum compare_status status);

/*
 * Measures one variant once, for round `round`: writes one sample (ns per op, or any value where
 * smaller is better or not; the caller decides) to *value. Returns 0 or -errno (the rounds stop).
 * Inside it, compare_sample_aux() keeps more figures of the same sample, and
 * compare_sample_threads() says how long the threads it measured waited to run.
 */
typedef int (*compare_measure_fn)(void *ctx, size_t variant, unsigned round, double *value);

/* Figures a sample may keep beside its value (a count it made, a check it passed). */
#define COMPARE_NR_AUX 6

/*
 * A round is disturbed when the threads it measured waited to run (the run queue: another program
 * had their CPU) for more than COMPARE_MAX_WAIT_SHARE of their time, when the hypervisor stole more
 * than COMPARE_MAX_STEAL_SHARE of the machine, or, where the plan watches CPUs, when other
 * programs used more than COMPARE_MAX_OTHERS_SHARE of those CPUs (from /proc/stat, which counts in
 * ticks: a round too short to tell is judged with the whole comparison, and every round is
 * disturbed when other programs used that share over it). A disturbed round is run again,
 * up to as many times as there are rounds; what is still disturbed then is left out of the ratios,
 * and a comparison left with fewer clean rounds than COMPARE_MIN_CLEAN_SHARE of them, or than 3
 * (all of them, with fewer), is inconclusive: a busy machine gives fewer verdicts, never wrong
 * ones.
 */
#define COMPARE_MAX_WAIT_SHARE 0.05
#define COMPARE_MAX_STEAL_SHARE 0.05
#define COMPARE_MAX_OTHERS_SHARE 0.10
#define COMPARE_MIN_CLEAN_SHARE 0.5

/* How a comparison's rounds run. */
struct compare_plan {
	unsigned nr_rounds;		/* rounds in each process, >= 1 */
	/*
	 * Processes the rounds run in, one after the other, each a forked child with its own
	 * scheduling, its own pages for all it writes and, with process_setup, its own data: what
	 * stays fixed for one process is then inside the interval (compare_ratio). 1: this process.
	 */
	unsigned nr_processes;
	bool warmup_round;		/* each process first runs one round that is not kept */
	/* CPUs whose use by other programs disturbs a round (those the measured threads are pinned
	 * to), for variants whose threads wait on each other by design, so that their run-queue wait
	 * says nothing; NULL: none. */
	const cpu_set_t *watch_cpus;
	/* In each forked process before its rounds, process_setup(setup_ctx): where a lab makes its
	 * data again, so that each process has its own pages. NULL: none. */
	void (*process_setup)(void *setup_ctx);
	void *setup_ctx;
};

/*
 * Samples of nr_variants variants over nr_rounds rounds, paired by round: sample(v, r) was taken
 * in round r, next to every other variant's sample of round r.
 */
struct compare_samples {
	size_t nr_variants;
	unsigned nr_rounds;		/* all processes' rounds */
	double *values;			/* [round * nr_variants + variant] */
	double *aux;			/* [(round * nr_variants + variant) * COMPARE_NR_AUX + i],
					   NAN where measure() set none */
	unsigned char *disturbed;	/* [round]: still disturbed after the redos */
	unsigned char *process;		/* [round]: which process ran it */
	unsigned nr_processes;
	unsigned nr_redone;		/* rounds run again because they were disturbed */
	unsigned nr_unjudged;		/* rounds too short to judge their watched CPUs alone */
	struct busy busy;		/* how busy the machine was during the rounds */
};

/*
 * Runs the plan: in each process (in this one when nr_processes is 1), plan->nr_rounds rounds;
 * each round calls measure() once per variant in an order shuffled with a fixed-seed generator
 * (repeatable), and is run again when it was disturbed. Fills *out (release with
 * compare_samples_release()). Returns 0, -EINVAL (no variants or rounds, more than
 * COMPARE_MAX_VARIANTS, more than 255 processes), -ENOMEM, -ECHILD (a process died), or the first
 * error measure() returned (then nothing is kept).
 */
int compare_run(size_t nr_variants, const struct compare_plan *plan, compare_measure_fn measure,
		void *ctx, struct compare_samples *out);

/* How many comparisons compare_run() has run in this process (the manifest says "none" for a lab
 * that made none). */
unsigned compare_nr_runs(void);

/* compare_run() with nr_rounds rounds in this process. */
int compare_rounds(size_t nr_variants, unsigned nr_rounds, compare_measure_fn measure, void *ctx,
		   struct compare_samples *out);

void compare_samples_release(struct compare_samples *s);

static inline double compare_sample(const struct compare_samples *s, size_t variant,
				    unsigned round)
{
	return s->values[(size_t)round * s->nr_variants + variant];
}

static inline double compare_aux(const struct compare_samples *s, size_t variant,
				 unsigned round, size_t i)
{
	return s->aux[((size_t)round * s->nr_variants + variant) * COMPARE_NR_AUX + i];
}

/* Inside a measure(): keeps figure i (< COMPARE_NR_AUX) of this sample, read back with
 * compare_aux(). Elsewhere it does nothing. */
void compare_sample_aux(size_t i, double value);

/*
 * Inside a measure() whose work ran on other threads or processes: for how long those were kept
 * from running (their run-queue wait, compare_thread_wait_ns() before and after, in each; or, for
 * threads that take turns on one CPU and so wait for each other by design, the sample's wall time
 * less the CPU time they used) out of thread_ns of their time. May be called once per thread. The
 * calling thread's own wait is then not counted. Elsewhere it does nothing.
 */
void compare_sample_threads(double wait_ns, double thread_ns);

/* The calling thread's time spent runnable but not running, in ns since it started
 * (/proc/thread-self/schedstat). Returns 0, or -errno where the kernel does not keep it. */
int compare_thread_wait_ns(double *ns);

/* Rounds still disturbed after the redos (left out of every ratio). */
unsigned compare_nr_disturbed(const struct compare_samples *s);

/* Summary statistics of one variant's samples across the rounds: the undisturbed ones, all of
 * them if none is. Returns 0 or -EINVAL. */
int compare_variant_stats(const struct compare_samples *s, size_t variant, struct stats *out);

/* The same for scale x (sample(a) - sample(b)), round by round (b COMPARE_NONE: scale x
 * sample(a)): a figure derived from two variants measured side by side, such as a cost net of
 * the harness, whose spread is then the rounds'. */
int compare_difference_stats(const struct compare_samples *s, size_t a, size_t b, double scale,
			     struct stats *out);

/*
 * Timed kernels, the usual case: each variant is a clock_kernel_fn run `iters` times per sample
 * (0: calibrated here, each variant on its own, so one sample lasts min_sample_ns). One warm-up
 * round runs before the rounds of each process and is dropped (the plan's warmup_round is set
 * here). Samples are ns per iteration.
 */
struct compare_kernel {
	const char *name;
	clock_kernel_fn kernel;
	void *arg;
	uint64_t iters;		/* in: 0 to calibrate; out: what was used */
};

int compare_kernels(struct compare_kernel *variants, size_t nr_variants,
		    const struct compare_plan *plan, uint64_t min_sample_ns, uint64_t max_iters,
		    struct compare_samples *out);

/* A median of paired ratios and its interval. */
struct compare_ratio {
	double median;		/* median over the rounds of num / den */
	double low, high;	/* its interval; with several processes it also holds every
				   process's own median (see compare_ratio()) */
	double coverage;	/* the order-statistic interval's coverage: >= 0.95 with 6 or more
				   rounds */
	unsigned nr_rounds;	/* rounds with a usable ratio */
	unsigned nr_unusable;	/* rounds left out: num and den both zero or negative */
	unsigned nr_processes;	/* processes the rounds came from (1 if unknown) */
	unsigned nr_disturbed;	/* rounds left out because the machine disturbed them */
	unsigned nr_total;	/* every round kept, disturbed or not (0 if unknown) */
	unsigned nr_redone;	/* rounds run again because they were disturbed */
	bool busy;		/* too few undisturbed rounds: judged inconclusive */
};

/*
 * The per-round ratios num[r] / den[r] of two paired series, and their median and interval.
 * A ratio whose denominator is zero or negative while its numerator is positive is larger than
 * any other (+infinity: a baseline subtracted left nothing below), the mirror image is smaller
 * than any; rounds where both are zero or negative, or either is not finite, are left out and
 * counted. Returns 0, or -EINVAL when no round is usable (then *out is all NAN).
 */
int compare_paired_ratio(const double *num, const double *den, size_t nr_rounds,
			 struct compare_ratio *out);

/*
 * The same for variants of *s: sample(num) / sample(den) per round, or, with baseline not
 * COMPARE_NONE, (num - baseline) / (den - baseline) per round: the ratio of the parts that are not
 * the harness (an empty kernel measured in the same rounds). Disturbed rounds are left out. With
 * rounds from several processes the interval is widened to hold each process's median as well:
 * what differs between processes (placement, pages) is then inside it, not only what differs
 * between the rounds of one.
 */
int compare_ratio(const struct compare_samples *s, size_t num, size_t den, size_t baseline,
		  struct compare_ratio *out);

/* The same for any two per-round series of *s's rounds (figures a lab derived from its samples,
 * or kept with compare_sample_aux()). */
int compare_ratio_of(const struct compare_samples *s, const double *num, const double *den,
		     struct compare_ratio *out);

/*
 * The ratio of medians of two independent sample sets (not paired), with the interval from the
 * order-statistic intervals of the two medians (num's low over den's high, and so on): wider than
 * a paired interval, for when the two cannot be measured in the same rounds. Coverage is the
 * product of the two. Returns 0 or -EINVAL.
 */
int compare_unpaired_ratio(const double *num, size_t nr_num, const double *den, size_t nr_den,
			   struct compare_ratio *out);

/*
 * The order-statistic interval of the median of nr values (sorted in place): see the top of this
 * file. Returns its coverage; nr >= 1.
 */
double compare_median_interval(double *values, size_t nr, double *median, double *low,
			       double *high);

/*
 * Judging a ratio against a claim:
 * at_least: the claim "ratio >= threshold": holds when the whole interval is at or above it,
 *           fails when the whole interval is below it, inconclusive otherwise.
 * at_most:  the claim "ratio <= threshold", the mirror image.
 * within:   the claim "the two are the same within tolerance" (e.g. 0.10 for 10%): holds when the
 *           interval lies inside [1 / (1 + tolerance), 1 + tolerance], fails when it lies wholly
 *           outside, inconclusive otherwise.
 * A ratio with no usable round is COMPARE_NOT_SHOWN; one with too few undisturbed rounds (busy)
 * is COMPARE_INCONCLUSIVE.
 */
enum compare_status compare_at_least(const struct compare_ratio *r, double threshold);
/* (The three judge the interval widened by the margin: [low / margin, high * margin].) */

/* Why compare_within(r, tolerance) was inconclusive, in words for a cross-check's line: too
 * many rounds disturbed, inside the band but not by the margin, or an interval past the band. */
const char *compare_within_undecided(const struct compare_ratio *r, double tolerance, char *buf,
				     size_t len);
enum compare_status compare_at_most(const struct compare_ratio *r, double threshold);
enum compare_status compare_within(const struct compare_ratio *r, double tolerance);

/*
 * The margin the judgements above give the interval, for the whole process: 1 (none) by default.
 * A run whose intervals cover less than the rest (a quick run's 3 rounds cover 75%) judges only
 * what clears its threshold by that factor: its verdict can then not be the opposite of a fuller
 * run's, whose interval the quick one's true value lies in. Below 1 counts as 1.
 */
void compare_set_margin(double margin);
double compare_margin(void);

/*
 * "4.62x (4.21-5.03x, 98%, 9 rounds in 3 processes, 1 redone)": the ratio with its interval,
 * coverage and counts; "busy: 5 of 7 rounds disturbed" when it was too busy to judge.
 * Returns buf.
 */
const char *compare_format_ratio(const struct compare_ratio *r, char *buf, size_t len);

#endif
