// SPDX-License-Identifier: MIT
// Unit tests of common/term: the width from COLUMNS, the hanging indent of the labs' kinds of line,
// and stdout's lines broken at word boundaries to the width (in a child whose stdout is a file).
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "term.h"
#include "unit.h"

static void test_width_from_columns(void **state)
{
	(void)state;
	setenv("COLUMNS", "100", 1);
	assert_int_equal(term_width(), 100);
	setenv("COLUMNS", "12", 1);
	assert_int_equal(term_width(), TERM_MIN_WIDTH);	// too narrow to be meant
	setenv("COLUMNS", "wide", 1);	// not a number: as if unset
	// Not a terminal under the test runner: the default.
	if (!isatty(STDOUT_FILENO))
		assert_int_equal(term_width(), TERM_DEFAULT_WIDTH);
	unsetenv("COLUMNS");
}

static unsigned indent_of(const char *line)
{
	return term_hanging_indent(line, strlen(line));
}

static void test_hanging_indents(void **state)
{
	(void)state;
	assert_int_equal(indent_of("verdict: 'a claim' holds: 1.00x"), 9);
	assert_int_equal(indent_of("machine:  AMD EPYC | 1 package"), 10);
	// A label too long to hang under (over 32 columns): a plain indent.
	assert_int_equal(indent_of("cross-check, page faults per op: getrusage 1"), 2);
	assert_int_equal(indent_of("  cycles            no   PAPI cannot count anything here"), 25);
	assert_int_equal(indent_of("  counted in user mode only: the kernel's share"), 4);
	assert_int_equal(indent_of("The claim, at 64 B, 3 interleaved rounds: stack+touch 28 ns"), 2);
}

// Runs fn in a child whose stdout is a file, broken to width; returns the file's text (free it).
static char *fitted_output(unsigned width, void (*fn)(void))
{
	char path[] = "/tmp/test_term.XXXXXX", cols[16];
	int fd = mkstemp(path);
	pid_t pid;

	assert_true(fd >= 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(cols, sizeof(cols), "%u", width);
		setenv("COLUMNS", cols, 1);
		if (dup2(fd, STDOUT_FILENO) < 0 || term_fit_stdout() != 0)
			_exit(3);
		fn();
		fflush(stdout);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	off_t len = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	close(fd);
	unlink(path);
	return text;
}

static const char *const lines[] = {
	"verdict: 'a function that puts a small buffer on the stack runs 10x faster than one that "
	"uses malloc' fails: 7.25x (7.18-7.26x, 75%, 3 rounds)\n",
	"  cycles            no   PAPI cannot count anything here (see above); enable: a "
	"PAPI/libpfm4 that knows this CPU\n",
	"short line\n",
	"measuring: 1 MiB...",	// a progress line, flushed as it goes
	" 8 MiB... done\n",
	"/a/path/with/no/blanks/that/is/longer/than/the/whole/line/it/must/go/on/anyway\n",
};

static void print_lines(void)
{
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		fputs(lines[i], stdout);
		fflush(stdout);
	}
}

// The text without its blanks and line breaks: what breaking lines must not change.
static char *ink(const char *s)
{
	char *out = calloc(1, strlen(s) + 1), *o = out;

	assert_non_null(out);
	for (; *s; s++)
		if (*s != ' ' && *s != '\n')
			*o++ = *s;
	return out;
}

// A hanging indent over half the width would leave too little room: 4 instead.
static void print_counter_line(void)
{
	fputs(lines[1], stdout);
}

static void test_narrow_terminal_indents_less(void **state)
{
	(void)state;
	char *text = fitted_output(40, print_counter_line);

	assert_non_null(strstr(text, "PAPI cannot\n    count anything"));
	free(text);
}

static void test_lines_fit_and_keep_their_words(void **state)
{
	(void)state;
	char *text = fitted_output(60, print_lines);
	char *copy = strdup(text), *save = NULL, all[1024] = "";

	// Every line fits, and none ends in a blank.
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_true(strlen(line) <= 60);
		assert_true(line[strlen(line) - 1] != ' ');
	}
	free(copy);
	// The verdict's continuation lines hang under its text, the counter's under its reason.
	assert_non_null(strstr(text, "on the stack\n         runs 10x"));
	assert_non_null(strstr(text, "here\n                         (see above)"));
	assert_non_null(strstr(text, "\nshort line\n"));
	assert_non_null(strstr(text, "\nmeasuring: 1 MiB... 8 MiB... done\n"));
	// Nothing lost, nothing added but blanks and line breaks.
	for (size_t i = 0, used = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		used += (size_t)snprintf(all + used, sizeof(all) - used, "%s", lines[i]);
	char *want = ink(all), *got = ink(text);
	assert_string_equal(got, want);
	free(want);
	free(got);
	free(text);
}

// A line of its own after a progress line needs to know that the progress line is open.
static void print_progress_and_probe(void)
{
	bool at_start_before = term_at_line_start();

	fputs("measuring: 1 MiB...", stdout);
	bool open = !term_at_line_start();
	fputs(" done\n", stdout);
	printf("%s %s %s\n", at_start_before ? "fresh" : "not-fresh", open ? "open" : "closed",
	       term_at_line_start() ? "fresh" : "not-fresh");
}

static void test_knows_an_open_line(void **state)
{
	(void)state;
	char *text = fitted_output(80, print_progress_and_probe);

	assert_string_equal(text, "measuring: 1 MiB... done\nfresh open fresh\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_width_from_columns),
		cmocka_unit_test(test_hanging_indents),
		cmocka_unit_test(test_lines_fit_and_keep_their_words),
		cmocka_unit_test(test_narrow_terminal_indents_less),
		cmocka_unit_test(test_knows_an_open_line),
	};
	return run_group(tests);
}
