// SPDX-License-Identifier: MIT
// Lab 3: when free memory stops being usable memory. The classic "free every other block, then ask
// for a big one" on a 64-bit heap, the same under an address-space limit with and without a pool,
// and a long-running churn workload under glibc malloc, a size-class pool and other allocators.
// Usage: fragmentation [--quick] [--reps N] [--out DIR] [--blocks N] [--churn-ops N]
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "clock.h"
#include "die.h"
#include "guard.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "sanitizer.h"
#include "stats.h"

#define BLOCK_BYTES 1024
#define MAX_SERIES 512		// churn samples kept per allocator
#define MAX_ALLOCATORS 5

// ---- the fixed-size pool -------------------------------------------------------------------------

// Fixed-size slots carved from one mapping; free slots form a list threaded through themselves. A
// pool never splits or merges, so a freed slot always fits the next object: no external
// fragmentation, at the price of rounding every object up to the slot size.
struct pool {
	char *base;
	size_t slot_bytes, nr_slots, nr_used, map_bytes;
	size_t next_fresh;	// slots below this have been handed out at least once
	void *free_list;
};

static int pool_init(struct pool *p, size_t slot_bytes, size_t nr_slots)
{
	*p = (struct pool){ .slot_bytes = slot_bytes, .nr_slots = nr_slots,
			    .map_bytes = slot_bytes * nr_slots };
	// MAP_NORESERVE: a pool reserves address space for its worst case and uses what it touches.
	p->base = mmap(NULL, p->map_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p->base == MAP_FAILED ? -errno : 0;
}

static void *pool_alloc(struct pool *p)
{
	void *slot = p->free_list;

	if (slot) {
		p->free_list = *(void **)slot;
	} else {
		if (p->next_fresh == p->nr_slots)
			return NULL;
		slot = p->base + p->next_fresh++ * p->slot_bytes;
	}
	p->nr_used++;
	return slot;
}

static void pool_free(struct pool *p, void *slot)
{
	*(void **)slot = p->free_list;
	p->free_list = slot;
	p->nr_used--;
}

// Gives the whole mapping back: possible because the pool holds nothing but its own slots.
static void pool_release(struct pool *p)
{
	if (p->base && p->base != MAP_FAILED)
		munmap(p->base, p->map_bytes);
	p->base = NULL;
}

// ---- process memory --------------------------------------------------------------------------

// The largest free chunk glibc holds: the biggest size in malloc_info()'s free-chunk histogram, or
// the free top of the heap (mallinfo2's keepcost) if that is bigger. glibc 2.36 leaves a chunk of
// its unsorted bin (where a freshly coalesced chunk goes) out of the histogram but counts it in
// <total type="rest">: what the histogram does not list is that chunk (or chunks: then their mean
// is a lower bound of the largest).
static double largest_free_chunk(void)
{
	char *xml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&xml, &len);
	double largest = (double)mallinfo2().keepcost;
	double listed_total = 0, listed_count = 0;
	unsigned long rest_count = 0, rest_size = 0;

	if (!f)
		return NAN;
	if (malloc_info(0, f) != 0) {
		fclose(f);
		free(xml);
		return NAN;
	}
	fclose(f);
	// The main arena's section ends at its </heap>: the children are single-threaded.
	char *end = strstr(xml, "</heap>");
	if (end)
		*end = '\0';
	// Lines such as <size from="1041" to="1041" total="533504" count="512"/>, and the same as
	// <unsorted .../> where a glibc prints it.
	static const char *const tags[] = { "<size from=\"", "<unsorted from=\"" };
	for (size_t t = 0; t < 2; t++)
		for (char *s = xml; (s = strstr(s, tags[t])); s++) {
			unsigned long from, to, total, count;

			if (sscanf(s + strlen(tags[t]), "%lu\" to=\"%lu\" total=\"%lu\" count=\"%lu\"",
				   &from, &to, &total, &count) != 4 || count == 0)
				continue;
			listed_total += (double)total;
			listed_count += (double)count;
			if ((double)to > largest)
				largest = (double)to;
		}
	char *rest = strstr(xml, "<total type=\"rest\"");
	if (rest && sscanf(rest, "<total type=\"rest\" count=\"%lu\" size=\"%lu\"", &rest_count,
			   &rest_size) == 2 && (double)rest_count > listed_count) {
		double unlisted = ((double)rest_size - listed_total) / ((double)rest_count - listed_count);

		if (unlisted > largest)
			largest = unlisted;
	}
	free(xml);
	return largest;
}

// ---- part 1: the classic scenario, and part 2: under an address-space limit ------------------

enum { SNAP_ALLOCATED, SNAP_HALF_FREED, SNAP_LARGE, SNAP_TRIMMED, SNAP_ALL_FREED, NR_SNAPS };
static const char *const snap_names[NR_SNAPS] = {
	"all_allocated", "every_other_freed", "large_request", "after_malloc_trim", "all_freed",
};

struct snapshot {
	double rss, heap_in_use, heap_free, largest_free, mmapped;
};

