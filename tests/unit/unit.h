/* SPDX-License-Identifier: MIT */
/* What every unit test includes: cmocka (which needs these headers first) and a skip with a reason. */
#ifndef TESTS_UNIT_H
#define TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Skips the current test, saying why on a "# skip: ..." line that tests/run.sh shows. */
#define skip_because(...)                                   \
	do {                                                \
		print_message("# skip: " __VA_ARGS__);      \
		print_message("\n");                        \
		skip();                                     \
	} while (0)

#define run_group(tests) cmocka_run_group_tests_name(__FILE__, tests, NULL, NULL)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Writes text to root/relative, creating the directories on the way: a fake /sys, /proc or
 * cgroup tree for a test (root made with mkdtemp, removed with unit_remove_tree). */
static inline void unit_put(const char *root, const char *relative, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, relative);
	for (char *slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)mkdir(path, 0755);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Removes a fake tree made for a test. Returns 0, or -1 if it could not. */
static inline int unit_remove_tree(const char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fake kernel tree for common/kernel.c and machine.c: a fresh directory named after the test in
 * root (64 bytes), and LABS_KERNEL_ROOT pointing at it. For a cmocka setup. 0 or -1. */
static inline int unit_fake_kernel_root(char *root, const char *test)
{
	snprintf(root, 64, "/tmp/%s.XXXXXX", test);
	if (!mkdtemp(root))
		return -1;
	return setenv("LABS_KERNEL_ROOT", root, 1);
}

/* The matching teardown: LABS_KERNEL_ROOT unset, the tree removed. 0 or -1. */
static inline int unit_release_kernel_root(const char *root)
{
	unsetenv("LABS_KERNEL_ROOT");
	return unit_remove_tree(root);
}

#endif
