// SPDX-License-Identifier: MIT
// stats: summary statistics of samples (see stats.h).
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double stats_quantile_sorted(const double *sorted, size_t nr_samples, double q)
{
	if (q <= 0 || nr_samples == 1)
		return sorted[0];
	if (q >= 1)
		return sorted[nr_samples - 1];
	double pos = q * (double)(nr_samples - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo;

	if (lo + 1 >= nr_samples)
		return sorted[nr_samples - 1];
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

int stats_compute(struct stats *out, double *samples, size_t nr_samples)
{
	double sum = 0, sum_sq_dev = 0;

	if (nr_samples == 0)
		return -EINVAL;
	for (size_t i = 0; i < nr_samples; i++) {
		if (!isfinite(samples[i]))
			return -EINVAL;
		sum += samples[i];
	}
	qsort(samples, nr_samples, sizeof(samples[0]), cmp_double);

	out->nr_samples = nr_samples;
	out->min = samples[0];
	out->max = samples[nr_samples - 1];
	out->p05 = stats_quantile_sorted(samples, nr_samples, 0.05);
	out->median = stats_quantile_sorted(samples, nr_samples, 0.5);
	out->p95 = stats_quantile_sorted(samples, nr_samples, 0.95);
	out->mean = sum / (double)nr_samples;
	for (size_t i = 0; i < nr_samples; i++)
		sum_sq_dev += (samples[i] - out->mean) * (samples[i] - out->mean);
	out->stddev = nr_samples > 1 ? sqrt(sum_sq_dev / (double)(nr_samples - 1)) : 0;
	out->cv = out->mean != 0 ? out->stddev / fabs(out->mean) : 0;
	return 0;
}

bool stats_is_noisy(const struct stats *s, double max_rel_spread)
{
	if (s->median <= 0)
		return s->p95 > s->p05;
	return (s->p95 - s->p05) > max_rel_spread * s->median;
}

const char *stats_noisy_mark(const struct stats *s)
{
	return stats_is_noisy(s, STATS_NOISY_SPREAD) ? "~" : "";
}
