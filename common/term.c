// SPDX-License-Identifier: MIT
// term: stdout's lines broken to the terminal's width (see term.h).
#include "term.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_INDENT 32
#define START_CHARS 48	// of each line, kept to find its hanging indent

unsigned term_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;

	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);

		if (*end == '\0' && v > 0)
			return v < TERM_MIN_WIDTH ? TERM_MIN_WIDTH : v > 100000 ? 100000 : (unsigned)v;
	}
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col < TERM_MIN_WIDTH ? TERM_MIN_WIDTH : ws.ws_col;
	return TERM_DEFAULT_WIDTH;
}

unsigned term_hanging_indent(const char *s, size_t len)
{
	size_t i = 0, lead = 0;

	// "verdict: ", "cross-check, page faults: ": a label of words, a colon, spaces.
	while (i < len && i < MAX_INDENT && s[i] != ':' &&
	       (isalnum((unsigned char)s[i]) || strchr(" -_,()/+", s[i])))
		i++;
	if (i > 0 && s[0] != ' ' && i + 1 < len && s[i] == ':' && s[i + 1] == ' ') {
		for (i++; i < len && s[i] == ' '; i++)
			;
		if (i <= MAX_INDENT)
			return (unsigned)i;
	}
	// "  cycles            no   reason ...": after the last wide gap near the start.
	while (lead < len && s[lead] == ' ')
		lead++;
	size_t best = 0;
	for (size_t k = lead; k + 1 < len && k < MAX_INDENT; k++) {
		if (s[k] != ' ' || s[k + 1] != ' ')
			continue;
		size_t end = k;
		while (end < len && s[end] == ' ')
			end++;
		if (end <= MAX_INDENT)
			best = end;
		k = end;
	}
	if (best)
		return (unsigned)best;
	return lead + 2 <= MAX_INDENT ? (unsigned)lead + 2 : MAX_INDENT;
}

// The state of the line being written: what is on it, and the word not yet placed.
struct fit {
	unsigned width;
	unsigned col;			// characters already on the output line
	unsigned spaces;		// blanks seen after the last word, not yet written
	char start[START_CHARS];	// the line's first characters, as written by the program
	size_t start_len;
	char word[512];
	size_t word_len;
	char out[4096];			// output of one write call
	size_t out_len;
};

// Writes out what one write call produced, best effort as stdout itself would (a closed terminal
// loses the text). Returns false when the terminal refused it.
static bool flush_out(struct fit *f)
{
	bool ok = true;

	for (size_t done = 0; done < f->out_len;) {
		ssize_t w = write(STDOUT_FILENO, f->out + done, f->out_len - done);

		if (w <= 0) {
			ok = false;
			break;
		}
		done += (size_t)w;
	}
	f->out_len = 0;
	return ok;
}

static void put(struct fit *f, const char *s, size_t n)
{
	while (n > 0) {
		if (f->out_len == sizeof(f->out))
			(void)flush_out(f);	// a refusal shows at the end of the write call
		size_t k = sizeof(f->out) - f->out_len < n ? sizeof(f->out) - f->out_len : n;
		memcpy(f->out + f->out_len, s, k);
		f->out_len += k;
		s += k;
		n -= k;
	}
}

static void put_spaces(struct fit *f, unsigned n)
{
	static const char blanks[] = "                                ";	// 32

	while (n > 0) {
		unsigned k = n < 32 ? n : 32;

		put(f, blanks, k);
		n -= k;
	}
}

// A fresh output line, indented under the line's label.
static void break_line(struct fit *f)
{
	unsigned indent = term_hanging_indent(f->start, f->start_len);

	if (indent > f->width / 2)
		indent = 4;
	put(f, "\n", 1);
	put_spaces(f, indent);
	f->col = indent;
}

// Places the word collected so far: after its blanks if it fits, else on a new line (the blanks
// dropped); a word longer than a whole line is cut.
static void place_word(struct fit *f)
{
	const char *w = f->word;
	size_t n = f->word_len;

	if (n == 0)
		return;
	if (f->col > 0 && f->col + f->spaces + n > f->width) {
		break_line(f);
	} else {
		put_spaces(f, f->spaces);
		f->col += f->spaces;
	}
	f->spaces = 0;
	while (f->col + n > f->width) {
		size_t k = f->width > f->col ? f->width - f->col : 0;

		if (k == 0) {
			break_line(f);
			continue;
		}
		put(f, w, k);
		w += k;
		n -= k;
		break_line(f);
	}
	put(f, w, n);
	f->col += (unsigned)n;
	f->word_len = 0;
}

static ssize_t fit_write(void *cookie, const char *buf, size_t size)
{
	struct fit *f = cookie;

	for (size_t i = 0; i < size; i++) {
		char c = buf[i];

		if (c != '\n' && f->start_len < sizeof(f->start))
			f->start[f->start_len++] = c;
		if (c == '\n') {
			place_word(f);
			put(f, "\n", 1);	// trailing blanks dropped
			f->col = f->spaces = 0;
			f->start_len = 0;
		} else if (c == ' ') {
			place_word(f);
			f->spaces++;
		} else {
			if (f->word_len == sizeof(f->word))
				place_word(f);
			f->word[f->word_len++] = c;
		}
	}
	// A partial line (a progress line, flushed) shows now: nothing is held back.
	place_word(f);
	if (f->spaces && f->col + f->spaces <= f->width) {
		put_spaces(f, f->spaces);
		f->col += f->spaces;
		f->spaces = 0;
	}
	return flush_out(f) ? (ssize_t)size : -1;
}

void term_note_left_out(const char *columns, unsigned full_width)
{
	printf("  (not shown at %u columns: %s, in data.csv and at %u columns)\n", term_width(),
	       columns, full_width);
}

static struct fit state;	// stdout's, once term_fit_stdout() has run
static bool fitted;

bool term_at_line_start(void)
{
	fflush(stdout);	// what stdout holds has reached fit_write, and its column is known
	return !fitted || (state.col == 0 && state.spaces == 0 && state.word_len == 0);
}

int term_fit_stdout(void)
{
	cookie_io_functions_t io = { .write = fit_write };

	state.width = term_width();
	FILE *f = fopencookie(&state, "w", io);
	if (!f)
		return -1;
	// Line-buffered: each line reaches the terminal when it ends, as on a terminal's stdout.
	setvbuf(f, NULL, _IOLBF, 0);
	fflush(stdout);
	stdout = f;
	fitted = true;
	return 0;
}
