// SPDX-License-Identifier: MIT
// Unit tests of common/compare (interleaved rounds, paired ratios, the order-statistic interval,
// the judgement of a claim) and of common/busy's parsers, on synthetic samples with known truth.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "busy.h"
#include "compare.h"
#include "unit.h"

// A simulated machine: variant v costs cost[v] per sample, times a slowdown that drifts with the
// simulated time (one tick per sample taken), times a small repeatable noise.
struct machine {
	double cost[4];
	double drift;		// total slowdown over the run: 1.0 means twice as slow at the end
	unsigned nr_samples_total, tick;
	double noise;		// relative, uniform in [-noise, +noise]
	uint64_t seed;
	size_t order[64][4];	// which variant ran i-th in each round
};

static double simulate(struct machine *m, size_t variant)
{
	double t = (double)m->tick++ / (double)m->nr_samples_total;
	double u = (double)(bench_rand(&m->seed) % 1000000) / 1e6;	// [0, 1)

	return m->cost[variant] * (1 + m->drift * t) * (1 + m->noise * (2 * u - 1));
}

static int measure(void *ctx, size_t variant, unsigned round, double *value)
{
	struct machine *m = ctx;
	unsigned i = m->tick % 2;

	if (round < 64)
		m->order[round][i] = variant;
	*value = simulate(m, variant);
	return 0;
}

static void test_known_ratio_holds(void **state)
{
	(void)state;
	struct machine m = { .cost = { 300, 100 }, .noise = 0.05, .seed = 42,
			     .nr_samples_total = 2 * 15 };
	struct compare_samples s;
	struct compare_ratio r;

	assert_int_equal(compare_rounds(2, 15, measure, &m, &s), 0);
	assert_int_equal(compare_ratio(&s, 0, 1, COMPARE_NONE, &r), 0);
	assert_true(fabs(r.median - 3) < 0.2);
	assert_true(r.low <= r.median && r.median <= r.high);
	assert_true(r.coverage >= 0.95);
	assert_int_equal(compare_at_least(&r, 2), COMPARE_HOLDS);	// claim 2x: it is 3x
	assert_int_equal(compare_at_least(&r, 10), COMPARE_FAILS);	// claim 10x: far off
	assert_int_equal(compare_at_most(&r, 10), COMPARE_HOLDS);
	assert_int_equal(compare_within(&r, 0.10), COMPARE_FAILS);	// not "the same"
	compare_samples_release(&s);
}

static void test_ratio_on_threshold_is_inconclusive(void **state)
{
	(void)state;
	struct machine m = { .cost = { 200, 100 }, .noise = 0.10, .seed = 7,
			     .nr_samples_total = 2 * 15 };
	struct compare_samples s;
	struct compare_ratio r;

	assert_int_equal(compare_rounds(2, 15, measure, &m, &s), 0);
	assert_int_equal(compare_ratio(&s, 0, 1, COMPARE_NONE, &r), 0);
	print_message("# ratio %.3f, interval %.3f-%.3f\n", r.median, r.low, r.high);
	assert_true(r.low < 2 && r.high > 2);
	assert_int_equal(compare_at_least(&r, 2), COMPARE_INCONCLUSIVE);
	assert_int_equal(compare_at_most(&r, 2), COMPARE_INCONCLUSIVE);
	compare_samples_release(&s);
}

