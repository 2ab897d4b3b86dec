/* SPDX-License-Identifier: MIT */
/* stats: summary statistics of a set of samples (min, percentiles, median, mean, spread). */
#ifndef COMMON_STATS_H
#define COMMON_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct stats {
	size_t nr_samples;
	double min;
	double p05;	/* 5th percentile, linear interpolation between order statistics */
	double median;
	double p95;
	double max;
	double mean;
	double stddev;	/* sample standard deviation (n - 1); 0 for one sample */
	double cv;	/* coefficient of variation, stddev / mean; 0 when the mean is 0 */
};

/*
 * Fills *out from samples[0..nr_samples). Sorts samples in place (the caller's buffer).
 * Returns 0, or -EINVAL when nr_samples is 0 or a sample is not finite.
 */
int stats_compute(struct stats *out, double *samples, size_t nr_samples);

/*
 * The q-quantile (0 <= q <= 1) of already sorted samples, interpolating linearly between the two
 * nearest order statistics (the "type 7" definition used by R and NumPy). nr_samples >= 1.
 */
double stats_quantile_sorted(const double *sorted, size_t nr_samples, double q);

/*
 * True when the spread is too wide to trust the median: the p05-p95 range exceeds max_rel_spread
 * times the median. Labs print a warning for such points rather than hiding them.
 */
bool stats_is_noisy(const struct stats *s, double max_rel_spread);

/* The course's one noise rule for tables: a p05-p95 spread over half the median. */
#define STATS_NOISY_SPREAD 0.5
#define STATS_NOISY_LEGEND "~ = noisy: the p5-p95 spread is over half the median"

/* "~" for a point that is noisy by the course's rule, "" otherwise: the mark every table uses. */
const char *stats_noisy_mark(const struct stats *s);

#endif
