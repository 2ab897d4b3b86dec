// SPDX-License-Identifier: MIT
// Lab 2: how big a stack frame is, how deep recursion can go before the stack runs out, what happens
// at the limit (in a supervised child), what stack growth costs in page faults, how the optimiser
// turns some recursion into loops, and what a recursive call costs against a loop.
// Usage: recursion_depth [--quick] [--reps N] [--out DIR]
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "counters.h"
#include "die.h"
#include "guard.h"
#include "lab.h"
#include "report.h"
#include "term.h"

// Keeps the compiler from turning a call into a jump (a "sibling call"), which would reuse the
// frame: the frames are what this lab measures. GCC also needs it for "return n + f(n - 1)",
// which it turns into a loop with an accumulator.
#if defined(__clang__)
#define NO_TAIL_CALLS __attribute__((disable_tail_calls))
#else
#define NO_TAIL_CALLS __attribute__((optimize("no-optimize-sibling-calls")))
#endif

#define NR_RECORDED 64		// frame addresses recorded per descent
#define MAX_POINTS 128

enum experiment { FRAME, LIMIT, FAULTS, TAIL, COST };
static const char *const experiment_names[] = { "frame", "limit", "faults", "tail", "cost" };

struct point {
	enum experiment experiment;
	const char *kind;
	double array_bytes, stack_bytes, depth;
	struct stats ns;		// cost: ns per recursion level
	double frame_measured, frame_compiler;
	double max_depth, predicted_depth;
	double fault_offset;		// fault address - lowest stack address (negative: below)
	double faults_per_kib, faults_per_kib_papi;
	const char *outcome;
};

struct run {
	struct lab lab;
	struct point points[MAX_POINTS];
	size_t nr_points;
	double frame_bytes[8];		// measured, per frame function
	struct compare_ratio recursive_over_loop;	// paired by round
};

// ---- the recursive functions under test ------------------------------------------------------

// Set at every level, read by the SIGSEGV handler: how deep the recursion got.
static volatile unsigned long depth_reached;
static uintptr_t frame_addrs[NR_RECORDED];

// Writes the array from its top (nearest the caller) down, one byte per 64, so pages are touched in
// the order the stack grows: a large frame then faults in the guard page below the stack instead
// of jumping over it (what -fstack-clash-protection does with its probes).
static void touch_down(volatile char *buf, size_t len)
{
	for (size_t off = len; off > 0;) {
		off = off > 64 ? off - 64 : 0;
		buf[off] = (char)off;
	}
}

// One recursive function per array size. The array is read after the recursive call, so the call
// is not in tail position; NO_TAIL_CALLS and noinline make sure of it.
#define DEFINE_FRAME(N)                                                                   \
	static NO_TAIL_CALLS __attribute__((noinline)) unsigned long frame_##N(              \
		unsigned long depth, unsigned long max_depth)                                 \
	{                                                                                     \
		volatile char buf[(N) > 0 ? (N) : 1];                                         \
                                                                                              \
		touch_down(buf, sizeof(buf));                                                 \
		depth_reached = depth;                                                        \
		if (depth < NR_RECORDED)                                                      \
			frame_addrs[depth] = (uintptr_t)buf;                                  \
		if (depth + 1 >= max_depth)                                                   \
			return buf[0];                                                        \
		return frame_##N(depth + 1, max_depth) + buf[sizeof(buf) - 1];                \
	}
// Recording the address of each frame's array is the measurement, not a bug: only the number is kept.
// NOLINTBEGIN(clang-analyzer-core.StackAddressEscape)
DEFINE_FRAME(0)
DEFINE_FRAME(64)
DEFINE_FRAME(256)
DEFINE_FRAME(1024)
DEFINE_FRAME(4096)
DEFINE_FRAME(16384)
// NOLINTEND(clang-analyzer-core.StackAddressEscape)

typedef unsigned long (*frame_fn)(unsigned long depth, unsigned long max_depth);
static const struct {
	unsigned array_bytes;
	const char *name;	// as in the compiler's -fstack-usage report
	frame_fn fn;
} frames[] = {
	{ 0, "frame_0", frame_0 }, { 64, "frame_64", frame_64 }, { 256, "frame_256", frame_256 },
	{ 1024, "frame_1024", frame_1024 }, { 4096, "frame_4096", frame_4096 },
	{ 16384, "frame_16384", frame_16384 },
};
#define NR_FRAMES (sizeof(frames) / sizeof(frames[0]))

// The optimiser trap: the same tail-recursive sum twice. Built with -O2, the first becomes a loop
// (one frame for any n); the second keeps its calls and runs out of stack.
static __attribute__((noinline)) unsigned long sum_tail(unsigned long n, unsigned long acc)
{
	depth_reached++;
	if (n == 0)
		return acc;
	return sum_tail(n - 1, acc + n);
}

static NO_TAIL_CALLS __attribute__((noinline)) unsigned long sum_tail_kept(unsigned long n,
									  unsigned long acc)
{
	depth_reached++;
	if (n == 0)
		return acc;
	return sum_tail_kept(n - 1, acc + n);
}

