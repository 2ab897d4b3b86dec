// SPDX-License-Identifier: MIT
// compare: interleaved rounds and paired ratios with an order-statistic interval (see compare.h).
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const char *compare_status_name(enum compare_status status)
{
	switch (status) {
	case COMPARE_HOLDS:
		return "holds";
	case COMPARE_FAILS:
		return "fails";
	case COMPARE_INCONCLUSIVE:
		return "inconclusive";
	case COMPARE_NOT_SHOWN:
		break;
	}
	return "not_shown";
}

int compare_rounds(size_t nr_variants, unsigned nr_rounds, compare_measure_fn measure, void *ctx,
		   struct compare_samples *out)
{
	size_t order[COMPARE_MAX_VARIANTS];
	// A fixed seed: the same shuffles on every run and machine, so two runs differ only by
	// what the machine did.
	uint64_t seed = 0x2545f4914f6cdd1du;
	struct busy_meter meter;

	memset(out, 0, sizeof(*out));
	if (nr_variants == 0 || nr_variants > COMPARE_MAX_VARIANTS || nr_rounds == 0)
		return -EINVAL;
	out->values = calloc((size_t)nr_rounds * nr_variants, sizeof(*out->values));
	if (!out->values)
		return -ENOMEM;
	out->nr_variants = nr_variants;
	out->nr_rounds = nr_rounds;
	for (size_t v = 0; v < nr_variants; v++)
		order[v] = v;

	busy_start(&meter);
	for (unsigned r = 0; r < nr_rounds; r++) {
		// Fisher-Yates: each round runs the variants in a new order, so that no variant
		// always runs first (after the harness's own work) or right after a given other.
		for (size_t i = nr_variants - 1; i > 0; i--) {
			size_t j = (size_t)(bench_rand(&seed) % (i + 1));
			size_t t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (size_t i = 0; i < nr_variants; i++) {
			size_t v = order[i];
			int err = measure(ctx, v, r, &out->values[(size_t)r * nr_variants + v]);

			if (err) {
				compare_samples_release(out);
				return err;
			}
		}
		busy_sample(&meter);	// between rounds: never inside a timed region
	}
	busy_stop(&meter, &out->busy);
	return 0;
}

void compare_samples_release(struct compare_samples *s)
{
	free(s->values);
	s->values = NULL;
	s->nr_rounds = 0;
	s->nr_variants = 0;
}

int compare_variant_stats(const struct compare_samples *s, size_t variant, struct stats *out)
{
	if (variant >= s->nr_variants || s->nr_rounds == 0)
		return -EINVAL;
	double *v = malloc(s->nr_rounds * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (unsigned r = 0; r < s->nr_rounds; r++)
		v[r] = compare_sample(s, variant, r);
	int err = stats_compute(out, v, s->nr_rounds);
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

int compare_kernels(struct compare_kernel *variants, size_t nr_variants, unsigned nr_rounds,
		    uint64_t min_sample_ns, uint64_t max_iters, struct compare_samples *out)
{
	if (max_iters == 0)
		max_iters = (uint64_t)1 << 32;
	// Calibration warms each variant up (caches, branch predictors, lazily bound symbols);
	// then one full-length sample of each is dropped, as bench_run() does: the first one still
	// pays for frequency ramp-up and for pages the shorter calibration runs did not reach.
	for (size_t v = 0; v < nr_variants; v++) {
		struct compare_kernel *k = &variants[v];

		if (k->iters == 0)
			k->iters = clock_calibrate(k->kernel, k->arg, min_sample_ns, max_iters);
		k->kernel(k->arg, k->iters);
	}
	return compare_rounds(nr_variants, nr_rounds, time_kernel, variants, out);
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
	*out = (struct compare_ratio){ .median = NAN, .low = NAN, .high = NAN, .coverage = 0 };
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

int compare_paired_ratio(const double *num, const double *den, size_t nr_rounds,
			 struct compare_ratio *out)
{
	double *ratios = malloc((nr_rounds ? nr_rounds : 1) * sizeof(*ratios));

	ratio_unknown(out);
	if (!ratios)
		return -ENOMEM;
	// An unusable round (a value not positive and finite) makes an unusable ratio, which
	// median_interval_of() leaves out.
	for (size_t r = 0; r < nr_rounds; r++)
		ratios[r] = usable(num[r]) && usable(den[r]) ? num[r] / den[r] : NAN;
	double coverage = median_interval_of(ratios, nr_rounds, &out->median, &out->low,
					     &out->high, &out->nr_rounds);
	free(ratios);
	if (coverage < 0) {
		ratio_unknown(out);
		return -EINVAL;
	}
	out->coverage = coverage;
	return 0;
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
	int err = compare_paired_ratio(a, b, n, out);
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
				       .coverage = cn * cd, .nr_rounds = un < ud ? un : ud };
	return 0;
}

enum compare_status compare_at_least(const struct compare_ratio *r, double threshold)
{
	if (!r->nr_rounds || isnan(r->median))
		return COMPARE_NOT_SHOWN;
	if (r->low >= threshold)
		return COMPARE_HOLDS;
	if (r->high < threshold)
		return COMPARE_FAILS;
	return COMPARE_INCONCLUSIVE;
}

enum compare_status compare_at_most(const struct compare_ratio *r, double threshold)
{
	if (!r->nr_rounds || isnan(r->median))
		return COMPARE_NOT_SHOWN;
	if (r->high <= threshold)
		return COMPARE_HOLDS;
	if (r->low > threshold)
		return COMPARE_FAILS;
	return COMPARE_INCONCLUSIVE;
}

enum compare_status compare_within(const struct compare_ratio *r, double tolerance)
{
	double lo = 1 / (1 + tolerance), hi = 1 + tolerance;

	if (!r->nr_rounds || isnan(r->median))
		return COMPARE_NOT_SHOWN;
	if (r->low >= lo && r->high <= hi)
		return COMPARE_HOLDS;
	if (r->low > hi || r->high < lo)
		return COMPARE_FAILS;
	return COMPARE_INCONCLUSIVE;
}

// Enough significant digits to tell 1.02 from 1.0 and 0.0275 from 0.
static const char *format_number(double x, char *buf, size_t len)
{
	double a = fabs(x);

	if (a >= 0.1 || a == 0)
		snprintf(buf, len, "%.*f", a >= 100 ? 0 : a >= 10 ? 1 : 2, x);
	else
		snprintf(buf, len, "%.3g", x);
	return buf;
}

const char *compare_format_ratio(const struct compare_ratio *r, char *buf, size_t len)
{
	char m[32], lo[32], hi[32];

	if (!r->nr_rounds || isnan(r->median)) {
		snprintf(buf, len, "not measured");
		return buf;
	}
	snprintf(buf, len, "%sx (%s-%sx, %.0f%%, %u rounds)",
		 format_number(r->median, m, sizeof(m)), format_number(r->low, lo, sizeof(lo)),
		 format_number(r->high, hi, sizeof(hi)), 100 * r->coverage, r->nr_rounds);
	return buf;
}
