// SPDX-License-Identifier: MIT
// Unit tests of common/memlimit: the smallest of MemAvailable, the memory cgroup's room (v2 and v1,
// the tightest level over the ancestors) and RLIMIT_AS's room, read from fake trees.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memlimit.h"
#include "unit.h"

#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)

static char root[64];

// Writes text to root/relative (unit.h).
static void put(const char *relative, const char *text)
{
	unit_put(root, relative, text);
}

// A path under the fake root; two at a time may be in use (one call takes a tree and a meminfo).
static const char *at(const char *relative)
{
	static char paths[2][512];
	static unsigned next;
	char *path = paths[next++ % 2];

	snprintf(path, sizeof(paths[0]), "%s/%s", root, relative);
	return path;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_memlimit.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	put("meminfo", "MemTotal:       16000000 kB\nMemAvailable:    8388608 kB\nKernelStack: 1 kB\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return unit_remove_tree(root);
}

static void test_meminfo_fields(void **state)
{
	(void)state;
	assert_int_equal(memlimit_kb_field(at("meminfo"), "MemAvailable"), 8 * GiB);
	assert_int_equal(memlimit_kb_field(at("meminfo"), "KernelStack"), 1024);
	// A field that only starts like another is not that one.
	assert_int_equal(memlimit_kb_field(at("meminfo"), "Mem"), MEMLIMIT_NONE);
	assert_int_equal(memlimit_kb_field(at("no-such-file"), "MemAvailable"), MEMLIMIT_NONE);
}

// v2: the limit is on an ancestor ("/ci"), not on the process's own cgroup ("/ci/job").
static void test_cgroup_v2_ancestor_is_tightest(void **state)
{
	struct memlimit m;
	char why[200];

	(void)state;
	put("v2/ci/memory.max", "1073741824\n");
	put("v2/ci/memory.current", "209715200\n");
	put("v2/ci/job/memory.max", "max\n");
	put("v2/ci/job/memory.current", "104857600\n");
	assert_int_equal(memlimit_read_from(&m, "0::/ci/job\n", at("v2"), at("meminfo"),
					    MEMLIMIT_NONE), 0);
	assert_int_equal(m.source, MEMLIMIT_CGROUP_V2);
	assert_int_equal(m.bytes, 1 * GiB - 200 * MiB);
	assert_int_equal(m.cgroup_limit, 1 * GiB);
	assert_string_equal(m.cgroup_path, "/ci");
	assert_int_equal(m.mem_available, 8 * GiB);
	assert_non_null(strstr(memlimit_describe(&m, why, sizeof(why)), "memory.max 1 GiB at /ci"));
}

// v1: the memory controller's own line wins over the v2 line of a hybrid setup.
static void test_cgroup_v1(void **state)
{
	struct memlimit m;

	(void)state;
	put("v1/memory/docker/abc/memory.limit_in_bytes", "268435456\n");
	put("v1/memory/docker/abc/memory.usage_in_bytes", "58720256\n");
	put("v1/memory/memory.limit_in_bytes", "9223372036854771712\n");	// "no limit"
	assert_int_equal(memlimit_read_from(&m, "5:cpu,cpuacct:/\n4:memory:/docker/abc\n0::/\n",
					    at("v1"), at("meminfo"), MEMLIMIT_NONE), 0);
	assert_int_equal(m.source, MEMLIMIT_CGROUP_V1);
	assert_int_equal(m.bytes, 256 * MiB - 56 * MiB);
	assert_string_equal(m.cgroup_path, "/docker/abc");
}

// No limit anywhere: MemAvailable; over its limit: nothing left, not a wrap-around.
static void test_unlimited_and_exhausted(void **state)
{
	struct memlimit m;

	(void)state;
	put("free/memory.max", "max\n");
	assert_int_equal(memlimit_read_from(&m, "0::/\n", at("free"), at("meminfo"), MEMLIMIT_NONE),
			 0);
	assert_int_equal(m.source, MEMLIMIT_MEM_AVAILABLE);
	assert_int_equal(m.bytes, 8 * GiB);
	assert_int_equal(m.cgroup_version, 0);

	put("full/memory.max", "104857600\n");
	put("full/memory.current", "209715200\n");
	assert_int_equal(memlimit_read_from(&m, "0::/\n", at("full"), at("meminfo"), MEMLIMIT_NONE),
			 0);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(m.source, MEMLIMIT_CGROUP_V2);
}

// RLIMIT_AS below everything else wins; nothing readable at all says so.
static void test_rlimit_as_and_nothing(void **state)
{
	struct memlimit m;
	char why[200];

	(void)state;
	assert_int_equal(memlimit_read_from(&m, NULL, at("none"), at("meminfo"), 300 * MiB), 0);
	assert_int_equal(m.source, MEMLIMIT_RLIMIT_AS);
	assert_int_equal(m.bytes, 300 * MiB);
	assert_non_null(strstr(memlimit_describe(&m, why, sizeof(why)), "RLIMIT_AS"));

	assert_int_equal(memlimit_read_from(&m, NULL, at("none"), at("no-meminfo"), MEMLIMIT_NONE),
			 0);
	assert_int_equal(m.bytes, MEMLIMIT_NONE);
	assert_non_null(strstr(memlimit_describe(&m, why, sizeof(why)), "no bound"));
}

// The real machine: some bound is read, and it is no more than MemAvailable.
static void test_this_machine(void **state)
{
	struct memlimit m;

	(void)state;
	assert_int_equal(memlimit_read(&m), 0);
	if (m.mem_available == MEMLIMIT_NONE)
		skip_because("no /proc/meminfo here");
	assert_true(m.bytes <= m.mem_available);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meminfo_fields),
		cmocka_unit_test(test_cgroup_v2_ancestor_is_tightest),
		cmocka_unit_test(test_cgroup_v1),
		cmocka_unit_test(test_unlimited_and_exhausted),
		cmocka_unit_test(test_rlimit_as_and_nothing),
		cmocka_unit_test(test_this_machine),
	};

	return cmocka_run_group_tests_name(__FILE__, tests, setup, teardown);
}
