// SPDX-License-Identifier: MIT
// bench: calibrated, repeated, counted measurement of a kernel (see bench.h).
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static void thread_usage(struct rusage *ru)
{
	// RUSAGE_THREAD matches PAPI's per-thread counting; it cannot fail with a valid pointer.
	(void)getrusage(RUSAGE_THREAD, ru);
}

// Counts nr_samples runs of kernel(arg, iters) and adds each slot's count to totals[] (NAN stays
// NAN: unavailable). Returns 0 or the first counter error.
static int count(struct counters *c, clock_kernel_fn kernel, void *arg, uint64_t iters,
		 unsigned nr_samples, double *totals)
{
	double counts[COUNTERS_MAX];

	for (unsigned s = 0; s < nr_samples; s++) {
		int err = counters_start(c);

		if (!err) {
			kernel(arg, iters);
			err = counters_stop(c, counts);
		}
		if (err)
			return err;
		for (size_t i = 0; i < c->nr_slots; i++)
			totals[i] += counts[i];
	}
	return 0;
}

// Counts the harness once with the kernel's iterations and takes it off the kernel's counts.
static int subtract_harness(const struct bench_config *config, uint64_t iters,
			    struct bench_result *result)
{
	struct counters *c = config->counters;
	double totals[COUNTERS_MAX] = { 0 };
	int err = count(c, config->harness, config->harness_arg, iters, 1, totals);

	if (err)
		return err;
	for (size_t i = 0; i < c->nr_slots; i++) {
		unsigned bit = 1u << c->slots[i].metric;

		if (config->harness_metrics ? !(config->harness_metrics & bit)
					    : !counters_metric_is_hardware(c->slots[i].metric))
			continue;
		result->harness_per_op[i] = totals[i] / (double)iters;
		result->counter_per_op[i] -= result->harness_per_op[i];
	}
	return 0;
}

int bench_run(const struct bench_config *config, clock_kernel_fn kernel, void *arg,
	      struct bench_result *result)
{
	uint64_t max_iters = config->max_iters ? config->max_iters : (uint64_t)1 << 32;
	unsigned n = config->nr_samples;
	struct counters *c = config->counters;
	double totals[COUNTERS_MAX] = { 0 };
	double faults = 0, vol = 0, invol = 0;
	int counter_err = 0;

	if (n == 0)
		return -EINVAL;
	double *ns_per_op = malloc(n * sizeof(*ns_per_op));
	if (!ns_per_op)
		return -ENOMEM;

	// Calibration runs the kernel several times: caches, TLB, branch predictors and lazily
	// bound symbols are warm when it returns.
	result->iters_per_sample = clock_calibrate(kernel, arg, config->min_sample_ns, max_iters);
	uint64_t iters = result->iters_per_sample;

	// Drop one full-length sample: the first one still pays for frequency ramp-up and for
	// pages the shorter calibration runs did not reach.
	kernel(arg, iters);

	// Timed samples with the counters stopped, counting in samples of their own. Stopped, not
	// closed: PAPI disables the events and keeps them attached to the thread. An enabled event
	// is read, saved and restored at every context switch and counts during interrupts; a
	// disabled one is not, so timing and counting are separate samples.
	for (unsigned s = 0; s < n; s++) {
		struct rusage before, after;

		thread_usage(&before);
		uint64_t start = clock_now_ns();
		kernel(arg, iters);
		uint64_t end = clock_now_ns();
		thread_usage(&after);
		ns_per_op[s] = (double)(end - start) / (double)iters;
		faults += (double)((after.ru_minflt - before.ru_minflt) +
				   (after.ru_majflt - before.ru_majflt));
		vol += (double)(after.ru_nvcsw - before.ru_nvcsw);
		invol += (double)(after.ru_nivcsw - before.ru_nivcsw);
	}

	// Then the counting samples (a few: a count over millions of iterations barely varies).
	unsigned nr_counted = 0;
	if (c && counters_nr_available(c) > 0) {
		nr_counted = n < 3 ? n : 3;
		counter_err = count(c, kernel, arg, iters, nr_counted, totals);
	}
	double total_ops = (double)iters * n, counted_ops = (double)iters * nr_counted;
	for (size_t i = 0; i < COUNTERS_MAX; i++) {
		result->counter_per_op[i] = c && i < c->nr_slots && nr_counted && !counter_err
			? totals[i] / counted_ops : NAN;
		result->harness_per_op[i] = NAN;
	}
	if (config->harness && nr_counted && !counter_err)
		counter_err = subtract_harness(config, iters, result);
	result->faults_per_op_rusage = faults / total_ops;
	result->voluntary_switches_per_op_rusage = vol / total_ops;
	result->involuntary_switches_per_op_rusage = invol / total_ops;
	int err = stats_compute(&result->ns_per_op, ns_per_op, n);
	free(ns_per_op);
	if (err)
		return err;
	return counter_err < 0 ? counter_err : 0;
}

uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

void bench_random_order(uint32_t *order, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (size_t i = n > 0 ? n - 1 : 0; i > 0; i--) {
		size_t j = (size_t)(bench_rand(seed) % (i + 1));
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

void bench_process_memory(double *rss_bytes, double *virtual_bytes)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	double page = (double)sysconf(_SC_PAGESIZE);

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			size = resident = 0;
		fclose(f);
	}
	if (rss_bytes)
		*rss_bytes = (double)resident * page;
	if (virtual_bytes)
		*virtual_bytes = (double)size * page;
}

static __attribute__((noinline)) void empty_op(void)
{
	__asm__ volatile("");	// a call the optimiser must keep
}

void bench_empty_kernel(void *arg, uint64_t nr_iters)
{
	(void)arg;
	for (uint64_t i = 0; i < nr_iters; i++)
		empty_op();
}

double bench_call_overhead_ns(unsigned nr_samples, uint64_t min_sample_ns)
{
	struct bench_config config = { .nr_samples = nr_samples, .min_sample_ns = min_sample_ns };
	struct bench_result r;

	if (bench_run(&config, bench_empty_kernel, NULL, &r) != 0)
		return NAN;
	return r.ns_per_op.median;
}
