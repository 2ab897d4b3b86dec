// SPDX-License-Identifier: MIT
// Lab 4: what crossing into the kernel costs (a null system call against a function call and a
// vDSO call), how much batching writes into larger buffers buys, and what streaming saves in memory.
// Usage: syscall_batching [--quick] [--reps N] [--out DIR] [--total SIZE] [--max-buffer SIZE]
//                         [--tmpdir DIR]
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "clock.h"
#include "counters.h"
#include "die.h"
#include "guard.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "stats.h"
#include "term.h"

#define MAX_BUFFERS 32
#define MAX_POINTS 160
#define STREAM_BUFFER_BYTES ((uint64_t)64 * 1024)

enum experiment { ENTRY, WRITE, STREAMING };
static const char *const experiment_names[] = { "entry", "write", "streaming" };

enum kind {
	// entry: one op = one call
	FUNCTION_CALL,		// an empty non-inlined function
	VDSO_CLOCK,		// clock_gettime(CLOCK_MONOTONIC): a libc call the vDSO answers in user space
	RAW_SYSCALL,		// syscall(SYS_getppid): a real kernel entry that does almost nothing
	// write: one op = one write() or fwrite() call of buffer_bytes
	WRITE_DEVNULL,		// write(2) to /dev/null: the kernel entry and nothing else
	WRITE_FILE,		// write(2) to a file: plus the copy into the page cache
	STDIO_BUFFERED,		// fwrite to a file with stdio's default buffer
	STDIO_UNBUFFERED,	// fwrite with setvbuf(_IONBF): one write(2) per fwrite
	// streaming: one op = producing the whole output once
	BUILD_THEN_WRITE,	// build all the output in memory, then one write
	FIXED_BUFFER,		// fill a 64 KiB buffer, write it when full
	NR_KINDS
};

static const char *const kind_names[NR_KINDS] = {
	"function_call", "vdso_clock_gettime", "raw_syscall_getppid",
	"write_devnull", "write_file", "stdio_buffered", "stdio_unbuffered",
	"build_then_write", "fixed_buffer",
};

struct point {
	enum experiment experiment;
	enum kind kind;
	uint64_t buffer_bytes;		// write: bytes per call
	uint64_t total_bytes;		// write/streaming: bytes per sample
	uint64_t nr_calls;		// write: calls per sample
	struct stats ns;		// per op (entry, write) or per run (streaming)
	double syscalls_program;	// write(2) calls the program made per sample; NAN: not known
	double syscalls_proc_io;	// per sample, from /proc/self/io syscw; NAN: unavailable
	double user_ms, sys_ms;		// CPU time per sample
	double peak_rss_kib;		// streaming: the child's peak resident memory
	double anon_added_kib;		// ...of which anonymous memory the streaming added (RssAnon)
	double perf_bench_ns;		// entry: `perf bench syscall basic`, the cross-check
	// raw syscall: context switches over a million calls (getrusage; PAPI, NAN if unavailable)
	double voluntary_switches, involuntary_switches, papi_switches;
};

struct options {
	uint64_t total_bytes, max_buffer;
	const char *tmpdir;
};

struct run {
	struct lab lab;
	struct options opt;
	uint64_t max_calls;		// per sample: small buffers write less than the total
	uint64_t buffers[MAX_BUFFERS];
	size_t nr_buffers;
	char scratch_dir[4096], scratch_file[4200];
	int scratch_dir_handle, scratch_file_handle;
	char fs_type[32];
	struct point points[MAX_POINTS];
	size_t nr_points;
	char *buffer;			// max_buffer bytes of data to write
	struct counters counters;	// context switches, for the million-syscall count
	// Part A's ratios, paired by round: the syscall against a function call and the vDSO.
	struct compare_ratio syscall_over_call, syscall_over_vdso;
	struct compare_ratio lab_over_perf;	// this lab's syscall over perf bench's, per round
	unsigned buffer_factor;		// each buffer is this many times the last
};

// ---- part A: the price of one kernel entry -----------------------------------------------------

static __attribute__((noinline)) void empty_function(void)
{
	__asm__ volatile("");	// a call the optimiser must keep
}

static void function_kernel(void *arg, uint64_t nr_iters)
{
	(void)arg;
	for (uint64_t i = 0; i < nr_iters; i++)
		empty_function();
}

static void vdso_kernel(void *arg, uint64_t nr_iters)
{
	struct timespec ts;

	(void)arg;
	for (uint64_t i = 0; i < nr_iters; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		bench_escape(&ts);
	}
}

// syscall() and not getppid(): the raw entry, with no chance of a libc-level cache.
static void syscall_kernel(void *arg, uint64_t nr_iters)
{
	(void)arg;
	for (uint64_t i = 0; i < nr_iters; i++)
		(void)syscall(SYS_getppid);	// cannot fail
}

static struct point *new_point(struct run *run, enum experiment e, enum kind k)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points (raise MAX_POINTS)");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .experiment = e, .kind = k, .syscalls_program = NAN,
			     .syscalls_proc_io = NAN, .user_ms = NAN, .sys_ms = NAN,
			     .peak_rss_kib = NAN, .anon_added_kib = NAN, .perf_bench_ns = NAN,
			     .voluntary_switches = NAN, .involuntary_switches = NAN,
			     .papi_switches = NAN };
	return p;
}

