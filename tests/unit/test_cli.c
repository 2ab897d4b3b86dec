// SPDX-License-Identifier: MIT
// Unit tests of common/cli: strict number and size parsing, and the shared options.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unit.h"

static void test_parse_u64(void **state)
{
	(void)state;
	uint64_t v = 0;

	assert_int_equal(cli_parse_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cli_parse_u64("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cli_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cli_parse_u64("18446744073709551616", &v), -ERANGE);
	static const char *const bad[] = { "", "abc", "-1", "+1", " 1", "1 ", "1x", "0x10",
					   "1e3", NULL };
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(cli_parse_u64(bad[i], &v), -EINVAL);
	assert_int_equal(cli_parse_u64(NULL, &v), -EINVAL);
}

static void test_parse_size(void **state)
{
	(void)state;
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "4096", 4096 }, { "64K", 65536 }, { "64k", 65536 }, { "4KiB", 4096 },
		{ "1M", 1 << 20 }, { "1MiB", 1 << 20 }, { "2G", 2ull << 30 }, { "16B", 16 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(cli_parse_size(good[i].s, &v), 0);
		assert_true(v == good[i].v);
	}
	static const char *const bad[] = { "", "K", "1.5M", "1T", "1 M", "-1K", "1MM", "m", NULL };
	for (size_t i = 0; bad[i]; i++)
		assert_int_equal(cli_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(cli_parse_size("17179869184G", &v), -ERANGE);
}

static void test_arg_dir(void **state)
{
	const char *dir = NULL;

	(void)state;
	assert_int_equal(cli_arg_dir("--tmpdir", "", &dir), -EINVAL);
	assert_null(dir);
	assert_int_equal(cli_arg_dir("--tmpdir", "/tmp", &dir), 0);
	assert_string_equal(dir, "/tmp");
}

static void test_format(void **state)
{
	(void)state;
	char buf[32];

	assert_string_equal(cli_format_size(64, buf, sizeof(buf)), "64 B");
	assert_string_equal(cli_format_size(4096, buf, sizeof(buf)), "4 KiB");
	assert_string_equal(cli_format_size(3 << 19, buf, sizeof(buf)), "1.5 MiB");
	assert_string_equal(cli_format_ns(16.5, buf, sizeof(buf)), "16.5 ns");
	assert_string_equal(cli_format_ns(44800, buf, sizeof(buf)), "44.8 us");
	assert_string_equal(cli_format_ns(1.88e6, buf, sizeof(buf)), "1.88 ms");
}

// A lab option for the tests: --depth N (1..10).
static int on_option(int val, const char *arg, void *ctx)
{
	uint64_t *depth = ctx;

	if (val != 300)
		return -EINVAL;
	return cli_arg_u64("--depth", arg, 1, 10, depth);
}

static uint64_t depth;
static const struct option lab_options[] = {
	{ "depth", required_argument, NULL, 300 },
	{ 0 },
};
static const struct cli_lab lab = {
	.name = "99-test", .summary = "test", .options = lab_options,
	.on_option = on_option, .ctx = &depth,
};

static enum cli_result parse(struct cli_common *c, const char *a1, const char *a2,
			     const char *a3)
{
	char prog[] = "prog";
	char *argv[] = { prog, (char *)a1, (char *)a2, (char *)a3, NULL };
	int argc = 1 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);

	return cli_parse(argc, argv, &lab, c);
}

static void test_shared_options(void **state)
{
	(void)state;
	struct cli_common c;

	setenv("MACHINE", "box", 1);
	assert_int_equal(parse(&c, NULL, NULL, NULL), CLI_RUN);
	assert_int_equal(c.nr_reps, 7);
	assert_false(c.quick);
	assert_string_equal(c.out_dir, "results/box/99-test");

	assert_int_equal(parse(&c, "--quick", NULL, NULL), CLI_RUN);
	assert_true(c.quick);
	assert_int_equal(c.nr_reps, 3);
	assert_true(c.min_sample_ns < 10000000);

	assert_int_equal(parse(&c, "--quick", "--reps", "9"), CLI_RUN);
	assert_int_equal(c.nr_reps, 9);	// an explicit --reps wins over --quick's default
	assert_int_equal(parse(&c, "--out", "/tmp/x", NULL), CLI_RUN);
	assert_string_equal(c.out_dir, "/tmp/x");
	assert_int_equal(parse(&c, "--depth", "4", NULL), CLI_RUN);
	assert_int_equal(depth, 4);
}

static void test_bad_options(void **state)
{
	(void)state;
	struct cli_common c;

	assert_int_equal(parse(&c, "--reps", "0", NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--reps", "abc", NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--reps", "1001", NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--reps", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--bogus", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--quick=1", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "stray", NULL, NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--out", "", NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--depth", "11", NULL), CLI_EXIT_USAGE);
	assert_int_equal(parse(&c, "--depth", "-1", NULL), CLI_EXIT_USAGE);
}

static void test_machine_cannot_escape_results(void **state)
{
	(void)state;
	struct cli_common c;

	setenv("MACHINE", "../../etc", 1);
	assert_int_equal(parse(&c, NULL, NULL, NULL), CLI_RUN);
	assert_null(strstr(c.out_dir, ".."));
	assert_string_equal(c.out_dir, "results/etc/99-test");
	unsetenv("MACHINE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_arg_dir),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_shared_options),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_machine_cannot_escape_results),
	};
	return run_group(tests);
}
