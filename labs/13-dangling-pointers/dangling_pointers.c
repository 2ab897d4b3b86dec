// SPDX-License-Identifier: MIT
// Lab 13: what really happens after free, and which tools catch it. In supervised children: a use
// after free (the freed block still holds the old value, then another allocation reuses it and a
// write through the stale pointer corrupts the new owner's data), a double free (glibc aborts the
// child), and a pointer set to NULL whose alias still dangles. Then the same demonstrations built
// with AddressSanitizer (the _asan twin make builds beside this program): its reports, with the
// allocation and free stacks.
// Usage: dangling_pointers [--quick] [--reps N] [--out DIR]
//        dangling_pointers --demo use-after-free|double-free|alias|cost   (internal)
// build-also: asan
// The bugs are the lab: tests/e2e/sanitizers.sh checks that ASan reports both kinds, and no other.
// sanitizer-expects: AddressSanitizer heap-use-after-free
// sanitizer-expects: AddressSanitizer attempting (a double free)
// valgrind-skip: its bugs are deliberate, and valgrind reports them as it should
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "die.h"
#include "guard.h"
#include "lab.h"
#include "report.h"
#include "sanitizer.h"

struct account {
	char owner[24];
	long balance;
};

enum demo { USE_AFTER_FREE, DOUBLE_FREE, ALIAS, NR_DEMOS };
static const char *const demo_names[NR_DEMOS] = { "use-after-free", "double-free", "alias" };

// What a demonstration saw, in shared memory (written by the child, read by the lab).
struct view {
	struct account before, after_free, new_owner_before, new_owner_after;
	uintptr_t first, second;	// the two blocks' addresses
	long alias_balance;
	bool a_is_null, finished;
};

// The bugs below are the lab: GCC 12 sees some of them at compile time, and says so.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

// The compiler must not see through these: a use after free is undefined behaviour, and an
// optimiser may assume it never happens. noinline and the escapes keep the accesses as written.
static __attribute__((noinline)) struct account *open_account(const char *owner, long balance)
{
	struct account *a = malloc(sizeof(*a));

	if (!a)
		abort();
	snprintf(a->owner, sizeof(a->owner), "%s", owner);
	a->balance = balance;
	bench_escape(a);
	return a;
}

static __attribute__((noinline)) void read_account(const struct account *a, struct account *copy)
{
	memcpy(copy, a, sizeof(*copy));	// through a stale pointer: reads freed memory
	bench_escape(copy);
}

static void use_after_free(struct view *v)
{
	struct account *alice = open_account("alice", 100);

	read_account(alice, &v->before);
	free(alice);
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): bug 1, on purpose: a read after free
	read_account(alice, &v->after_free);
	struct account *bob = open_account("bob", 500);	// the allocator hands the block out again
	v->first = (uintptr_t)alice;
	v->second = (uintptr_t)bob;
	read_account(bob, &v->new_owner_before);
	alice->balance = 0;				// bug 2: write through the stale pointer
	bench_escape(alice);
	read_account(bob, &v->new_owner_after);
	v->finished = true;
	free(bob);
}

static void double_free(struct view *v)
{
	struct account *a = open_account("carol", 300);

	v->first = (uintptr_t)a;
	free(a);
	bench_escape(a);	// NOLINT(clang-analyzer-unix.Malloc): on purpose
	// cppcheck-suppress doubleFree ; the bug, on purpose: glibc's tcache notices and aborts
	free(a);
	v->finished = true;
}

static void alias(struct view *v)
{
	struct account *a = open_account("dave", 700);
	struct account *alias = a;	// e.g. stored in a list as well

	free(a);
	a = NULL;			// the "fix": only this copy of the pointer forgets the block
	bench_escape(&a);
	v->a_is_null = a == NULL;
	// NOLINTNEXTLINE(clang-analyzer-unix.Malloc): the bug is still there, on purpose
	v->alias_balance = alias->balance;
	bench_escape(alias);
	v->finished = true;
}

static void run_demo(enum demo d, struct view *v)
{
	switch (d) {
	case USE_AFTER_FREE:
		use_after_free(v);
		break;
	case DOUBLE_FREE:
		double_free(v);
		break;
	case ALIAS:
		alias(v);
		break;
	case NR_DEMOS:
		break;
	}
}

// ---- supervised runs ----------------------------------------------------------------------------

