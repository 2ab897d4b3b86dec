// SPDX-License-Identifier: MIT
// Unit tests of common/stats: order statistics, spread, and refusal of bad input.
#include <errno.h>
#include <math.h>

#include "stats.h"
#include "unit.h"

static void test_known_samples(void **state)
{
	(void)state;
	double s[] = { 5, 1, 4, 2, 3 };	// unsorted on purpose: stats_compute sorts
	struct stats st;

	assert_int_equal(stats_compute(&st, s, 5), 0);
	assert_int_equal(st.nr_samples, 5);
	assert_true(st.min == 1 && st.max == 5 && st.median == 3 && st.mean == 3);
	// type-7 quantiles: p05 = 1 + 0.05*4*(2-1) = 1.2, p95 = 4.8
	assert_true(fabs(st.p05 - 1.2) < 1e-12);
	assert_true(fabs(st.p95 - 4.8) < 1e-12);
	assert_true(fabs(st.stddev - sqrt(2.5)) < 1e-12);
	assert_true(fabs(st.cv - sqrt(2.5) / 3) < 1e-12);
}

static void test_even_count_median_interpolates(void **state)
{
	(void)state;
	double s[] = { 10, 20, 30, 40 };
	struct stats st;

	assert_int_equal(stats_compute(&st, s, 4), 0);
	assert_true(st.median == 25);
}

static void test_one_sample(void **state)
{
	(void)state;
	double s[] = { 7 };
	struct stats st;

	assert_int_equal(stats_compute(&st, s, 1), 0);
	assert_true(st.min == 7 && st.p05 == 7 && st.median == 7 && st.p95 == 7);
	assert_true(st.stddev == 0 && st.cv == 0);
}

static void test_bad_input(void **state)
{
	(void)state;
	double s[] = { 1, NAN, 3 };
	double inf[] = { INFINITY };
	struct stats st;

	assert_int_equal(stats_compute(&st, s, 0), -EINVAL);
	assert_int_equal(stats_compute(&st, s, 3), -EINVAL);
	assert_int_equal(stats_compute(&st, inf, 1), -EINVAL);
}

static void test_noisy(void **state)
{
	(void)state;
	double tight[] = { 100, 101, 99, 100, 100 };
	double wide[] = { 100, 300, 50, 100, 100 };
	struct stats a, b;

	assert_int_equal(stats_compute(&a, tight, 5), 0);
	assert_int_equal(stats_compute(&b, wide, 5), 0);
	assert_false(stats_is_noisy(&a, 0.5));
	assert_true(stats_is_noisy(&b, 0.5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_samples),
		cmocka_unit_test(test_even_count_median_interpolates),
		cmocka_unit_test(test_one_sample),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_noisy),
	};
	return run_group(tests);
}