// The point of the rounds: a slow drift (the machine gets twice as slow over the run) leaves the
// paired, interleaved estimate near the truth, while measuring one variant after the other does
// not.
static void test_drift_paired_vs_sequential(void **state)
{
	(void)state;
	enum { ROUNDS = 21 };
	struct machine m = { .cost = { 200, 100 }, .drift = 1.0, .noise = 0.02, .seed = 3,
			     .nr_samples_total = 2 * ROUNDS };
	struct compare_samples s;
	struct compare_ratio paired;

	assert_int_equal(compare_rounds(2, ROUNDS, measure, &m, &s), 0);
	assert_int_equal(compare_ratio(&s, 0, 1, COMPARE_NONE, &paired), 0);
	compare_samples_release(&s);

	// The same machine measured sequentially: all of variant 1, then all of variant 0.
	struct machine seq = m;
	double a[ROUNDS], b[ROUNDS];
	struct compare_ratio sequential;

	seq.tick = 0;
	seq.seed = 3;
	for (unsigned i = 0; i < ROUNDS; i++)
		b[i] = simulate(&seq, 1);
	for (unsigned i = 0; i < ROUNDS; i++)
		a[i] = simulate(&seq, 0);
	assert_int_equal(compare_unpaired_ratio(a, ROUNDS, b, ROUNDS, &sequential), 0);
	print_message("# true ratio 2.00: paired %.3f (%.3f-%.3f), sequential %.3f (%.3f-%.3f)\n",
		      paired.median, paired.low, paired.high, sequential.median, sequential.low,
		      sequential.high);
	assert_true(fabs(paired.median / 2 - 1) < 0.05);
	assert_true(paired.low <= 2 && 2 <= paired.high);
	assert_true(fabs(sequential.median / 2 - 1) > 0.25);
	assert_int_equal(compare_within(&sequential, 0.10), COMPARE_FAILS);
}

// Every round runs every variant exactly once, and the order changes between rounds.
static void test_rounds_shuffle(void **state)
{
	(void)state;
	enum { ROUNDS = 20 };
	struct machine m = { .cost = { 1, 2 }, .nr_samples_total = 2 * ROUNDS, .seed = 1 };
	struct compare_samples s;
	unsigned first_is_zero = 0;

	assert_int_equal(compare_rounds(2, ROUNDS, measure, &m, &s), 0);
	for (unsigned r = 0; r < ROUNDS; r++) {
		assert_int_not_equal(m.order[r][0], m.order[r][1]);
		first_is_zero += m.order[r][0] == 0;
		assert_true(compare_sample(&s, 0, r) == 1 && compare_sample(&s, 1, r) == 2);
	}
	assert_true(first_is_zero > 2 && first_is_zero < ROUNDS - 2);
	assert_true(s.busy.elapsed_s >= 0);
	compare_samples_release(&s);
}

static void test_interval_coverage(void **state)
{
	(void)state;
	double v[20], median, low, high;

	// 7 values: no inner pair reaches 95%, so the interval is the range, 1 - 2/128.
	for (int i = 0; i < 7; i++)
		v[i] = 7 - i;
	double c = compare_median_interval(v, 7, &median, &low, &high);
	assert_true(fabs(c - (1 - 2.0 / 128)) < 1e-9);
	assert_true(median == 4 && low == 1 && high == 7);
	// 3 values: the range covers only 75%, and says so.
	v[0] = 3, v[1] = 1, v[2] = 2;
	assert_true(fabs(compare_median_interval(v, 3, &median, &low, &high) - 0.75) < 1e-9);
	// 20 values: P(X < 6) = 0.0207 for Binomial(20, 1/2), so [x_6, x_15] at 95.9%.
	for (int i = 0; i < 20; i++)
		v[i] = i + 1;
	c = compare_median_interval(v, 20, &median, &low, &high);
	assert_true(fabs(c - 0.9586) < 1e-3);
	assert_true(low == 6 && high == 15);
}