// Where the short-lived blocks (the ones freed later) sit. INTERLEAVED: every other block, the
// classic holes. POOLED: in a pool of their own, which is unmapped once empty: memory given back to
// the system. CONTIGUOUS: in the heap, allocated together before the long-lived ones, so freeing
// them leaves one hole of the same total size: the fair control, with no memory given back.
enum layout { INTERLEAVED, POOLED, CONTIGUOUS };

// What the children of parts 1 and 2 leave for the parent (shared memory).
struct classic_report {
	struct snapshot snaps[NR_SNAPS];
	int large_ok, large_mmapped, large_errno;
	double as_limit, as_needed, free_at_request;
	int done;
};

struct classic_job {
	size_t nr_blocks, large_bytes;
	bool limit_as;		// part 2: cap the address space just below what malloc will need
	enum layout layout;	// where the blocks that are freed later sit
	struct classic_report *report;
};

static void snapshot(struct snapshot *s)
{
	struct mallinfo2 mi = mallinfo2();

	bench_process_memory(&s->rss, NULL);
	s->heap_in_use = (double)mi.uordblks;
	s->heap_free = (double)mi.fordblks;
	s->mmapped = (double)mi.hblkhd;
	s->largest_free = largest_free_chunk();
}

// Runs in a supervised child. Block i is "short-lived" when i is odd: those are freed.
static int classic_child(void *arg)
{
	const struct classic_job *job = arg;
	struct classic_report *r = job->report;
	char **blocks = calloc(job->nr_blocks, sizeof(*blocks));
	struct pool pool = { 0 };
	double vm;

	if (!blocks)
		return 2;
	if (job->layout == POOLED && pool_init(&pool, BLOCK_BYTES, job->nr_blocks / 2 + 1) != 0) {
		free(blocks);
		return 3;
	}
	// Two passes: CONTIGUOUS takes the short-lived blocks in the first and the long-lived ones in
	// the second; the other layouts take every block in the first.
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < job->nr_blocks; i++) {
			bool short_lived = i % 2;

			if (job->layout == CONTIGUOUS ? (pass == 0) != short_lived : pass == 1)
				continue;
			blocks[i] = short_lived && job->layout == POOLED ? pool_alloc(&pool)
									 : malloc(BLOCK_BYTES);
			// The child exits at once, which frees everything.
			if (!blocks[i])
				return 5;	// NOLINT(clang-analyzer-unix.Malloc)
			memset(blocks[i], (int)i, BLOCK_BYTES);	// resident, like real data
		}
	snapshot(&r->snaps[SNAP_ALLOCATED]);
	if (job->limit_as) {
		// The same budget for both variants: what the process uses now, plus half the large
		// request. Freed memory that goes back to the system makes room; holes do not.
		struct rlimit rl;

		bench_process_memory(NULL, &vm);
		r->as_limit = vm + (double)job->large_bytes / 2;
		rl.rlim_cur = rl.rlim_max = (rlim_t)r->as_limit;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			return 4;
	}
	for (size_t i = 1; i < job->nr_blocks; i += 2) {
		if (job->layout == POOLED)
			pool_free(&pool, blocks[i]);
		else
			free(blocks[i]);
		blocks[i] = NULL;
	}
	if (job->layout == POOLED)
		pool_release(&pool);	// empty: the whole region goes back at once
	snapshot(&r->snaps[SNAP_HALF_FREED]);
	r->free_at_request = r->snaps[SNAP_HALF_FREED].heap_free;
	bench_process_memory(NULL, &vm);
	r->as_needed = vm + (double)job->large_bytes;

	int hblks_before = (int)mallinfo2().hblks;
	errno = 0;
	char *large = malloc(job->large_bytes);
	r->large_errno = errno;
	r->large_ok = large != NULL;
	r->large_mmapped = large && (int)mallinfo2().hblks > hblks_before;
	bench_escape(large);
	snapshot(&r->snaps[SNAP_LARGE]);
	free(large);
	(void)malloc_trim(0);	// whether it released anything is what the snapshot shows
	snapshot(&r->snaps[SNAP_TRIMMED]);
	for (size_t i = 0; i < job->nr_blocks; i += 2)
		free(blocks[i]);
	(void)malloc_trim(0);
	snapshot(&r->snaps[SNAP_ALL_FREED]);
	free(blocks);
	r->done = 1;
	return 0;
}

// ---- part 3: churn, in a worker process per allocator --------------------------------------------

// A server-like mix: mostly small objects, some medium, a few large; most short-lived, a quarter of
// the slots long-lived. Deterministic (fixed seed) so every allocator sees the same sequence.
#define NR_SHORT_SLOTS 24000
#define NR_LONG_SLOTS 8000

static size_t object_size(uint64_t *rng)
{
	uint64_t r = bench_rand(rng) % 100;

	if (r < 70)
		return 16 + bench_rand(rng) % 240;		// 16..255 B
	if (r < 97)
		return 1024 + bench_rand(rng) % 7168;		// 1..8 KiB
	return 16384 + bench_rand(rng) % 49152;			// 16..64 KiB
}

// Size classes of the churn's pool: powers of two, 16 B to 64 KiB.
#define NR_CLASSES 13
struct class_pools {
	struct pool pools[NR_CLASSES];
};