// `perf bench syscall basic`: the kernel developers' own null-syscall benchmark, run on the CPU
// this process is pinned to (a child inherits the affinity). NAN when perf is missing or fails.
static double perf_bench_syscall_ns(uint64_t loops)
{
	char n[32];
	const char *argv[] = { "perf", "bench", "syscall", "basic", "-l", n, NULL };

	snprintf(n, sizeof(n), "%llu", (unsigned long long)loops);
	return lab_perf_bench_us(argv) * 1000;
}

#define MILLION_SYSCALLS 1000000u

// "A program doing a million system calls does a million context switches": count them, over a
// million null system calls on this pinned thread. A count, not a timing: the counter is open.
static void count_syscall_switches(struct run *run, struct point *p)
{
	struct rusage before, after;
	double papi[1] = { NAN };

	counters_start(&run->counters);
	getrusage(RUSAGE_THREAD, &before);
	syscall_kernel(NULL, MILLION_SYSCALLS);
	getrusage(RUSAGE_THREAD, &after);
	counters_stop(&run->counters, papi);
	p->voluntary_switches = (double)(after.ru_nvcsw - before.ru_nvcsw);
	p->involuntary_switches = (double)(after.ru_nivcsw - before.ru_nivcsw);
	p->papi_switches = papi[0];
}

enum { ENTRY_CALL, ENTRY_VDSO, ENTRY_SYSCALL, ENTRY_PERF, NR_ENTRY };

// The entry comparison's variants: three timed kernels, and `perf bench syscall basic` as a fourth
// whose sample is what perf reports, so that the cross-check runs in the same rounds, alternating
// with the lab's own timing, and gets a paired interval like everything else.
struct entry_ctx {
	struct compare_kernel kernels[ENTRY_PERF];
	uint64_t perf_loops;
};

static int measure_entry_variant(void *arg, size_t variant, unsigned round, double *value)
{
	struct entry_ctx *c = arg;

	(void)round;
	if (variant == ENTRY_PERF) {
		*value = perf_bench_syscall_ns(c->perf_loops);
		return 0;
	}
	struct compare_kernel *k = &c->kernels[variant];
	uint64_t start = clock_now_ns();
	k->kernel(k->arg, k->iters);
	*value = (double)(clock_now_ns() - start) / (double)k->iters;
	return 0;
}

static void measure_entry(struct run *run)
{
	static const enum kind kinds[ENTRY_PERF] = { FUNCTION_CALL, VDSO_CLOCK, RAW_SYSCALL };
	struct entry_ctx c = {
		.kernels = {
			[ENTRY_CALL] = { "function call", function_kernel, NULL, 0 },
			[ENTRY_VDSO] = { "vdso clock", vdso_kernel, NULL, 0 },
			[ENTRY_SYSCALL] = { "syscall", syscall_kernel, NULL, 0 },
		},
		.perf_loops = run->lab.opt.quick ? 100000 : 1000000,
	};
	struct compare_samples s;
	struct compare_plan plan = lab_plan(&run->lab);

	for (size_t v = 0; v < ENTRY_PERF; v++)
		c.kernels[v].iters = clock_calibrate(c.kernels[v].kernel, NULL,
						     run->lab.opt.min_sample_ns, (uint64_t)1 << 32);
	// perf is a variant only where it runs (its first run also warms it up).
	size_t nr = isnan(perf_bench_syscall_ns(1000)) ? ENTRY_PERF : NR_ENTRY;
	plan.warmup_round = true;
	// Interleaved rounds: the three are judged against each other, and perf against the
	// syscall (compare.h).
	int err = compare_run(nr, &plan, measure_entry_variant, &c, &s);

	if (err)
		die_errno(err, "measuring the kernel entry");
	for (size_t v = 0; v < ENTRY_PERF; v++) {
		struct point *p = new_point(run, ENTRY, kinds[v]);

		if (compare_variant_stats(&s, v, &p->ns) != 0)
			die("no samples for %s", kind_names[p->kind]);
	}
	struct point *sys = &run->points[run->nr_points - 1];
	(void)compare_ratio(&s, ENTRY_SYSCALL, ENTRY_CALL, COMPARE_NONE, &run->syscall_over_call);
	(void)compare_ratio(&s, ENTRY_SYSCALL, ENTRY_VDSO, COMPARE_NONE, &run->syscall_over_vdso);
	run->lab_over_perf = (struct compare_ratio){ .median = NAN, .nr_processes = 1 };
	if (nr == NR_ENTRY) {
		struct stats st;

		if (compare_variant_stats(&s, ENTRY_PERF, &st) == 0)
			sys->perf_bench_ns = st.median;
		(void)compare_ratio(&s, ENTRY_SYSCALL, ENTRY_PERF, COMPARE_NONE, &run->lab_over_perf);
	}
	compare_samples_release(&s);
	count_syscall_switches(run, sys);
}

// ---- part B: batching writes -------------------------------------------------------------------

// Write system calls this process has made, from the kernel's I/O accounting; -1 if unavailable.
static long long proc_syscw(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "syscw: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

// Writes all of buf with write(2), however the kernel splits it. Returns the calls made.
static uint64_t write_all(int fd, const char *buf, size_t len)
{
	uint64_t calls = 0;

	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die_errno(errno, "write");
		}
		buf += n;
		len -= (size_t)n;
	}
	return calls;
}

struct write_job {
	enum kind kind;
	const char *path;	// the scratch file, or /dev/null
	const char *buffer;
	uint64_t buffer_bytes, nr_calls;
};