struct demo_job {
	enum demo d;
	struct view *view;
	int stderr_fd;	// the child's stderr goes here: glibc's and ASan's messages
};

static int demo_child(void *arg)
{
	struct demo_job *job = arg;

	dup2(job->stderr_fd, STDERR_FILENO);
	run_demo(job->d, job->view);
	return 0;
}

struct outcome {
	struct view view;
	struct guard_result g;
	char message[4096];	// what the child wrote on stderr
};

static void supervise(enum demo d, struct outcome *o)
{
	struct view *v = guard_shared_alloc(sizeof(*v));
	struct guard_limits limits = { .timeout_ms = 10000 };
	int fds[2];

	if (!v || pipe(fds) != 0)
		die("cannot share memory or a pipe with the child");
	struct demo_job job = { d, v, fds[1] };
	int err = guard_run(demo_child, &job, &limits, &o->g);
	close(fds[1]);
	if (err)
		die_errno(err, "cannot start the supervised child");
	// The child has exited: its message (a few lines) waits in the pipe.
	ssize_t n = read(fds[0], o->message, sizeof(o->message) - 1);
	o->message[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	o->view = *v;
	guard_shared_free(v, sizeof(*v));
}

// ---- the AddressSanitizer twin ------------------------------------------------------------------

struct asan_report {
	bool ran;
	char why_not[160];
	char kind[64];		// "heap-use-after-free", "attempting double-free"
	char lines[2048];	// the report's headline, stack headers, and frames in this source
};

// Runs "<this program>_asan --demo NAME" and keeps the interesting lines of its report.
static void run_asan_twin(const char *exe, enum demo d, struct asan_report *r)
{
	char twin[4200];
	static char out[1 << 15];

	snprintf(twin, sizeof(twin), "%s_asan", exe);
	if (access(twin, X_OK) != 0) {
		snprintf(r->why_not, sizeof(r->why_not), "%.60s was not built (the compiler has no "
			 "AddressSanitizer runtime: Debian's libasan8 comes with gcc)",
			 strrchr(twin, '/') ? strrchr(twin, '/') + 1 : twin);
		return;
	}
	char *const argv[] = { twin, (char *)"--demo",
			       (char *)(d == NR_DEMOS ? "cost" : demo_names[d]), NULL };
	static const char *const env[] = { "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=23",
					   NULL };
	struct guard_limits limits = { .timeout_ms = 30000 };
	struct guard_result g;
	if (guard_exec(argv, env, &limits, out, sizeof(out), &g) != 0) {
		snprintf(r->why_not, sizeof(r->why_not), "could not start the AddressSanitizer build");
		return;
	}
	int status = g.outcome == GUARD_EXITED ? g.exit_status : -1;
	if (d == NR_DEMOS) {	// the timing run: its one line is the result
		snprintf(r->lines, sizeof(r->lines), "%.200s", out);
		r->ran = status == 0;
		return;
	}
	const char *err = strstr(out, "ERROR: AddressSanitizer: ");
	if (!err) {
		snprintf(r->why_not, sizeof(r->why_not), "the AddressSanitizer build reported nothing "
			 "(status %d%s)", status,
			 strstr(out, "Shadow memory") ? ": it could not map its shadow memory, e.g. "
			 "under ulimit -v" : "");
		return;
	}
	r->ran = true;
	// "heap-use-after-free on address ...", "attempting double-free on 0x...": up to " on ".
	const char *kind = err + strlen("ERROR: AddressSanitizer: ");
	size_t kind_len = strcspn(kind, "\n");
	const char *on = strstr(kind, " on ");
	if (on && on < kind + kind_len)
		kind_len = (size_t)(on - kind);
	snprintf(r->kind, sizeof(r->kind), "%.*s", (int)kind_len, kind);
	// Keep: the error line, the access line, the stack headers, and frames in this source.
	size_t kept = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		bool keep = strstr(line, "ERROR: AddressSanitizer") || strstr(line, "READ of size") ||
			    strstr(line, "WRITE of size") || strstr(line, "freed by thread") ||
			    strstr(line, "previously allocated by thread") ||
			    strstr(line, "dangling_pointers.c") || strstr(line, "is located");
		if (keep && kept + strlen(line) + 8 < sizeof(r->lines))
			kept += (size_t)snprintf(r->lines + kept, sizeof(r->lines) - kept, "    %s\n",
						 line);
	}
}