// And the textbook "not tail recursive" version, which GCC -O2 turns into a loop all the same.
static __attribute__((noinline)) unsigned long sum_plus(unsigned long n)
{
	depth_reached++;
	if (n == 0)
		return 0;
	return n + sum_plus(n - 1);
}

// The cost of a call: the same hash chain computed recursively and with a loop. Each step needs the
// previous one (no closed form, no vectorising), so both do the same arithmetic.
static NO_TAIL_CALLS __attribute__((noinline)) uint64_t hash_recursive(const uint64_t *a, size_t n)
{
	if (n == 0)
		return 1469598103934665603u;
	uint64_t h = hash_recursive(a, n - 1);
	return h * 1099511628211u + a[n - 1];
}

static __attribute__((noinline)) uint64_t hash_iterative(const uint64_t *a, size_t n)
{
	uint64_t h = 1469598103934665603u;

	for (size_t i = 0; i < n; i++)
		h = h * 1099511628211u + a[i];
	return h;
}

// ---- helpers -------------------------------------------------------------------------------------

static struct point *new_point(struct run *run, enum experiment e, const char *kind)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points (raise MAX_POINTS)");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .experiment = e, .kind = kind, .array_bytes = NAN,
			     .stack_bytes = NAN, .depth = NAN, .frame_measured = NAN,
			     .frame_compiler = NAN, .max_depth = NAN, .predicted_depth = NAN,
			     .fault_offset = NAN, .faults_per_kib = NAN,
			     .faults_per_kib_papi = NAN, .outcome = "" };
	return p;
}

// The compiler's own figure for a function's frame, from the -fstack-usage report the Makefile
// writes beside this program (<program>.su). NAN if there is none.
static double compiler_frame_bytes(const char *function)
{
	char exe[PATH_MAX], line[512], name[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 4);
	double bytes = NAN;
	long v;

	if (n <= 0)
		return NAN;
	memcpy(exe + n, ".su", 4);
	FILE *f = fopen(exe, "r");
	if (!f)
		return NAN;
	// Lines look like "recursion_depth.c:62:1:frame_64	112	static".
	while (fgets(line, sizeof(line), f)) {
		char *colon = strrchr(line, ':');

		if (colon && sscanf(colon + 1, "%255s %ld", name, &v) == 2 && !strcmp(name, function))
			bytes = (double)v;
	}
	fclose(f);
	return bytes;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

// ---- frame size ----------------------------------------------------------------------------------

static void *measure_frames_thread(void *arg)
{
	struct run *run = arg;

	for (size_t i = 0; i < NR_FRAMES; i++) {
		double d[NR_RECORDED - 1];

		(void)frames[i].fn(0, NR_RECORDED);
		// The stack grows down: each deeper frame's array sits lower.
		for (size_t k = 0; k + 1 < NR_RECORDED; k++)
			d[k] = (double)frame_addrs[k] - (double)frame_addrs[k + 1];
		qsort(d, NR_RECORDED - 1, sizeof(d[0]), cmp_double);
		struct point *p = new_point(run, FRAME, frames[i].name);
		p->array_bytes = frames[i].array_bytes;
		p->frame_measured = d[(NR_RECORDED - 1) / 2];
		p->frame_compiler = compiler_frame_bytes(frames[i].name);
		run->frame_bytes[i] = p->frame_measured;
		if (d[0] != d[NR_RECORDED - 2])
			lab_note("%s: frames are not all the same distance apart (%g to %g bytes)",
				 frames[i].name, d[0], d[NR_RECORDED - 2]);
	}
	return NULL;
}

// Runs fn(arg) on a new thread with its own stack and waits for it.
static void run_on_thread(void *(*fn)(void *), void *arg, size_t stack_bytes)
{
	pthread_attr_t attr;
	pthread_t t;

	if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, stack_bytes) != 0 ||
	    pthread_create(&t, &attr, fn, arg) != 0)
		die("cannot start a thread with a %zu-byte stack", stack_bytes);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
}

// On a thread of its own: 64 frames of 16 KiB would grow this process's main stack to 1 MiB, and
// the children of measure_limits() would inherit that already-grown stack, where RLIMIT_STACK no
// longer applies (it limits growth, not what is mapped).
static void measure_frames(struct run *run)
{
	run_on_thread(measure_frames_thread, run, 4u << 20);
}

// ---- the limit, in a supervised child ------------------------------------------------------------

// What the child's SIGSEGV handler leaves for the parent.
struct limit_report {
	int faulted;			// the handler ran
	unsigned long depth;		// depth reached when the stack ran out
	uintptr_t fault_addr;		// si_addr: where the fatal access landed
	uintptr_t stack_low;		// lowest address of the stack (its guard page lies below)
	unsigned long result;		// for runs that finish
	int finished;
};

static struct limit_report *report_shm;