// One sample: nr_calls writes of buffer_bytes. Returns the write(2) calls the program itself made
// (0 for stdio, which makes them on its own). Opening and closing are outside the timed part.
static uint64_t write_sample(const struct write_job *job, uint64_t *elapsed_ns)
{
	uint64_t calls = 0, start;

	if (job->kind == WRITE_DEVNULL || job->kind == WRITE_FILE) {
		int fd = open(job->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0)
			die_errno(errno, "open %s", job->path);
		start = clock_now_ns();
		for (uint64_t i = 0; i < job->nr_calls; i++)
			calls += write_all(fd, job->buffer, job->buffer_bytes);
		*elapsed_ns = clock_now_ns() - start;
		if (close(fd) != 0)
			die_errno(errno, "close %s", job->path);
		return calls;
	}
	FILE *f = fopen(job->path, "we");
	if (!f)
		die_errno(errno, "fopen %s", job->path);
	if (job->kind == STDIO_UNBUFFERED && setvbuf(f, NULL, _IONBF, 0) != 0)
		die("setvbuf failed");
	start = clock_now_ns();
	for (uint64_t i = 0; i < job->nr_calls; i++)
		if (fwrite(job->buffer, 1, job->buffer_bytes, f) != job->buffer_bytes)
			die_errno(errno, "fwrite");
	// The last buffered bytes are part of the work: flush inside the timed region.
	if (fflush(f) != 0)
		die_errno(errno, "fflush");
	*elapsed_ns = clock_now_ns() - start;
	if (fclose(f) != 0)
		die_errno(errno, "fclose");
	return 0;
}

static void measure_write_point(struct run *run, struct point *p, const struct write_job *job)
{
	unsigned n = run->lab.opt.nr_reps;
	double samples[1000];
	uint64_t elapsed, calls = 0;
	long long syscw = 0;
	struct rusage before, after;

	(void)write_sample(job, &elapsed);	// warm-up: page cache, file blocks, code
	bool have_io = proc_syscw() >= 0;
	getrusage(RUSAGE_THREAD, &before);
	for (unsigned s = 0; s < n; s++) {
		long long io_before = proc_syscw();

		calls += write_sample(job, &elapsed);
		syscw += proc_syscw() - io_before;
		samples[s] = (double)elapsed / (double)job->nr_calls;
	}
	getrusage(RUSAGE_THREAD, &after);
	if (stats_compute(&p->ns, samples, n) != 0)
		die("bad samples for %s", kind_names[p->kind]);
	p->buffer_bytes = job->buffer_bytes;
	p->nr_calls = job->nr_calls;
	p->total_bytes = job->buffer_bytes * job->nr_calls;
	if (p->kind == WRITE_DEVNULL || p->kind == WRITE_FILE)
		p->syscalls_program = (double)calls / n;
	// Each sample also opens and closes the file, which are not writes: syscw counts writes.
	p->syscalls_proc_io = have_io ? (double)syscw / n : NAN;
	p->user_ms = (clock_timeval_ms(after.ru_utime) - clock_timeval_ms(before.ru_utime)) / n;
	p->sys_ms = (clock_timeval_ms(after.ru_stime) - clock_timeval_ms(before.ru_stime)) / n;
}

static void measure_writes(struct run *run)
{
	static const enum kind kinds[] = { WRITE_DEVNULL, WRITE_FILE, STDIO_BUFFERED,
					   STDIO_UNBUFFERED };

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		printf(" %s", kind_names[kinds[k]]);
		fflush(stdout);
		for (size_t i = 0; i < run->nr_buffers; i++) {
			uint64_t b = run->buffers[i];
			uint64_t calls = run->opt.total_bytes / b;
			struct write_job job = {
				.kind = kinds[k],
				.path = kinds[k] == WRITE_DEVNULL ? "/dev/null" : run->scratch_file,
				.buffer = run->buffer,
				.buffer_bytes = b,
				// Small buffers write less than the total: 64 MiB in 1-byte calls
				// would take a minute, and the rate is what we measure.
				.nr_calls = calls < run->max_calls ? calls : run->max_calls,
			};
			if (job.nr_calls == 0)
				job.nr_calls = 1;
			measure_write_point(run, new_point(run, WRITE, kinds[k]), &job);
		}
	}
}

// ---- the streaming point: memory, not speed ----------------------------------------------------

// What a streaming child reports (shared memory).
struct stream_report {
	uint64_t elapsed_ns;
	double anon_start_kib, anon_peak_kib;	// RssAnon at its start and at its fullest
};

struct stream_job {
	enum kind kind;
	uint64_t total_bytes;
	struct stream_report *report;
};

// This process's anonymous resident memory (RssAnon, /proc/self/status), KiB; NAN if unknown.
// Anonymous only: the buffer is anonymous memory, while the file-backed pages (the C library's
// code each path happens to touch) would move a plain RSS by hundreds of KiB.
static double rss_anon_kib(void)
{
	uint64_t bytes = memlimit_kb_field("/proc/self/status", "RssAnon");

	return bytes == MEMLIMIT_NONE ? NAN : (double)bytes / 1024;
}

// Fills buf[0..len) with text records, continuing the numbering from *next.
static void produce(char *buf, size_t len, uint64_t *next)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (*next)++ % 26);
}