static void test_within_and_baseline(void **state)
{
	(void)state;
	// Variant 2 is the harness alone (10); the others cost 10 more and 30 more than it.
	double values[] = { 20, 40, 10, 20.2, 40.4, 10.1, 19.8, 39.6, 9.9, 20, 40, 10, 20.1, 40.1,
			    10, 19.9, 39.9, 10, 20, 40, 10 };
	struct compare_samples s = { .nr_variants = 3, .nr_rounds = 7, .values = values };
	struct compare_ratio gross, net;

	assert_int_equal(compare_ratio(&s, 1, 0, COMPARE_NONE, &gross), 0);
	assert_int_equal(compare_ratio(&s, 1, 0, 2, &net), 0);
	assert_true(fabs(gross.median - 2) < 0.02);
	assert_true(fabs(net.median - 3) < 0.1);
	assert_int_equal(compare_within(&gross, 0.10), COMPARE_FAILS);
	assert_int_equal(compare_ratio(&s, 0, 0, COMPARE_NONE, &gross), 0);
	assert_int_equal(compare_within(&gross, 0.10), COMPARE_HOLDS);
	assert_int_equal(compare_ratio(&s, 3, 0, COMPARE_NONE, &gross), -EINVAL);

	// Net of the harness, round by round: about 10 per round for variant 0, 30 for variant 1
	// (60 scaled by 2); a round left out of the ratios is left out of these too.
	struct stats net0, twice, all;
	unsigned char disturbed[7] = { 0, 0, 0, 0, 0, 0, 1 };
	assert_int_equal(compare_difference_stats(&s, 0, 2, 1, &net0), 0);
	assert_int_equal(net0.nr_samples, 7);
	assert_true(fabs(net0.median - 10) < 1e-9 && net0.min >= 9.9 - 1e-9 && net0.max <= 10.1 + 1e-9);
	assert_int_equal(compare_difference_stats(&s, 1, 2, 2, &twice), 0);
	assert_true(fabs(twice.median - 60) < 0.5);
	s.disturbed = disturbed;
	assert_int_equal(compare_difference_stats(&s, 0, COMPARE_NONE, 1, &all), 0);
	assert_int_equal(all.nr_samples, 6);
	assert_int_equal(compare_difference_stats(&s, 0, 3, 1, &all), -EINVAL);
}

static void test_unusable_rounds(void **state)
{
	(void)state;
	double num[] = { NAN, 0, -1 }, den[] = { 1, 0, -1 };
	struct compare_ratio r;
	char buf[96];

	assert_int_equal(compare_paired_ratio(num, den, 3, &r), -EINVAL);
	assert_int_equal(compare_at_least(&r, 1), COMPARE_NOT_SHOWN);
	assert_string_equal(compare_format_ratio(&r, buf, sizeof(buf)), "not measured");
	assert_string_equal(compare_status_name(COMPARE_INCONCLUSIVE), "inconclusive");
	assert_string_equal(compare_status_name(COMPARE_NOT_SHOWN), "not_shown");
	num[0] = 4.62;
	assert_int_equal(compare_paired_ratio(num, den, 3, &r), 0);
	assert_int_equal(r.nr_rounds, 1);
	assert_string_equal(compare_format_ratio(&r, buf, sizeof(buf)),
			    "4.62x (4.62-4.62x, 0%, 1 rounds, 2 of 3 unusable)");
}

// A round whose baseline leaves nothing of the denominator is the largest ratio, not a dropped
// one: dropping it would bias the median down. Both sides used up: left out, and counted.
static void test_unbounded_rounds(void **state)
{
	(void)state;
	double num[] = { 2, 2.2, 1.8, 2, 3, -1, 2.1 }, den[] = { 1, 1, 1, 1, 0, -1, -0.5 };
	struct compare_ratio r;
	char buf[160];

	assert_int_equal(compare_paired_ratio(num, den, 7, &r), 0);
	assert_int_equal(r.nr_rounds, 6);	// 2, 2.2, 1.8, 2, +inf, +inf
	assert_int_equal(r.nr_unusable, 1);	// -1 / -1
	assert_true(isinf(r.high) && r.high > 0);
	assert_true(r.median == 2.1);		// the infinite rounds count: (2 + 2.2) / 2
	assert_int_equal(compare_at_least(&r, 1.5), COMPARE_HOLDS);
	assert_int_equal(compare_at_most(&r, 5), COMPARE_INCONCLUSIVE);
	compare_format_ratio(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "unbounded"));
	assert_non_null(strstr(buf, "1 of 7 unusable"));
	assert_string_equal(compare_status_name(COMPARE_SHOWN), "shown");
}