// Runs on the alternate signal stack: the real one is full. Only async-signal-safe work here.
static void on_segv(int sig, siginfo_t *si, void *ucontext)
{
	(void)sig;
	(void)ucontext;
	report_shm->fault_addr = (uintptr_t)si->si_addr;
	report_shm->depth = depth_reached;
	report_shm->faulted = 1;
	_exit(0);
}

// Gives this thread an alternate signal stack and installs the handler. Without the alternate stack
// the handler would need stack space exactly when there is none, and the process would just die.
static void catch_overflow(bool with_altstack)
{
	static const size_t alt_bytes = (size_t)64 * 1024;
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };

	if (with_altstack) {
		stack_t ss = { .ss_size = alt_bytes };

		ss.ss_sp = mmap(NULL, alt_bytes, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ss.ss_sp == MAP_FAILED || sigaltstack(&ss, NULL) != 0)
			_exit(3);
		sa.sa_flags |= SA_ONSTACK;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		_exit(3);
}

static void note_stack_low(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		if (pthread_attr_getstack(&attr, &addr, &size) == 0)
			report_shm->stack_low = (uintptr_t)addr;
		pthread_attr_destroy(&attr);
	}
}

struct limit_job {
	enum { ON_THREAD, ON_MAIN_STACK } where;
	size_t frame;			// index in frames[]
	size_t stack_bytes;		// thread stack size, or RLIMIT_STACK for the main stack
	bool altstack;
	int tail_variant;		// 0: frames[frame]; 1: sum_tail; 2: sum_tail_kept; 3: sum_plus
	unsigned long n;		// for the tail variants
};

static void *recurse(void *arg)
{
	const struct limit_job *job = arg;

	catch_overflow(job->altstack);
	note_stack_low();
	depth_reached = 0;
	switch (job->tail_variant) {
	case 1:
		report_shm->result = sum_tail(job->n, 0);
		break;
	case 2:
		report_shm->result = sum_tail_kept(job->n, 0);
		break;
	case 3:
		report_shm->result = sum_plus(job->n);
		break;
	default:
		report_shm->result = frames[job->frame].fn(0, ULONG_MAX);
		break;
	}
	report_shm->depth = depth_reached;
	report_shm->finished = 1;
	return NULL;
}

// The child: recurse on a thread of the given stack size, or on its own main stack under the given
// RLIMIT_STACK (which guard_run() sets before calling this).
static int limit_child(void *arg)
{
	const struct limit_job *job = arg;

	if (job->where == ON_MAIN_STACK) {
		recurse((void *)job);
		return 0;
	}
	// The thread's stack is mapped here, exactly the size asked for, with one inaccessible guard
	// page below it as glibc would add. Not pthread_attr_setstacksize(): that is a minimum, and
	// glibc may hand out a larger stack it cached from an earlier thread (this process inherits
	// the parent's cache).
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *base = mmap(NULL, job->stack_bytes + page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED || mprotect(base, page, PROT_NONE) != 0)
		return 4;
	pthread_attr_t attr;
	pthread_t t;
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstack(&attr, base + page, job->stack_bytes) != 0 ||
	    pthread_create(&t, &attr, recurse, (void *)job) != 0)
		return 4;
	pthread_join(t, NULL);
	return 0;
}

static struct limit_report run_limit(const struct limit_job *job, struct guard_result *r)
{
	struct guard_limits limits = {
		.timeout_ms = 20000,
		.max_stack_bytes = job->where == ON_MAIN_STACK ? job->stack_bytes : 0,
	};

	memset(report_shm, 0, sizeof(*report_shm));
	int err = guard_run(limit_child, (void *)job, &limits, r);
	if (err)
		die_errno(err, "cannot start the supervised child");
	return *report_shm;
}

// The whole sweep takes well under a second, so --quick runs it all too.
static void measure_limits(struct run *run)
{
	static const size_t thread_sizes[] = { 64u << 10, 256u << 10, 1u << 20, 8u << 20 };
	static const size_t rlimit_sizes[] = { 256u << 10, 1u << 20, 4u << 20 };
	struct rlimit rl;
	char why[128];
	// glibc refuses a thread stack below PTHREAD_STACK_MIN: 16 KiB on x86-64, 128 KiB on aarch64.
	long stack_min = sysconf(_SC_THREAD_STACK_MIN);

	(void)getrlimit(RLIMIT_STACK, &rl);	// cannot fail
	if (stack_min > (long)thread_sizes[0])
		lab_note("thread stacks below this system's minimum (PTHREAD_STACK_MIN, %ld bytes) are "
			 "skipped: %zu KiB", stack_min, thread_sizes[0] >> 10);
	for (size_t f = 0; f < NR_FRAMES; f++) {
		for (int main_stack = 0; main_stack <= 1; main_stack++) {
			const size_t *sizes = main_stack ? rlimit_sizes : thread_sizes;
			size_t nr = main_stack ? 3 : 4;

			for (size_t s = 0; s < nr; s++) {
				struct limit_job job = { main_stack ? ON_MAIN_STACK : ON_THREAD, f,
							 sizes[s], true, 0, 0 };
				struct guard_result g;

				// Only lower RLIMIT_STACK: above the current limit the kernel may have
				// placed other mappings where the stack would grow.
				if (main_stack && rl.rlim_cur != RLIM_INFINITY && sizes[s] > rl.rlim_cur)
					continue;
				if (!main_stack && (long)sizes[s] < stack_min)
					continue;
				struct limit_report lr = run_limit(&job, &g);
				struct point *p = new_point(run, LIMIT,
							    main_stack ? "rlimit_stack" : "thread_stack");
				p->array_bytes = frames[f].array_bytes;
				p->stack_bytes = (double)sizes[s];
				p->predicted_depth = (double)sizes[s] / run->frame_bytes[f];
				if (lr.faulted) {
					p->max_depth = (double)lr.depth;
					p->fault_offset = (double)lr.fault_addr - (double)lr.stack_low;
					p->outcome = "sigsegv_caught";
				} else {
					p->outcome = "child_died";
					lab_note("%s %zu B, %s: %s", p->kind, sizes[s], frames[f].name,
						 guard_describe(&g, why, sizeof(why)));
				}
			}
		}
	}
}

