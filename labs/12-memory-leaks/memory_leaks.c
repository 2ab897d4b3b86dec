// SPDX-License-Identifier: MIT
// Lab 12: what a leak looks like from outside, and how to find it. A small request loop (the
// "server") runs in a child process and is watched from outside: its RSS (/proc/PID/statm) against
// the requests served, sampled every few ms; the slope is the memory leaked per request, checked
// against the allocator's own count. Three servers: one that drops a pointer per request, the fixed
// one (a bounded cache with eviction), and one whose history grows forever while staying reachable.
// Then the leak checkers: the same program under LeakSanitizer (its runtime preloaded) and
// valgrind, with the allocation site they report, and what they say about the reachable growth.
// Then the leaks outside malloc (a mapping never unmapped, a descriptor never closed, a thread never
// joined): what each looks like in /proc/self, and which checker sees which.
// Usage: memory_leaks [--quick] [--reps N] [--out DIR] [--leak-bytes N]
//        memory_leaks --server leaky|fixed|reachable|mmap|fd|thread --requests N
//                     [--leak-bytes N]   (internal)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <malloc.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "clock.h"
#include "die.h"
#include "guard.h"
#include "lab.h"
#include "report.h"
#include "sanitizer.h"
#include "term.h"
#include "stats.h"
#include "topo.h"

#define MAX_SAMPLES 400
#define CACHE_SLOTS 1024	// the fixed server keeps the last 1024 sessions

enum server { LEAKY, FIXED, REACHABLE, NR_SERVERS };
static const char *const server_names[NR_SERVERS] = { "leaky", "fixed", "reachable" };

// ---- the server: a request loop -----------------------------------------------------------------

struct session {
	uint64_t id;
	size_t len;
	char note[];	// leak_bytes - sizeof(struct session) bytes of per-request state
};

// The reachable server's history: every session ever made, still pointed to (so no leak checker
// calls it lost). Not static, so that the compiler cannot drop it.
struct session **request_history;
size_t history_len, history_cap;

static struct session *cache[CACHE_SLOTS];

// ---- leaks outside malloc --------------------------------------------------------------------------

enum other_leak { MMAP_LEAK, FD_LEAK, THREAD_LEAK, NR_OTHER };
static const char *const other_names[NR_OTHER] = { "mmap", "fd", "thread" };
#define OTHER_REQUESTS 64u		// 64 unjoined threads are 512 MiB of address space
#define MAPPING_BYTES ((size_t)64 * 1024)

static void *thread_returns(void *arg)
{
	return arg;
}

// One request of a server that leaks outside malloc. Returns 0, or the errno of the resource that
// ran out (a descriptor leak meets RLIMIT_NOFILE: that is how such leaks are usually found).
static int leak_other(enum other_leak kind)
{
	if (kind == MMAP_LEAK) {
		char *p = mmap(NULL, MAPPING_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return errno;
		p[0] = 1;	// one page of it used; the mapping is never unmapped
		return 0;
	}
	if (kind == FD_LEAK)	// opened for the request, never closed
		return open("/dev/null", O_RDONLY) < 0 ? errno : 0;
	pthread_t t;		// a joinable thread that finishes, never joined
	return pthread_create(&t, NULL, thread_returns, NULL);
}

// What the process looks like from /proc/self: address space, resident memory, threads, open
// descriptors.
struct process_view {
	double vm_bytes, rss_bytes, threads, fds;
};

static void view_process(struct process_view *v)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	DIR *d = opendir("/proc/self/fd");
	unsigned long long kib;

	*v = (struct process_view){ NAN, NAN, NAN, NAN };
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmSize: %llu kB", &kib) == 1)
			v->vm_bytes = (double)kib * 1024;
		else if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			v->rss_bytes = (double)kib * 1024;
		else if (sscanf(line, "Threads: %llu", &kib) == 1)
			v->threads = (double)kib;
	}
	if (f)
		fclose(f);
	if (d) {
		v->fds = -1;	// the directory's own descriptor
		while (readdir(d))
			v->fds++;
		v->fds -= 2;	// . and ..
		closedir(d);
	}
}

static struct session *new_session(uint64_t id, size_t bytes)
{
	struct session *s = malloc(bytes);

	if (!s)
		abort();	// the child's memory limit: the supervisor reports it
	s->id = id;
	s->len = bytes - sizeof(*s);
	memset(s->note, (int)(id & 0xff), s->len);
	return s;
}

// One request: parse into a scratch buffer (freed: not a leak), then keep per-request state the
// way each server does.
static void handle_request(enum server kind, uint64_t id, size_t leak_bytes)
{
	char *scratch = malloc(1024);

	if (!scratch)
		abort();
	snprintf(scratch, 1024, "GET /item/%llu", (unsigned long long)id);
	struct session *s = new_session(id, leak_bytes);
	bench_escape(scratch);
	free(scratch);
	switch (kind) {
	case LEAKY:
		// The bug: the session was meant to go into the cache, but this path forgets it.
		bench_escape(s);
		return;	// NOLINT(clang-analyzer-unix.Malloc): the leak this lab is about
	case FIXED:
		// The fix: a bounded cache; the evicted session is freed.
		free(cache[id % CACHE_SLOTS]);
		cache[id % CACHE_SLOTS] = s;
		return;
	case REACHABLE:
		// No lost pointer, yet unbounded: a history nobody ever trims.
		if (history_len == history_cap) {
			size_t cap = history_cap ? history_cap * 2 : 1024;
			struct session **h = realloc(request_history, cap * sizeof(struct session *));

			if (!h)
				abort();
			request_history = h;
			history_cap = cap;
		}
		request_history[history_len++] = s;
		return;
	case NR_SERVERS:
		break;
	}
	free(s);	// not a server: nothing keeps the session
}