// Runs in a supervised child so that its peak RSS (ru_maxrss from wait4) is its own; it also
// reports the anonymous memory it added, read at its start and at its fullest.
static int stream_child(void *arg)
{
	const struct stream_job *job = arg;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	uint64_t next = 0, start = clock_now_ns();

	if (fd < 0)
		return 1;
	job->report->anon_start_kib = rss_anon_kib();
	if (job->kind == BUILD_THEN_WRITE) {
		char *all = malloc(job->total_bytes);

		if (!all)
			return 2;
		produce(all, job->total_bytes, &next);
		job->report->anon_peak_kib = rss_anon_kib();
		write_all(fd, all, job->total_bytes);
		free(all);
	} else {
		static char buf[STREAM_BUFFER_BYTES];

		for (uint64_t done = 0; done < job->total_bytes; done += sizeof(buf)) {
			size_t n = job->total_bytes - done < sizeof(buf) ? job->total_bytes - done
									 : sizeof(buf);
			produce(buf, n, &next);
			write_all(fd, buf, n);
		}
		job->report->anon_peak_kib = rss_anon_kib();
	}
	job->report->elapsed_ns = clock_now_ns() - start;
	close(fd);
	return 0;
}

static void measure_streaming(struct run *run)
{
	struct stream_report *rep = guard_shared_alloc(sizeof(*rep));

	if (!rep)
		die("cannot share memory with the child");
	for (enum kind k = BUILD_THEN_WRITE; k <= FIXED_BUFFER; k++) {
		struct stream_job job = { k, run->opt.total_bytes, rep };
		struct guard_limits limits = { .timeout_ms = 60000,
					       .max_as_bytes = run->opt.total_bytes * 2 + (1u << 30) };
		struct guard_result r;
		double rss = 0, added = 0, ns = 0;
		unsigned n = run->lab.opt.quick ? 1 : 3;
		char why[128];

		for (unsigned i = 0; i < n; i++) {
			int err = guard_run(stream_child, &job, &limits, &r);

			if (err)
				die_errno(err, "cannot start the streaming child");
			if (r.outcome != GUARD_EXITED || r.exit_status != 0)
				die("the %s child failed: %s", kind_names[k],
				    guard_describe(&r, why, sizeof(why)));
			rss += (double)r.usage.ru_maxrss;	// KiB on Linux
			added += rep->anon_peak_kib - rep->anon_start_kib;
			ns += (double)rep->elapsed_ns;
		}
		struct point *p = new_point(run, STREAMING, k);
		double mean_ns = ns / n;
		if (stats_compute(&p->ns, &mean_ns, 1) != 0)
			die("bad streaming time");
		p->total_bytes = run->opt.total_bytes;
		p->buffer_bytes = k == FIXED_BUFFER ? STREAM_BUFFER_BYTES : run->opt.total_bytes;
		p->peak_rss_kib = rss / n;
		p->anon_added_kib = added / n;
	}
	guard_shared_free(rep, sizeof(*rep));
}

// ---- reporting ---------------------------------------------------------------------------------

static const struct point *find(const struct run *run, enum kind k, uint64_t buffer)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->kind == k && (p->experiment != WRITE || p->buffer_bytes == buffer))
			return p;
	}
	return NULL;
}

static double mb_per_s(const struct point *p, double ns_per_call)
{
	return (double)p->buffer_bytes / ns_per_call * 1e3;	// bytes/ns = GB/s; x1000 = MB/s
}

// The batching table's width with all four sinks: "buffer" and four of " | MB/s syscalls".
#define BATCH_TABLE_WIDTH (9 + 4 * 22)

static void print_tables(const struct run *run)
{
	char a[32], b[32], c[32];

	printf("\nThe price of a kernel entry: ns per call (median of %u interleaved rounds; %s)\n",
	       lab_rounds(&run->lab), STATS_NOISY_LEGEND);
	for (enum kind k = FUNCTION_CALL; k <= RAW_SYSCALL; k++) {
		const struct point *p = find(run, k, 0);

		printf("  %-22s %s%s  (p5 %s, p95 %s)\n", kind_names[k],
		       cli_format_ns(p->ns.median, a, sizeof(a)), stats_noisy_mark(&p->ns),
		       cli_format_ns(p->ns.p05, b, sizeof(b)), cli_format_ns(p->ns.p95, c, sizeof(c)));
	}

	printf("\nBatching writes: MB/s (median; ~ = noisy), and write(2) calls per sample counted by "
	       "the program / by /proc/self/io\n");
	// A row is never broken across lines (term.h): under its full width the table leaves out
	// the last sink, unbuffered stdio, the one the verdicts need least.
	static const char *const sinks[] = { "/dev/null", "file", "stdio buf", "stdio unb" };
	enum kind last = term_width() < BATCH_TABLE_WIDTH ? STDIO_BUFFERED : STDIO_UNBUFFERED;
	printf("%-9s", "buffer");
	for (enum kind k = WRITE_DEVNULL; k <= last; k++)
		printf(" | %9s %9s", sinks[k - WRITE_DEVNULL], "");
	printf("\n%-9s", "");
	for (enum kind k = WRITE_DEVNULL; k <= last; k++)
		printf(" | %9s %9s", "MB/s", "syscalls");
	printf("\n");
	for (size_t i = 0; i < run->nr_buffers; i++) {
		printf("%-9s", cli_format_size(run->buffers[i], a, sizeof(a)));
		for (enum kind k = WRITE_DEVNULL; k <= last; k++) {
			const struct point *p = find(run, k, run->buffers[i]);
			double calls = isnan(p->syscalls_program) ? p->syscalls_proc_io
								  : p->syscalls_program;

			printf(" | %8.1f%1s %9.0f", mb_per_s(p, p->ns.median), stats_noisy_mark(&p->ns),
			       calls);
		}
		printf("\n");
	}
	if (last != STDIO_UNBUFFERED)
		term_note_left_out("stdio unb (unbuffered stdio)", BATCH_TABLE_WIDTH);

	printf("\nStreaming %s of output:\n", cli_format_size(run->opt.total_bytes, a, sizeof(a)));
	for (enum kind k = BUILD_THEN_WRITE; k <= FIXED_BUFFER; k++) {
		const struct point *p = find(run, k, 0);

		printf("  %-18s peak RSS %s, %s\n", kind_names[k],
		       cli_format_size((uint64_t)p->peak_rss_kib * 1024, a, sizeof(a)),
		       cli_format_ns(p->ns.median, b, sizeof(b)));
	}
}