// Without an alternate signal stack the handler cannot run: the child simply dies of SIGSEGV.
static void measure_no_altstack(struct run *run)
{
	struct limit_job job = { ON_THREAD, 0, 256u << 10, false, 0, 0 };
	struct guard_result g;
	struct limit_report lr = run_limit(&job, &g);
	struct point *p = new_point(run, LIMIT, "no_altstack");

	p->array_bytes = 0;
	p->stack_bytes = (double)(256u << 10);
	p->outcome = lr.faulted ? "sigsegv_caught"
		     : g.outcome == GUARD_SIGNALED && g.signal == SIGSEGV ? "killed_by_sigsegv"
									  : "other";
}

// ---- the optimiser trap --------------------------------------------------------------------------

static void measure_tail(struct run *run)
{
	static const struct { int variant; const char *kind; } variants[] = {
		{ 1, "tail_call_optimised" }, { 2, "tail_call_kept" }, { 3, "n_plus_f_optimised" },
	};
	const unsigned long n = 10000000;	// 10 million levels: far beyond a 1 MiB stack

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		struct limit_job job = { ON_THREAD, 0, 1u << 20, true, variants[i].variant, n };
		struct guard_result g;
		struct limit_report lr = run_limit(&job, &g);
		struct point *p = new_point(run, TAIL, variants[i].kind);

		p->depth = (double)n;
		p->stack_bytes = (double)(1u << 20);
		p->max_depth = (double)lr.depth;
		bool right = lr.finished && lr.result == n * (n + 1) / 2;
		p->outcome = right ? "completed" : lr.faulted ? "stack_overflow" : "other";
	}
}

// ---- page faults while the stack grows -----------------------------------------------------------

struct faults_job {
	unsigned long depth;
	double faults[2], papi[2];	// first and second descent
};

static void *faults_thread(void *arg)
{
	struct faults_job *job = arg;
	const enum counters_metric want[] = { COUNTERS_PAGE_FAULTS };
	struct counters c;

	counters_init(&c, want, 1);	// an event set belongs to its thread
	for (int pass = 0; pass < 2; pass++) {
		struct rusage before, after;

		getrusage(RUSAGE_THREAD, &before);
		counters_start(&c);
		(void)frame_1024(0, job->depth);
		counters_stop(&c, &job->papi[pass]);
		getrusage(RUSAGE_THREAD, &after);
		job->faults[pass] = (double)(after.ru_minflt - before.ru_minflt);
	}
	counters_release(&c);
	return NULL;
}

static void measure_faults(struct run *run)
{
	const size_t stack_bytes = 8u << 20;
	double frame = run->frame_bytes[3];	// frame_1024
	struct faults_job job = { .depth = (unsigned long)((double)stack_bytes * 0.75 / frame) };

	// A fresh thread: its stack is a new mapping whose pages have never been touched.
	run_on_thread(faults_thread, &job, stack_bytes);
	double kib = (double)job.depth * frame / 1024;
	for (int pass = 0; pass < 2; pass++) {
		struct point *p = new_point(run, FAULTS, pass ? "second_descent" : "first_descent");

		p->array_bytes = 1024;
		p->stack_bytes = (double)stack_bytes;
		p->depth = (double)job.depth;
		p->faults_per_kib = job.faults[pass] / kib;
		p->faults_per_kib_papi = job.papi[pass] / kib;
	}
}

// ---- the cost of a call --------------------------------------------------------------------------

struct cost_arg {
	const uint64_t *a;
	size_t n;
	bool recursive;
};

static volatile uint64_t hash_sink;

static void cost_kernel(void *arg, uint64_t nr_iters)
{
	const struct cost_arg *c = arg;

	for (uint64_t i = 0; i < nr_iters; i++)
		hash_sink = c->recursive ? hash_recursive(c->a, c->n) : hash_iterative(c->a, c->n);
}

