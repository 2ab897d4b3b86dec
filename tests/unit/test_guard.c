// SPDX-License-Identifier: MIT
// Unit tests of common/guard: exit status, crash report, time limit, memory limit, shared memory.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "guard.h"
#include "unit.h"

static int exit_with(void *arg)
{
	return *(int *)arg;
}

static int crash(void *arg)
{
	(void)arg;
	raise(SIGSEGV);
	return 0;
}

static volatile int keep_spinning = 1;

static int spin_forever(void *arg)
{
	(void)arg;
	while (keep_spinning)
		;
	return 0;
}

// Returns 0 if a 1 GiB allocation was refused (the limit works), 1 if it was granted.
static void *volatile allocated;	// the store keeps clang from eliding malloc and assuming success

static int allocate_a_lot(void *arg)
{
	(void)arg;
	allocated = malloc(1u << 30);
	return allocated != NULL;
}

static int write_shared(void *arg)
{
	*(int *)arg = 1234;
	return 0;
}

static void test_exit_status(void **state)
{
	(void)state;
	struct guard_result r;
	char line[128];
	int code = 3;

	assert_int_equal(guard_run(exit_with, &code, NULL, &r), 0);
	assert_int_equal(r.outcome, GUARD_EXITED);
	assert_int_equal(r.exit_status, 3);
	assert_non_null(strstr(guard_describe(&r, line, sizeof(line)), "status 3"));
}

static void test_exec_collects_output(void **state)
{
	char *const echo[] = { (char *)"sh", (char *)"-c",
			       (char *)"echo out; echo \"$GUARD_TEST\" >&2; exit 3", NULL };
	const char *const env[] = { "GUARD_TEST=from env", NULL };
	char *const missing[] = { (char *)"no-such-program-here", NULL };
	struct guard_result r;
	char out[256];

	(void)state;
	assert_int_equal(guard_exec(echo, env, NULL, out, sizeof(out), &r), 0);
	assert_int_equal(r.outcome, GUARD_EXITED);
	assert_int_equal(r.exit_status, 3);
	assert_string_equal(out, "out\nfrom env\n");
	assert_int_equal(guard_exec(missing, NULL, NULL, out, sizeof(out), &r), 0);
	assert_int_equal(r.exit_status, 127);
	// Output beyond the buffer is cut, and the buffer still terminated.
	assert_int_equal(guard_exec(echo, env, NULL, out, 3, &r), 0);
	assert_string_equal(out, "ou");
}

static void test_crash_is_reported(void **state)
{
	(void)state;
	struct guard_limits limits = { .timeout_ms = 10000 };
	struct guard_result r;
	char line[128];

	assert_int_equal(guard_run(crash, NULL, &limits, &r), 0);
	assert_int_equal(r.outcome, GUARD_SIGNALED);
	assert_int_equal(r.signal, SIGSEGV);
	assert_non_null(strstr(guard_describe(&r, line, sizeof(line)), "SIGSEGV"));
}

static void test_time_limit(void **state)
{
	(void)state;
	struct guard_limits limits = { .timeout_ms = 200 };
	struct guard_result r;

	uint64_t start = clock_now_ns();
	assert_int_equal(guard_run(spin_forever, NULL, &limits, &r), 0);
	uint64_t elapsed_ms = (clock_now_ns() - start) / 1000000;
	assert_int_equal(r.outcome, GUARD_TIMED_OUT);
	assert_true(elapsed_ms >= 200 && elapsed_ms < 5000);	// killed, not waited on forever
	assert_true(r.usage.ru_utime.tv_sec > 0 || r.usage.ru_utime.tv_usec > 10000);
}

static void test_memory_limit(void **state)
{
	(void)state;
	struct guard_limits limits = { .timeout_ms = 10000, .max_as_bytes = 256u << 20 };
	struct guard_result r;

	assert_int_equal(guard_run(allocate_a_lot, NULL, &limits, &r), 0);
	assert_int_equal(r.outcome, GUARD_EXITED);
	assert_int_equal(r.exit_status, 0);	// malloc(1 GiB) returned NULL in the child
	void *p = malloc(1u << 30);	// and the parent is not limited
	assert_non_null(p);
	free(p);
}

static void test_shared_memory(void **state)
{
	(void)state;
	struct guard_result r;
	int *shared = guard_shared_alloc(sizeof(int));

	assert_non_null(shared);
	assert_int_equal(*shared, 0);
	assert_int_equal(guard_run(write_shared, shared, NULL, &r), 0);
	assert_int_equal(*shared, 1234);
	guard_shared_free(shared, sizeof(int));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_exec_collects_output),
		cmocka_unit_test(test_crash_is_reported),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_memory_limit),
		cmocka_unit_test(test_shared_memory),
	};
	return run_group(tests);
}