// The plateau of a write series: the median MB/s of its three fastest buffers.
static double plateau(const struct run *run, enum kind k)
{
	double best[3] = { 0, 0, 0 };

	for (size_t i = 0; i < run->nr_buffers; i++) {
		const struct point *p = find(run, k, run->buffers[i]);
		double v = mb_per_s(p, p->ns.median);

		for (int j = 0; j < 3; j++) {
			if (v > best[j]) {
				double t = best[j];

				best[j] = v;
				v = t;
			}
		}
	}
	return run->nr_buffers >= 3 ? best[1] : best[0];
}

static void verdict_entry(struct run *run)
{
	char a[32], b[32], c[32], d[32];
	double fn = find(run, FUNCTION_CALL, 0)->ns.median;
	double vdso = find(run, VDSO_CLOCK, 0)->ns.median;
	const struct point *sys = find(run, RAW_SYSCALL, 0);

	lab_headline(&run->lab, "null_syscall", sys->ns.median, "ns", sys->perf_bench_ns);
	// Nothing a machine does makes a kernel entry as cheap as a call: that part is shown, not
	// predicted. What can go either way is whether clock_gettime stays in user space (the
	// vDSO) or falls back to a system call: 2x is far below any vDSO read and far above a
	// fallback.
	// What a kernel entry costs moves several-fold with the mitigations (page-table
	// isolation switches page tables at every entry): named beside the figure.
	char ratio[256], mitigations[256], undecided[128];
	lab_show(&run->lab, "kernel_entry_costs_more_than_call",
		 "a system call costs more than a function call", run->syscall_over_call.median, "x",
		 "one kernel entry (syscall(SYS_getppid)) costs %s, a function call %s: %s; "
		 "mitigations on entry: %s", cli_format_ns(sys->ns.median, a, sizeof(a)),
		 cli_format_ns(fn, b, sizeof(b)),
		 compare_format_ratio(&run->syscall_over_call, ratio, sizeof(ratio)),
		 machine_entry_mitigations(mitigations, sizeof(mitigations)));
	lab_judge_ratio(&run->lab, "vdso_avoids_kernel_entry",
			"clock_gettime is answered in user space: a system call costs 2x or more",
			compare_at_least(&run->syscall_over_vdso, 2), &run->syscall_over_vdso,
			"syscall %s against clock_gettime %s", cli_format_ns(sys->ns.median, a, sizeof(a)),
			cli_format_ns(vdso, c, sizeof(c)));
	if (isnan(sys->perf_bench_ns))
		lab_note("no cross-check: 'perf bench syscall basic' is not available here (Debian: "
			 "apt install linux-perf)");
	else {
		// Within 10% where the paired interval says so; apart where it lies wholly outside.
		enum compare_status same = compare_within(&run->lab_over_perf, 0.10);

		lab_shown(&run->lab,
			  "cross-check: perf bench syscall basic says %s per getppid(), this lab %s; "
			  "in the same rounds, this lab over perf round by round: %s, %s",
			  cli_format_ns(sys->perf_bench_ns, d, sizeof(d)),
			  cli_format_ns(sys->ns.median, a, sizeof(a)),
			  compare_format_ratio(&run->lab_over_perf, ratio, sizeof(ratio)),
			  same == COMPARE_HOLDS ? "within 10%" :
			  same == COMPARE_FAILS ? "more than 10% apart, the whole interval: the two "
						  "do not time the same thing (perf's loop also "
						  "counts its own loop and timer reads)" :
			  compare_within_undecided(&run->lab_over_perf, 0.10, undecided,
						   sizeof(undecided)));
	}
	// The tutorials' "a system call is a context switch": shown, not judged. getppid never
	// blocks, so on Linux a million of them switch only where the scheduler preempts the
	// thread: it cannot come out otherwise (a count near 1 would be a finding, and fails).
	double per_call = (sys->voluntary_switches + sys->involuntary_switches) / MILLION_SYSCALLS;
	lab_headline(&run->lab, "context_switches_per_syscall", per_call, "switches", NAN);
	char why[400];
	snprintf(why, sizeof(why), "a million syscall(SYS_getppid) made %.0f voluntary and %.0f "
		 "involuntary context switches (getrusage; PAPI %.0f): a system call is a mode "
		 "switch, into the kernel and back on the same thread; a context switch happens only "
		 "when the thread blocks or the scheduler preempts it (the involuntary ones)",
		 sys->voluntary_switches, sys->involuntary_switches, sys->papi_switches);
	if (per_call <= 0.1)
		lab_show(&run->lab, "syscall_is_context_switch",
			 "a system call is not a context switch", per_call, "switches per syscall",
			 "%s", why);
	else
		lab_judge(&run->lab, "syscall_is_context_switch",
			  "a system call is not a context switch", COMPARE_FAILS, per_call, NAN, NAN,
			  "switches per syscall", "%s", why);
	if (vdso > sys->ns.median * 0.5)
		lab_note("clock_gettime costs nearly a system call here: this clock source is not "
			 "readable from user space, so the vDSO falls back to the kernel (see "
			 "/sys/devices/system/clocksource/clocksource0/current_clocksource)");
}