static void measure_cost(struct run *run)
{
	enum { N = 1000 };
	static uint64_t a[N];
	struct cost_arg args[2] = { { a, N, true }, { a, N, false } };
	struct compare_kernel variants[2] = {
		{ "recursive", cost_kernel, &args[0], 0 },
		{ "iterative", cost_kernel, &args[1], 0 },
	};
	struct compare_samples s;

	for (size_t i = 0; i < N; i++)
		a[i] = i * 2654435761u;
	// Interleaved rounds: the two are judged against each other (compare.h).
	struct compare_plan plan = lab_plan(&run->lab);
	int err = compare_kernels(variants, 2, &plan, run->lab.opt.min_sample_ns, 0, &s);
	if (err)
		die_errno(err, "measuring the cost of a call");
	(void)compare_ratio(&s, 0, 1, COMPARE_NONE, &run->recursive_over_loop);
	for (size_t v = 0; v < 2; v++) {
		struct point *p = new_point(run, COST, v == 0 ? "recursive" : "iterative");

		if (compare_variant_stats(&s, v, &p->ns) != 0)
			die("no samples of the cost of a call");
		p->depth = N;
		p->ns.median /= N;	// per level
		p->ns.p05 /= N;
		p->ns.p95 /= N;
	}
	compare_samples_release(&s);
}

// ---- reporting -----------------------------------------------------------------------------------

static const struct point *find(const struct run *run, enum experiment e, const char *kind,
				double array_bytes, double stack_bytes)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->experiment == e && !strcmp(p->kind, kind) &&
		    (isnan(array_bytes) || p->array_bytes == array_bytes) &&
		    (isnan(stack_bytes) || p->stack_bytes == stack_bytes))
			return p;
	}
	return NULL;
}

// The claim "depth = stack / frame" is judged on stacks of this size or more (what programs run
// on: the default is 8 MiB): every stack loses a fixed few KiB above its first frame (the
// thread's control block and TLS, the frames that lead to the recursion, argv and the
// environment on the main stack, which grows with the learner's environment) plus the rounding
// to a whole frame: over 5% of a 64 or 256 KiB stack, and close to it for 1 MiB.
#define MIN_JUDGED_STACK ((double)(4u << 20))
#define DEPTH_TOLERANCE 0.05
// The limit table's width with its last column in words.
#define LIMIT_TABLE_WIDTH 106u

static void print_tables(const struct run *run)
{
	char a[32], b[32];

	printf("\nFrame size: bytes between successive frames, and the compiler's -fstack-usage\n");
	printf("  %-8s %10s %10s\n", "array", "measured", "compiler");
	for (size_t i = 0; i < NR_FRAMES; i++) {
		const struct point *p = find(run, FRAME, frames[i].name, NAN, NAN);

		printf("  %-8s %10.0f %10.0f\n", cli_format_size(frames[i].array_bytes, a, sizeof(a)),
		       p->frame_measured, p->frame_compiler);
	}

	printf("\nThe limit: depth reached when the stack ran out (and the prediction stack / frame;"
	       " * = stack under 4 MiB, not judged)\n");
	// The last column is a sentence; under LIMIT_TABLE_WIDTH columns it is said in a few words.
	bool narrow = term_width() < LIMIT_TABLE_WIDTH;
	int dw = narrow ? 11 : 12, rw = narrow ? 6 : 7;	// the depth and ratio columns
	printf("  %-14s %-9s %*s %*s %*s  %s\n", "stack", "array", dw, "max depth", dw, "predicted",
	       rw + 1, "ratio", "fault landed");
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->experiment != LIMIT || strcmp(p->outcome, "sigsegv_caught") != 0)
			continue;
		// A thread stack has a guard page right below it. The main stack has none: the kernel
		// refuses to grow it past RLIMIT_STACK, counted from the top of its mapping (which also
		// holds argv and the environment), so the fault lands a little below glibc's estimate.
		bool thread = !strcmp(p->kind, "thread_stack");
		bool past_guard = p->fault_offset < -(double)sysconf(_SC_PAGESIZE);
		char where[64];
		if (narrow)
			snprintf(where, sizeof(where), "%s, %+.0f B", !thread ? "the limit"
				 : past_guard ? "past guard" : "guard page", p->fault_offset);
		else
			snprintf(where, sizeof(where), "%.0f B %s %s", fabs(p->fault_offset),
				 p->fault_offset < 0 ? "below" : "above",
				 !thread ? "glibc's stack bottom: the limit"
				 : past_guard ? "the stack: past its guard page"
				 : "the stack: its guard page");
		printf("  %-6s %-7s %-9s %*.0f %*.0f %*.2f%s  %s\n",
		       !strcmp(p->kind, "rlimit_stack") ? "rlimit" : "thread",
		       cli_format_size((uint64_t)p->stack_bytes, a, sizeof(a)),
		       cli_format_size((uint64_t)p->array_bytes, b, sizeof(b)), dw, p->max_depth,
		       dw, p->predicted_depth, rw, p->max_depth / p->predicted_depth,
		       p->stack_bytes < MIN_JUDGED_STACK ? "*" : " ", where);
	}
	if (narrow)
		printf("  (fault landed: in the thread's guard page, past it, or at RLIMIT_STACK's limit, "
		       "in bytes from the stack's bottom; %u columns say it in words)\n",
		       LIMIT_TABLE_WIDTH);
}

