// SPDX-License-Identifier: MIT
// clock: monotonic nanoseconds and calibration of iteration counts (see clock.h).
#include "clock.h"

#include <stdlib.h>
#include <time.h>

uint64_t clock_now_ns(void)
{
	struct timespec ts;

	// CLOCK_MONOTONIC cannot fail with a valid pointer; it is served by the vDSO.
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_resolution_ns(void)
{
	struct timespec ts;

	if (clock_getres(CLOCK_MONOTONIC, &ts) != 0)
		return 1;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_step_ns(void)
{
	uint64_t step = UINT64_MAX;

	for (int i = 0; i < 1000; i++) {
		uint64_t first = clock_now_ns(), next;

		do
			next = clock_now_ns();
		while (next == first);
		if (next - first < step)
			step = next - first;
	}
	return step;
}

double clock_timeval_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

double clock_overhead_ns(void)
{
	enum { NR_ROUNDS = 101, NR_PAIRS = 1000 };
	uint64_t per_round[NR_ROUNDS];

	// Each round times NR_PAIRS back-to-back reads; the median round is robust to interrupts.
	for (int r = 0; r < NR_ROUNDS; r++) {
		uint64_t start = clock_now_ns(), last = start;

		for (int i = 0; i < NR_PAIRS; i++)
			last = clock_now_ns();
		per_round[r] = last - start;
	}
	qsort(per_round, NR_ROUNDS, sizeof(per_round[0]), cmp_u64);
	const size_t middle = NR_ROUNDS / 2;

	return (double)per_round[middle] / NR_PAIRS;
}

uint64_t clock_calibrate(clock_kernel_fn kernel, void *arg, uint64_t min_sample_ns,
			 uint64_t max_iters)
{
	uint64_t nr_iters = 1;

	if (max_iters == 0)
		max_iters = 1;
	for (;;) {
		uint64_t start = clock_now_ns();

		kernel(arg, nr_iters);
		uint64_t elapsed_ns = clock_now_ns() - start;

		if (elapsed_ns >= min_sample_ns || nr_iters >= max_iters)
			return nr_iters;
		// Not long enough yet. Once a run lasts over 1/16 of the target its time is
		// meaningful: scale to the target with 10% margin; before that, grow 8x.
		uint64_t next;
		if (elapsed_ns * 16 >= min_sample_ns)
			next = (uint64_t)((double)nr_iters * 1.1 * (double)min_sample_ns /
					  (double)elapsed_ns) + 1;
		else
			next = nr_iters * 8;
		nr_iters = next < max_iters ? next : max_iters;
	}
}