// ---- report -------------------------------------------------------------------------------------

struct run {
	struct lab lab;
	char exe[4096];
	struct stats cost_plain, cost_asan;	// ns per malloc + free
	bool have_asan_cost;
	struct outcome out[NR_DEMOS];
	struct asan_report asan[NR_DEMOS];
};

// The first bytes of the owner field in hex, and as text with anything unprintable as '.'.
static void show(const char *label, const struct account *a)
{
	const unsigned char *b = (const unsigned char *)a->owner;
	char text[sizeof(a->owner) + 1];
	size_t n = strnlen(a->owner, sizeof(a->owner));

	for (size_t i = 0; i < n; i++) {
		text[i] = '.';
		if (b[i] >= 32 && b[i] < 127)
			text[i] = (char)b[i];
	}
	text[n] = '\0';
	printf("  %-34s owner bytes %02x%02x%02x%02x%02x%02x%02x%02x... (\"%s\"), balance %ld\n",
	       label, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], text, a->balance);
}

static void print_demos(const struct run *run)
{
	const struct outcome *u = &run->out[USE_AFTER_FREE], *d = &run->out[DOUBLE_FREE];
	const struct outcome *al = &run->out[ALIAS];
	char why[128];

	printf("\nUse after free (a supervised child: %s)\n",
	       guard_describe(&u->g, why, sizeof(why)));
	if (u->view.finished) {
		show("alice's block before free:", &u->view.before);
		show("the same block after free:", &u->view.after_free);
		printf("  bob's new block is at 0x%lx, alice's was at 0x%lx: %s\n",
		       (unsigned long)u->view.second, (unsigned long)u->view.first,
		       u->view.second == u->view.first ? "the same block" : "another block");
		show("bob's block, fresh:", &u->view.new_owner_before);
		show("bob's block after alice->balance = 0:", &u->view.new_owner_after);
	}
	printf("\nDouble free (a supervised child: %s)\n", guard_describe(&d->g, why, sizeof(why)));
	if (d->message[0])
		printf("  its stderr: %.*s\n", (int)strcspn(d->message, "\n"), d->message);
	printf("\nSetting one pointer to NULL (a supervised child: %s)\n",
	       guard_describe(&al->g, why, sizeof(why)));
	if (al->view.finished)
		printf("  a == NULL: %s; the alias still points at the freed block and reads balance "
		       "%ld\n", al->view.a_is_null ? "yes" : "no", al->view.alias_balance);

	printf("\nThe same demonstrations built with AddressSanitizer (%s_asan --demo ...)\n",
	       "dangling_pointers");
	for (int k = 0; k < NR_DEMOS; k++) {
		const struct asan_report *r = &run->asan[k];

		if (!r->ran) {
			printf("  %s: not run: %s\n", demo_names[k], r->why_not);
			continue;
		}
		printf("  %s:\n%s", demo_names[k], r->lines);
	}
}

