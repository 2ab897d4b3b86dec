// SPDX-License-Identifier: MIT
// cli: shared options and strict number parsing (see cli.h).
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_info.h"
#include "report.h"

enum { OPT_REPS = 'r', OPT_OUT = 'o', OPT_QUICK = 'q', OPT_HELP = 'h', OPT_VERSION = 'V',
       OPT_PRINT_OUT_DIR = 200, OPT_CPU_KIND, OPT_COUNTERS, OPT_PROCESSES, OPT_MACHINE };

#define MAX_REPS 1000
#define MAX_PROCESSES 16

// The leading digits of s (no sign, no blank, at least one digit); *end points past them.
static int parse_digits(const char *s, unsigned long long *v, char **end)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno == ERANGE ? -ERANGE : 0;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int err = parse_digits(s, &v, &end);

	if (err)
		return err;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "B", 0 },
		{ "K", 10 }, { "k", 10 }, { "KB", 10 }, { "KiB", 10 },
		{ "M", 20 }, { "MB", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GB", 30 }, { "GiB", 30 },
	};
	unsigned long long v;
	char *end;
	int err = parse_digits(s, &v, &end);

	if (err)
		return err;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*out = (uint64_t)v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

// Parses arg with parse(), checks [min, max], and on error prints one line naming the option.
static int parse_arg(const char *opt, const char *arg, int (*parse)(const char *, uint64_t *),
		     const char *what, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	int err = parse(arg, &v);

	if (err == -EINVAL) {
		fprintf(stderr, "%s: %s: '%s' is not %s (see --help)\n",
			program_invocation_short_name, opt, arg, what);
		return -EINVAL;
	}
	if (err == -ERANGE || v < min || v > max) {
		fprintf(stderr, "%s: %s: '%s' is out of range (%llu to %llu)\n",
			program_invocation_short_name, opt, arg, (unsigned long long)min,
			(unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cli_arg_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_arg(opt, arg, cli_parse_u64, "a whole number", min, max, out);
}

int cli_arg_size(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	return parse_arg(opt, arg, cli_parse_size, "a size (e.g. 4096, 64K, 1M)", min, max, out);
}

int cli_arg_dir(const char *opt, const char *arg, const char **out)
{
	if (!arg[0]) {
		fprintf(stderr, "%s: %s: empty directory name\n", program_invocation_short_name, opt);
		return -EINVAL;
	}
	*out = arg;
	return 0;
}

const char *cli_format_size(uint64_t bytes, char *buf, unsigned len)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned i = 0;
	double v = (double)bytes;

	while (v >= 1024 && i + 1 < sizeof(names) / sizeof(names[0])) {
		v /= 1024;
		i++;
	}
	if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%llu %s", (unsigned long long)v, names[i]);
	else
		snprintf(buf, len, "%.1f %s", v, names[i]);
	return buf;
}

const char *cli_format_ns(double ns, char *buf, unsigned len)
{
	if (!isfinite(ns))
		snprintf(buf, len, "n/a");
	else if (ns < 1e3)
		snprintf(buf, len, "%.3g ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.3g us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	else
		snprintf(buf, len, "%.3g s", ns / 1e9);
	return buf;
}

static void print_help(const struct cli_lab *lab)
{
	printf("usage: %s [options]\n%s\n\n", program_invocation_short_name, lab->summary);
	printf("shared options:\n"
	       "  --quick            a short run (a few seconds): fewer points, shorter samples\n"
	       "  --reps N           samples per measured point (1-%d; default 7, 3 with --quick)\n"
	       "  --processes N      processes a comparison's rounds are spread over, each with its\n"
	       "                     own placement and pages (1-%d; default 3, 1 with --quick)\n"
	       "  --out DIR          where to write data.csv and manifest.txt\n"
	       "                     (default results/<machine>/%s; MACHINE=name sets <machine>,\n"
	       "                     RESULTS=dir another directory in place of results/)\n"
	       "  --print-out-dir    print that directory and exit (for scripts)\n"
	       "  --cpu-kind K       on a hybrid CPU, run on kind K (0, 1 ...: 'make doctor' lists\n"
	       "                     them; default: the largest cores)\n"
	       "  --counters         which event each counter metric uses on this machine, what it\n"
	       "                     counts, or why it cannot be counted; then exit\n"
	       "  --machine          what moves timings on this machine (governor, boost, SMT,\n"
	       "                     mitigations, clock source, power, virtualisation); then exit\n"
	       "  --help, --version\n", MAX_REPS, MAX_PROCESSES, lab->name);
	if (lab->options_help)
		printf("\n%s options:\n%s", lab->name, lab->options_help);
}

// The one line describing the problem is already printed: say nothing more, so a script or a
// learner sees exactly one line.
static enum cli_result bad_usage(void)
{
	return CLI_EXIT_USAGE;
}

enum cli_result cli_parse(int argc, char **argv, const struct cli_lab *lab,
			  struct cli_common *common)
{
	static const struct option shared[] = {
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "reps", required_argument, NULL, OPT_REPS },
		{ "processes", required_argument, NULL, OPT_PROCESSES },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "print-out-dir", no_argument, NULL, OPT_PRINT_OUT_DIR },
		{ "cpu-kind", required_argument, NULL, OPT_CPU_KIND },
		{ "counters", no_argument, NULL, OPT_COUNTERS },
		{ "machine", no_argument, NULL, OPT_MACHINE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
	};
	enum { NR_SHARED = sizeof(shared) / sizeof(shared[0]), MAX_OPTIONS = 64 };
	struct option all[MAX_OPTIONS + 1];
	size_t n = 0;
	bool reps_given = false, processes_given = false;
	static char default_out[PATH_MAX];

	for (size_t i = 0; i < NR_SHARED; i++)
		all[n++] = shared[i];
	for (const struct option *o = lab->options; o && o->name && n < MAX_OPTIONS; o++)
		all[n++] = *o;
	memset(&all[n], 0, sizeof(all[n]));

	*common = (struct cli_common){ .nr_reps = 7, .nr_processes = 3, .min_sample_ns = 10000000,
				       .cpu_kind = -1 };
	opterr = 0;	// we print our own one-line errors
	optind = 1;
	for (;;) {
		int prev_optind = optind;
		int c = getopt_long(argc, argv, ":", all, NULL);
		uint64_t v;

		if (c == -1)
			break;
		switch (c) {
		case OPT_QUICK:
			common->quick = true;
			break;
		case OPT_REPS:
			if (cli_arg_u64("--reps", optarg, 1, MAX_REPS, &v) < 0)
				return bad_usage();
			common->nr_reps = (unsigned)v;
			reps_given = true;
			break;
		case OPT_PROCESSES:
			if (cli_arg_u64("--processes", optarg, 1, MAX_PROCESSES, &v) < 0)
				return bad_usage();
			common->nr_processes = (unsigned)v;
			processes_given = true;
			break;
		case OPT_OUT:
			if (optarg[0] == '\0') {
				fprintf(stderr, "%s: --out: empty directory name\n",
					program_invocation_short_name);
				return bad_usage();
			}
			common->out_dir = optarg;
			break;
		case OPT_PRINT_OUT_DIR:
			common->print_out_dir = true;
			break;
		case OPT_COUNTERS:
			common->list_counters = true;	// lab_init() lists them: it knows counters
			break;
		case OPT_MACHINE:
			common->list_machine = true;
			break;
		case OPT_CPU_KIND:
			// How many kinds there are is known once the topology is loaded (lab_init).
			if (cli_arg_u64("--cpu-kind", optarg, 0, 63, &v) < 0)
				return bad_usage();
			common->cpu_kind = (int)v;
			break;
		case OPT_HELP:
			print_help(lab);
			return CLI_EXIT_OK;
		case OPT_VERSION:
			printf("%s (%s) %s\n", program_invocation_short_name, lab->name,
			       BUILD_GIT_REV);
			return CLI_EXIT_OK;
		case '?':
			if (optopt)
				fprintf(stderr, "%s: option '%s' takes no value\n",
					program_invocation_short_name, argv[prev_optind]);
			else
				fprintf(stderr, "%s: unknown option '%s' (see --help)\n",
					program_invocation_short_name, argv[prev_optind]);
			return bad_usage();
		case ':':
			fprintf(stderr, "%s: option '%s' needs a value\n",
				program_invocation_short_name, argv[prev_optind]);
			return bad_usage();
		default:
			if (!lab->on_option || lab->on_option(c, optarg, lab->ctx) < 0)
				return bad_usage();
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", program_invocation_short_name,
			argv[optind]);
		return bad_usage();
	}
	if (common->quick) {
		common->min_sample_ns = 1000000;
		if (!reps_given)
			common->nr_reps = 3;
		if (!processes_given)
			common->nr_processes = 1;
	}
	if (!common->out_dir) {
		char machine[REPORT_MACHINE_ID_MAX];

		/* RESULTS: where a cluster's array task (scripts/slurm/) keeps its runs apart. */
		const char *root = getenv("RESULTS");

		report_machine_id(machine, sizeof(machine));
		snprintf(default_out, sizeof(default_out), "%s/%s/%s",
			 root && *root ? root : "results", machine, lab->name);
		common->out_dir = default_out;
	}
	if (common->print_out_dir) {
		printf("%s\n", common->out_dir);
		return CLI_EXIT_OK;
	}
	return CLI_RUN;
}