// measured / predicted depth over the caught overflows of one kind of stack that hold at least
// MIN_JUDGED_STACK bytes: median, lowest and highest; and the shortfall in bytes
// ((predicted - measured) x frame) over every row, the fixed cost at the top of the stack.
struct depth_fit {
	double median, low, high;
	unsigned nr_judged, nr_rows;
	double shortfall_min, shortfall_max;
};

static struct depth_fit depth_fit(const struct run *run, const char *kind)
{
	double r[MAX_POINTS];
	struct depth_fit f = { .median = NAN, .low = NAN, .high = NAN,
			       .shortfall_min = INFINITY, .shortfall_max = -INFINITY };

	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->experiment != LIMIT || strcmp(p->kind, kind) != 0 || isnan(p->max_depth))
			continue;
		double frame = p->stack_bytes / p->predicted_depth;
		// Depth counts from 0: max_depth + 1 whole frames fitted.
		double shortfall = (p->predicted_depth - (p->max_depth + 1)) * frame;

		f.nr_rows++;
		f.shortfall_min = fmin(f.shortfall_min, shortfall);
		f.shortfall_max = fmax(f.shortfall_max, shortfall);
		if (p->stack_bytes >= MIN_JUDGED_STACK)
			r[f.nr_judged++] = p->max_depth / p->predicted_depth;
	}
	if (!f.nr_judged)
		return f;
	qsort(r, f.nr_judged, sizeof(r[0]), cmp_double);
	f.median = stats_quantile_sorted(r, f.nr_judged, 0.5);
	f.low = r[0];
	f.high = r[f.nr_judged - 1];
	return f;
}

static void judge_depth(struct run *run, const char *id, const char *kind, const char *what)
{
	char a[32], b[32];
	struct depth_fit f = depth_fit(run, kind);
	enum compare_status st = !f.nr_judged ? COMPARE_NOT_SHOWN
				 : f.low >= 1 - DEPTH_TOLERANCE && f.high <= 1 + DEPTH_TOLERANCE
					 ? COMPARE_HOLDS
					 : COMPARE_FAILS;

	lab_judge(&run->lab, id, "maximum depth = stack size / frame size (within 5%)", st,
		  f.median, f.low, f.high, "ratio",
		  "%s: measured / predicted depth %.3f (lowest %.3f, highest %.3f) over the %u of "
		  "%u stacks of 4 MiB or more; every stack falls short by %s to %s whatever its "
		  "size (what sits above the first frame, and the rounding to a whole frame), which "
		  "is why small stacks miss by more", what, f.median, f.low, f.high, f.nr_judged, f.nr_rows,
		  cli_format_size((uint64_t)fmax(0, f.shortfall_min), a, sizeof(a)),
		  cli_format_size((uint64_t)fmax(0, f.shortfall_max), b, sizeof(b)));
}