static void verdicts(struct run *run)
{
	const struct outcome *u = &run->out[USE_AFTER_FREE], *d = &run->out[DOUBLE_FREE];
	const struct outcome *al = &run->out[ALIAS];
	const char *san = sanitizer_name();

	if (san) {
		lab_note("this build runs under %s, which stops each demonstration at its first bug "
			 "(the children's reports are above); the plain build shows what happens "
			 "without it", san);
	} else if (u->view.finished) {
		bool reused = u->view.second == u->view.first;
		bool corrupted = u->view.new_owner_after.balance != u->view.new_owner_before.balance;

		lab_headline(&run->lab, "stale_write_corrupted_new_owner", corrupted, "bool", NAN);
		lab_judge(&run->lab, "stale_pointer_corrupts_new_owner",
			  "a write through a dangling pointer corrupts the block's next owner",
			  reused && corrupted ? COMPARE_HOLDS : COMPARE_FAILS, NAN, NAN, NAN, "",
			  "after free the block still held balance %ld (its first bytes now hold the "
			  "allocator's free-list link); malloc gave the same size to bob %s, and "
			  "writing through alice's stale pointer changed bob's balance from %ld to %ld",
			  u->view.after_free.balance, reused ? "at the same address" : "elsewhere",
			  u->view.new_owner_before.balance, u->view.new_owner_after.balance);
	}
	bool aborted = d->g.outcome == GUARD_SIGNALED && d->g.signal == SIGABRT;
	lab_headline(&run->lab, "double_free_aborted", aborted, "bool", NAN);
	if (!san)
		lab_judge(&run->lab, "double_free_detected", "glibc stops a double free",
			  aborted ? COMPARE_HOLDS : COMPARE_FAILS, NAN, NAN, NAN, "",
			  "the double free %s: %.*s", aborted ?
			  "killed the child with SIGABRT (glibc checks its tcache)" :
			  "went unnoticed by this allocator",
			  (int)strcspn(d->message, "\n"), d->message[0] ? d->message : "no message");
	if (!san && al->view.finished)
		lab_shown(&run->lab, "setting the pointer to NULL did not help its alias: it still "
			    "read balance %ld from the freed block", al->view.alias_balance);

	unsigned caught = 0;
	for (int k = 0; k < NR_DEMOS; k++)
		caught += run->asan[k].ran;
	if (run->asan[USE_AFTER_FREE].ran) {
		lab_headline(&run->lab, "asan_reports", caught, "of 3", NAN);
		lab_judge(&run->lab, "asan_catches_all_three",
			  "AddressSanitizer catches all three bugs at the bad access",
			  caught == 3 ? COMPARE_HOLDS : COMPARE_FAILS, caught, NAN, NAN, "of 3",
			  "it stopped %u of 3 and named them (%s, %s, %s), with the stacks where the "
			  "block was allocated and freed", caught,
			    run->asan[USE_AFTER_FREE].kind, run->asan[DOUBLE_FREE].kind,
			    run->asan[ALIAS].kind);
	} else {
		lab_note("AddressSanitizer not run: %s", run->asan[USE_AFTER_FREE].why_not);
	}
	if (run->have_asan_cost) {
		lab_headline(&run->lab, "asan_malloc_free_slowdown",
			     run->cost_asan.median / run->cost_plain.median, "x", NAN);
		lab_shown(&run->lab,
			    "the price: malloc + free of an account takes %.1f ns here, %.1f ns in the "
			    "AddressSanitizer build (%.1fx), which also holds freed blocks in quarantine",
			    run->cost_plain.median, run->cost_asan.median,
			    run->cost_asan.median / run->cost_plain.median);
	}
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "outcome", "signal", "balance", "same_block", "caught_by",
		"ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95",
	};
	struct report_csv csv;
	char why[128];

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	const struct outcome *u = &run->out[USE_AFTER_FREE];
	const struct { const char *k; const struct account *a; } views[] = {
		{ "before_free", &u->view.before }, { "after_free", &u->view.after_free },
		{ "new_owner_before", &u->view.new_owner_before },
		{ "new_owner_after_stale_write", &u->view.new_owner_after },
	};
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]) && u->view.finished; i++) {
		report_csv_str(&csv, "use_after_free");
		report_csv_str(&csv, views[i].k);
		report_csv_str(&csv, guard_describe(&u->g, why, sizeof(why)));
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, (double)views[i].a->balance);
		report_csv_double(&csv, u->view.second == u->view.first);
		report_csv_str(&csv, "");
		for (int x = 0; x < 3; x++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	for (int k = 0; k < NR_DEMOS; k++) {
		const struct outcome *o = &run->out[k];

		report_csv_str(&csv, "plain");
		report_csv_str(&csv, demo_names[k]);
		report_csv_str(&csv, guard_describe(&o->g, why, sizeof(why)));
		report_csv_double(&csv, o->g.outcome == GUARD_SIGNALED ? (double)o->g.signal : NAN);
		report_csv_double(&csv, k == ALIAS && o->view.finished ? (double)o->view.alias_balance
								       : NAN);
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		for (int x = 0; x < 3; x++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	for (int k = 0; k < NR_DEMOS; k++) {
		if (!run->asan[k].ran)
			continue;
		report_csv_str(&csv, "asan");
		report_csv_str(&csv, demo_names[k]);
		report_csv_str(&csv, "reported");
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, run->asan[k].kind);
		for (int x = 0; x < 3; x++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	const struct { const char *k; const struct stats *st; bool have; } costs[] = {
		{ "plain", &run->cost_plain, true }, { "asan", &run->cost_asan, run->have_asan_cost },
	};
	for (size_t i = 0; i < 2; i++) {
		if (!costs[i].have)
			continue;
		report_csv_str(&csv, "malloc_free_cost");
		report_csv_str(&csv, costs[i].k);
		report_csv_str(&csv, "");
		for (int x = 0; x < 3; x++)
			report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, costs[i].st->median);
		report_csv_double(&csv, costs[i].st->p05);
		report_csv_double(&csv, costs[i].st->p95);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "asan_twin", "%s_asan (%s)", run->exe,
		  run->asan[USE_AFTER_FREE].ran ? "ran" : run->asan[USE_AFTER_FREE].why_not);
}

// What the safety costs: malloc + free of an account, here and in the ASan twin (which keeps
// freed blocks in quarantine and poisons them, so that a stale access is caught).
static void malloc_free_kernel(void *arg, uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++) {
		struct account *a = malloc(sizeof(*a));

		bench_escape(a);
		free(a);
	}
	(void)arg;
}

static int measure_malloc_free(unsigned reps, uint64_t min_sample_ns, struct stats *out)
{
	struct bench_config config = { .nr_samples = reps, .min_sample_ns = min_sample_ns };
	struct bench_result r;
	int err = bench_run(&config, malloc_free_kernel, NULL, &r);

	*out = r.ns_per_op;
	return err;
}

// --demo NAME: one demonstration, nothing else, so that the ASan twin's report is about it alone.
// --demo cost: the malloc + free timing, printed as "median p05 p95".
static int demo_mode(const char *name)
{
	static struct view v;

	if (!strcmp(name, "cost")) {
		struct stats st;

		if (measure_malloc_free(7, 10000000, &st) != 0)
			return 1;
		printf("%.3f %.3f %.3f\n", st.median, st.p05, st.p95);
		return 0;
	}

	for (int k = 0; k < NR_DEMOS; k++) {
		if (!strcmp(name, demo_names[k])) {
			run_demo((enum demo)k, &v);
			return 0;
		}
	}
	fprintf(stderr, "%s: --demo: use-after-free, double-free or alias\n",
		program_invocation_short_name);
	return 2;
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = { { 0 } };
	const struct cli_lab info = {
		.name = "13-dangling-pointers",
		.summary = "Shows what a use after free, a double free and a dangling alias do, in "
			   "supervised children, and what AddressSanitizer reports for each.",
		.options_help = "",
		.options = options,
	};

	if (argc == 3 && !strcmp(argv[1], "--demo"))
		return demo_mode(argv[2]);
	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 13: dangling pointers", argc, argv);
	lab_pin_here(&run.lab);
	printf("counters: none used by this lab\n");
	lab_program_path(run.exe, sizeof(run.exe));

	// predict
	lab_prediction("freed memory keeps its old bytes until reused; the next malloc of the same "
		       "size gets the same block, and a write through the stale pointer lands in the "
		       "new owner's data; nothing crashes");
	lab_prediction("glibc aborts a double free it can see; setting one pointer to NULL leaves its "
		       "aliases dangling; AddressSanitizer stops each at the first bad access");

	// measure: every bug in its own supervised child
	printf("measuring:");
	for (int k = 0; k < NR_DEMOS; k++) {
		printf(" %s", demo_names[k]);
		fflush(stdout);
		supervise((enum demo)k, &run.out[k]);
	}
	printf(" asan");
	fflush(stdout);
	for (int k = 0; k < NR_DEMOS; k++)
		run_asan_twin(run.exe, (enum demo)k, &run.asan[k]);
	printf(" cost");
	fflush(stdout);
	if (measure_malloc_free(run.lab.opt.nr_reps, run.lab.opt.min_sample_ns, &run.cost_plain) != 0)
		die("cannot time malloc + free");
	struct asan_report cost;
	memset(&cost, 0, sizeof(cost));
	run_asan_twin(run.exe, NR_DEMOS, &cost);
	run.have_asan_cost = cost.ran && sscanf(cost.lines, "%lf %lf %lf", &run.cost_asan.median,
						&run.cost_asan.p05, &run.cost_asan.p95) == 3;
	printf(" done\n");

	// report
	print_demos(&run);
	printf("\n");
	verdicts(&run);
	write_csv(&run);
	lab_write_manifest(&run.lab, NULL, manifest_extra, &run);
	lab_finish(&run.lab);
	return 0;
}
