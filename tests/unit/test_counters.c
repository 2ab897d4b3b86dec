// SPDX-License-Identifier: MIT
// Unit tests of common/counters: candidate fallback, reasons for what cannot be counted, and exact
// page-fault counts (PAPI against getrusage) where software events work.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "counters.h"
#include "unit.h"

static void test_every_metric_is_explained(void **state)
{
	(void)state;
	enum counters_metric all[COUNTERS_NR_METRICS];
	struct counters c;
	double values[COUNTERS_MAX];

	for (int i = 0; i < COUNTERS_NR_METRICS; i++)
		all[i] = (enum counters_metric)i;
	assert_int_equal(counters_init(&c, all, COUNTERS_NR_METRICS), 0);
	for (size_t i = 0; i < c.nr_slots; i++) {
		// Either counted with a named event, or not, with a reason a learner can act on.
		if (c.slots[i].event)
			assert_true(strlen(c.slots[i].event) > 0);
		else
			assert_true(strlen(c.slots[i].reason) > 10);
	}
	assert_int_equal(counters_start(&c), 0);
	assert_int_equal(counters_stop(&c, values), 0);
	for (size_t i = 0; i < c.nr_slots; i++)
		assert_true(c.slots[i].event ? values[i] >= 0 : isnan(values[i]));
	counters_release(&c);
	counters_release(&c);	// twice: harmless
	assert_true(strlen(counters_library_status()) > 0);
	assert_string_equal(counters_metric_name(COUNTERS_PAGE_FAULTS), "page_faults");
}

static void test_too_many_metrics(void **state)
{
	(void)state;
	enum counters_metric many[COUNTERS_MAX + 1] = { 0 };
	struct counters c;

	assert_int_equal(counters_init(&c, many, COUNTERS_MAX + 1), -EINVAL);
}

static long faults_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

