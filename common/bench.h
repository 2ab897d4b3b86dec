/* SPDX-License-Identifier: MIT */
/*
 * bench: the measurement loop every lab shares. Calibrate (which warms up), drop one sample, then
 * take N samples of the kernel, each long enough to time, with counters and getrusage around each;
 * report the median and spread of ns per operation and the counts per operation.
 */
#ifndef COMMON_BENCH_H
#define COMMON_BENCH_H

#include <stdint.h>

#include "clock.h"
#include "counters.h"
#include "stats.h"

struct bench_config {
	unsigned nr_samples;		/* >= 1 */
	uint64_t min_sample_ns;		/* each sample runs at least this long (after calibration) */
	uint64_t max_iters;		/* cap on iterations per sample; 0: 1 << 32 */
	struct counters *counters;	/* counted in samples of their own after the timed ones, or NULL */
	/*
	 * The harness: what every op pays around it (the loop step, the call), as a kernel of the
	 * same form that does nothing (bench_empty_kernel for kernels of the form
	 * "for (i < iters) op();"). It is counted once, with the same number of iterations, and its
	 * counts are subtracted from the kernel's, which also removes the cost of starting and
	 * stopping the counters. NULL: nothing is subtracted.
	 */
	clock_kernel_fn harness;
	void *harness_arg;
	/* The metrics the harness is subtracted from, as bits (1u << metric); 0: every hardware
	 * metric (a software event, a page fault, belongs to the op or to nobody: one the harness
	 * happened to take is not the op's to give back). A kernel whose cycles overlap its loop's
	 * (a dependent chase) keeps its cycles whole. */
	unsigned harness_metrics;
};

struct bench_result {
	uint64_t iters_per_sample;
	struct stats ns_per_op;		/* over the samples */
	/* Per operation over all samples, by counters slot, net of the harness where one was given;
	 * NAN when the metric is unavailable. */
	double counter_per_op[COUNTERS_MAX];
	/* What was subtracted, per operation, by slot; NAN where nothing was. */
	double harness_per_op[COUNTERS_MAX];
	/* The kernel's own account (getrusage, RUSAGE_THREAD) per operation: the ground truth that
	 * PAPI's page-fault and context-switch counts are checked against. */
	double faults_per_op_rusage;
	double voluntary_switches_per_op_rusage;
	double involuntary_switches_per_op_rusage;
};

/*
 * Measures kernel(arg, iters). Returns 0, -EINVAL for a bad config, -ENOMEM, or a negative PAPI
 * code from the counters (then the timings are still filled and counter values are NAN).
 */
int bench_run(const struct bench_config *config, clock_kernel_fn kernel, void *arg,
	      struct bench_result *result);

/*
 * Cost in ns of one loop step that calls an empty non-inlined function: what every kernel of the
 * form "for (i < iters) op();" pays on top of op. Median of nr_samples samples.
 */
double bench_call_overhead_ns(unsigned nr_samples, uint64_t min_sample_ns);

/*
 * A kernel that runs the loop and calls an empty non-inlined function: the harness alone. Measure
 * it in the same rounds as the kernels it is subtracted from (compare.h's baseline).
 */
void bench_empty_kernel(void *arg, uint64_t nr_iters);

/*
 * A fast deterministic pseudo-random generator (xorshift64) for workloads: the same seed gives the
 * same sequence on every machine, so every run and every allocator sees the same work. *state must
 * start non-zero; returns the next value.
 */
uint64_t bench_rand(uint64_t *state);

/* order[0..n) = 0..n-1 in a random order (Fisher-Yates on bench_rand(seed)): a chase's cycle. */
void bench_random_order(uint32_t *order, size_t n, uint64_t *seed);

/* This process's resident and virtual size in bytes, from /proc/self/statm (0 if unreadable). */
void bench_process_memory(double *rss_bytes, double *virtual_bytes);

/*
 * Keeps the compiler from deleting work whose result is otherwise unused: it must assume the
 * pointed-to memory is read. Costs no instruction. (Header-only because it must inline to be free.)
 */
static inline void bench_escape(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/*
 * A kernel whose form must not depend on the compiler (gcc -O2 keeps a simple loop scalar, clang
 * vectorises it, and the figures would then compare compilers): BENCH_NO_VECTORIZE on the
 * function, BENCH_NO_VECTORIZE_LOOP before its loop, and vectorisation is off in both.
 */
#if defined(__clang__)
#define BENCH_NO_VECTORIZE
#define BENCH_NO_VECTORIZE_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#elif defined(__GNUC__)
#define BENCH_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#define BENCH_NO_VECTORIZE_LOOP
#else
#define BENCH_NO_VECTORIZE
#define BENCH_NO_VECTORIZE_LOOP
#endif

#endif
