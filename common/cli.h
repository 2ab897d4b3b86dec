/* SPDX-License-Identifier: MIT */
/* cli: the options every lab shares, and strict parsing of numbers and sizes from the user. */
#ifndef COMMON_CLI_H
#define COMMON_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

/* What the shared options set. Defaults come from cli_parse(). */
struct cli_common {
	bool quick;		/* --quick: a few seconds, for tests (fewer points, shorter samples) */
	unsigned nr_reps;	/* --reps N: samples per measured point (default 7, quick 3) */
	unsigned nr_processes;	/* --processes N: a comparison's rounds are spread over N processes
				   (default 3, quick 1) */
	uint64_t min_sample_ns;	/* length of one sample (default 10 ms, quick 1 ms) */
	const char *out_dir;	/* --out DIR; NULL until cli_parse() fills the default */
	bool print_out_dir;	/* --print-out-dir: print where results would go, then exit 0 */
	bool list_counters;	/* --counters: which event each counter metric uses here, then exit */
	bool list_machine;	/* --machine: what moves timings on this machine (machine.h), then exit */
	int cpu_kind;		/* --cpu-kind K: hwloc's CPU kind to run on; -1: the largest cores */
};

/*
 * What a lab tells cli_parse() about itself. Lab options use getopt_long `val`s of 256 and up;
 * on_option() returns 0, or -EINVAL after printing one line about the bad value.
 */
struct cli_lab {
	const char *name;		/* lab directory name, e.g. "01-stack-vs-heap" */
	const char *summary;		/* one sentence: what the lab measures */
	const char *options_help;	/* the lab's own options, one per line, or NULL */
	const struct option *options;	/* the lab's own long options (zero-terminated) or NULL */
	int (*on_option)(int val, const char *arg, void *ctx);
	void *ctx;
};

enum cli_result {
	CLI_RUN,	/* parsed: go on and run */
	CLI_EXIT_OK,	/* --help, --version or --print-out-dir was handled: exit 0 */
	CLI_EXIT_USAGE,	/* a bad option or value; one line was printed: exit 2 */
};

/*
 * Parses argv into *common and the lab's own options. The default --out is
 * results/<machine>/<lab name> (see report_machine_id(); RESULTS=dir replaces results/). Never exits.
 */
enum cli_result cli_parse(int argc, char **argv, const struct cli_lab *lab,
			  struct cli_common *common);

/*
 * Strict parsing, no atoi: the whole string must be the number; leading '+'/'-', blanks and
 * trailing junk are errors. Return 0, -EINVAL (not a number) or -ERANGE (does not fit).
 */
int cli_parse_u64(const char *s, uint64_t *out);

/* A byte count: digits with an optional suffix K, M, G (powers of 1024; KiB/KB/k accepted too). */
int cli_parse_size(const char *s, uint64_t *out);

/*
 * For on_option(): parse a number or a size and check it lies in [min, max]. On error prints
 * "program: --opt: 'arg' is not ..." on stderr and returns -EINVAL.
 */
int cli_arg_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
int cli_arg_size(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out);

/* For on_option(): a directory name; an empty one is an error (one line, -EINVAL). */
int cli_arg_dir(const char *opt, const char *arg, const char **out);

/* Formats a byte count the way users write it: "64 B", "4 KiB", "1.5 MiB". Returns buf. */
const char *cli_format_size(uint64_t bytes, char *buf, unsigned len);

/* Formats a duration: "16.5 ns", "44.8 us", "1.88 ms", "2.10 s". Returns buf. */
const char *cli_format_ns(double ns, char *buf, unsigned len);

#endif