// /dev/null throws the bytes away without reading them: its cost per call does not depend on the
// buffer, so it has no plateau; what it shows is the price of the entry alone.
static void verdict_devnull(struct run *run)
{
	char a[32], b[32], c[32], d[32];
	const struct point *small = find(run, WRITE_DEVNULL, run->buffers[0]);
	const struct point *big = find(run, WRITE_DEVNULL, run->buffers[run->nr_buffers - 1]);

	lab_shown(&run->lab,
		    "write(2) to /dev/null costs %s per call with %s and %s with %s: the kernel never "
		    "touches the bytes, so the cost is the kernel entry, whatever the size",
		    cli_format_ns(small->ns.median, a, sizeof(a)),
		    cli_format_size(small->buffer_bytes, b, sizeof(b)),
		    cli_format_ns(big->ns.median, c, sizeof(c)),
		    cli_format_size(big->buffer_bytes, d, sizeof(d)));
}

// The smallest buffer whose throughput reaches 90% of the plateau, or 0.
static uint64_t knee(const struct run *run, enum kind k, double top)
{
	for (size_t i = 0; i < run->nr_buffers; i++) {
		const struct point *p = find(run, k, run->buffers[i]);

		if (mb_per_s(p, p->ns.median) >= 0.9 * top)
			return run->buffers[i];
	}
	return 0;
}

// A fixed cost per call (c ns) plus a copy at the plateau rate (B bytes/ns) gives a throughput of
// b / (c + b/B) for b-byte calls: 90% of B needs b = 9 c B. The verdict sets that model's figure
// beside the measured one.
static void verdict_file(struct run *run)
{
	char one_s[32], knee_s[32], model_s[32], call_s[32];
	double top = plateau(run, WRITE_FILE);
	const struct point *one = find(run, WRITE_FILE, run->buffers[0]);
	uint64_t at = knee(run, WRITE_FILE, top);
	double speedup = top / mb_per_s(one, one->ns.median);
	double model_bytes = 9 * one->ns.median * top * 1e-3;	// MB/s x 1e-3 = bytes per ns

	lab_headline(&run->lab, "file_write_batching_speedup", speedup, "x", NAN);
	lab_headline(&run->lab, "file_write_plateau", top, "MB/s", NAN);

	// The prediction: the knee is the first buffer of the sweep at or above the model's size.
	// The measured knee is where noisy medians cross 90%: within one step of the sweep either
	// way (it doubles, or quadruples in --quick) holds, three steps or more fails, and two
	// steps this run cannot tell.
	uint64_t predicted = 0;
	for (size_t i = 0; i < run->nr_buffers && !predicted; i++)
		if ((double)run->buffers[i] >= model_bytes)
			predicted = run->buffers[i];
	double f = run->buffer_factor;
	double steps = at && predicted ? fabs(log((double)at / (double)predicted)) / log(f) : NAN;
	enum compare_status st = isnan(steps) ? COMPARE_NOT_SHOWN
				 : steps < 1.5 ? COMPARE_HOLDS
				 : steps > 2.5 ? COMPARE_FAILS : COMPARE_INCONCLUSIVE;
	lab_judge(&run->lab, "batching_knee_at_9cb",
		  "batching stops paying from 9 x (cost per call) x (copy rate) bytes per call", st,
		  (double)at, NAN, NAN, "bytes",
		  "write(2) to a file (%s): %.1f MB/s with %s writes, %.0f MB/s at the plateau (%.0fx); "
		  "90%% of the plateau from %s buffers on, where a fixed %s per call plus the copy "
		  "predicts %s (%.0f steps of the sweep apart: within one holds, three or more fails)",
		  run->fs_type,
		  mb_per_s(one, one->ns.median), cli_format_size(run->buffers[0], one_s, sizeof(one_s)),
		  top, speedup, at ? cli_format_size(at, knee_s, sizeof(knee_s)) : "no",
		  cli_format_ns(one->ns.median, call_s, sizeof(call_s)),
		  cli_format_size((uint64_t)model_bytes, model_s, sizeof(model_s)), steps);
}

static void verdict_stdio(struct run *run)
{
	const struct point *buf = find(run, STDIO_BUFFERED, run->buffers[0]);
	const struct point *unb = find(run, STDIO_UNBUFFERED, run->buffers[0]);
	double per_syscall = (double)buf->total_bytes / buf->syscalls_proc_io;

	lab_judge(&run->lab, "stdio_batches_writes",
		  "stdio turns many small writes into few system calls (1 KiB or more each)",
		  isnan(per_syscall) ? COMPARE_NOT_SHOWN
		  : per_syscall >= 1024 ? COMPARE_HOLDS : COMPARE_FAILS, per_syscall, NAN, NAN,
		  "bytes per syscall",
		  "%llu fwrite calls of %llu B made %.0f write(2) calls with the default buffer (%.0f "
		  "B each), %.0f without it; %.1fx faster (separate runs, not interleaved)",
		    (unsigned long long)buf->nr_calls, (unsigned long long)buf->buffer_bytes,
		    buf->syscalls_proc_io, per_syscall, unb->syscalls_proc_io,
		    mb_per_s(buf, buf->ns.median) / mb_per_s(unb, unb->ns.median));
}