static unsigned size_class(size_t bytes)
{
	unsigned c = 0;

	while (((size_t)16 << c) < bytes)
		c++;
	return c;
}

struct churn_sample {
	double ops, ms, live_bytes, rss_bytes;
};

struct churn_allocator {
	bool use_pools;
	struct class_pools *cp;
};

static void *churn_alloc(struct churn_allocator *a, size_t bytes)
{
	return a->use_pools ? pool_alloc(&a->cp->pools[size_class(bytes)]) : malloc(bytes);
}

static void churn_free(struct churn_allocator *a, void *p, size_t bytes)
{
	if (a->use_pools)
		pool_free(&a->cp->pools[size_class(bytes)], p);
	else
		free(p);
}

// Runs nr_ops replacements; at 80% of them the short-lived objects are all freed (the server's load
// drops) and the run goes on with long-lived churn only. Fills samples (if not NULL) and returns
// the elapsed ns.
static uint64_t churn(struct churn_allocator *a, uint64_t nr_ops, struct churn_sample *samples,
		      size_t *nr_samples)
{
	static void *obj[NR_SHORT_SLOTS + NR_LONG_SLOTS];
	static size_t sz[NR_SHORT_SLOTS + NR_LONG_SLOTS];
	uint64_t rng = 0x2545f4914f6cdd1du, every = nr_ops / (MAX_SERIES / 2);
	double live = 0;
	uint64_t drain_at = nr_ops * 4 / 5;
	uint64_t start = clock_now_ns();

	if (every == 0)
		every = 1;
	for (uint64_t op = 0; op < nr_ops; op++) {
		if (op == drain_at) {
			for (size_t i = 0; i < NR_SHORT_SLOTS; i++) {
				if (obj[i]) {
					churn_free(a, obj[i], sz[i]);
					live -= (double)sz[i];
					obj[i] = NULL;
				}
			}
		}
		// 1 in 20 operations replaces a long-lived object; before the drain, the rest replace
		// short-lived ones; after it, only long-lived ones are touched.
		bool long_lived = op >= drain_at || bench_rand(&rng) % 20 == 0;
		size_t slot = long_lived ? NR_SHORT_SLOTS + bench_rand(&rng) % NR_LONG_SLOTS
					 : bench_rand(&rng) % NR_SHORT_SLOTS;
		if (obj[slot]) {
			churn_free(a, obj[slot], sz[slot]);
			live -= (double)sz[slot];
		}
		sz[slot] = object_size(&rng);
		obj[slot] = churn_alloc(a, sz[slot]);
		if (!obj[slot])
			die("the churn ran out of memory");
		memset(obj[slot], 0x5a, sz[slot]);	// written whole: live bytes are resident bytes
		live += (double)sz[slot];
		if (samples && op % every == 0 && *nr_samples < MAX_SERIES) {
			struct churn_sample *s = &samples[(*nr_samples)++];

			s->ops = (double)op;
			s->ms = (double)(clock_now_ns() - start) / 1e6;
			s->live_bytes = live;
			bench_process_memory(&s->rss_bytes, NULL);
		}
	}
	uint64_t elapsed = clock_now_ns() - start;
	for (size_t i = 0; i < NR_SHORT_SLOTS + NR_LONG_SLOTS; i++) {
		if (obj[i])
			churn_free(a, obj[i], sz[i]);
		obj[i] = NULL;
	}
	return elapsed;
}

// The file of the shared library that holds a function, or NULL. (ISO C has no conversion from a
// function pointer to void *; POSIX dladdr() needs one: a union does it.)
static const char *library_of(void (*fn)(void))
{
	union { void (*fn)(void); void *addr; } u = { .fn = fn };
	Dl_info info;

	return dladdr(u.addr, &info) && info.dli_fname ? info.dli_fname : NULL;
}

// The worker: "fragmentation --churn-worker NAME OPS REPS OUTFILE", run by the lab itself, with
// LD_PRELOAD set for the other allocators. Writes one "rep ns" line per repetition, then the
// samples of the first repetition as "ops ms live rss".
static int churn_worker(int argc, char **argv)
{
	static struct churn_sample samples[MAX_SERIES];
	static struct class_pools cp;
	size_t nr_samples = 0;
	uint64_t ops, reps;

	if (argc != 6 || cli_parse_u64(argv[3], &ops) != 0 || cli_parse_u64(argv[4], &reps) != 0)
		return 2;
	struct churn_allocator a = { .use_pools = !strcmp(argv[2], "pool"), .cp = &cp };
	if (a.use_pools) {
		for (unsigned c = 0; c < NR_CLASSES; c++) {
			size_t slot = (size_t)16 << c;
			// Enough slots for every object to be of this class at once.
			if (pool_init(&cp.pools[c], slot, NR_SHORT_SLOTS + NR_LONG_SLOTS) != 0)
				return 3;
		}
	}
	FILE *out = fopen(argv[5], "w");
	if (!out)
		return 4;
	// Which library this process's malloc comes from: the proof that LD_PRELOAD took effect
	// (ld.so only warns, and goes on with glibc, when it cannot load the library).
	const char *from = library_of((void (*)(void))malloc);
	fprintf(out, "malloc_from %s\n", from ? from : "unknown");
	for (uint64_t r = 0; r < reps; r++) {
		uint64_t ns = churn(&a, ops, r == 0 ? samples : NULL, &nr_samples);

		fprintf(out, "rep %llu\n", (unsigned long long)ns);
	}
	for (size_t i = 0; i < nr_samples; i++)
		fprintf(out, "%.0f %.3f %.0f %.0f\n", samples[i].ops, samples[i].ms,
			samples[i].live_bytes, samples[i].rss_bytes);
	return fclose(out) == 0 ? 0 : 5;
}