// ---- watching it from outside -------------------------------------------------------------------

struct sample {
	double ms, requests, rss_bytes, heap_bytes;
};

// Shared between the lab (its watcher thread) and the server (its supervised child).
struct watch {
	enum server kind;
	size_t leak_bytes;
	uint64_t max_requests;
	uint64_t duration_ms;
	_Atomic int pid;		// the server's, once it runs
	_Atomic uint64_t requests;	// written by the server
	_Atomic uint64_t heap_bytes;	// the server's allocator: bytes in use (mallinfo2)
	_Atomic int served_all, stop;
	struct sample samples[MAX_SAMPLES];	// written by the watcher
	unsigned nr_samples;
};

// The server: a supervised child. It serves until told to stop (or max_requests), then waits for
// the watcher's last sample and leaves without cleaning up, as a server killed by its supervisor
// would.
static int server_child(void *arg)
{
	struct watch *w = arg;

	atomic_store(&w->pid, (int)getpid());
	for (uint64_t id = 0; id < w->max_requests && !atomic_load(&w->stop); id++) {
		handle_request(w->kind, id, w->leak_bytes);
		atomic_store_explicit(&w->requests, id + 1, memory_order_relaxed);
		if ((id & 255) == 0)
			atomic_store(&w->heap_bytes, (uint64_t)mallinfo2().uordblks);
	}
	atomic_store(&w->heap_bytes, (uint64_t)mallinfo2().uordblks);
	atomic_store(&w->served_all, 1);
	while (!atomic_load(&w->stop))
		usleep(1000);
	return 0;
}

static double rss_of(pid_t pid, long page)
{
	char path[64];
	unsigned long long size, resident;
	double v = NAN;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "r");
	if (f && fscanf(f, "%llu %llu", &size, &resident) == 2)
		v = (double)resident * (double)page;
	if (f)
		fclose(f);
	return v;
}

// The watcher, a thread of the lab: samples the server's RSS and request count from outside, then
// tells it to stop. (The lab's main thread meanwhile waits for the server in guard_run().)
static void *watcher(void *arg)
{
	struct watch *w = arg;
	long page = sysconf(_SC_PAGESIZE);
	// Sample every 0.25 ms at first: a fast server may serve its max_requests in a few ms. When
	// the samples fill up, keep every other one and sample half as often: a slow server's whole
	// watch still fits, with at least MAX_SAMPLES / 2 samples spread over it.
	uint64_t start = clock_now_ns(), interval = 250000;
	int pid;

	while ((pid = atomic_load(&w->pid)) == 0 && clock_now_ns() - start < 10000000000ull) {
		struct timespec wait = { 0, 100000 };

		nanosleep(&wait, NULL);
	}
	start = clock_now_ns();
	while (pid) {
		if (w->nr_samples == MAX_SAMPLES) {
			for (size_t i = 0; i < MAX_SAMPLES / 2; i++)
				w->samples[i] = w->samples[2 * i];
			w->nr_samples = MAX_SAMPLES / 2;
			interval *= 2;
		}
		uint64_t now = clock_now_ns();
		struct sample *s = &w->samples[w->nr_samples];

		s->ms = (double)(now - start) / 1e6;
		s->requests = (double)atomic_load(&w->requests);
		s->rss_bytes = rss_of(pid, page);
		s->heap_bytes = (double)atomic_load(&w->heap_bytes);
		if (isnan(s->rss_bytes))
			break;	// the server is gone (killed by its memory or time limit)
		w->nr_samples++;
		if (now - start > w->duration_ms * 1000000 || atomic_load(&w->served_all))
			break;
		struct timespec tick = { 0, (long)interval };
		nanosleep(&tick, NULL);
	}
	atomic_store(&w->stop, 1);
	return NULL;
}

// ---- the leak checkers --------------------------------------------------------------------------

struct checker {
	bool ran;
	char why_not[160];
	double leaked_bytes;		// definitely lost / direct leaks, NAN if none reported
	double reachable_bytes;		// still reachable (valgrind only)
	double possibly_lost_bytes;	// valgrind only
	double fds_open_at_exit;	// valgrind --track-fds=yes only (NAN otherwise)
	char site[256];			// the first frame in this lab's source
	char report[2048];		// the lines shown to the learner
};

// Runs argv (this program as a server, under a tool), supervised; its combined output goes to buf.
// Returns its exit status, 128 + the signal that killed it, or 127 if it could not run.
static int run_tool(char *const argv[], const char *preload, char *buf, size_t len)
{
	char preload_env[4200];
	// Report the leaks, never abort on them; use the frame pointers this build keeps.
	const char *env[] = { "LSAN_OPTIONS=exitcode=23:fast_unwind_on_malloc=1:malloc_context_size=6",
			      preload_env, NULL };
	struct guard_limits limits = { .timeout_ms = 120000 };
	struct guard_result g;

	snprintf(preload_env, sizeof(preload_env), "LD_PRELOAD=%s", preload ? preload : "");
	if (!preload)
		env[1] = NULL;
	if (guard_exec(argv, env, &limits, buf, len, &g) != 0)
		return 127;
	return g.outcome == GUARD_EXITED ? g.exit_status : 128 + g.signal;
}