// A measure() whose samples say they waited to run for most of their time, for the first
// `disturbed` samples, or always (-1).
static int disturbed_left;
static int measure_disturbed(void *ctx, size_t variant, unsigned round, double *value)
{
	(void)ctx;
	(void)round;
	*value = variant ? 100 : 300;
	compare_sample_aux(0, variant ? 43 : 42);
	if (disturbed_left) {
		compare_sample_threads(9e6, 10e6);	// waited 90% of its time
		if (disturbed_left > 0)
			disturbed_left--;
	} else {
		compare_sample_threads(0, 10e6);
	}
	return 0;
}

static void test_disturbed_rounds(void **state)
{
	(void)state;
	struct compare_samples s;
	struct compare_ratio r;
	struct compare_plan plan = { .nr_rounds = 5, .nr_processes = 1 };
	char buf[200];

	// Two disturbed samples: their rounds are run again, and nothing is left out.
	disturbed_left = 2;
	assert_int_equal(compare_run(2, &plan, measure_disturbed, NULL, &s), 0);
	assert_true(s.nr_redone >= 1 && s.nr_redone <= 2);
	assert_int_equal(compare_nr_disturbed(&s), 0);
	assert_int_equal(compare_ratio(&s, 0, 1, COMPARE_NONE, &r), 0);
	assert_false(r.busy);
	assert_int_equal(compare_at_least(&r, 2), COMPARE_HOLDS);
	assert_true(compare_aux(&s, 1, 3, 0) == 43);
	compare_samples_release(&s);

	// Always disturbed: the redos run out, every round is left out, and a claim that the
	// numbers would hold is inconclusive, saying why.
	disturbed_left = -1;
	assert_int_equal(compare_run(2, &plan, measure_disturbed, NULL, &s), 0);
	assert_int_equal(s.nr_redone, plan.nr_rounds);
	assert_int_equal(compare_nr_disturbed(&s), plan.nr_rounds);
	assert_int_equal(compare_ratio(&s, 0, 1, COMPARE_NONE, &r), 0);
	assert_true(r.busy);
	assert_int_equal(compare_at_least(&r, 2), COMPARE_INCONCLUSIVE);
	assert_int_equal(compare_at_most(&r, 10), COMPARE_INCONCLUSIVE);
	compare_format_ratio(&r, buf, sizeof(buf));
	assert_non_null(strstr(buf, "busy: 5 of 5 rounds disturbed"));
	compare_samples_release(&s);
	disturbed_left = 0;
}

// Processes that differ: each forked process's samples are scaled by its own factor, set in its
// process_setup (as a lab makes its data again there). The interval must hold every process's
// median, not only the spread within one.
static double process_factor = 1;
static unsigned nr_setups;
static void process_setup(void *ctx)
{
	unsigned *next = ctx;

	process_factor = 1 + 0.2 * (*next)++;	// 1.0, 1.2, 1.4 in the three processes
	nr_setups++;
}

static int measure_by_process(void *ctx, size_t variant, unsigned round, double *value)
{
	(void)ctx;
	*value = variant ? 100 : 200 * process_factor * (1 + 0.001 * (round % 3));
	compare_sample_aux(1, process_factor);
	return 0;
}

