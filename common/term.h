/* SPDX-License-Identifier: MIT */
/*
 * term: output that fits the learner's terminal. The width is COLUMNS when set, else the
 * terminal's when stdout is one, else 80. term_fit_stdout() makes every line written to stdout
 * break at word boundaries before that width, with a hanging indent (after "verdict: ", after a
 * counter line's "no   ", ...), so that labs print whole sentences and the terminal never wraps
 * them mid-word. Files (verdict.txt, data.csv) are written elsewhere and keep whole lines. Tables
 * are not for this: a lab sizes its tables to term_width() (dropping or abbreviating columns), so
 * that a row is never broken.
 */
#ifndef COMMON_TERM_H
#define COMMON_TERM_H

#include <stdbool.h>
#include <stdio.h>

/* The narrowest width honoured: below it lines are broken at this width anyway. */
#define TERM_MIN_WIDTH 40
/* The width when nothing says: the classic terminal's. */
#define TERM_DEFAULT_WIDTH 80

/* COLUMNS if it is a number (at least TERM_MIN_WIDTH), else the terminal's width when stdout is a
 * terminal, else TERM_DEFAULT_WIDTH. */
unsigned term_width(void);

/* From now on, stdout's lines are broken to term_width() at word boundaries (see above). Returns 0,
 * or -1 when stdout could not be replaced (then output is unchanged). Call once, early. */
int term_fit_stdout(void);

/*
 * The hanging indent for a line that starts with text (its first characters, at least the first
 * 40 when the line is that long): the column after a leading "word: " label ("verdict: "), else
 * after the last gap of two or more spaces within the first 32 columns (a counter line's reason),
 * else two more than the line's own indent. Never more than 32. Exposed for the unit test.
 */
unsigned term_hanging_indent(const char *start, size_t len);

/* False while stdout's current line has text on it (a progress line, "measuring: 1 MiB... "):
 * what a line of its own must start with a line break for. True when stdout is not fitted. */
bool term_at_line_start(void);

/* Under a table that left columns out to fit term_width(): one line naming them, and the width
 * that shows them (data.csv always has them): "(not shown at 80 columns: calloc+free, in data.csv
 * and at 105 columns)". */
void term_note_left_out(const char *columns, unsigned full_width);

#endif