// Keeps the report lines worth showing: the headline, the lines naming this lab's source, the
// summary. Sets site to the first frame in memory_leaks.c.
static void extract(struct checker *c, const char *out, const char *const *keys, size_t nr_keys)
{
	const char *line = out;
	size_t used = 0;

	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		bool keep = false;

		for (size_t k = 0; k < nr_keys; k++)
			keep = keep || memmem(line, len, keys[k], strlen(keys[k])) != NULL;
		bool ours = memmem(line, len, "memory_leaks.c", 14) != NULL;
		if (ours && !c->site[0]) {
			const char *in = memmem(line, len, " in ", 4);
			const char *by = memmem(line, len, ": ", 2);
			const char *from = in ? in + 4 : by ? by + 2 : line;
			snprintf(c->site, sizeof(c->site), "%.*s", (int)(line + len - from), from);
		}
		if ((keep || ours) && used + len + 4 < sizeof(c->report))
			used += (size_t)snprintf(c->report + used, sizeof(c->report) - used, "    %.*s\n",
						 (int)len, line);
		line = end ? end + 1 : line + len;
	}
}

static const char *lsan_runtime(void)
{
	static const char *const candidates[] = {
		"/usr/lib/x86_64-linux-gnu/liblsan.so.0", "/usr/lib/aarch64-linux-gnu/liblsan.so.0",
		"/usr/lib64/liblsan.so.0", "/usr/lib/liblsan.so.0",
	};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

// The server `kind` (a name: leaky, mmap...) for `requests` requests under LeakSanitizer.
static void run_lsan(struct checker *c, const char *exe, const char *kind, const char *requests,
		     char *buf, size_t len)
{
	static const char *const keys[] = { "ERROR: LeakSanitizer", "Direct leak", "SUMMARY:" };
	const char *runtime = lsan_runtime();
	char *const argv[] = { (char *)exe, (char *)"--server", (char *)kind,
			       (char *)"--requests", (char *)requests, NULL };

	c->leaked_bytes = c->reachable_bytes = c->possibly_lost_bytes = c->fds_open_at_exit = NAN;
	if (!runtime) {
		snprintf(c->why_not, sizeof(c->why_not), "the LeakSanitizer runtime (liblsan.so.0) is "
			 "not installed: it comes with GCC (Debian: liblsan0)");
		return;
	}
	int st = run_tool(argv, runtime, buf, len);
	if (st != 0 && st != 23) {
		snprintf(c->why_not, sizeof(c->why_not), "the run under LeakSanitizer failed "
			 "(status %d; ptrace-restricted containers stop it)", st);
		return;
	}
	c->ran = true;
	extract(c, buf, keys, sizeof(keys) / sizeof(keys[0]));
	const char *sum = strstr(buf, "SUMMARY: LeakSanitizer: ");
	unsigned long long bytes;
	c->leaked_bytes = sum && sscanf(sum, "SUMMARY: LeakSanitizer: %llu byte", &bytes) == 1
			  ? (double)bytes : 0;
}

// The number after key in valgrind's output, which groups digits with commas ("1,234 bytes");
// 0 when the key is absent (valgrind leaves out the kinds it found nothing of).
static double grouped_number(const char *out, const char *key)
{
	const char *at = strstr(out, key);
	char digits[32];
	size_t k = 0;

	if (!at)
		return 0;
	for (const char *p = at + strlen(key); (*p == ',' || (*p >= '0' && *p <= '9')) &&
	     k < sizeof(digits) - 1; p++)
		if (*p != ',')
			digits[k++] = *p;
	digits[k] = '\0';
	return strtod(digits, NULL);
}

// The same under valgrind; track_fds adds --track-fds=yes (descriptors open at exit).
static void run_valgrind(struct checker *c, const char *exe, const char *kind,
			 const char *requests, bool track_fds, char *buf, size_t len)
{
	static const char *const keys[] = { "definitely lost:", "still reachable:", "possibly lost:",
					    "are definitely lost", "FILE DESCRIPTORS:" };
	char *const argv[] = { (char *)"valgrind", (char *)"--leak-check=full",
			       (char *)"--show-leak-kinds=definite",
			       (char *)(track_fds ? "--track-fds=yes" : "--track-fds=no"), (char *)exe,
			       (char *)"--server", (char *)kind, (char *)"--requests",
			       (char *)requests, NULL };

	c->leaked_bytes = c->reachable_bytes = c->possibly_lost_bytes = c->fds_open_at_exit = NAN;
	int st = run_tool(argv, NULL, buf, len);
	if (st == 127) {
		snprintf(c->why_not, sizeof(c->why_not), "valgrind is not installed (make deps "
			 "installs it)");
		return;
	}
	c->ran = true;
	extract(c, buf, keys, sizeof(keys) / sizeof(keys[0]));
	c->leaked_bytes = grouped_number(buf, "definitely lost: ");
	c->reachable_bytes = grouped_number(buf, "still reachable: ");
	c->possibly_lost_bytes = grouped_number(buf, "possibly lost: ");
	if (track_fds) {
		const char *fds = strstr(buf, "FILE DESCRIPTORS: ");
		unsigned open_fds;

		c->fds_open_at_exit = fds && sscanf(fds, "FILE DESCRIPTORS: %u", &open_fds) == 1
				      ? (double)open_fds : NAN;
	}
}

// ---- the run ------------------------------------------------------------------------------------

// A server that leaks outside malloc, seen from /proc/self, and what the checkers said.
struct other_observed {
	bool skipped;			// not measured in this build (the reason: a sanitizer)
	unsigned requests;
	int error;			// errno of the request that could not be served, or 0
	double vm_per_request, rss_per_request, fds_per_request, threads_after;
	struct checker lsan, valgrind;
};

struct observed {
	struct sample samples[MAX_SAMPLES];
	unsigned nr_samples;
	double rss_per_request, heap_per_request;	// least-squares slopes, bytes
	double requests;
	struct stats ns_per_request;	// over the sampling intervals
	struct checker lsan, valgrind;
};

struct options {
	uint64_t leak_bytes;
};

struct run {
	struct lab lab;
	struct options opt;
	char exe[4096];
	uint64_t max_requests, duration_ms;
	struct observed server[NR_SERVERS];
	double chunk_bytes;	// what one leaked session really takes from glibc's heap
	struct other_observed other[NR_OTHER];
};

// The slope of y over x by least squares, over the samples past the first fifth (the warm-up:
// the first requests also fault in the allocator's arena and the program's pages).
static double slope(const struct sample *s, unsigned n, size_t y_offset)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	unsigned m = 0;

	for (unsigned i = n / 5; i < n; i++) {
		double x = s[i].requests, y = *(const double *)(const void *)((const char *)&s[i] + y_offset);

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		m++;
	}
	double d = m * sxx - sx * sx;
	return m >= 3 && d > 0 ? (m * sxy - sx * sy) / d : NAN;
}