static void verdicts(struct run *run)
{
	const struct point *f0 = find(run, FRAME, "frame_0", NAN, NAN);
	const struct point *f1k = find(run, FRAME, "frame_1024", NAN, NAN);
	double fixed = f1k->frame_measured - 1024;
	struct depth_fit thread = depth_fit(run, "thread_stack");

	lab_headline(&run->lab, "frame_with_1KiB_array", f1k->frame_measured, "bytes",
		     f1k->frame_compiler);
	lab_headline(&run->lab, "depth_over_prediction_threads", thread.median, "ratio", NAN);
	// A few dozen bytes: return address, saved frame pointer and registers, alignment. The
	// compiler's own figure is the independent check.
	lab_judge(&run->lab, "frame_is_locals_plus_few_dozen_bytes",
		  "a frame is its locals plus a few dozen bytes",
		  fixed >= 0 && fixed <= 64 && f1k->frame_measured == f1k->frame_compiler
			  ? COMPARE_HOLDS : COMPARE_FAILS, fixed, NAN, NAN, "bytes",
		  "a frame with no array takes %.0f bytes (compiler: %.0f), one with a 1 KiB array "
		  "%.0f (compiler: %.0f): the array plus a fixed %.0f bytes of return address, saved "
		  "registers and alignment",
		  f0->frame_measured, f0->frame_compiler, f1k->frame_measured, f1k->frame_compiler,
		  fixed);
	judge_depth(run, "depth_is_stack_over_frame_threads", "thread_stack", "thread stacks");
	judge_depth(run, "depth_is_stack_over_frame_rlimit", "rlimit_stack", "under RLIMIT_STACK");
	// In the guard page: at most one page (glibc's default guard size) below the stack. Judged
	// for frames smaller than that page; a larger frame's first access may jump over it (on
	// aarch64 the prologue stores the frame record at the bottom of the frame before the array is
	// touched), which is reported beside the verdict.
	double page = (double)sysconf(_SC_PAGESIZE), deepest_large = 0;
	unsigned nr_in_guard = 0, nr_overflows = 0, nr_large = 0, nr_large_in_guard = 0;
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->experiment != LIMIT || strcmp(p->kind, "thread_stack") != 0 ||
		    strcmp(p->outcome, "sigsegv_caught") != 0)
			continue;
		bool in_guard = p->fault_offset < 0 && p->fault_offset >= -page;
		if (p->array_bytes >= page) {
			nr_large++;
			nr_large_in_guard += in_guard;
			deepest_large = fmin(deepest_large, p->fault_offset);
			continue;
		}
		nr_overflows++;
		nr_in_guard += in_guard;
	}
	// Shown, not judged: the lab maps the guard page itself, and a frame under a page cannot
	// step over it. Only something this lab did not foresee could make it fail.
	if (nr_overflows && nr_in_guard == nr_overflows)
		lab_show(&run->lab, "overflow_faults_in_guard_page",
			 "the fatal access lands in the guard page below the stack", nr_in_guard,
			 "overflows", "%u of %u thread-stack overflows with frames under a page (%.0f "
			 "bytes) faulted within one page below the stack; frames of a page or more: %u "
			 "of %u in the guard page, the deepest %.0f bytes below the stack", nr_in_guard,
			 nr_overflows, page, nr_large_in_guard, nr_large, -deepest_large);
	else
		lab_judge(&run->lab, "overflow_faults_in_guard_page",
		  "the fatal access lands in the guard page below the stack",
		  !nr_overflows ? COMPARE_NOT_SHOWN : COMPARE_FAILS,
		  nr_in_guard, NAN, NAN, "overflows",
		  "%u of %u thread-stack overflows with frames under a page (%.0f bytes) faulted within "
		  "one page below the stack; frames of a page or more: %u of %u in the guard page, the "
		  "deepest %.0f bytes below the stack", nr_in_guard, nr_overflows, page,
		  nr_large_in_guard, nr_large, -deepest_large);
	const struct point *noalt = find(run, LIMIT, "no_altstack", NAN, NAN);
	bool killed = !strcmp(noalt->outcome, "killed_by_sigsegv");
	// Shown: the kernel cannot push a handler's frame onto a stack that is full, so without
	// an alternate stack the signal kills. Anything else would be a finding.
	if (killed)
		lab_show(&run->lab, "no_altstack_kills", "without an alternate signal stack a stack "
			 "overflow kills the process", 1, "", "the SIGSEGV handler had no stack to run "
			 "on: the child was killed by SIGSEGV");
	else
		lab_judge(&run->lab, "no_altstack_kills", "without an alternate signal stack a stack "
			  "overflow kills the process", COMPARE_FAILS, NAN, NAN, NAN, "",
			  "the SIGSEGV handler had no stack to run on, yet the child %s", noalt->outcome);

	const struct point *first = find(run, FAULTS, "first_descent", NAN, NAN);
	const struct point *second = find(run, FAULTS, "second_descent", NAN, NAN);
	double per_page = 1024.0 / (double)sysconf(_SC_PAGESIZE);
	lab_headline(&run->lab, "stack_growth_faults_per_kib", first->faults_per_kib, "faults/KiB",
		     first->faults_per_kib_papi);
	// Counts, not timings: exact on any machine, unless THP backs the stack with huge pages
	// (fewer faults) or something else faults in the same thread (more).
	bool one_per_page = fabs(first->faults_per_kib / per_page - 1) <= 0.10 &&
			    second->faults_per_kib <= 0.10 * per_page;
	lab_judge(&run->lab, "stack_growth_one_fault_per_page",
		  "growing the stack costs one page fault per page the first time and none after",
		  one_per_page ? COMPARE_HOLDS : COMPARE_FAILS, first->faults_per_kib / per_page,
		  NAN, NAN, "faults per page",
		  "%.3f page faults per KiB on the first descent (one per %ld-byte page would be "
		  "%.3f) and %.3f on the second: the pages stay mapped",
		  first->faults_per_kib, sysconf(_SC_PAGESIZE), per_page, second->faults_per_kib);

	const struct point *topt = find(run, TAIL, "tail_call_optimised", NAN, NAN);
	const struct point *tkept = find(run, TAIL, "tail_call_kept", NAN, NAN);
	const struct point *plus = find(run, TAIL, "n_plus_f_optimised", NAN, NAN);
	bool loop = !strcmp(topt->outcome, "completed");
	bool kept_overflowed = !strcmp(tkept->outcome, "stack_overflow");
	lab_judge(&run->lab, "tail_recursion_becomes_loop",
		  "-O2 turns tail recursion into a loop that never overflows",
		  loop && kept_overflowed ? COMPARE_HOLDS : COMPARE_FAILS, NAN, NAN, NAN, "",
		  "10 million levels on a 1 MiB stack: the tail-recursive sum %s, the same code with "
		  "tail calls disabled %s at depth %.0f, and 'return n + f(n - 1)' %s",
		  loop ? "completed (-O2 made it a loop)" : "overflowed (no loop here)",
		  kept_overflowed ? "overflowed" : "did not overflow", tkept->max_depth,
		  !strcmp(plus->outcome, "completed") ? "completed too (an accumulator loop)"
						       : "overflowed");

	const struct point *rec = find(run, COST, "recursive", NAN, NAN);
	const struct point *it = find(run, COST, "iterative", NAN, NAN);
	char a[32], b[32];
	lab_judge_ratio(&run->lab, "recursion_slower_than_loop",
			"a recursive step costs more than a loop step",
			compare_at_least(&run->recursive_over_loop, 1), &run->recursive_over_loop,
			"a recursive step %s, a loop step %s: the call, the frame and the return",
			cli_format_ns(rec->ns.median, a, sizeof(a)),
			cli_format_ns(it->ns.median, b, sizeof(b)));
	if (isnan(f0->frame_compiler))
		lab_note("no compiler figures: %s.su is missing (built without -fstack-usage?)",
			 program_invocation_short_name);
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "array_bytes", "stack_bytes", "depth", "ns_per_op_median",
		"ns_per_op_p05", "ns_per_op_p95", "frame_bytes_measured", "frame_bytes_compiler",
		"max_depth", "predicted_depth", "fault_offset_bytes", "faults_per_kib",
		"faults_per_kib_papi", "outcome",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];
		bool cost = p->experiment == COST;

		report_csv_str(&csv, experiment_names[p->experiment]);
		report_csv_str(&csv, p->kind);
		report_csv_double(&csv, p->array_bytes);
		report_csv_double(&csv, p->stack_bytes);
		report_csv_double(&csv, p->depth);
		report_csv_double(&csv, cost ? p->ns.median : NAN);
		report_csv_double(&csv, cost ? p->ns.p05 : NAN);
		report_csv_double(&csv, cost ? p->ns.p95 : NAN);
		report_csv_double(&csv, p->frame_measured);
		report_csv_double(&csv, p->frame_compiler);
		report_csv_double(&csv, p->max_depth);
		report_csv_double(&csv, p->predicted_depth);
		report_csv_double(&csv, p->fault_offset);
		report_csv_double(&csv, p->faults_per_kib);
		report_csv_double(&csv, p->faults_per_kib_papi);
		report_csv_str(&csv, p->outcome);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	struct rlimit rl;

	(void)ctx;
	(void)getrlimit(RLIMIT_STACK, &rl);
	if (rl.rlim_cur == RLIM_INFINITY)
		report_kv(m, "rlimit_stack", "unlimited");
	else
		report_kv(m, "rlimit_stack", "%llu", (unsigned long long)rl.rlim_cur);
	report_kv(m, "tail_call_control", "%s",
#if defined(__clang__)
		  "__attribute__((disable_tail_calls))"
#else
		  "__attribute__((optimize(\"no-optimize-sibling-calls\")))"
#endif
	);
}

