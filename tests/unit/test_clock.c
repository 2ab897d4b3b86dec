// SPDX-License-Identifier: MIT
// Unit tests of common/clock and common/bench: monotonic time, calibration, counted samples.
#include <errno.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "clock.h"
#include "unit.h"

static void test_monotonic(void **state)
{
	(void)state;
	uint64_t prev = clock_now_ns();

	for (int i = 0; i < 100000; i++) {
		uint64_t now = clock_now_ns();

		assert_true(now >= prev);
		prev = now;
	}
	assert_true(clock_resolution_ns() >= 1);
	double overhead = clock_overhead_ns();
	assert_true(overhead > 0 && overhead < 10000);	// tens of ns; 10 us is a broken clock
	// The smallest step seen: at least the reported resolution, and no coarser than a few
	// microseconds (a 24 MHz counter steps by 42 ns; a read costs tens of ns).
	uint64_t step = clock_step_ns();
	assert_true(step >= clock_resolution_ns() && step < 5000);
}

// Spins for about arg ns per iteration.
static void spin_kernel(void *arg, uint64_t nr_iters)
{
	uint64_t ns = *(uint64_t *)arg;

	for (uint64_t i = 0; i < nr_iters; i++) {
		uint64_t end = clock_now_ns() + ns;

		while (clock_now_ns() < end)
			;
	}
}

static void test_calibrate(void **state)
{
	(void)state;
	uint64_t per_iter_ns = 10000;	// 10 us

	uint64_t n = clock_calibrate(spin_kernel, &per_iter_ns, 2000000, 1u << 20);
	// 2 ms of 10 us iterations: about 220. The bounds allow a preempted trial run (which makes
	// the count smaller) on a busy VM, but not a calibration that is off by 4x or more.
	assert_true(n >= 50 && n <= 1000);
	assert_int_equal(clock_calibrate(spin_kernel, &per_iter_ns, 2000000, 5), 5);	// the cap
	per_iter_ns = 3000000;	// one iteration already longer than the target
	assert_int_equal(clock_calibrate(spin_kernel, &per_iter_ns, 1000000, 1000), 1);
}

struct pages {
	char *base;
	size_t next, nr_pages, page_bytes;
};

// Each op writes one never-touched page: exactly one minor fault per op.
static void fresh_page_kernel(void *arg, uint64_t nr_iters)
{
	struct pages *p = arg;

	for (uint64_t i = 0; i < nr_iters && p->next < p->nr_pages; i++)
		p->base[p->page_bytes * p->next++] = 1;
}

static void test_bench_counts_faults(void **state)
{
	(void)state;
	struct pages p = { .nr_pages = 1 << 16, .page_bytes = (size_t)sysconf(_SC_PAGESIZE) };
	size_t len = p.nr_pages * p.page_bytes;

	// MADV_NOHUGEPAGE: with THP "always" one fault could map 512 pages.
	p.base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p.base != MAP_FAILED);
	(void)madvise(p.base, len, MADV_NOHUGEPAGE);	// best effort; fails only without THP

	struct bench_config config = { .nr_samples = 3, .min_sample_ns = 200000,
				       .max_iters = 2000 };
	struct bench_result r;
	assert_int_equal(bench_run(&config, fresh_page_kernel, &p, &r), 0);
	assert_true(p.next < p.nr_pages);	// the kernel never ran out of fresh pages
	assert_true(r.iters_per_sample >= 1);
	assert_int_equal(r.ns_per_op.nr_samples, 3);
	// getrusage: one fault per op, give or take a page-table page or two per sample.
	assert_true(r.faults_per_op_rusage >= 0.95 && r.faults_per_op_rusage <= 1.1);
	assert_true(isnan(r.counter_per_op[0]));	// no counters configured: NAN, not 0
	munmap(p.base, len);

	config.nr_samples = 0;
	assert_int_equal(bench_run(&config, fresh_page_kernel, &p, &r), -EINVAL);
}

static void test_call_overhead(void **state)
{
	(void)state;
	double ns = bench_call_overhead_ns(3, 1000000);

	assert_true(ns > 0 && ns < 100);	// a call and a loop step: about 1 ns
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_calibrate),
		cmocka_unit_test(test_bench_counts_faults),
		cmocka_unit_test(test_call_overhead),
	};
	return run_group(tests);
}