static void verdict_streaming(struct run *run)
{
	char total[32], all_s[32], all_x[32], buf_s[32], fixed_s[32], fixed_x[32];
	const struct point *all = find(run, BUILD_THEN_WRITE, 0);
	const struct point *fixed = find(run, FIXED_BUFFER, 0);
	double all_extra = all->anon_added_kib;
	double fixed_extra = fixed->anon_added_kib;

	// Counts of memory, not timings: building it all needs about the output's size, a
	// stream its buffer (plus what the C library allocates around it).
	double total_kib = (double)run->opt.total_bytes / 1024;
	bool follows = all_extra >= 0.5 * total_kib && fixed_extra <= 0.1 * total_kib;
	lab_judge(&run->lab, "streaming_memory_follows_buffer",
		  "streaming output needs memory for its buffer and not for the whole output",
		  follows ? COMPARE_HOLDS : COMPARE_FAILS, fixed_extra * 1024, NAN, NAN, "bytes",
		  "streaming %s: building it all first added %s of anonymous memory (RssAnon; "
		  "peak RSS %s), a %s buffer added %s (peak RSS %s)",
		    cli_format_size(run->opt.total_bytes, total, sizeof(total)),
		    cli_format_size((uint64_t)(all_extra > 0 ? all_extra : 0) * 1024, all_x,
				    sizeof(all_x)),
		    cli_format_size((uint64_t)all->peak_rss_kib * 1024, all_s, sizeof(all_s)),
		    cli_format_size(STREAM_BUFFER_BYTES, buf_s, sizeof(buf_s)),
		    cli_format_size((uint64_t)(fixed_extra > 0 ? fixed_extra : 0) * 1024, fixed_x,
				    sizeof(fixed_x)),
		    cli_format_size((uint64_t)fixed->peak_rss_kib * 1024, fixed_s, sizeof(fixed_s)));
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "buffer_bytes", "total_bytes", "nr_calls", "nr_samples",
		"ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95", "mb_per_s_median",
		"mb_per_s_p05", "mb_per_s_p95", "syscalls_per_sample", "syscalls_per_sample_proc_io",
		"user_ms_per_sample", "sys_ms_per_sample", "peak_rss_kib", "perf_bench_ns_per_op",
		"anon_added_kib", "context_switches_per_syscall",
		"papi_context_switches_per_syscall",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];
		bool w = p->experiment == WRITE;

		report_csv_str(&csv, experiment_names[p->experiment]);
		report_csv_str(&csv, kind_names[p->kind]);
		report_csv_double(&csv, p->experiment == ENTRY ? NAN : (double)p->buffer_bytes);
		report_csv_double(&csv, p->experiment == ENTRY ? NAN : (double)p->total_bytes);
		report_csv_double(&csv, w ? (double)p->nr_calls : NAN);
		report_csv_u64(&csv, p->ns.nr_samples);
		report_csv_double(&csv, p->ns.median);
		report_csv_double(&csv, p->ns.p05);
		report_csv_double(&csv, p->ns.p95);
		// The fastest samples give the highest throughput: p05 of MB/s comes from p95 of ns.
		report_csv_double(&csv, w ? mb_per_s(p, p->ns.median) : NAN);
		report_csv_double(&csv, w ? mb_per_s(p, p->ns.p95) : NAN);
		report_csv_double(&csv, w ? mb_per_s(p, p->ns.p05) : NAN);
		report_csv_double(&csv, p->syscalls_program);
		report_csv_double(&csv, p->syscalls_proc_io);
		report_csv_double(&csv, p->user_ms);
		report_csv_double(&csv, p->sys_ms);
		report_csv_double(&csv, p->peak_rss_kib);
		report_csv_double(&csv, p->perf_bench_ns);
		report_csv_double(&csv, p->anon_added_kib);
		report_csv_double(&csv, (p->voluntary_switches + p->involuntary_switches) /
					MILLION_SYSCALLS);
		report_csv_double(&csv, p->papi_switches / MILLION_SYSCALLS);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;
	char buf[64];

	report_kv(m, "clocksource", "%s",
		  kernel_read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
				   "unknown", buf, sizeof(buf)));
	report_kv(m, "total_bytes", "%llu", (unsigned long long)run->opt.total_bytes);
	report_kv(m, "max_calls_per_sample", "%llu", (unsigned long long)run->max_calls);
	report_kv(m, "buffers_bytes", "1..%llu (x%d)",
		  (unsigned long long)run->buffers[run->nr_buffers - 1], run->lab.opt.quick ? 4 : 2);
	report_kv(m, "scratch_filesystem", "%s (%s)", run->fs_type, run->opt.tmpdir);
	report_kv(m, "stream_buffer_bytes", "%llu", (unsigned long long)STREAM_BUFFER_BYTES);
}

// ---- setup -------------------------------------------------------------------------------------

enum { OPT_TOTAL = 256, OPT_MAX_BUFFER, OPT_TMPDIR };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	switch (val) {
	case OPT_TOTAL:
		return cli_arg_size("--total", arg, 4096, 1ull << 30, &o->total_bytes);
	case OPT_MAX_BUFFER:
		return cli_arg_size("--max-buffer", arg, 1, 16u << 20, &o->max_buffer);
	case OPT_TMPDIR:
		return cli_arg_dir("--tmpdir", arg, &o->tmpdir);
	}
	return -EINVAL;
}