static void observe(struct run *run, enum server kind)
{
	struct watch *w = guard_shared_alloc(sizeof(*w));
	// The server stops at max_requests or when the watcher has seen enough; this is the backstop.
	struct guard_limits limits = { .timeout_ms = run->duration_ms + 30000 };
	struct guard_result g;
	char why[128];

	if (!w)
		die("cannot share memory with the child");
	w->kind = kind;
	w->leak_bytes = run->opt.leak_bytes;
	w->max_requests = run->max_requests;
	w->duration_ms = run->duration_ms;
	pthread_t watch;
	if (pthread_create(&watch, NULL, watcher, w) != 0)
		die("cannot start the watcher thread");
	int err = guard_run(server_child, w, &limits, &g);
	atomic_store(&w->stop, 1);	// the server may have died: the watcher must not wait for it
	pthread_join(watch, NULL);
	if (err)
		die_errno(err, "cannot start the supervised child");
	if (g.outcome != GUARD_EXITED || g.exit_status != 0 || w->nr_samples < 2)
		die("the %s server failed: %s", server_names[kind],
		    guard_describe(&g, why, sizeof(why)));
	struct observed *o = &run->server[kind];
	memcpy(o->samples, w->samples, sizeof(o->samples));
	o->nr_samples = w->nr_samples;
	o->requests = o->nr_samples ? o->samples[o->nr_samples - 1].requests : 0;
	o->rss_per_request = slope(o->samples, o->nr_samples, offsetof(struct sample, rss_bytes));
	o->heap_per_request = slope(o->samples, o->nr_samples, offsetof(struct sample, heap_bytes));
	// How fast it served: ns per request in each sampling interval, median and spread.
	static double per[MAX_SAMPLES];
	size_t n = 0;
	for (unsigned i = 1; i < o->nr_samples; i++) {
		double dr = o->samples[i].requests - o->samples[i - 1].requests;

		if (dr > 0)
			per[n++] = (o->samples[i].ms - o->samples[i - 1].ms) * 1e6 / dr;
	}
	if (n == 0 || stats_compute(&o->ns_per_request, per, n) != 0)
		o->ns_per_request.median = o->ns_per_request.p05 = o->ns_per_request.p95 = NAN;
	guard_shared_free(w, sizeof(*w));
}

static void plan(struct run *run)
{
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS

	if (!run->opt.leak_bytes)
		run->opt.leak_bytes = 200;
	run->duration_ms = run->lab.opt.quick ? 300 : 1500;
	// The leaky and reachable servers may keep every session: at most 256 MiB of them (64 MiB
	// quick), and never over an eighth of the free memory.
	uint64_t budget = run->lab.opt.quick ? 64u << 20 : 256u << 20;
	if (avail && budget > avail / 8)
		budget = avail / 8;
	run->max_requests = budget / (run->opt.leak_bytes + 16);
	// A malloc'ed block costs its size rounded up to 16, plus 8 bytes of header (glibc, 64-bit).
	uint64_t chunk = (run->opt.leak_bytes + 8 + 15) / 16 * 16;
	run->chunk_bytes = (double)chunk;
	if (run->chunk_bytes < 32)
		run->chunk_bytes = 32;
}

#define OBSERVED_TABLE_WIDTH 91

static void print_observed(const struct run *run)
{
	printf("\nWatched from outside (RSS from /proc/PID/statm against requests served)\n");
	// Under OBSERVED_TABLE_WIDTH columns the same columns, narrower, with shorter names.
	bool narrow = term_width() < OBSERVED_TABLE_WIDTH;
	int w = narrow ? 2 : 0;	// columns narrower by 2, by 6 for the per-request ones

	if (narrow)
		printf("  %-10s %10s %12s %12s %12s %10s\n", "server", "requests", "RSS growth",
		       "RSS/req", "heap/req", "ns/req");
	else
		printf("  %-10s %12s %14s %18s %18s %12s\n", "server", "requests", "RSS growth",
		       "RSS per request", "heap per request", "ns/request");
	for (int k = 0; k < NR_SERVERS; k++) {
		const struct observed *o = &run->server[k];
		char a[32];
		double growth = o->nr_samples ? o->samples[o->nr_samples - 1].rss_bytes -
						o->samples[0].rss_bytes : NAN;

		printf("  %-10s %*.0f %*s %*.1f B %*.1f B %*.0f%1s\n", server_names[k], 12 - w,
		       o->requests, 14 - w, cli_format_size((uint64_t)fmax(growth, 0), a, sizeof(a)),
		       16 - 3 * w, o->rss_per_request, 16 - 3 * w, o->heap_per_request, 11 - w,
		       o->ns_per_request.median,
		       isnan(o->ns_per_request.median) ? "" : stats_noisy_mark(&o->ns_per_request));
	}
	printf("  (%s)\n", STATS_NOISY_LEGEND);
	printf("  (a session of %llu bytes takes a %.0f-byte chunk from glibc's malloc)\n",
	       (unsigned long long)run->opt.leak_bytes, run->chunk_bytes);
}