// ---- the lab -------------------------------------------------------------------------------------

struct allocator_result {
	const char *name;
	const char *library;	// path given to LD_PRELOAD; NULL for glibc and the pool
	bool ran;
	char why_not[160];
	struct stats ns_per_op;
	struct churn_sample series[MAX_SERIES];
	size_t nr_series;
};

struct options {
	uint64_t nr_blocks, churn_ops;
};

struct run {
	struct lab lab;
	struct options opt;
	size_t large_bytes;
	struct classic_report classic, limited_malloc, limited_pool, limited_contiguous;
	const char *limited_skipped;	// why part 2 did not run, or NULL
	struct allocator_result alloc[MAX_ALLOCATORS];
	size_t nr_alloc;
	char exe[4096];
};

static void run_classic(struct run *run, bool limit_as, enum layout layout,
			struct classic_report *out)
{
	struct classic_report *shared = guard_shared_alloc(sizeof(*shared));
	struct classic_job job = { run->opt.nr_blocks, run->large_bytes, limit_as, layout, shared };
	struct guard_limits limits = { .timeout_ms = 120000 };
	struct guard_result g;
	char why[128];

	if (!shared)
		die("cannot share memory with the child");
	int err = guard_run(classic_child, &job, &limits, &g);
	if (err)
		die_errno(err, "cannot start the supervised child");
	if (g.outcome != GUARD_EXITED || g.exit_status != 0 || !shared->done)
		die("the %s child failed: %s", limit_as ? "address-space-limited" : "classic",
		    guard_describe(&g, why, sizeof(why)));
	*out = *shared;
	guard_shared_free(shared, sizeof(*shared));
}

// Where the other allocators live: beside the C library this program uses (the multiarch
// directory on Debian), or in the usual library directories.
static void find_allocators(struct run *run)
{
	static const struct { const char *name, *file; } known[] = {
		{ "jemalloc", "libjemalloc.so.2" },
		{ "mimalloc", "libmimalloc.so.2" },
		{ "tcmalloc", "libtcmalloc_minimal.so.4" },
	};
	char libdir[4096] = "/usr/lib";
	const char *libc = library_of((void (*)(void))malloc_info);
	const char *sanitizer = sanitizer_name();

	if (libc) {
		snprintf(libdir, sizeof(libdir), "%s", libc);
		char *slash = strrchr(libdir, '/');
		if (slash)
			*slash = '\0';
	}
	run->alloc[run->nr_alloc++] = (struct allocator_result){ .name = "glibc" };
	run->alloc[run->nr_alloc++] = (struct allocator_result){ .name = "pool" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		struct allocator_result *a = &run->alloc[run->nr_alloc++];
		const char *dirs[] = { libdir, "/usr/lib64", "/usr/lib", "/usr/local/lib" };
		char path[4200];

		*a = (struct allocator_result){ .name = known[i].name };
		for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]) && !a->library; d++) {
			snprintf(path, sizeof(path), "%s/%s", dirs[d], known[i].file);
			if (access(path, R_OK) == 0)
				a->library = strdup(path);
		}
		if (!a->library)
			snprintf(a->why_not, sizeof(a->why_not), "%s not found (make deps installs it)",
				 known[i].file);
		else if (sanitizer)
			snprintf(a->why_not, sizeof(a->why_not), "this build's %s replaces malloc "
				 "itself, so no other allocator can be preloaded", sanitizer);
	}
}

struct worker_job {
	const char *exe, *name, *library, *outfile;
	char ops[32], reps[32];
};

// In the supervised child: become the worker, with the allocator preloaded.
static int exec_worker(void *arg)
{
	const struct worker_job *w = arg;

	if (w->library)
		setenv("LD_PRELOAD", w->library, 1);
	else
		unsetenv("LD_PRELOAD");
	execl(w->exe, w->exe, "--churn-worker", w->name, w->ops, w->reps, w->outfile, (char *)NULL);
	return 127;
}