static void predict(void)
{
	lab_prediction("a frame is its locals plus a few dozen bytes (return address, saved "
		       "registers, 16-byte alignment); the compiler's -fstack-usage says the same");
	lab_prediction("recursion stops at stack size / frame size; the fatal access lands in the "
		       "guard page just below the stack, and only a handler on an alternate stack "
		       "can report it");
	lab_prediction("-O2 turns tail recursion into a loop: it never overflows");
}

int main(int argc, char **argv)
{
	static struct run run;
	const struct cli_lab info = {
		.name = "02-recursion-depth",
		.summary = "Measures stack frame sizes, the recursion depth where the stack runs out "
			   "(in a supervised child), the page faults of stack growth, tail calls, and "
			   "the cost of a recursive call.",
	};
	const enum counters_metric metrics[] = { COUNTERS_PAGE_FAULTS };
	struct counters probe;

	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 2: recursion depth", argc, argv);
	lab_pin_here(&run.lab);
	counters_init(&probe, metrics, 1);	// the faults thread counts with its own event set
	lab_print_counters(&probe);

	// prepare -> predict
	report_shm = guard_shared_alloc(sizeof(*report_shm));
	if (!report_shm)
		die("cannot share memory with the supervised children");
	predict();

	// measure
	printf("measuring: frames...");
	fflush(stdout);
	measure_frames(&run);
	printf(" limits (supervised children)...");
	fflush(stdout);
	measure_limits(&run);
	measure_no_altstack(&run);
	printf(" tail calls...");
	fflush(stdout);
	measure_tail(&run);
	printf(" faults...");
	fflush(stdout);
	measure_faults(&run);
	printf(" cost...");
	fflush(stdout);
	measure_cost(&run);
	printf(" done\n");

	// report
	print_tables(&run);
	printf("\n");
	verdicts(&run);
	lab_note_missing_counters(&probe);
	write_csv(&run);
	lab_write_manifest(&run.lab, &probe, manifest_extra, NULL);

	// release
	counters_release(&probe);
	guard_shared_free(report_shm, sizeof(*report_shm));
	lab_finish(&run.lab);
	return 0;
}