static void print_checker(const char *tool, enum server kind, const struct checker *c)
{
	if (!c->ran) {
		printf("  %s, %s server: not run: %s\n", tool, server_names[kind], c->why_not);
		return;
	}
	printf("  %s, %s server:%s\n%s", tool, server_names[kind],
	       c->report[0] ? "" : " nothing reported", c->report);
}

static void find_leaks(struct run *run)
{
	static char buf[1 << 16];
	const char *san = sanitizer_name();

	for (int k = 0; k < NR_SERVERS; k++) {
		struct observed *o = &run->server[k];

		if (san) {
			// The lab itself runs under a sanitizer (make test's sanitizer builds): a
			// second leak checker cannot be preloaded into it.
			snprintf(o->lsan.why_not, sizeof(o->lsan.why_not), "this build already runs "
				 "under %s", san);
			snprintf(o->valgrind.why_not, sizeof(o->valgrind.why_not), "this build already "
				 "runs under %s", san);
			o->lsan.leaked_bytes = o->valgrind.leaked_bytes = NAN;
			o->valgrind.reachable_bytes = NAN;
			continue;
		}
		run_lsan(&o->lsan, run->exe, server_names[k], "2000", buf, sizeof(buf));
		run_valgrind(&o->valgrind, run->exe, server_names[k], "500", false, buf, sizeof(buf));
	}
	printf("\nThe leak checkers on the same servers (2000 requests under LeakSanitizer, 500 under "
	       "valgrind)\n");
	for (int k = 0; k < NR_SERVERS; k++) {
		print_checker("LeakSanitizer", (enum server)k, &run->server[k].lsan);
		print_checker("valgrind", (enum server)k, &run->server[k].valgrind);
	}
}

// ---- part 2: leaks outside malloc ------------------------------------------------------------------

struct other_report {
	struct process_view before, after;
	unsigned requests;
	int error;
};

struct other_job {
	enum other_leak kind;
	struct other_report *r;
};

static int other_child(void *arg)
{
	const struct other_job *j = arg;

	// A first request and a first look warm up what every later one uses (the C library's
	// code pages, stdio's buffer), which would otherwise count as growth.
	if (leak_other(j->kind) == 0)
		view_process(&j->r->before);
	view_process(&j->r->before);
	for (unsigned i = 0; i < OTHER_REQUESTS; i++) {
		int err = leak_other(j->kind);

		if (err) {
			j->r->error = err;
			break;
		}
		j->r->requests++;
	}
	(void)nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);	// the threads end
	view_process(&j->r->after);
	return 0;
}

static void find_other_leaks(struct run *run)
{
	static char buf[1 << 16];
	struct other_report *r = guard_shared_alloc(sizeof(*r));
	const char *san = sanitizer_name();
	char requests[16], why[128];

	if (!r)
		die("cannot share memory with the child");
	snprintf(requests, sizeof(requests), "%u", OTHER_REQUESTS);
	for (enum other_leak k = 0; k < NR_OTHER; k++) {
		struct other_observed *o = &run->other[k];
		struct other_job job = { k, r };
		struct guard_limits limits = { .timeout_ms = 30000 };
		struct guard_result g;

		// ThreadSanitizer reports an unjoined thread itself, and fails the run for it.
		if (san && k == THREAD_LEAK) {
			o->skipped = true;
			o->vm_per_request = o->rss_per_request = o->fds_per_request = NAN;
			o->threads_after = NAN;
			continue;
		}
		memset(r, 0, sizeof(*r));
		int err = guard_run(other_child, &job, &limits, &g);
		if (err || g.outcome != GUARD_EXITED || g.exit_status != 0)
			die("the %s leak child failed: %s", other_names[k],
			    err ? strerror(-err) : guard_describe(&g, why, sizeof(why)));
		double n = r->requests ? (double)r->requests : 1;
		o->requests = r->requests;
		o->error = r->error;
		o->vm_per_request = (r->after.vm_bytes - r->before.vm_bytes) / n;
		o->rss_per_request = (r->after.rss_bytes - r->before.rss_bytes) / n;
		o->fds_per_request = (r->after.fds - r->before.fds) / n;
		o->threads_after = r->after.threads;
		if (san) {
			snprintf(o->lsan.why_not, sizeof(o->lsan.why_not), "this build already runs "
				 "under %s", san);
			snprintf(o->valgrind.why_not, sizeof(o->valgrind.why_not), "this build "
				 "already runs under %s", san);
			continue;
		}
		run_lsan(&o->lsan, run->exe, other_names[k], requests, buf, sizeof(buf));
		run_valgrind(&o->valgrind, run->exe, other_names[k], requests, true, buf,
			     sizeof(buf));
	}
	guard_shared_free(r, sizeof(*r));
}

