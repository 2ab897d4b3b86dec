/* SPDX-License-Identifier: MIT */
/*
 * lab: the steps every lab program shares, so that its main() reads as the experiment: parse the
 * shared options, describe the machine, pin, print the counters it has, and write the manifest and
 * the verdict. Like die.h, this is for lab programs: it exits on a bad command line (status 2).
 */
#ifndef COMMON_LAB_H
#define COMMON_LAB_H

#include <stdbool.h>
#include <stddef.h>

#include "busy.h"
#include "cli.h"
#include "compare.h"
#include "counters.h"
#include "machine.h"
#include "memlimit.h"
#include "report.h"
#include "topo.h"

#define LAB_MAX_HEADLINES 16
/* How far an interval must clear a claim's threshold for a verdict (compare_set_margin()): 5% in
 * a full run, an allowance for what changes between two runs beyond its processes (this VM's TLB
 * ratio moved by that much from one run to the next); half again in a quick run, whose 3 rounds
 * cover about 75%. */
#define LAB_FULL_MARGIN 1.05
#define LAB_QUICK_MARGIN 1.5
#define LAB_MAX_VERDICTS 32

/* One headline figure for summary.csv (and the course summary, which shows the first). */
struct lab_headline {
	char name[64];
	double value;
	char unit[24];
	double cross_check;	/* the same figure from an independent source; NAN if none */
};

/* One judged claim: a row of verdicts.csv. */
struct lab_verdict_row {
	char id[48];
	char claim[160];
	enum compare_status status;
	double value, ci_low, ci_high;	/* NAN where there is none */
	char unit[24];
	/* For a ratio from rounds (0 / NAN otherwise): the rounds it rests on, its interval's
	 * nominal coverage, the processes they ran in, and the rounds the machine disturbed
	 * (run again, or left out). */
	unsigned rounds, processes, disturbed;
	double coverage;
	bool busy;		/* too few undisturbed rounds to judge */
};

struct lab {
	const struct cli_lab *info;
	struct cli_common opt;
	struct topo topo;
	bool have_topo;			/* false if hwloc could not load the topology */
	char machine_id[REPORT_MACHINE_ID_MAX];
	char machine_line[512];		/* topo_describe() */
	hwloc_bitmap_t allowed_pus;	/* the PUs this process may use, read before any pinning;
					   on a hybrid CPU only those of the kind it runs on */
	unsigned nr_allowed_pus;
	int home_pu;			/* the PU lab_pin_here() pins to, whose caches are described */
	int cpu_kind;			/* hwloc's CPU kind of home_pu on a hybrid CPU, else -1 */
	struct topo_binding binding;
	int bind_error;			/* 0, or -errno from topo_bind_thread(); 1: not tried */
	double clock_overhead_ns;
	uint64_t clock_step_ns;		/* clock_step_ns(): the smallest step a timing can see */
	int usable_cpus;		/* sched_getaffinity() at lab_init(), before any pinning */
	char emulated[160];		/* "" or what runs this program through an emulator */
	struct report_file verdict;	/* verdict.txt, open from lab_init() to lab_finish() */
	char command_line[512];
	struct lab_headline headlines[LAB_MAX_HEADLINES];
	size_t nr_headlines;
	struct lab_verdict_row verdicts[LAB_MAX_VERDICTS];
	size_t nr_verdicts;
	struct busy_meter busy_meter;	/* from lab_init() on */
	struct busy busy_before;	/* a reading at lab_init() */
	struct memlimit memory;		/* what this process may take, read at lab_init() */
	struct busy busy_run;		/* the whole run, read once by lab_busy_run() */
	bool have_busy_run;
	struct machine_sample machine_before;	/* frequencies and throttling at lab_init() */
};

/*
 * Parses the command line (exits 0 after --help/--version, 2 on a bad option), creates the output
 * directory (exits 2 with one line if it cannot be written), loads the topology and prints the
 * header: lab title, machine line, timer. Never returns on error.
 */
void lab_init(struct lab *lab, const struct cli_lab *info, const char *title, int argc,
	      char **argv);

/* Pins the calling thread to the PU it runs on now, so samples do not migrate; prints the result. */
void lab_pin_here(struct lab *lab);

/*
 * Pins the calling thread (a worker) to the index-th PU this process may use, round robin, and
 * returns the OS index of the PU it was then seen on, or -1 if it could not be pinned (it then runs
 * where the scheduler puts it). Safe in a supervised child.
 */
int lab_pin_worker(const struct lab *lab, unsigned index);

/* "0 1 0 1": the PUs lab_pin_worker() pins workers 0 .. nr - 1 to, for rounds that ran in other
 * processes (whose observed placement the parent never sees). */
void lab_worker_pus(const struct lab *lab, unsigned nr, char *buf, size_t len);

/*
 * Runs `perf bench ...` (argv, NULL-terminated) supervised (guard.h: it dies with the lab, 60 s at
 * most) and returns the "usecs/op" it prints; NAN when perf is missing, fails or prints none.
 */
double lab_perf_bench_us(const char *const argv[]);

/* The PUs this process may use (lab->allowed_pus) as a cpu_set_t, for a plan's watch_cpus: the
 * CPUs a lab whose threads spread over all of them watches for other programs. */
void lab_allowed_cpus(const struct lab *lab, cpu_set_t *set);

/*
 * The path of this program (/proc/self/exe), for running it again: as a worker, under a tool, or
 * in another build. Dies (status 1) if it cannot be read.
 */
