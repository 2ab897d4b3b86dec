// SPDX-License-Identifier: MIT
// Unit tests of common/kernel: THP mode and size, and overcommit, read from a fake /sys and /proc
// (LABS_KERNEL_ROOT), including the kernels this VM is not: THP always, 16 and 64 KiB base pages'
// huge page sizes, strict overcommit, no THP at all.
#include <stdlib.h>
#include <unistd.h>

#include "kernel.h"
#include "unit.h"

static char root[64];

static int setup(void **state)
{
	(void)state;
	return unit_fake_kernel_root(root, "test_kernel");
}

static int teardown(void **state)
{
	(void)state;
	return unit_release_kernel_root(root);
}

static void test_thp_modes(void **state)
{
	(void)state;
	unit_put(root, "sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n");
	assert_int_equal(kernel_thp_mode(), KERNEL_THP_ALWAYS);
	unit_put(root, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
	assert_int_equal(kernel_thp_mode(), KERNEL_THP_MADVISE);
	assert_string_equal(kernel_thp_name(kernel_thp_mode()), "madvise");
	unit_put(root, "sys/kernel/mm/transparent_hugepage/enabled", "always madvise [never]\n");
	assert_int_equal(kernel_thp_mode(), KERNEL_THP_NEVER);
	unit_put(root, "sys/kernel/mm/transparent_hugepage/enabled", "");
	assert_int_equal(kernel_thp_mode(), KERNEL_THP_UNKNOWN);
}

static void test_huge_page_size(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	(void)state;
	// What arm64 kernels with 16 and 64 KiB base pages say.
	unit_put(root, "sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "33554432\n");
	assert_int_equal(kernel_huge_page_bytes(), 32u << 20);
	unit_put(root, "sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "536870912\n");
	assert_int_equal(kernel_huge_page_bytes(), 512u << 20);
	// A kernel that does not say: one page table of 8-byte entries, 2 MiB with 4 KiB pages.
	unit_put(root, "sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "garbage\n");
	assert_int_equal(kernel_huge_page_bytes(), page * page / 8);
}

static void test_overcommit(void **state)
{
	char line[16];

	(void)state;
	unit_put(root, "proc/sys/vm/overcommit_memory", "2\n");
	assert_int_equal(kernel_overcommit_mode(), 2);
	unit_put(root, "proc/sys/vm/overcommit_memory", "0\n");
	assert_int_equal(kernel_overcommit_mode(), 0);
	unit_put(root, "proc/sys/vm/overcommit_memory", "7\n");
	assert_int_equal(kernel_overcommit_mode(), -1);
	assert_string_equal(kernel_read_line("/proc/sys/vm/none", "fallback", line, sizeof(line)),
			    "fallback");
}

// This machine's own settings, without the fake root: whatever they are, they read sensibly.
static void test_this_machine(void **state)
{
	(void)state;
	unsetenv("LABS_KERNEL_ROOT");
	assert_true(kernel_huge_page_bytes() >= (size_t)sysconf(_SC_PAGESIZE));
	assert_true(kernel_overcommit_mode() >= -1 && kernel_overcommit_mode() <= 2);
	assert_non_null(kernel_thp_name(kernel_thp_mode()));
	assert_int_equal(setenv("LABS_KERNEL_ROOT", root, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thp_modes),
		cmocka_unit_test(test_huge_page_size),
		cmocka_unit_test(test_overcommit),
		cmocka_unit_test(test_this_machine),
	};

	return cmocka_run_group_tests_name(__FILE__, tests, setup, teardown);
}
