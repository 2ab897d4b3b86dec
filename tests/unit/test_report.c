// SPDX-License-Identifier: MIT
// Unit tests of common/report: safe machine ids, result directories, atomic CSV files.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "unit.h"

static char tmp_dir[] = "/tmp/test_report.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_sanitise(void **state)
{
	(void)state;
	static const struct { const char *in, *out; } cases[] = {
		{ "laptop", "laptop" }, { "my host.local", "my-host.local" },
		{ "../x", "x" }, { "../../etc/passwd", "etc-passwd" }, { "a/b", "a-b" },
		{ "..", "unknown" }, { "", "unknown" }, { "-rf", "rf" }, { ".hidden", "hidden" },
		{ "caf\xc3\xa9", "caf--" }, { "x;rm -rf /", "x-rm--rf--" },
		{ "compare", "compare-machine" }, { "Report", "Report-machine" },
		{ "../examples", "examples-machine" }, { "cluster-2", "cluster-2" },
	};
	char out[REPORT_MACHINE_ID_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		report_sanitise_id(cases[i].in, out, sizeof(out));
		assert_string_equal(out, cases[i].out);
	}
	char long_name[200];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	report_sanitise_id(long_name, out, sizeof(out));
	assert_int_equal(strlen(out), REPORT_MACHINE_ID_MAX - 1);
}

static void test_machine_id(void **state)
{
	(void)state;
	char out[REPORT_MACHINE_ID_MAX];

	setenv("MACHINE", "../evil", 1);
	report_machine_id(out, sizeof(out));
	assert_string_equal(out, "evil");
	unsetenv("MACHINE");
	report_machine_id(out, sizeof(out));	// the host name and the machine's suffix, sanitised
	assert_true(strlen(out) > 5);
	assert_null(strchr(out, '/'));
	char suffix[8], again[REPORT_MACHINE_ID_MAX];
	snprintf(suffix, sizeof(suffix), "-%04x", report_machine_suffix());
	assert_string_equal(out + strlen(out) - 5, suffix);
	report_machine_id(again, sizeof(again));	// stable
	assert_string_equal(again, out);
}

static void test_make_dir(void **state)
{
	(void)state;
	char path[256], file[300];

	snprintf(path, sizeof(path), "%s/a/b/c", tmp_dir);
	assert_int_equal(report_make_dir(path), 0);
	assert_int_equal(report_make_dir(path), 0);	// again: harmless
	snprintf(file, sizeof(file), "%s/plain", tmp_dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(report_make_dir(file), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/plain/sub", tmp_dir);
	assert_int_equal(report_make_dir(path), -ENOTDIR);
	assert_int_equal(report_make_dir("/proc/no-such-dir-here"), -ENOENT);
	// No probe file is left behind.
	snprintf(path, sizeof(path), "ls -A '%s/a/b/c' | grep -q .", tmp_dir);
	assert_int_not_equal(system(path), 0);
}

static void test_read_only_dir(void **state)
{
	(void)state;
	char path[256];

	if (geteuid() == 0)
		skip_because("root writes into read-only directories; tests/e2e covers it with a "
			     "read-only mount");
	snprintf(path, sizeof(path), "%s/ro", tmp_dir);
	assert_int_equal(mkdir(path, 0555), 0);
	assert_int_equal(report_make_dir(path), -EACCES);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_csv(void **state)
{
	(void)state;
	static const char *const cols[] = { "name", "size_bytes", "ns_per_op_median" };
	struct report_csv csv;
	char path[256];

	assert_int_equal(report_csv_open(&csv, tmp_dir, "data.csv", cols, 3), 0);
	snprintf(path, sizeof(path), "%s/data.csv", tmp_dir);
	assert_int_not_equal(access(path, F_OK), 0);	// invisible until committed
	report_csv_str(&csv, "plain");
	report_csv_u64(&csv, 4096);
	report_csv_double(&csv, 1.5);
	assert_int_equal(report_csv_end_row(&csv), 0);
	report_csv_str(&csv, "a,\"b\"");
	report_csv_u64(&csv, 0);
	report_csv_double(&csv, NAN);	// not measured: an empty cell, never 0
	assert_int_equal(report_csv_end_row(&csv), 0);
	report_csv_str(&csv, "exact");
	report_csv_double(&csv, 1048576);	// a whole number: all its digits
	report_csv_double(&csv, 1234.56789);	// a measurement: 6 significant digits
	assert_int_equal(report_csv_end_row(&csv), 0);
	report_csv_str(&csv, "short row");
	assert_int_equal(report_csv_end_row(&csv), -EINVAL);
	assert_int_equal(report_csv_commit(&csv), 0);
	assert_string_equal(slurp(path), "name,size_bytes,ns_per_op_median\n"
					 "plain,4096,1.5\n"
					 "\"a,\"\"b\"\"\",0,\n"
					 "exact,1048576,1234.57\n"
					 "short row\n");
}

static void test_abort_leaves_nothing(void **state)
{
	(void)state;
	struct report_file rf;
	char cmd[300];

	assert_int_equal(report_file_open(&rf, tmp_dir, "gone.txt"), 0);
	report_kv(&rf, "key", "%d", 42);
	report_file_abort(&rf);
	report_file_abort(&rf);	// twice: harmless
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q gone", tmp_dir);
	assert_int_not_equal(system(cmd), 0);
	assert_int_equal(report_file_open(&rf, "/proc/no-such-dir", "x"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitise),
		cmocka_unit_test(test_machine_id),
		cmocka_unit_test(test_make_dir),
		cmocka_unit_test(test_read_only_dir),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_abort_leaves_nothing),
	};
	return cmocka_run_group_tests_name(__FILE__, tests, setup, teardown);
}