// What a checker said about a leak outside malloc, in a few words.
static const char *checker_saw(const struct checker *c, bool valgrind, char *buf, size_t len)
{
	char a[32];

	if (!c->ran)
		snprintf(buf, len, "not run");
	else if (valgrind && c->fds_open_at_exit > 3 + OTHER_REQUESTS / 2.0)
		snprintf(buf, len, "%.0f fds open at exit", c->fds_open_at_exit);
	else if (c->leaked_bytes > 0)
		snprintf(buf, len, "%s lost", cli_format_size((uint64_t)c->leaked_bytes, a, sizeof(a)));
	else if (valgrind && c->possibly_lost_bytes > 0)
		snprintf(buf, len, "%s possibly lost",
			 cli_format_size((uint64_t)c->possibly_lost_bytes, a, sizeof(a)));
	else
		snprintf(buf, len, "nothing");
	return buf;
}

#define OTHER_TABLE_WIDTH 95

static void print_other(const struct run *run)
{
	printf("\nLeaks outside malloc: %u requests each, seen in /proc/self (status, fd), and what the "
	       "checkers said\n", OTHER_REQUESTS);
	// Under OTHER_TABLE_WIDTH columns: no VmSize/req (RSS/req is what the leak costs).
	bool narrow = term_width() < OTHER_TABLE_WIDTH;

	printf("  %-7s", "leak");
	if (!narrow)
		printf(" %11s", "VmSize/req");
	printf(" %10s %8s %8s  %-18s %s\n", "RSS/req", "fds/req", "threads", "LeakSanitizer",
	       narrow ? "valgrind" : "valgrind --track-fds=yes");
	for (enum other_leak k = 0; k < NR_OTHER; k++) {
		const struct other_observed *o = &run->other[k];
		char a[32], b[32], l[64], v[64];

		if (o->skipped) {
			printf("  %-7s not measured: this build runs under %s, which reports it itself\n",
			       other_names[k], sanitizer_name() ? sanitizer_name() : "a sanitizer");
			continue;
		}
		printf("  %-7s", other_names[k]);
		if (!narrow)
			printf(" %11s", cli_format_size((uint64_t)fmax(o->vm_per_request, 0), a,
							sizeof(a)));
		printf(" %10s %8.2f %8.0f  %-18s %s%s%s\n",
		       cli_format_size((uint64_t)fmax(o->rss_per_request, 0), b, sizeof(b)),
		       o->fds_per_request, o->threads_after, checker_saw(&o->lsan, false, l, sizeof(l)),
		       checker_saw(&o->valgrind, true, v, sizeof(v)), o->error ? "; stopped: " : "",
		       o->error ? strerror(o->error) : "");
	}
	if (narrow)
		term_note_left_out("VmSize/req", OTHER_TABLE_WIDTH);
}