static void test_processes(void **state)
{
	(void)state;
	unsigned next = 0;
	struct compare_plan plan = { .nr_rounds = 3, .nr_processes = 3,
				     .process_setup = process_setup, .setup_ctx = &next };
	struct compare_samples s;
	struct compare_ratio r;

	nr_setups = 0;
	assert_int_equal(compare_run(2, &plan, measure_by_process, NULL, &s), 0);
	assert_int_equal(s.nr_rounds, 9);
	assert_int_equal(s.nr_processes, 3);
	assert_int_equal(nr_setups, 0);		// the setups ran in the children, not here
	for (unsigned round = 0; round < 9; round++) {
		assert_int_equal(s.process[round], round / 3);
		// Each process's own factor came back with its samples (the children's setups
		// each advanced their own copy of `next` from 0: the same factor, 1.0).
		assert_true(compare_aux(&s, 0, round, 1) == 1.0);
	}
	compare_samples_release(&s);

	// Processes that do differ: hand-made samples, 3 rounds in each of 3 processes.
	double values[18];
	unsigned char process[9], disturbed[9] = { 0 };
	for (size_t round = 0; round < 9; round++) {
		size_t p = round / 3;

		values[2 * round] = 200 * (1 + 0.2 * (double)p) * (1 + 0.001 * (double)(round % 3));
		values[2 * round + 1] = 100;
		process[round] = (unsigned char)p;
	}
	struct compare_samples h = { .nr_variants = 2, .nr_rounds = 9, .values = values,
				     .process = process, .disturbed = disturbed, .nr_processes = 3 };
	assert_int_equal(compare_ratio(&h, 0, 1, COMPARE_NONE, &r), 0);
	assert_int_equal(r.nr_processes, 3);
	assert_true(r.low <= 2.01 && r.high >= 2.8);	// every process's median is inside
	assert_int_equal(compare_at_least(&r, 2.5), COMPARE_INCONCLUSIVE);
}

static void test_busy_parsers(void **state)
{
	(void)state;
	uint64_t busy, steal, total;

	assert_int_equal(busy_parse_stat("cpu  100 5 50 1000 20 3 2 40 0 0\ncpu0 1 2 3\n", &busy,
					 &steal, &total), 0);
	assert_true(busy == 160 && steal == 40 && total == 1220);
	assert_int_equal(busy_parse_stat("intr 5", &busy, &steal, &total), -EINVAL);
	assert_int_equal(busy_parse_loadavg("0.50 0.40 0.30 3/200 1234\n"), 2);
	assert_int_equal(busy_parse_loadavg("0.50 0.40 0.30 1/200 1234\n"), 0);
	assert_int_equal(busy_parse_loadavg("garbage"), -EINVAL);

	struct busy quiet = { .elapsed_s = 2, .others_cpus = 0.02, .steal_fraction = 0,
			      .runnable_others = 0 };
	struct busy loaded = quiet;
	char buf[160];

	assert_false(busy_is_noisy(&quiet));
	loaded.others_cpus = 1.9;
	assert_true(busy_is_noisy(&loaded));
	loaded = quiet;
	loaded.elapsed_s = 0.05;	// too short for /proc/stat's ticks: not judged on them
	loaded.others_cpus = 0.9;
	assert_false(busy_is_noisy(&loaded));
	loaded.elapsed_s = 0.1;		// a hog shows even in 0.1 s
	assert_true(busy_is_noisy(&loaded));
	loaded.elapsed_s = 0.05;
	loaded.runnable_others = 2;
	loaded.nr_readings = 2;		// two readings can catch a passing task: not enough
	assert_false(busy_is_noisy(&loaded));
	loaded.nr_readings = 5;
	assert_true(busy_is_noisy(&loaded));
	assert_string_equal(busy_describe(&loaded, buf, sizeof(buf)),
			    "2 other runnable tasks, other programs used 0.90 CPUs, 0% steal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_ratio_holds),
		cmocka_unit_test(test_ratio_on_threshold_is_inconclusive),
		cmocka_unit_test(test_drift_paired_vs_sequential),
		cmocka_unit_test(test_rounds_shuffle),
		cmocka_unit_test(test_interval_coverage),
		cmocka_unit_test(test_within_and_baseline),
		cmocka_unit_test(test_unusable_rounds),
		cmocka_unit_test(test_unbounded_rounds),
		cmocka_unit_test(test_disturbed_rounds),
		cmocka_unit_test(test_processes),
		cmocka_unit_test(test_busy_parsers),
	};

	return run_group(tests);
}
