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
 */
#ifndef COMMON_COMPARE_H
#define COMMON_COMPARE_H

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
	COMPARE_INCONCLUSIVE,	/* the interval straddles the claim's threshold */
	COMPARE_NOT_SHOWN,	/* the effect could not be measured here (the reason is printed) */
};

/* "holds", "fails", "inconclusive", "not_shown". */
const char *compare_status_name(enum compare_status status);

/*
 * Measures one variant once, for round `round`: writes one sample (ns per op, or any value where
 * smaller is better or not; the caller decides) to *value. Returns 0 or -errno (the rounds stop).
 */
typedef int (*compare_measure_fn)(void *ctx, size_t variant, unsigned round, double *value);

/*
 * Samples of nr_variants variants over nr_rounds rounds, paired by round: sample(v, r) was taken
 * in round r, next to every other variant's sample of round r.
 */
struct compare_samples {
	size_t nr_variants;
	unsigned nr_rounds;
	double *values;		/* [round * nr_variants + variant] */
	struct busy busy;	/* how busy the machine was during the rounds */
};

/*
 * Runs nr_rounds rounds; each round calls measure() once per variant in an order shuffled with a
 * fixed-seed generator (repeatable). Fills *out (release with compare_samples_release()).
 * Returns 0, -EINVAL (no variants or rounds, more than COMPARE_MAX_VARIANTS), -ENOMEM, or the
 * first error measure() returned (then nothing is kept).
 */
int compare_rounds(size_t nr_variants, unsigned nr_rounds, compare_measure_fn measure, void *ctx,
		   struct compare_samples *out);

void compare_samples_release(struct compare_samples *s);

static inline double compare_sample(const struct compare_samples *s, size_t variant,
				    unsigned round)
{
	return s->values[(size_t)round * s->nr_variants + variant];
}

/* Summary statistics of one variant's samples across the rounds. Returns 0 or -EINVAL. */
int compare_variant_stats(const struct compare_samples *s, size_t variant, struct stats *out);

/*
 * Timed kernels, the usual case: each variant is a clock_kernel_fn run `iters` times per sample
 * (0: calibrated here, each variant on its own, so one sample lasts min_sample_ns). One warm-up
 * sample of every variant runs before the rounds and is dropped. Samples are ns per iteration.
 */
struct compare_kernel {
	const char *name;
	clock_kernel_fn kernel;
	void *arg;
	uint64_t iters;		/* in: 0 to calibrate; out: what was used */
};

int compare_kernels(struct compare_kernel *variants, size_t nr_variants, unsigned nr_rounds,
		    uint64_t min_sample_ns, uint64_t max_iters, struct compare_samples *out);

/* A median of paired ratios and its interval. */
struct compare_ratio {
	double median;		/* median over the rounds of num / den */
	double low, high;	/* the order-statistic interval of that median */
	double coverage;	/* its coverage probability: >= 0.95 with 6 or more rounds */
	unsigned nr_rounds;	/* rounds with a usable ratio (both positive and finite) */
};

/*
 * The per-round ratios num[r] / den[r] of two paired series, and their median and interval.
 * Rounds where either value is not positive and finite are left out. Returns 0, or -EINVAL when
 * no round is usable (then *out is all NAN).
 */
int compare_paired_ratio(const double *num, const double *den, size_t nr_rounds,
			 struct compare_ratio *out);

/*
 * The same for variants of *s: sample(num) / sample(den) per round, or, with baseline not
 * COMPARE_NONE, (num - baseline) / (den - baseline) per round: the ratio of the parts that are not
 * the harness (an empty kernel measured in the same rounds).
 */
int compare_ratio(const struct compare_samples *s, size_t num, size_t den, size_t baseline,
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
 * A ratio with no usable round is COMPARE_NOT_SHOWN.
 */
enum compare_status compare_at_least(const struct compare_ratio *r, double threshold);
enum compare_status compare_at_most(const struct compare_ratio *r, double threshold);
enum compare_status compare_within(const struct compare_ratio *r, double tolerance);

/*
 * "4.62x (4.21-5.03x, 98%, 7 rounds)": the ratio with its interval, coverage and count.
 * Returns buf.
 */
const char *compare_format_ratio(const struct compare_ratio *r, char *buf, size_t len);

#endif