static void verdicts(struct run *run)
{
	const struct observed *leaky = &run->server[LEAKY], *fixed = &run->server[FIXED];
	const struct observed *reach = &run->server[REACHABLE];
	char a[32];

	lab_headline(&run->lab, "leaked_bytes_per_request", leaky->rss_per_request, "bytes",
		     leaky->heap_per_request);
	// The prediction from malloc's own chunk size, judged within 20%: the RSS slope counts
	// whole pages, so it is a chunk on average, not exactly.
	bool one_chunk = fabs(leaky->rss_per_request - run->chunk_bytes) < 0.2 * run->chunk_bytes;
	lab_judge(&run->lab, "leak_grows_one_chunk_per_request",
		  "a leak grows RSS by one malloc chunk per request (within 20%)",
		  one_chunk ? COMPARE_HOLDS : COMPARE_FAILS, leaky->rss_per_request, NAN, NAN,
		  "bytes per request",
		  "the leaky server's RSS grows by %.0f bytes per request (the slope over %.0f "
		  "requests); glibc's own count says %.0f, and one lost %llu-byte session is a "
		  "%.0f-byte chunk", leaky->rss_per_request, leaky->requests,
		  leaky->heap_per_request, (unsigned long long)run->opt.leak_bytes, run->chunk_bytes);
	lab_headline(&run->lab, "fixed_bytes_per_request", fixed->rss_per_request, "bytes",
		     fixed->heap_per_request);
	lab_judge(&run->lab, "fixed_server_stays_flat",
		  "without the leak RSS stays flat (under 1 byte per request)",
		  fabs(fixed->rss_per_request) < 1 ? COMPARE_HOLDS : COMPARE_FAILS,
		  fixed->rss_per_request, NAN, NAN, "bytes per request",
		  "the fixed server (a bounded cache of %d sessions): %.2f bytes per request after "
		  "warming up, over %.0f requests; %.0f ns per request against the leaky one's %.0f "
		  "(separate runs, not interleaved: every leaked page is a page fault)", CACHE_SLOTS,
		    fixed->rss_per_request, fixed->requests, fixed->ns_per_request.median,
		    leaky->ns_per_request.median);
	lab_shown(&run->lab,
		    "the reachable server grows as fast (%.0f bytes per request, plus its history "
		    "array), though it never loses a pointer", reach->rss_per_request);

	const struct checker *l = &leaky->lsan, *lr = &reach->lsan, *v = &leaky->valgrind;
	if (l->ran) {
		lab_headline(&run->lab, "lsan_leaked_bytes_2000_requests", l->leaked_bytes, "bytes",
			     2000.0 * (double)run->opt.leak_bytes);
		bool found = fabs(l->leaked_bytes - 2000.0 * (double)run->opt.leak_bytes) <=
			     0.01 * 2000.0 * (double)run->opt.leak_bytes && l->site[0];
		lab_judge(&run->lab, "lsan_finds_the_leak",
			  "LeakSanitizer finds every leaked byte and names the allocation",
			  found ? COMPARE_HOLDS : COMPARE_FAILS, l->leaked_bytes, NAN, NAN, "bytes",
			    "LeakSanitizer finds the leaky server's %s lost (2000 x %llu bytes) and "
			    "names the allocation: %s; for the reachable server it reports %s",
			    cli_format_size((uint64_t)l->leaked_bytes, a, sizeof(a)),
			    (unsigned long long)run->opt.leak_bytes, l->site[0] ? l->site : "(no site)",
			    lr->ran && lr->leaked_bytes == 0 ? "nothing: still reachable is not a leak to "
							    "it, only the RSS slope shows it"
							  : "a leak too");
	} else {
		lab_note("LeakSanitizer not run: %s", l->why_not);
	}
	if (v->ran)
		lab_shown(&run->lab,
			    "valgrind: %.0f bytes definitely lost for the leaky server (500 requests), "
			    "%.0f still reachable for the reachable one: it lists reachable memory, but "
			    "as a normal state, not an error", v->leaked_bytes,
			    reach->valgrind.reachable_bytes);
	else
		lab_note("valgrind not run: %s", v->why_not);

	const struct other_observed *om = &run->other[MMAP_LEAK], *of = &run->other[FD_LEAK];
	const struct other_observed *ot = &run->other[THREAD_LEAK];
	char b[32], c[32], d[64], e[64], f[64];
	// Counts of address space and descriptors: a mapping never unmapped grows VmSize by its
	// size per request, exactly; the heap is not involved at all.
	bool outside = om->vm_per_request >= 0.9 * MAPPING_BYTES || of->fds_per_request >= 0.9 ||
		       ot->vm_per_request >= 1024 * 1024;
	// Shown: a mapping never unmapped and a descriptor never closed stay, by Linux's design,
	// so the tutorials' "only on the heap" cannot come out true.
	lab_demonstrate(&run->lab, outside, "leaks_only_on_heap",
		  "memory also leaks outside the heap (mappings and descriptors and thread stacks)",
		  om->vm_per_request, "bytes per request",
		  "a mapping never unmapped grew the address space by %s per request (RSS by %s: "
		  "only the page it touched), a descriptor never closed left %.2f more open per request, a "
		  "thread never joined kept %s of address space (its stack); LeakSanitizer said %s, "
		  "%s and %s",
		  cli_format_size((uint64_t)fmax(om->vm_per_request, 0), a, sizeof(a)),
		  cli_format_size((uint64_t)fmax(om->rss_per_request, 0), b, sizeof(b)),
		  of->fds_per_request, cli_format_size((uint64_t)fmax(ot->vm_per_request, 0), c,
						       sizeof(c)),
		  checker_saw(&om->lsan, false, d, sizeof(d)), checker_saw(&of->lsan, false, e,
									   sizeof(e)),
		  checker_saw(&ot->lsan, false, f, sizeof(f)));
	if (of->valgrind.ran)
		lab_shown(&run->lab,
			    "valgrind --track-fds=yes lists the %.0f descriptors open at exit "
			    "(the leaked ones and the 3 standard ones); neither checker tracks mmap, "
			    "and an unjoined thread shows only as its thread-local data, %s",
			    of->valgrind.fds_open_at_exit,
			    checker_saw(&ot->valgrind, true, d, sizeof(d)));
	if (of->error)
		lab_note("the descriptor leak stopped after %u requests: %s (RLIMIT_NOFILE): that is "
			 "how such a leak is usually found", of->requests, strerror(of->error));
}

// One row per checker that ran on a server: what it reported (NAN where it does not say).
static void write_checker_rows(struct report_csv *csv, const char *server,
			       const struct checker *lsan, const struct checker *valgrind)
{
	const struct { const char *e; const struct checker *c; } tools[] = {
		{ "lsan", lsan }, { "valgrind", valgrind },
	};

	for (size_t t = 0; t < 2; t++) {
		if (!tools[t].c->ran)
			continue;
		report_csv_str(csv, tools[t].e);
		report_csv_str(csv, server);
		for (int x = 0; x < 9; x++)
			report_csv_double(csv, NAN);
		report_csv_double(csv, tools[t].c->leaked_bytes);
		report_csv_double(csv, tools[t].c->reachable_bytes);
		for (int x = 0; x < 3; x++)
			report_csv_double(csv, NAN);
		report_csv_double(csv, tools[t].c->possibly_lost_bytes);
		report_csv_double(csv, tools[t].c->fds_open_at_exit);
		lab_csv_end_row(csv);
	}
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "ms", "requests", "rss_bytes", "heap_bytes",
		"rss_per_request_bytes", "heap_per_request_bytes", "ns_per_op_median", "ns_per_op_p05",
		"ns_per_op_p95", "leaked_bytes", "reachable_bytes", "vm_per_request_bytes",
		"fds_per_request", "threads_after", "possibly_lost_bytes", "fds_open_at_exit",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (int k = 0; k < NR_SERVERS; k++) {
		const struct observed *o = &run->server[k];

		for (unsigned i = 0; i < o->nr_samples; i++) {
			report_csv_str(&csv, "rss");
			report_csv_str(&csv, server_names[k]);
			report_csv_double(&csv, o->samples[i].ms);
			report_csv_double(&csv, o->samples[i].requests);
			report_csv_double(&csv, o->samples[i].rss_bytes);
			report_csv_double(&csv, o->samples[i].heap_bytes);
			for (int x = 0; x < 12; x++)
				report_csv_double(&csv, NAN);
			lab_csv_end_row(&csv);
		}
		report_csv_str(&csv, "slope");
		report_csv_str(&csv, server_names[k]);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, o->requests);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, o->rss_per_request);
		report_csv_double(&csv, o->heap_per_request);
		report_csv_double(&csv, o->ns_per_request.median);
		report_csv_double(&csv, o->ns_per_request.p05);
		report_csv_double(&csv, o->ns_per_request.p95);
		for (int x = 0; x < 7; x++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
		write_checker_rows(&csv, server_names[k], &o->lsan, &o->valgrind);
	}
	// The leaks outside malloc: one row each, then one per checker that ran.
	for (enum other_leak k = 0; k < NR_OTHER; k++) {
		const struct other_observed *o = &run->other[k];

		report_csv_str(&csv, "outside_malloc");
		report_csv_str(&csv, other_names[k]);
		report_csv_double(&csv, NAN);
		report_csv_u64(&csv, o->requests);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, o->rss_per_request);
		for (int x = 0; x < 6; x++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, o->vm_per_request);
		report_csv_double(&csv, o->fds_per_request);
		report_csv_double(&csv, o->threads_after);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
		write_checker_rows(&csv, other_names[k], &o->lsan, &o->valgrind);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "leak_bytes", "%llu", (unsigned long long)run->opt.leak_bytes);
	report_kv(m, "max_requests", "%llu", (unsigned long long)run->max_requests);
	report_kv(m, "watch_ms", "%llu", (unsigned long long)run->duration_ms);
	report_kv(m, "lsan_runtime", "%s", lsan_runtime() ? lsan_runtime() : "not found");
	report_kv(m, "glibc_chunk_bytes", "%.0f", run->chunk_bytes);
}