void lab_program_path(char *buf, size_t len);

/* True when the CPU reports it runs under a hypervisor (the "hypervisor" flag in /proc/cpuinfo). */
bool lab_in_vm(void);

/* Prints which metrics are counted and, one line each, why the others are not. */
void lab_print_counters(const struct counters *c);

/* --counters: every metric's event on this machine and what it counts, or why not (the lines of
 * lab_print_counters, each metric tried on its own). */
void lab_list_counters(void);

/*
 * Prints one "note:" naming the metrics that were not counted (their data.csv cells stay empty);
 * nothing when every metric was counted.
 */
void lab_note_missing_counters(const struct counters *c);

/* Prints "prediction: ..." (what the learner should expect, from this machine's facts). */
void lab_prediction(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "shown:   ..." (what the run shows that is not a claim: a table's point in words, a
 * cross-check, an observation) and keeps the line for verdict.txt as "shown: ...". A "verdict:"
 * line is only ever a judged claim (lab_judge and the like, below). No row in verdicts.csv: for
 * a demonstration that a class counts, lab_show(). */
void lab_shown(struct lab *lab, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Judges a claim: prints "verdict: 'CLAIM' STATUS: DETAIL" (DETAIL from fmt), keeps the line for
 * verdict.txt and adds a row to verdicts.csv. id is snake_case and stable across runs and
 * machines (a class's results are counted per id); value and its interval are NAN where there
 * are none; unit names the value's unit ("x" for a ratio). Extra verdicts beyond LAB_MAX_VERDICTS
 * are printed but not kept for verdicts.csv (a bug in the lab: raise the limit).
 */
void lab_judge(struct lab *lab, const char *id, const char *claim, enum compare_status status,
	       double value, double ci_low, double ci_high, const char *unit, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

/*
 * A demonstration: what cannot come out otherwise on Linux (the kernel guarantees it, or the lab
 * builds it so) is shown with its numbers, not judged: prints "shown: 'CLAIM': DETAIL" and writes
 * status "shown", which compare and report count apart from the claims that held.
 */
void lab_show(struct lab *lab, const char *id, const char *claim, double value, const char *unit,
	      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * A demonstration that must come out one way on Linux: lab_show() when ok; when not, a judged
 * claim that fails, with the same detail (this machine did what the lab did not foresee: a
 * finding, not a demonstration).
 */
void lab_demonstrate(struct lab *lab, bool ok, const char *id, const char *claim, double value,
		     const char *unit, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* The same as lab_judge for a paired ratio: the detail starts with the ratio and its interval,
 * and verdicts.csv gets its rounds, coverage, processes and disturbed rounds. */
void lab_judge_ratio(struct lab *lab, const char *id, const char *claim,
		     enum compare_status status, const struct compare_ratio *r, const char *fmt,
		     ...) __attribute__((format(printf, 6, 7)));

/*
 * The memory this process may still take: the smallest of MemAvailable, the memory cgroup's room
 * and RLIMIT_AS's room (memlimit.h), read at lab_init(); 0 when none could be read. Memory-hungry
 * labs size themselves from this, never from MemAvailable alone: in a container with a memory
 * limit the kernel kills what touches more.
 */
uint64_t lab_memory_bytes(const struct lab *lab);

/* The rounds a comparison runs in all, over its processes (lab_plan()): 9 by default, 3 quick. */
unsigned lab_rounds(const struct lab *lab);

/*
 * How a lab's main comparisons run (compare_run()): --reps rounds in all, spread over --processes
 * processes (3 by default: 3 rounds in each of 3 processes, 9 rounds; 1 process of 3 rounds with
 * --quick), so that their intervals hold what differs from one process to the next.
 */
struct compare_plan lab_plan(const struct lab *lab);

/* Prints "note: ..." for what did not show or could not be done, with the likely reason. */
void lab_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Writes manifest.txt: machine, kernel, OS, compiler and flags, PAPI and hwloc versions, counters
 * and why not (c NULL: the lab counts none), pinning, options, git revision, date; then the lab's
 * own facts through extra().
 * Dies (status 1) if it cannot be written.
 */
void lab_write_manifest(struct lab *lab, const struct counters *c,
			void (*extra)(struct report_file *manifest, void *ctx), void *ctx);

/* data.csv in the output directory, dying (status 1) on any error: open with its header, end each
 * row (a wrong number of cells is a bug in the lab), commit. */
void lab_csv_open(struct lab *lab, struct report_csv *csv, const char *const *columns,
		  size_t nr_columns);
void lab_csv_end_row(struct report_csv *csv);
/* The same for another CSV file in the output directory (summary.csv). */
void lab_csv_open_named(struct lab *lab, struct report_csv *csv, const char *name,
			const char *const *columns, size_t nr_columns);
void lab_csv_commit(struct report_csv *csv);

/*
 * Records a headline figure for summary.csv: name (snake_case, units in the unit column), value,
 * unit, and the same figure from an independent source (PAPI, perf bench, the compiler) or NAN.
 * The first one recorded is the lab's headline in the course summary. Extra ones beyond
 * LAB_MAX_HEADLINES are dropped.
 */
void lab_headline(struct lab *lab, const char *name, double value, const char *unit,
		  double cross_check);

/*
 * Prints a "busy:" line if other work competed during the run, commits verdict.txt, verdicts.csv
 * and summary.csv, prints where the files are, releases the topology.
 */
void lab_finish(struct lab *lab);

#endif