// Touching N fresh pages of an anonymous mapping costs N minor faults: a count, not a timing.
static void test_fresh_pages_fault_once_each(void **state)
{
	(void)state;
	const size_t nr_pages = 2000, page = (size_t)sysconf(_SC_PAGESIZE);
	const enum counters_metric want[] = { COUNTERS_PAGE_FAULTS };
	struct counters c;
	double counted;

	assert_int_equal(counters_init(&c, want, 1), 0);
	char *p = mmap(NULL, nr_pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	assert_true(p != MAP_FAILED);
	(void)madvise(p, nr_pages * page, MADV_NOHUGEPAGE);	// one fault per 4 KiB, not 2 MiB

	long before = faults_now();
	assert_int_equal(counters_start(&c), 0);
	for (size_t i = 0; i < nr_pages; i++)
		p[i * page] = 1;
	assert_int_equal(counters_stop(&c, &counted), 0);
	long by_rusage = faults_now() - before;
	munmap(p, nr_pages * page);

	// getrusage is the ground truth: N, plus a few for page tables and the counters' own calls.
	assert_true(by_rusage >= (long)nr_pages && by_rusage <= (long)nr_pages + 20);
	if (!c.slots[0].event) {
		counters_release(&c);
		skip_because("page faults cannot be counted with PAPI here: %s", c.slots[0].reason);
	}
	assert_true(counted >= nr_pages && counted <= nr_pages + 20);
	counters_release(&c);
}

static void test_hardware_counters_when_present(void **state)
{
	(void)state;
	const enum counters_metric want[] = { COUNTERS_INSTRUCTIONS };
	struct counters c;
	double n;

	assert_int_equal(counters_init(&c, want, 1), 0);
	if (!c.slots[0].event) {
		counters_release(&c);
		skip_because("no instruction counter here: %s", c.slots[0].reason);
	}
	volatile uint64_t sink = 0;
	assert_int_equal(counters_start(&c), 0);
	for (uint64_t i = 0; i < 1000000; i++)
		sink += i;
	assert_int_equal(counters_stop(&c, &n), 0);
	assert_true(sink > 0);
	assert_true(n >= 1000000 && n < 100000000);	// at least one instruction per iteration
	counters_release(&c);
}

// The silent-zero proof, on hand-made slots: no PMU needed. raw[] holds one value per slot that
// has an event, in slot order, then the sentinel's.
static void test_silent_zeros_are_proved(void **state)
{
	(void)state;
	struct counters c = { .nr_slots = 2 };
	const long long counted[] = { 5, 120000 }, zero_cycles[] = { 5, 0 };

	c.slots[0] = (struct counters_slot){ .metric = COUNTERS_PAGE_FAULTS, .event = "faults" };
	c.slots[1] = (struct counters_slot){ .metric = COUNTERS_CYCLES, .event = "cycles" };
	assert_false(counters_read_proves_stall(&c, counted, 1000000));
	assert_true(counters_read_proves_stall(&c, zero_cycles, 1000000));
	// Too short a region proves nothing.
	assert_false(counters_read_proves_stall(&c, zero_cycles, COUNTERS_MIN_REGION_NS - 1));
	// An unavailable slot has no value in raw[]: instructions are raw[0] here.
	c.slots[0] = (struct counters_slot){ .metric = COUNTERS_CYCLES };
	c.slots[1] = (struct counters_slot){ .metric = COUNTERS_INSTRUCTIONS, .event = "ins" };
	assert_true(counters_read_proves_stall(&c, (const long long[]){ 0 }, 1000000));
	assert_false(counters_read_proves_stall(&c, (const long long[]){ 7 }, 1000000));
	// A cache-miss count of 0 proves nothing by itself; the sentinel's cycles do.
	c.nr_slots = 1;
	c.slots[0] = (struct counters_slot){ .metric = COUNTERS_CACHE_MISSES, .event = "misses" };
	assert_false(counters_read_proves_stall(&c, (const long long[]){ 0 }, 1000000));
	c.has_sentinel = true;
	assert_true(counters_read_proves_stall(&c, (const long long[]){ 0, 0 }, 1000000));
	assert_false(counters_read_proves_stall(&c, (const long long[]){ 0, 90000 }, 1000000));
}

// Which PMUs count as a CPU's, from a made-up /sys (LABS_KERNEL_ROOT).
static void test_core_pmus_recognised(void **state)
{
	(void)state;
	char root[] = "/tmp/test_counters.XXXXXX";

	assert_non_null(mkdtemp(root));
	setenv("LABS_KERNEL_ROOT", root, 1);
	unit_put(root, "sys/bus/event_source/devices/power/type", "9\n");
	unit_put(root, "sys/bus/event_source/devices/arm_spe_0/type", "10\n");
	unit_put(root, "sys/bus/event_source/devices/software/type", "1\n");
	assert_false(counters_have_hw_pmu());	// energy, profiling and software units only
	assert_false(counters_hybrid_pmus());
	unit_put(root, "sys/bus/event_source/devices/cpu_core/type", "4\n");
	assert_true(counters_have_hw_pmu());
	assert_false(counters_hybrid_pmus());
	unit_put(root, "sys/bus/event_source/devices/cpu_atom/type", "8\n");
	assert_true(counters_hybrid_pmus());
	unsetenv("LABS_KERNEL_ROOT");
	assert_int_equal(unit_remove_tree(root), 0);
}

static void test_domain_is_named(void **state)
{
	(void)state;
	struct counters c = { .kernel_mode = true };

	assert_string_equal(counters_domain_name(&c), "user+kernel");
	c.kernel_mode = false;
	assert_string_equal(counters_domain_name(&c), "user mode only");
	assert_true(counters_metric_is_hardware(COUNTERS_CYCLES));
	assert_false(counters_metric_is_hardware(COUNTERS_PAGE_FAULTS));
	assert_false(counters_metric_is_hardware(COUNTERS_CONTEXT_SWITCHES));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_metric_is_explained),
		cmocka_unit_test(test_too_many_metrics),
		cmocka_unit_test(test_fresh_pages_fault_once_each),
		cmocka_unit_test(test_hardware_counters_when_present),
		cmocka_unit_test(test_silent_zeros_are_proved),
		cmocka_unit_test(test_core_pmus_recognised),
		cmocka_unit_test(test_domain_is_named),
	};
	return run_group(tests);
}