static void run_churn(struct run *run)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], file[4200], why[160];
	unsigned reps = run->lab.opt.quick ? 1 : 3;

	snprintf(dir, sizeof(dir), "%s/lab03.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die_errno(errno, "cannot create a scratch directory (%s)", dir);
	int dir_handle = report_temp_add(dir);
	snprintf(file, sizeof(file), "%s/churn", dir);
	int file_handle = report_temp_add(file);

	for (size_t i = 0; i < run->nr_alloc; i++) {
		struct allocator_result *a = &run->alloc[i];
		struct worker_job w = { .exe = run->exe, .name = a->name, .library = a->library,
					.outfile = file };
		struct guard_limits limits = { .timeout_ms = 120000 };
		struct guard_result g;

		if (a->why_not[0])
			continue;
		printf(" %s", a->name);
		fflush(stdout);
		snprintf(w.ops, sizeof(w.ops), "%llu", (unsigned long long)run->opt.churn_ops);
		snprintf(w.reps, sizeof(w.reps), "%u", reps);
		int err = guard_run(exec_worker, &w, &limits, &g);
		if (err || g.outcome != GUARD_EXITED || g.exit_status != 0) {
			snprintf(a->why_not, sizeof(a->why_not), "the worker failed: %s",
				 err ? strerror(-err) : guard_describe(&g, why, sizeof(why)));
			continue;
		}
		FILE *f = fopen(file, "r");
		double ns[64];
		unsigned nr_ns = 0;
		char line[4300], from[4200] = "";
		while (f && fgets(line, sizeof(line), f)) {
			unsigned long long v;
			struct churn_sample *s = &a->series[a->nr_series];

			if (sscanf(line, "malloc_from %4199s", from) == 1)
				continue;
			if (sscanf(line, "rep %llu", &v) == 1 && nr_ns < 64)
				ns[nr_ns++] = (double)v / (double)run->opt.churn_ops;
			else if (a->nr_series < MAX_SERIES &&
				 sscanf(line, "%lf %lf %lf %lf", &s->ops, &s->ms, &s->live_bytes,
					&s->rss_bytes) == 4)
				a->nr_series++;
		}
		if (f)
			fclose(f);
		if (nr_ns == 0 || stats_compute(&a->ns_per_op, ns, nr_ns) != 0) {
			snprintf(a->why_not, sizeof(a->why_not), "the worker wrote no result");
			continue;
		}
		if (a->library && !strstr(from, strrchr(a->library, '/') + 1)) {
			snprintf(a->why_not, sizeof(a->why_not),
				 "LD_PRELOAD did not take effect (malloc came from %.100s)", from);
			continue;
		}
		a->ran = true;
	}
	report_temp_remove(file_handle);
	report_temp_remove(dir_handle);
}

// ---- reporting -----------------------------------------------------------------------------------

static const char *mib(double bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f MiB", bytes / (1 << 20));
	return buf;
}

// The overhead of an allocator in steady state: median of RSS / live over the middle of the run
// (after the ramp-up, before the drain).
static double steady_overhead(const struct allocator_result *a)
{
	double r[MAX_SERIES];
	size_t n = 0;

	for (size_t i = a->nr_series / 4; i < a->nr_series * 3 / 4; i++)
		if (a->series[i].live_bytes > 0)
			r[n++] = a->series[i].rss_bytes / a->series[i].live_bytes;
	struct stats s;
	return n && stats_compute(&s, r, n) == 0 ? s.median : NAN;
}

static void print_tables(const struct run *run)
{
	char a[32], b[32], c[32];

	printf("\nPart 1: %zu blocks of %d B, every other one freed, then malloc(%s)\n",
	       (size_t)run->opt.nr_blocks, BLOCK_BYTES, mib((double)run->large_bytes, a, sizeof(a)));
	printf("  %-20s %12s %12s %12s %14s\n", "step", "RSS", "heap in use", "heap free",
	       "largest free");
	for (int s = 0; s < NR_SNAPS; s++) {
		const struct snapshot *sn = &run->classic.snaps[s];
		char e[32];

		printf("  %-20s %12s %12s %12s %14s\n", snap_names[s], mib(sn->rss, a, sizeof(a)),
		       mib(sn->heap_in_use, b, sizeof(b)), mib(sn->heap_free, c, sizeof(c)),
		       cli_format_size((uint64_t)sn->largest_free, e, sizeof(e)));
	}

	printf("\nPart 2: the same workload with the address space capped (RLIMIT_AS)\n");
	if (run->limited_skipped)
		printf("  %s\n", run->limited_skipped);
	else
		printf("  %-20s limit %s, %s free in the heap in 1 KiB holes: large request %s\n",
	       "malloc for all", mib(run->limited_malloc.as_limit, b, sizeof(b)),
	       mib(run->limited_malloc.free_at_request, a, sizeof(a)),
	       run->limited_malloc.large_ok ? "succeeded" : "FAILED (ENOMEM)");
	if (!run->limited_skipped) {
		printf("  %-20s limit %s, the emptied pool unmapped: large request %s\n",
		       "pool for the freed", mib(run->limited_pool.as_limit, b, sizeof(b)),
		       run->limited_pool.large_ok ? "succeeded" : "FAILED (ENOMEM)");
		printf("  %-20s limit %s, %s free in one hole, nothing unmapped: large request %s\n",
		       "freed ones together", mib(run->limited_contiguous.as_limit, b, sizeof(b)),
		       mib(run->limited_contiguous.free_at_request, a, sizeof(a)),
		       run->limited_contiguous.large_ok ? "succeeded" : "FAILED (ENOMEM)");
	}

	printf("\nPart 3: churn of %llu operations (the last 20%% after the short-lived objects "
	       "are freed)\n", (unsigned long long)run->opt.churn_ops);
	printf("  (%s)\n", STATS_NOISY_LEGEND);
	printf("  %-10s %12s %14s %14s %16s\n", "allocator", "ns per op", "steady RSS/live",
	       "peak RSS", "RSS after drain");
	for (size_t i = 0; i < run->nr_alloc; i++) {
		const struct allocator_result *al = &run->alloc[i];

		if (!al->ran) {
			printf("  %-10s skipped: %s\n", al->name, al->why_not);
			continue;
		}
		double peak = 0;
		for (size_t k = 0; k < al->nr_series; k++)
			peak = fmax(peak, al->series[k].rss_bytes);
		printf("  %-10s %11.1f%1s %14.2f %14s %16s\n", al->name, al->ns_per_op.median,
		       stats_noisy_mark(&al->ns_per_op), steady_overhead(al), mib(peak, a, sizeof(a)),
		       mib(al->series[al->nr_series - 1].rss_bytes, b, sizeof(b)));
	}
}