static void make_scratch(struct run *run)
{
	struct statvfs vfs;

	snprintf(run->scratch_dir, sizeof(run->scratch_dir), "%s/lab04.XXXXXX", run->opt.tmpdir);
	if (!mkdtemp(run->scratch_dir))
		die_usage("--tmpdir %s: cannot create a scratch directory there: %s", run->opt.tmpdir,
			  strerror(errno));
	run->scratch_dir_handle = report_temp_add(run->scratch_dir);
	snprintf(run->scratch_file, sizeof(run->scratch_file), "%s/out", run->scratch_dir);
	run->scratch_file_handle = report_temp_add(run->scratch_file);
	// The scratch file holds at most one sample (total_bytes): check there is room for it.
	if (statvfs(run->scratch_dir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < run->opt.total_bytes * 2)
		die_usage("--tmpdir %s: not enough free space for --total %llu (set a smaller "
			  "--total or another --tmpdir)", run->opt.tmpdir,
			  (unsigned long long)run->opt.total_bytes);
	snprintf(run->fs_type, sizeof(run->fs_type), "%s", report_fs_type(run->scratch_dir));
}

static void plan(struct run *run)
{
	unsigned factor = run->lab.opt.quick ? 4 : 2;

	run->buffer_factor = factor;
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS

	if (avail && run->opt.total_bytes * 4 > avail)
		die_usage("--total %llu: too large for the %llu MiB this process may use",
			  (unsigned long long)run->opt.total_bytes, (unsigned long long)(avail >> 20));
	if (run->opt.max_buffer > run->opt.total_bytes)
		run->opt.max_buffer = run->opt.total_bytes;
	for (uint64_t b = 1; b <= run->opt.max_buffer && run->nr_buffers < MAX_BUFFERS; b *= factor)
		run->buffers[run->nr_buffers++] = b;
	run->max_calls = run->lab.opt.quick ? 1u << 13 : 1u << 16;
	// Never 0: --max-buffer's minimum is 1.
	// NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI)
	run->buffer = malloc(run->opt.max_buffer);
	if (!run->buffer)
		die("out of memory for a %llu-byte buffer", (unsigned long long)run->opt.max_buffer);
	memset(run->buffer, 'x', run->opt.max_buffer);
	make_scratch(run);
}

static void predict(const struct run *run)
{
	char a[32];

	lab_prediction("a function call costs about 1 ns and a vDSO clock_gettime tens of ns; a "
		       "system call, which enters and leaves the kernel, a few hundred ns: at least "
		       "10x a function call");
	lab_prediction("a million system calls make almost no context switches: a system call "
		       "switches mode, not thread");
	lab_prediction("1-byte writes move one byte per system call: a few MB/s; a bigger buffer "
		       "pays the same entry for more bytes, so the throughput doubles with the buffer "
		       "until copying costs as much as the call (a few KiB); the plateau needs about "
		       "ten times that");
	lab_prediction("stdio's buffer makes small fwrite calls cheap without changing the program; "
		       "streaming %s through a 64 KiB buffer adds about that buffer of anonymous "
		       "memory, building it first all of it",
		       cli_format_size(run->opt.total_bytes, a, sizeof(a)));
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "total", required_argument, NULL, OPT_TOTAL },
		{ "max-buffer", required_argument, NULL, OPT_MAX_BUFFER },
		{ "tmpdir", required_argument, NULL, OPT_TMPDIR },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "04-syscall-batching",
		.summary = "Measures the cost of entering the kernel, the throughput of writes by buffer "
			   "size (raw and through stdio), and the memory saved by streaming.",
		.options_help =
			"  --total SIZE       bytes written per sample (default 64M, quick 4M)\n"
			"  --max-buffer SIZE  largest write buffer (default 1M)\n"
			"  --tmpdir DIR       where the scratch file goes (default $TMPDIR or /tmp)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};
	const char *tmp = getenv("TMPDIR");

	// parse -> describe the machine
	run.opt = (struct options){ .max_buffer = 1u << 20, .tmpdir = tmp && *tmp ? tmp : "/tmp" };
	lab_init(&run.lab, &info, "Lab 4: syscall batching", argc, argv);
	if (!run.opt.total_bytes)
		run.opt.total_bytes = run.lab.opt.quick ? 4u << 20 : 64u << 20;
	lab_pin_here(&run.lab);
	// System calls are counted by the program and /proc/self/io; the one counter is for the
	// context switches of a million system calls (getrusage counts them too).
	const enum counters_metric metrics[] = { COUNTERS_CONTEXT_SWITCHES };
	counters_init(&run.counters, metrics, 1);
	lab_print_counters(&run.counters);

	// prepare -> predict
	plan(&run);
	predict(&run);

	// measure
	printf("measuring: kernel entry...");
	fflush(stdout);
	measure_entry(&run);
	printf(" writes:");
	measure_writes(&run);
	printf(" streaming...");
	fflush(stdout);
	measure_streaming(&run);
	printf(" done\n");

	// report
	print_tables(&run);
	printf("\n");
	verdict_entry(&run);
	verdict_devnull(&run);
	verdict_file(&run);
	verdict_stdio(&run);
	verdict_streaming(&run);
	write_csv(&run);
	lab_note_missing_counters(&run.counters);
	lab_write_manifest(&run.lab, &run.counters, manifest_extra, &run);
	counters_release(&run.counters);

	// release
	report_temp_remove(run.scratch_file_handle);
	report_temp_remove(run.scratch_dir_handle);
	free(run.buffer);
	lab_finish(&run.lab);
	return 0;
}