// ---- main ---------------------------------------------------------------------------------------

enum { OPT_LEAK_BYTES = 256 };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	if (val == OPT_LEAK_BYTES)
		return cli_arg_u64("--leak-bytes", arg, 32, 65536, &o->leak_bytes);
	return -EINVAL;
}

// --server KIND --requests N [--leak-bytes N]: serve N requests and exit normally, so that a leak
// checker wrapped around this process reports at exit. Exit 2 on a bad command line.
static int server_mode(int argc, char **argv)
{
	enum server kind = NR_SERVERS;
	enum other_leak other = NR_OTHER;
	uint64_t requests = 0, leak = 200;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--server")) {
			for (int k = 0; k < NR_SERVERS; k++)
				if (!strcmp(argv[i + 1], server_names[k]))
					kind = (enum server)k;
			for (int k = 0; k < NR_OTHER; k++)
				if (!strcmp(argv[i + 1], other_names[k]))
					other = (enum other_leak)k;
		} else if (!strcmp(argv[i], "--requests")) {
			if (cli_arg_u64("--requests", argv[i + 1], 1, 10000000, &requests) != 0)
				return 2;
		} else if (!strcmp(argv[i], "--leak-bytes")) {
			if (cli_arg_u64("--leak-bytes", argv[i + 1], 32, 65536, &leak) != 0)
				return 2;
		} else {
			break;
		}
	}
	if ((kind == NR_SERVERS && other == NR_OTHER) || !requests || argc % 2 == 0) {
		fprintf(stderr, "%s: usage: --server leaky|fixed|reachable|mmap|fd|thread --requests N "
			"[--leak-bytes N]\n", program_invocation_short_name);
		return 2;
	}
	if (other != NR_OTHER) {
		for (uint64_t id = 0; id < requests && leak_other(other) == 0; id++)
			;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);	// threads end
		return 0;
	}
	for (uint64_t id = 0; id < requests; id++)
		handle_request(kind, id, leak);
	return 0;
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "leak-bytes", required_argument, NULL, OPT_LEAK_BYTES },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "12-memory-leaks",
		.summary = "Watches three request loops from outside (RSS against requests): one that "
			   "leaks, the fixed one, one that grows while reachable; then runs them under "
			   "LeakSanitizer and valgrind.",
		.options_help = "  --leak-bytes N     bytes of per-request state (32-65536; default 200)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};

	if (argc > 1 && !strcmp(argv[1], "--server"))
		return server_mode(argc, argv);
	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 12: memory leaks", argc, argv);
	lab_pin_here(&run.lab);
	printf("counters: none used by this lab (RSS from /proc, the heap from mallinfo2)\n");
	lab_program_path(run.exe, sizeof(run.exe));

	// prepare -> predict
	plan(&run);
	lab_prediction("a server that loses a %llu-byte session per request grows by one malloc "
		       "chunk (%.0f bytes) per request, seen from outside as a straight RSS slope; "
		       "the fixed one stays flat", (unsigned long long)run.opt.leak_bytes,
		       run.chunk_bytes);
	lab_prediction("LeakSanitizer and valgrind name the allocation site of the lost sessions; "
		       "a structure that grows but stays reachable is no leak to them");
	lab_prediction("leaks also happen outside the heap: a mapping never unmapped (64 KiB of "
		       "address space per request), a descriptor never closed (one per request), "
		       "a thread never joined (its 8 MiB stack); the heap checkers miss most of them");

	// measure
	printf("measuring:");
	for (int k = 0; k < NR_SERVERS; k++) {
		printf(" %s", server_names[k]);
		fflush(stdout);
		observe(&run, (enum server)k);
	}
	// The checkers print their reports as they run: the progress line ends before them.
	printf(" checkers (their reports follow)\n");
	fflush(stdout);
	find_leaks(&run);
	printf("measuring: leaks outside malloc...");
	fflush(stdout);
	find_other_leaks(&run);

	// report
	print_observed(&run);
	print_other(&run);
	printf("\n");
	verdicts(&run);
	write_csv(&run);
	lab_write_manifest(&run.lab, NULL, manifest_extra, &run);
	lab_finish(&run.lab);
	return 0;
}
