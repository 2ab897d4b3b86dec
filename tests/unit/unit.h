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

#endif