static void verdicts(struct run *run)
{
	char a[32], b[32], c[32], d[32];
	const struct classic_report *cl = &run->classic;
	const struct snapshot *half = &cl->snaps[SNAP_HALF_FREED];
	const struct snapshot *trim = &cl->snaps[SNAP_TRIMMED];
	const struct snapshot *all = &cl->snaps[SNAP_ALL_FREED];

	lab_headline(&run->lab, "rss_after_freeing_half", half->rss / (1 << 20), "MiB", NAN);
	lab_headline(&run->lab, "large_request_ok_unlimited", cl->large_ok, "bool", NAN);
	if (!run->limited_skipped) {
		lab_headline(&run->lab, "large_request_ok_as_limited", run->limited_malloc.large_ok,
			     "bool", NAN);
		lab_headline(&run->lab, "large_request_ok_pool", run->limited_pool.large_ok, "bool",
			     NAN);
	}
	// The verdict comes from what happened: under strict overcommit or a small address space
	// the request can really fail, and then the classic claim holds.
	int overcommit = kernel_overcommit_mode();
	lab_judge(&run->lab, "fragmented_heap_fails_large_malloc",
		  "a fragmented heap makes a large malloc fail",
		  cl->large_ok ? COMPARE_FAILS : COMPARE_HOLDS, cl->large_ok, NAN, NAN, "succeeded",
		  "with %s free in the heap but no free block over %s, malloc(%s) %s%s "
		  "(vm.overcommit_memory=%d%s)",
		  mib(half->heap_free, a, sizeof(a)),
		  cli_format_size((uint64_t)half->largest_free, b, sizeof(b)),
		  mib((double)run->large_bytes, c, sizeof(c)),
		  cl->large_ok ? "succeeded" : "failed",
		  cl->large_mmapped ? " with its own mmap, outside the fragmented heap" : "",
		  overcommit, overcommit == 2 ? ": strict, a request beyond the commit limit fails" : "");
	// Counts, not timings: freeing every other block leaves each page half used, so RSS
	// should not fall much; the claim is judged at "RSS falls by at least a third".
	const struct snapshot *allocated = &cl->snaps[SNAP_ALLOCATED];
	double kept = half->rss / allocated->rss;
	bool trim_helped = trim->rss < 0.9 * half->rss;
	lab_judge(&run->lab, "free_returns_memory_to_os",
		  "free() gives memory back to the system", kept <= 2.0 / 3 ? COMPARE_HOLDS
		  : COMPARE_FAILS, kept, NAN, NAN, "RSS kept",
		  "after freeing half the blocks RSS is still %s (%.0f%% of %s), malloc_trim() %s "
		  "%s%s, and only freeing all brings it to %s",
		  mib(half->rss, a, sizeof(a)), 100 * kept, mib(allocated->rss, c, sizeof(c)),
		  trim_helped ? "brings it down to" : "leaves it at", mib(trim->rss, b, sizeof(b)),
		  trim_helped ? "" : " (every page of the holes also holds live blocks)",
		  mib(all->rss, d, sizeof(d)));
	if (run->limited_skipped)
		lab_note("the address-space limit (part 2) was %s", run->limited_skipped);
	else
		// Shown: the limit is set so that the request fits only if the holes' address
		// space came back, and freed 1 KiB holes in the heap never give it back.
		lab_demonstrate(&run->lab, !run->limited_malloc.large_ok,
			  "address_limit_fragmentation_fails_malloc",
			  "under an address-space limit the holes make a large malloc fail",
			  run->limited_malloc.large_ok, "succeeded",
			  "malloc %s with %s free in the heap in 1 KiB holes; the same bytes freed "
			  "together, one hole inside the heap and nothing given back, %s (the holes are "
			  "the cause); a pool for them, unmapped once empty, %s (memory given back)",
			  run->limited_malloc.large_ok ? "succeeded anyway" : "failed the request",
			  mib(run->limited_malloc.free_at_request, a, sizeof(a)),
			  run->limited_contiguous.large_ok ? "succeeded" : "failed too",
			  run->limited_pool.large_ok ? "succeeded" : "failed too");

	const struct allocator_result *glibc = &run->alloc[0], *pool = &run->alloc[1];
	if (glibc->ran && pool->ran) {
		lab_headline(&run->lab, "glibc_churn_rss_over_live", steady_overhead(glibc), "x", NAN);
		double g_end = glibc->series[glibc->nr_series - 1].rss_bytes;
		double g_live = glibc->series[glibc->nr_series - 1].live_bytes;
		double overhead = steady_overhead(glibc), held = g_end / g_live;
		lab_judge(&run->lab, "churn_leaves_memory_held",
			  "after a churn the allocator holds far more memory than the live data "
			  "(over 1.5x)", isnan(held) ? COMPARE_NOT_SHOWN
			  : held > 1.5 ? COMPARE_HOLDS : COMPARE_FAILS, held, NAN, NAN, "x",
			  "after the drain glibc holds %s for %s live (%.1fx); in steady state it used "
			  "%.2fx the live bytes (the pool %.2fx: its rounding to powers of two)",
			  mib(g_end, a, sizeof(a)), mib(g_live, b, sizeof(b)), held, overhead,
			  steady_overhead(pool));
	}
	for (size_t i = 2; i < run->nr_alloc; i++) {
		const struct allocator_result *al = &run->alloc[i];

		if (!al->ran)
			lab_note("%s skipped: %s", al->name, al->why_not);
		else
			lab_shown(&run->lab,
				  "%s, observed, not judged (a separate run, not interleaved): %.0f ns "
				  "per op (glibc %.0f), steady RSS/live %.2f, %s after the drain",
				  al->name, al->ns_per_op.median, glibc->ns_per_op.median,
				  steady_overhead(al),
				  mib(al->series[al->nr_series - 1].rss_bytes, a, sizeof(a)));
	}
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "step", "ops", "time_ms", "ns_per_op_median", "ns_per_op_p05",
		"ns_per_op_p95", "rss_bytes", "live_bytes", "heap_in_use_bytes", "heap_free_bytes",
		"largest_free_bytes", "mmapped_bytes", "large_request_bytes", "large_request_ok",
		"as_limit_bytes",
	};
	struct report_csv csv;
	const struct { const char *kind; const struct classic_report *r; } classic[] = {
		{ "malloc", &run->classic }, { "malloc_as_limited", &run->limited_malloc },
		{ "pool_as_limited", &run->limited_pool },
		{ "contiguous_as_limited", &run->limited_contiguous },
	};

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t c = 0; c < (run->limited_skipped ? 1 : sizeof(classic) / sizeof(classic[0]));
	     c++) {
		for (int s = 0; s < NR_SNAPS; s++) {
			const struct snapshot *sn = &classic[c].r->snaps[s];
			bool at_request = s == SNAP_LARGE;

			report_csv_str(&csv, c == 0 ? "classic" : "limited");
			report_csv_str(&csv, classic[c].kind);
			report_csv_str(&csv, snap_names[s]);
			for (int k = 0; k < 5; k++)
				report_csv_double(&csv, NAN);	// ops .. ns_per_op_p95
			report_csv_double(&csv, sn->rss);
			report_csv_double(&csv, NAN);
			report_csv_double(&csv, sn->heap_in_use);
			report_csv_double(&csv, sn->heap_free);
			report_csv_double(&csv, sn->largest_free);
			report_csv_double(&csv, sn->mmapped);
			report_csv_double(&csv, at_request ? (double)run->large_bytes : NAN);
			report_csv_double(&csv, at_request ? (double)classic[c].r->large_ok : NAN);
			report_csv_double(&csv, c ? classic[c].r->as_limit : NAN);
			lab_csv_end_row(&csv);
		}
	}
	for (size_t i = 0; i < run->nr_alloc; i++) {
		const struct allocator_result *al = &run->alloc[i];

		if (!al->ran)
			continue;
		for (size_t k = 0; k <= al->nr_series; k++) {
			bool summary = k == al->nr_series;
			const struct churn_sample *s = summary ? NULL : &al->series[k];

			report_csv_str(&csv, summary ? "churn" : "churn_series");
			report_csv_str(&csv, al->name);
			report_csv_str(&csv, "");
			report_csv_double(&csv, summary ? (double)run->opt.churn_ops : s->ops);
			report_csv_double(&csv, summary ? NAN : s->ms);
			report_csv_double(&csv, summary ? al->ns_per_op.median : NAN);
			report_csv_double(&csv, summary ? al->ns_per_op.p05 : NAN);
			report_csv_double(&csv, summary ? al->ns_per_op.p95 : NAN);
			report_csv_double(&csv, summary ? NAN : s->rss_bytes);
			report_csv_double(&csv, summary ? NAN : s->live_bytes);
			for (int c = 0; c < 7; c++)
				report_csv_double(&csv, NAN);	// heap_in_use .. as_limit
			lab_csv_end_row(&csv);
		}
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "blocks", "%llu of %d bytes", (unsigned long long)run->opt.nr_blocks,
		  BLOCK_BYTES);
	report_kv(m, "large_request_bytes", "%zu", run->large_bytes);
	report_kv(m, "churn_ops", "%llu", (unsigned long long)run->opt.churn_ops);
	for (size_t i = 0; i < run->nr_alloc; i++) {
		char key[64];

		snprintf(key, sizeof(key), "allocator.%s", run->alloc[i].name);
		if (run->alloc[i].ran)
			report_kv(m, key, "%s", run->alloc[i].library ? run->alloc[i].library
								       : "built in");
		else
			report_kv(m, key, "skipped: %s", run->alloc[i].why_not);
	}
	report_kv(m, "glibc", "%s", gnu_get_libc_version());
}

enum { OPT_BLOCKS = 256, OPT_CHURN_OPS };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	switch (val) {
	case OPT_BLOCKS:
		return cli_arg_u64("--blocks", arg, 1024, 16u << 20, &o->nr_blocks);
	case OPT_CHURN_OPS:
		return cli_arg_u64("--churn-ops", arg, 1000, 1000000000, &o->churn_ops);
	}
	return -EINVAL;
}

static void plan(struct run *run)
{
	bool quick = run->lab.opt.quick;
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS

	if (!run->opt.nr_blocks)
		run->opt.nr_blocks = quick ? 65536 : 1u << 20;
	if (!run->opt.churn_ops)
		run->opt.churn_ops = quick ? 200000 : 2000000;
	// The children hold the blocks plus the large request: keep it all under a third of what
	// the machine has free.
	uint64_t need = run->opt.nr_blocks * (BLOCK_BYTES + 32) * 3 / 2;
	if (avail && need * 3 > avail) {
		uint64_t fit = avail / 3 / ((BLOCK_BYTES + 32) * 3 / 2);

		lab_note("%llu blocks would need %llu MiB; this process may use %llu MiB: "
			 "using %llu blocks", (unsigned long long)run->opt.nr_blocks,
			 (unsigned long long)(need >> 20), (unsigned long long)(avail >> 20),
			 (unsigned long long)fit);
		if (fit < 1024)
			die("not enough memory for this lab (%llu MiB may be used)",
			    (unsigned long long)(avail >> 20));
		run->opt.nr_blocks = fit;
	}
	// Bigger than any hole, smaller than the free total (half the blocks).
	run->large_bytes = run->opt.nr_blocks * BLOCK_BYTES / 4;
	lab_program_path(run->exe, sizeof(run->exe));
	find_allocators(run);
}

static void predict(const struct run *run)
{
	char a[32];

	lab_prediction("freeing every other 1 KiB block leaves half the memory free but in 1 KiB "
		       "holes; on 64-bit Linux malloc(%s) still succeeds: glibc mmaps it, outside "
		       "the heap", mib((double)run->large_bytes, a, sizeof(a)));
	lab_prediction("the holes share pages with live blocks: RSS does not drop, even after "
		       "malloc_trim()");
	lab_prediction("with the address space capped the same request fails, unless the freed "
		       "blocks lived in a pool of their own; under churn, RSS exceeds the live bytes");
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "blocks", required_argument, NULL, OPT_BLOCKS },
		{ "churn-ops", required_argument, NULL, OPT_CHURN_OPS },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "03-fragmentation",
		.summary = "Measures heap fragmentation: the classic scenario, an address-space limit "
			   "with and without a pool, and a churn workload under several allocators.",
		.options_help = "  --blocks N         1 KiB blocks in parts 1 and 2 (default 1048576)\n"
				"  --churn-ops N      operations of the churn workload (default 2000000)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};

	// The churn worker is this same program, run again with another allocator preloaded.
	if (argc > 1 && !strcmp(argv[1], "--churn-worker"))
		return churn_worker(argc, argv);

	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 3: fragmentation", argc, argv);
	lab_pin_here(&run.lab);
	printf("counters: none needed (memory is measured from /proc/self/statm and mallinfo2)\n");

	// prepare -> predict
	plan(&run);
	predict(&run);

	// measure
	printf("measuring: classic...");
	fflush(stdout);
	run_classic(&run, false, INTERLEAVED, &run.classic);
	if (sanitizer_name()) {
		run.limited_skipped = "skipped: a sanitizer's shadow memory takes terabytes of address "
				      "space, so RLIMIT_AS cannot be set meaningfully";
	} else {
		printf(" address-space limit...");
		fflush(stdout);
		run_classic(&run, true, INTERLEAVED, &run.limited_malloc);
		run_classic(&run, true, POOLED, &run.limited_pool);
		run_classic(&run, true, CONTIGUOUS, &run.limited_contiguous);
	}
	printf(" churn:");
	run_churn(&run);
	printf(" done\n");

	// report
	print_tables(&run);
	printf("\n");
	verdicts(&run);
	write_csv(&run);
	lab_write_manifest(&run.lab, NULL, manifest_extra, &run);

	// release
	lab_finish(&run.lab);
	return 0;
}
