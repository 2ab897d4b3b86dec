// SPDX-License-Identifier: MIT
// Lab 9: when memory is really allocated (at the first touch of each page, not at mmap or malloc),
// and what each kind of page fault costs: anonymous first write, read then write (the zero page),
// MAP_POPULATE, transparent huge pages, a file mapping from the page cache and from disk, and
// copy-on-write after fork. Counts from getrusage and PAPI side by side.
// Usage: page_faults [--quick] [--reps N] [--out DIR] [--max-size SIZE] [--tmpdir DIR]
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include "clock.h"
#include "counters.h"
#include "die.h"
#include "guard.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "term.h"
#include "stats.h"

#define MAX_SIZES 12
#define MAX_POINTS 128

enum mode {
	ANON_WRITE,		// mmap, then write each page: one zero-filled page per fault
	ANON_READ,		// read each page first: the shared zero page is mapped
	ANON_WRITE_AFTER_READ,	// then write: each page is copied from the zero page
	POPULATE_MMAP,		// MAP_POPULATE: the kernel fills the mapping inside mmap()
	POPULATE_TOUCH,		// ...so the writes afterwards fault no more
	HUGEPAGE,		// madvise(MADV_HUGEPAGE): one fault per huge page where THP allows it
	FILE_CACHED,		// a file mapping whose pages are in the page cache: minor faults
	FILE_UNCACHED,		// the same after POSIX_FADV_DONTNEED: major faults, from the disk
	COW_CHILD,		// a forked child writing its parent's pages: copy-on-write
	NR_MODES
};

static const char *const mode_names[NR_MODES] = {
	"anon_write", "anon_read", "anon_write_after_read", "populate_mmap", "populate_touch",
	"hugepage", "file_cached", "file_uncached", "cow_child",
};

static const enum counters_metric metrics[] = {
	COUNTERS_PAGE_FAULTS, COUNTERS_DTLB_MISSES, COUNTERS_INSTRUCTIONS, COUNTERS_CYCLES,
};
enum { SLOT_FAULTS, SLOT_DTLB, SLOT_INSTRUCTIONS, SLOT_CYCLES, NR_SLOTS };

// One measured phase: what it cost and how many faults it took.
struct sample {
	uint64_t ns;
	double minor, major;		// getrusage
	// PAPI, by slot (NAN if unavailable): in the counting round, net of an empty phase (what
	// starting and stopping the counters, reading the clock and getrusage cost)
	double counted[NR_SLOTS];
};

struct point {
	enum mode mode;
	uint64_t size_bytes;
	struct stats ns_per_page;	// over the timed rounds
	// Over the timed rounds too, each round's getrusage faults and its time per fault: whether a
	// round got huge pages, or found pages already cached, can change from round to round, so a
	// time is divided by the faults of its own round.
	struct stats faults, ns_per_fault;
	struct sample first;		// the counting round's counts (PAPI's beside getrusage's)
};

struct options {
	uint64_t max_size;
	const char *tmpdir;
};

struct run {
	struct lab lab;
	struct options opt;
	struct counters counters;
	struct counters *counting;	// &counters in the counting round, NULL in the timed ones
	struct sample harness;		// an empty phase's counts: its instructions and cycles are
					// subtracted from every phase's
	long page;
	size_t huge;			// the transparent huge page: 2 MiB with 4 KiB pages (kernel.h)
	uint64_t sizes[MAX_SIZES];
	size_t nr_sizes;
	bool capped;
	char scratch_dir[4096], scratch_file[4200];
	int dir_handle, file_handle;
	char fs_type[32];
	struct point points[MAX_POINTS];
	size_t nr_points;
	// "Disk is 100,000x slower than RAM": a random 4 KiB read's latency and a random load's.
	struct stats disk_read_ns, dram_load_ns;
	const char *disk_how;		// "O_DIRECT" or the page-cache fallback
	int disk_error;
};

// ---- measuring one phase ----------------------------------------------------------------------

struct phase {
	struct counters *c;
	const struct sample *harness;
	struct rusage before;
	uint64_t start;
};

// run->counting is NULL in the timed rounds: an open counter costs at every event it counts
// (here, every fault), so the counts come from a round of their own.
static void phase_begin(struct phase *ph, const struct run *run)
{
	struct counters *c = run->counting;

	ph->c = c;
	ph->harness = &run->harness;
	getrusage(RUSAGE_THREAD, &ph->before);
	if (c)
		counters_start(c);
	ph->start = clock_now_ns();
}

static void phase_end(struct phase *ph, struct sample *s)
{
	struct rusage after;
	double v[NR_SLOTS] = { NAN, NAN, NAN, NAN };

	s->ns = clock_now_ns() - ph->start;
	if (ph->c)
		counters_stop(ph->c, v);
	getrusage(RUSAGE_THREAD, &after);
	s->minor = (double)(after.ru_minflt - ph->before.ru_minflt);
	s->major = (double)(after.ru_majflt - ph->before.ru_majflt);
	// The empty phase's instructions and cycles are every phase's; a fault it happened to take
	// (a stack page, say) is not.
	for (size_t i = 0; i < NR_SLOTS; i++)
		s->counted[i] = i == SLOT_INSTRUCTIONS || i == SLOT_CYCLES
			? v[i] - ph->harness->counted[i] : v[i];
}

// Counts an empty phase, the harness every phase pays: afterwards phase_end() subtracts it.
static void count_harness(struct run *run)
{
	struct phase ph;
	struct sample s;

	memset(&run->harness, 0, sizeof(run->harness));
	run->counting = &run->counters;
	phase_begin(&ph, run);
	phase_end(&ph, &s);
	run->harness = s;
	run->counting = NULL;
}

// One write (or read) per page, so every page is touched exactly once.
static void write_pages(char *p, size_t len, long page)
{
	for (size_t off = 0; off < len; off += (size_t)page)
		p[off] = 1;
}

static volatile char read_sink;

static void read_pages(const char *p, size_t len, long page)
{
	unsigned char sum = 0;

	for (size_t off = 0; off < len; off += (size_t)page)
		sum = (unsigned char)(sum + ((const volatile unsigned char *)p)[off]);
	read_sink = (char)sum;
}

static char *map_anon(size_t len, int extra_flags)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags,
		       -1, 0);

	if (p == MAP_FAILED)
		die_errno(errno, "mmap of %zu bytes", len);
	return p;
}

// A mapping of len bytes starting on a huge-page boundary (THP needs aligned huge-page ranges).
static char *map_aligned(size_t len, size_t huge, char **base, size_t *base_len)
{
	*base_len = len + huge;
	*base = map_anon(*base_len, 0);
	size_t misalign = (uintptr_t)*base & (huge - 1);

	return misalign ? *base + (huge - misalign) : *base;
}

// ---- the modes -----------------------------------------------------------------------------------

// Runs one mode once at one size; fills the sample(s) of the phase(s) it measures. Anonymous
// memory: the first write, or (read_s given) a read of every page first and the write after it.
static void run_anon(struct run *run, size_t len, struct sample *write_s, struct sample *read_s)
{
	struct phase ph;
	char *p = map_anon(len, 0);

	// Base pages only: with THP "always" one fault could map a whole huge page.
	(void)madvise(p, len, MADV_NOHUGEPAGE);	// fails only on kernels without THP
	if (read_s) {
		phase_begin(&ph, run);
		read_pages(p, len, run->page);
		phase_end(&ph, read_s);
	}
	phase_begin(&ph, run);
	write_pages(p, len, run->page);
	phase_end(&ph, write_s);
	munmap(p, len);
}

static void run_populate(struct run *run, size_t len, struct sample *mmap_s,
			 struct sample *touch_s)
{
	struct phase ph;

	phase_begin(&ph, run);
	char *p = map_anon(len, MAP_POPULATE);
	phase_end(&ph, mmap_s);
	phase_begin(&ph, run);
	write_pages(p, len, run->page);
	phase_end(&ph, touch_s);
	munmap(p, len);
}

static void run_hugepage(struct run *run, size_t len, struct sample *s)
{
	struct phase ph;
	char *base;
	size_t base_len;
	char *p = map_aligned(len, run->huge, &base, &base_len);

	(void)madvise(p, len, MADV_HUGEPAGE);	// EINVAL without THP: then it is just base pages
	phase_begin(&ph, run);
	write_pages(p, len, run->page);
	phase_end(&ph, s);
	munmap(base, base_len);
}

// Writes the scratch file (len bytes) once; fsync so its pages are clean and can be dropped.
static void make_file(struct run *run, size_t len)
{
	int fd = open(run->scratch_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	static char block[1 << 16];

	if (fd < 0)
		die_errno(errno, "create %s", run->scratch_file);
	memset(block, 'f', sizeof(block));
	for (size_t done = 0; done < len; done += sizeof(block))
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			die_errno(errno, "write %s", run->scratch_file);
	if (fsync(fd) != 0)
		die_errno(errno, "fsync %s", run->scratch_file);
	close(fd);
}

static void run_file(struct run *run, size_t len, bool drop_cache, struct sample *s)
{
	int fd = open(run->scratch_file, O_RDONLY | O_CLOEXEC);
	struct phase ph;

	if (fd < 0)
		die_errno(errno, "open %s", run->scratch_file);
	// Drops the file's clean pages from the page cache: the next reads go to the disk. (Without
	// it they are cached: the file was just written, or read by the previous run.)
	if (drop_cache)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);	// advice: cannot fail usefully
	char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die_errno(errno, "mmap %s", run->scratch_file);
	phase_begin(&ph, run);
	read_pages(p, len, run->page);
	phase_end(&ph, s);
	munmap(p, len);
	close(fd);
}

// ---- latency: a random 4 KiB read from the file against a random load from memory ----------------

#define NR_DISK_READS 64

// Random 4 KiB reads of the scratch file, each timed: with O_DIRECT they bypass the page cache and
// there is no readahead; where the file system refuses O_DIRECT (tmpfs), the cache is dropped and
// readahead turned off (POSIX_FADV_RANDOM) instead, and the reads then come from wherever the
// file's pages live.
static void measure_disk_read(struct run *run, size_t file_bytes)
{
	static double ns[NR_DISK_READS];
	uint64_t seed = 12345;
	void *buf = NULL;
	size_t pages = file_bytes / 4096;
	int fd = open(run->scratch_file, O_RDONLY | O_CLOEXEC | O_DIRECT);

	run->disk_how = "O_DIRECT";
	if (fd < 0) {
		fd = open(run->scratch_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			run->disk_error = errno;
			return;
		}
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
		run->disk_how = "page cache dropped, readahead off (O_DIRECT refused)";
	}
	if (posix_memalign(&buf, 4096, 4096) != 0)
		die("out of memory");
	for (unsigned i = 0; i < NR_DISK_READS; i++) {
		off_t off = (off_t)(bench_rand(&seed) % pages) * 4096;
		uint64_t start = clock_now_ns();

		if (pread(fd, buf, 4096, off) != 4096) {
			run->disk_error = errno ? errno : EIO;
			break;
		}
		ns[i] = (double)(clock_now_ns() - start);
	}
	if (!run->disk_error && stats_compute(&run->disk_read_ns, ns, NR_DISK_READS) != 0)
		run->disk_error = EINVAL;
	free(buf);
	close(fd);
}

// A random chase through 64 MiB of lines (one pointer per 64 bytes, in a random cycle): each load
// waits for the previous one, so the time per step is a load from memory.
static void measure_dram_load(struct run *run)
{
	enum { SAMPLES = 5 };
	size_t bytes = run->lab.opt.quick ? 16u << 20 : 64u << 20, nr = bytes / 64;
	char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *order = malloc(nr * sizeof(*order));
	uint64_t seed = 42;
	double ns[SAMPLES];

	if (mem == MAP_FAILED || !order)
		die("out of memory for the memory-latency chase");
	bench_random_order(order, nr, &seed);
	for (size_t i = 0; i < nr; i++)
		*(void **)(void *)(mem + (size_t)order[i] * 64) = mem + (size_t)order[(i + 1) % nr] * 64;
	free(order);
	void **p = (void **)(void *)mem;
	for (int s = 0; s < SAMPLES; s++) {
		uint64_t start = clock_now_ns();

		for (size_t i = 0; i < nr; i++)
			p = *p;
		ns[s] = (double)(clock_now_ns() - start) / (double)nr;
	}
	bench_escape(p);
	if (stats_compute(&run->dram_load_ns, ns, SAMPLES) != 0)
		die("bad samples");
	munmap(mem, bytes);
}

// Copy-on-write: the parent's pages, written after fork by the child.
struct cow_job {
	char *p;
	size_t len;
	long page;
	struct sample *out;	// shared memory
};

static int cow_child(void *arg)
{
	const struct cow_job *j = arg;
	struct rusage before, after;

	getrusage(RUSAGE_SELF, &before);
	uint64_t start = clock_now_ns();
	write_pages(j->p, j->len, j->page);
	j->out->ns = clock_now_ns() - start;
	getrusage(RUSAGE_SELF, &after);
	j->out->minor = (double)(after.ru_minflt - before.ru_minflt);
	j->out->major = (double)(after.ru_majflt - before.ru_majflt);
	for (size_t i = 0; i < NR_SLOTS; i++)
		j->out->counted[i] = NAN;	// the parent's counters do not follow the child
	return 0;
}

static void run_cow(struct run *run, size_t len, struct sample *s)
{
	char *p = map_anon(len, 0);
	struct sample *shared = guard_shared_alloc(sizeof(*shared));
	struct guard_result g;
	char why[128];

	if (!shared)
		die("cannot share memory with the child");
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	write_pages(p, len, run->page);	// the parent's pages exist before fork
	struct cow_job job = { p, len, run->page, shared };
	struct guard_limits limits = { .timeout_ms = 60000 };
	int err = guard_run(cow_child, &job, &limits, &g);
	if (err || g.outcome != GUARD_EXITED || g.exit_status != 0)
		die("the copy-on-write child failed: %s",
		    err ? strerror(-err) : guard_describe(&g, why, sizeof(why)));
	*s = *shared;
	guard_shared_free(shared, sizeof(*shared));
	munmap(p, len);
}

// ---- the sweep -----------------------------------------------------------------------------------

static struct point *point_for(struct run *run, enum mode m, uint64_t size)
{
	for (size_t i = 0; i < run->nr_points; i++)
		if (run->points[i].mode == m && run->points[i].size_bytes == size)
			return &run->points[i];
	if (run->nr_points == MAX_POINTS)
		die("too many points");
	struct point *p = &run->points[run->nr_points++];
	*p = (struct point){ .mode = m, .size_bytes = size };
	return p;
}

static void measure_size(struct run *run, uint64_t size)
{
	unsigned n = run->lab.opt.nr_reps;
	double per_page[NR_MODES][1000], nr_faults[NR_MODES][1000], per_fault[NR_MODES][1000];
	double pages = (double)size / (double)run->page;

	make_file(run, size);
	count_harness(run);
	// Round 0 counts (counters open; its times are dropped, a warm-up too); rounds 1..n are timed
	// with the counters stopped (disabled). Every round runs every mode, so the modes share the conditions.
	for (unsigned r = 0; r <= n; r++) {
		struct sample s[NR_MODES];

		memset(s, 0, sizeof(s));
		run->counting = r == 0 ? &run->counters : NULL;
		run_anon(run, size, &s[ANON_WRITE], NULL);
		run_anon(run, size, &s[ANON_WRITE_AFTER_READ], &s[ANON_READ]);
		run_populate(run, size, &s[POPULATE_MMAP], &s[POPULATE_TOUCH]);
		run_hugepage(run, size, &s[HUGEPAGE]);
		run_file(run, size, false, &s[FILE_CACHED]);
		run_file(run, size, true, &s[FILE_UNCACHED]);
		run_cow(run, size, &s[COW_CHILD]);
		for (enum mode m = 0; m < NR_MODES; m++) {
			struct point *p = point_for(run, m, size);

			if (r == 0) {
				p->first = s[m];
				continue;
			}
			double f = s[m].minor + s[m].major;
			per_page[m][r - 1] = (double)s[m].ns / pages;
			nr_faults[m][r - 1] = f;
			per_fault[m][r - 1] = f > 0 ? (double)s[m].ns / f : NAN;
		}
	}
	for (enum mode m = 0; m < NR_MODES; m++) {
		struct point *p = point_for(run, m, size);
		size_t k = 0;

		if (stats_compute(&p->ns_per_page, per_page[m], n) != 0 ||
		    stats_compute(&p->faults, nr_faults[m], n) != 0)
			die("bad samples");
		for (unsigned r = 0; r < n; r++)	// rounds without a fault have no time per fault
			if (!isnan(per_fault[m][r]))
				per_fault[m][k++] = per_fault[m][r];
		p->ns_per_fault = (struct stats){ .median = NAN };
		if (k)
			(void)stats_compute(&p->ns_per_fault, per_fault[m], k);
	}
}

// ---- reporting -----------------------------------------------------------------------------------

// The faults of one run of the mode (getrusage): the median over the timed rounds.
static double faults(const struct point *p)
{
	return p->faults.median;
}

// Each round's time over that round's faults, the median over the rounds.
static double ns_per_fault(const struct point *p, double pages)
{
	(void)pages;
	return p->ns_per_fault.median;
}

// True when the rounds took different numbers of faults (more than 10% apart): a huge page in
// one round and base pages in the next, pages cached in one and read in the next.
static bool faults_vary(const struct point *p)
{
	return p->faults.max > 1.1 * p->faults.min;
}

// The point of mode m at the largest size: the one the table and the verdicts quote.
static const struct point *at(const struct run *run, enum mode m)
{
	uint64_t size = run->sizes[run->nr_sizes - 1];

	for (size_t i = 0; i < run->nr_points; i++)
		if (run->points[i].mode == m && run->points[i].size_bytes == size)
			return &run->points[i];
	die("internal error: no %s point at the largest size", mode_names[m]);
}

#define FAULT_TABLE_WIDTH 81

static void print_table(const struct run *run)
{
	uint64_t size = run->sizes[run->nr_sizes - 1];
	double pages = (double)size / (double)run->page;
	char sz[32];

	printf("\nAt %s (%.0f pages of %ld B): faults per page (getrusage; PAPI), ns per page and "
	       "per fault (median; ~ = noisy)\n", cli_format_size(size, sz, sizeof(sz)), pages, run->page);
	// 81 columns; a column narrower at the mode and at ns/fault in a narrower terminal.
	int mw = term_width() < FAULT_TABLE_WIDTH ? 21 : 22, fw = mw - 10;
	printf("  %-*s %10s %10s %8s %12s %*s\n", mw, "mode", "faults/pg", "PAPI/pg", "major",
	       "ns/page", fw, "ns/fault");
	for (enum mode m = 0; m < NR_MODES; m++) {
		const struct point *p = at(run, m);

		printf("  %-*s %10.3f %10.3f %8.0f %11.1f%1s %*.1f\n", mw, mode_names[m],
		       faults(p) / pages, p->first.counted[SLOT_FAULTS] / pages, p->first.major,
		       p->ns_per_page.median, stats_noisy_mark(&p->ns_per_page), fw,
		       ns_per_fault(p, pages));
	}
}

// What the CPU counted per page: how much work a fault is, in instructions. Counted in user mode
// only, the kernel's share (nearly all of it) is missing, and the lines say so.
static void print_counted(const struct run *run)
{
	uint64_t size = run->sizes[run->nr_sizes - 1];
	double pages = (double)size / (double)run->page;
	char sz[32];

	if (isnan(run->harness.counted[SLOT_INSTRUCTIONS]) ||
	    isnan(run->harness.counted[SLOT_CYCLES]))
		return;	// the note at the end says so
	printf("\nCounted per page at %s (%s; net of an empty phase: %.0f instructions, %.0f "
	       "cycles)\n", cli_format_size(size, sz, sizeof(sz)),
	       counters_domain_name(&run->counters), run->harness.counted[SLOT_INSTRUCTIONS],
	       run->harness.counted[SLOT_CYCLES]);
	printf("  %-22s %12s %12s %12s\n", "mode", "instr/page", "cycles/page", "instr/fault");
	for (enum mode m = 0; m < NR_MODES; m++) {
		const struct point *p = at(run, m);
		double ins = p->first.counted[SLOT_INSTRUCTIONS];

		if (isnan(ins))
			continue;	// the forked child: the parent's counters do not follow it
		printf("  %-22s %12.0f %12.0f %12.0f\n", mode_names[m], ins / pages,
		       p->first.counted[SLOT_CYCLES] / pages,
		       faults(p) > 0 ? ins / faults(p) : NAN);
	}
}

// The seed claim is about latency: one random read against one random load, not the fault
// figures above, which readahead batches.
static void disk_verdict(struct run *run)
{
	if (run->disk_error) {
		lab_note("the random-read latency could not be measured: %s", strerror(run->disk_error));
		return;
	}
	double ratio = run->disk_read_ns.median / run->dram_load_ns.median;
	lab_headline(&run->lab, "random_4k_read_latency", run->disk_read_ns.median / 1000, "us", NAN);
	// A read under 10 us never reached a drive (an NVMe SSD takes tens of us, a disk
	// milliseconds): a cache served it, and the claim about disks is not shown by it.
	bool cached = run->disk_read_ns.median < 10000;
	bool in_memory_fs = !strcmp(run->fs_type, "tmpfs");
	// Orders of magnitude, so a band: within 2x of the claim holds, 5x below it fails.
	lab_judge(&run->lab, "disk_100000x_slower_than_ram",
		  "disk is 100000x slower than RAM", cached ? COMPARE_NOT_SHOWN
		  : ratio >= 50000 ? COMPARE_HOLDS
		  : ratio <= 20000 ? COMPARE_FAILS : COMPARE_INCONCLUSIVE, ratio, NAN, NAN, "x",
		  "a random 4 KiB read of the %s file (%s) took %.1f us (median of %d; p5 %.1f, "
		  "p95 %.1f), a random load from memory %.0f ns: %.0fx%s", run->fs_type, run->disk_how,
		  run->disk_read_ns.median / 1000, NR_DISK_READS, run->disk_read_ns.p05 / 1000,
		  run->disk_read_ns.p95 / 1000, run->dram_load_ns.median, ratio,
		  !cached ? "" : in_memory_fs ? "; the read never reached a drive: this file system "
						"keeps files in memory (use --tmpdir on a disk)"
		  : !strcmp(run->disk_how, "O_DIRECT") ? "; the read never reached a drive: in a VM, "
						       "the host's page cache behind the virtual "
						       "disk served it"
		  : "; the read never reached a drive: the page cache served it");
}

static void verdicts(struct run *run)
{
	uint64_t size = run->sizes[run->nr_sizes - 1];
	double pages = (double)size / (double)run->page;
	char sz[32], thp[128];
	const struct point *w = at(run, ANON_WRITE), *r = at(run, ANON_READ);
	const struct point *war = at(run, ANON_WRITE_AFTER_READ), *pm = at(run, POPULATE_MMAP);
	const struct point *pt = at(run, POPULATE_TOUCH), *hp = at(run, HUGEPAGE);
	const struct point *fc = at(run, FILE_CACHED), *fu = at(run, FILE_UNCACHED);
	const struct point *cow = at(run, COW_CHILD);

	cli_format_size(size, sz, sizeof(sz));
	lab_headline(&run->lab, "first_write_fault", ns_per_fault(w, pages), "ns", NAN);
	lab_headline(&run->lab, "first_write_faults_per_page", faults(w) / pages, "faults",
		     w->first.counted[SLOT_FAULTS] / pages);
	lab_headline(&run->lab, "cow_fault", ns_per_fault(cow, pages), "ns", NAN);
	char papi[64] = "PAPI could not count them here";

	if (!isnan(w->first.counted[SLOT_FAULTS]))
		snprintf(papi, sizeof(papi), "PAPI counted %.0f", w->first.counted[SLOT_FAULTS]);
	// Demonstrations, not claims: Linux allocates anonymous memory on demand, maps the zero
	// page on a read, prefaults with MAP_POPULATE and copies on write after fork, and this lab
	// turns huge pages off for these mappings (MADV_NOHUGEPAGE), so each count can only come
	// out at one per page. They are shown, within 10%; anything else would be a finding.
	double per_page = faults(w) / pages;
	lab_demonstrate(&run->lab, fabs(per_page - 1) <= 0.10, "allocated_at_first_touch",
		  "memory is allocated at the first touch: one fault per page", per_page,
		  "faults per page",
		  "writing %s of fresh mmap took %.0f faults for %.0f pages (%.3f per page), %.0f ns "
		  "per fault; %s", sz, faults(w), pages, per_page, ns_per_fault(w, pages), papi);
	bool zero_page = faults(r) / pages >= 0.9 && faults(war) / pages >= 0.9;
	lab_demonstrate(&run->lab, zero_page, "read_maps_zero_page_write_faults_again",
		  "reading fresh memory maps the shared zero page and the first write faults again",
		  faults(war) / pages, "faults per page",
		  "reading: %.3f faults per page (%.0f ns each); the write after it: %.3f per page "
		  "(%.0f ns each)", faults(r) / pages, ns_per_fault(r, pages), faults(war) / pages,
		  ns_per_fault(war, pages));
	lab_demonstrate(&run->lab, faults(pt) / pages < 0.10, "populate_moves_faults_into_mmap",
		  "MAP_POPULATE moves the page faults into mmap()", faults(pt) / pages,
		  "faults per page",
		  "%.1f ms in mmap, then %.3f faults per page and %.1f ns per page for the writes "
		  "(%.1f ns per page without it, in the same rounds; medians of the timed rounds)",
		  pm->ns_per_page.median * pages / 1e6, faults(pt) / pages, pt->ns_per_page.median,
		  w->ns_per_page.median);
	if (!isnan(pm->first.counted[SLOT_FAULTS]) && pm->first.counted[SLOT_FAULTS] < faults(pm) / 2)
		lab_shown(&run->lab,
			  "the two counters disagree inside mmap(MAP_POPULATE): getrusage charges "
			  "%.0f faults, the perf event counts %.0f; the kernel faults those pages in on "
			  "the process's behalf, with no trap from user space for perf to see",
			  faults(pm), pm->first.counted[SLOT_FAULTS]);
	kernel_read_line("/sys/kernel/mm/transparent_hugepage/enabled", "unavailable", thp,
			 sizeof(thp));
	// Not shown where THP is off, or where the size measured holds no whole huge page (512 MiB
	// with 64 KiB base pages). Holds at half the pages a huge page maps or more per fault.
	bool thp_off = strstr(thp, "[never]") != NULL, too_small = size < run->huge;
	double per_fault = faults(hp) > 0 ? pages / faults(hp) : NAN;
	double pages_per_huge = (double)run->huge / (double)run->page;
	char huge[32];
	cli_format_size(run->huge, huge, sizeof(huge));
	// Every timed round's own faults: a round that got huge pages and one that did not are
	// not the same measurement, and a verdict on their median would describe neither.
	bool mixed = faults_vary(hp);
	lab_judge(&run->lab, "huge_page_one_fault_per_huge_page",
		  "with transparent huge pages one fault maps a whole huge page",
		  thp_off || too_small ? COMPARE_NOT_SHOWN : mixed ? COMPARE_INCONCLUSIVE
		  : per_fault >= pages_per_huge / 2 ? COMPARE_HOLDS : COMPARE_FAILS, per_fault, NAN, NAN,
		  "pages per fault",
		  "with madvise(MADV_HUGEPAGE) (THP: %s, huge pages of %s = %.0f pages): %.0f faults "
		  "for %s (median of the timed rounds, %.0f-%.0f), %.1f pages per fault%s", thp, huge,
		  pages_per_huge, faults(hp), sz, hp->faults.min, hp->faults.max, per_fault,
		  thp_off ? ": THP is off here"
		  : too_small ? ": the largest size measured holds no whole huge page"
		  : mixed ? ": the kernel gave huge pages in some rounds and not in others (free "
			    "huge blocks come and go), so this run cannot tell"
		  : per_fault >= pages_per_huge / 2 ? ""
		  : ": no huge pages here (none free, or the range is not aligned)");
	if (!thp_off && !too_small && !mixed && per_fault >= pages_per_huge / 2) {
		// Per byte, not per fault: what a program pays to get the same memory either way.
		char defrag[128];
		bool dearer = hp->ns_per_page.p05 > w->ns_per_page.p95;
		lab_shown(&run->lab,
			    "per %ld bytes of memory, huge pages cost %.0f ns (p5-p95 %.0f-%.0f) and "
			    "base pages %.0f ns (%.0f-%.0f)%s (defrag: %s)", run->page, hp->ns_per_page.median,
			    hp->ns_per_page.p05, hp->ns_per_page.p95, w->ns_per_page.median,
			    w->ns_per_page.p05, w->ns_per_page.p95,
			    dearer ? ": huge pages cost MORE here: each fault zeroes a whole huge page at "
				     "once, and when no free block of that size is at hand the kernel "
				     "compacts memory first (direct compaction, by the defrag setting) or "
				     "the host backs the guest's block with small pages"
				   : ": one fault and one zeroing of the huge page replace one fault per "
				     "base page",
			    kernel_read_line("/sys/kernel/mm/transparent_hugepage/defrag", "unknown",
					     defrag, sizeof(defrag)));
	}
	lab_shown(&run->lab,
		    "a file mapping from the page cache: %.3f minor faults per page (the kernel "
		    "maps %.0f pages per fault: fault-around, and large folios on newer kernels); after dropping the cache: %.0f major and "
		    "%.0f minor faults, %.0f ns per page against %.0f (%s, readahead batches the reads)",
		    faults(fc) / pages, faults(fc) > 0 ? pages / faults(fc) : NAN, fu->first.major,
		    fu->first.minor, fu->ns_per_page.median, fc->ns_per_page.median, run->fs_type);
	lab_demonstrate(&run->lab, fabs(faults(cow) / pages - 1) <= 0.10, "cow_one_fault_per_page",
		  "after fork each page the child writes costs one copy-on-write fault",
		  faults(cow) / pages, "faults per page",
		  "%.3f faults per page, %.0f ns each, against %.0f ns for a fresh zero-filled page "
		  "(in the same rounds: compared, not judged)",
		  faults(cow) / pages, ns_per_fault(cow, pages), ns_per_fault(w, pages));
	if (fu->first.major == 0)
		lab_note("no major faults after POSIX_FADV_DONTNEED: the scratch file is on %s, which "
			 "keeps its pages in memory (or the cache could not be dropped); use --tmpdir on "
			 "a disk-backed file system", run->fs_type);
	if (run->capped)
		lab_note("the sweep stops at %s: a quarter of the memory this process may use", sz);
	disk_verdict(run);
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "mode", "size_bytes", "pages", "nr_samples", "ns_per_op_median",
		"ns_per_op_p05", "ns_per_op_p95", "faults", "major_faults", "faults_papi",
		"faults_per_page", "ns_per_fault", "dtlb_misses_per_page", "first_sample_ns",
		"instructions_per_page", "cycles_per_page",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];
		double pages = (double)p->size_bytes / (double)run->page;

		report_csv_str(&csv, "page_faults");
		report_csv_str(&csv, mode_names[p->mode]);
		report_csv_u64(&csv, p->size_bytes);
		report_csv_double(&csv, pages);
		report_csv_u64(&csv, p->ns_per_page.nr_samples);
		// One op = one page of the mapping.
		report_csv_double(&csv, p->ns_per_page.median);
		report_csv_double(&csv, p->ns_per_page.p05);
		report_csv_double(&csv, p->ns_per_page.p95);
		report_csv_double(&csv, faults(p));
		report_csv_double(&csv, p->first.major);
		report_csv_double(&csv, p->first.counted[SLOT_FAULTS]);
		report_csv_double(&csv, faults(p) / pages);
		report_csv_double(&csv, ns_per_fault(p, pages));
		report_csv_double(&csv, p->first.counted[SLOT_DTLB] / pages);
		report_csv_double(&csv, (double)p->first.ns);
		report_csv_double(&csv, p->first.counted[SLOT_INSTRUCTIONS] / pages);
		report_csv_double(&csv, p->first.counted[SLOT_CYCLES] / pages);
		lab_csv_end_row(&csv);
	}
	// The latencies: one op is one random 4 KiB read, or one random load.
	const struct { const char *mode; const struct stats *st; } lat[] = {
		{ "random_4k_read", &run->disk_read_ns }, { "random_load_memory", &run->dram_load_ns },
	};
	for (size_t i = 0; i < 2 && !run->disk_error; i++) {
		report_csv_str(&csv, "latency");
		report_csv_str(&csv, lat[i].mode);
		for (int x = 0; x < 2; x++)
			report_csv_double(&csv, NAN);
		report_csv_u64(&csv, lat[i].st->nr_samples);
		report_csv_double(&csv, lat[i].st->median);
		report_csv_double(&csv, lat[i].st->p05);
		report_csv_double(&csv, lat[i].st->p95);
		for (int x = 0; x < 9; x++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;
	char line[128];

	report_kv(m, "thp_enabled", "%s", kernel_read_line("/sys/kernel/mm/transparent_hugepage/enabled",
							   "unavailable", line, sizeof(line)));
	report_kv(m, "thp_defrag", "%s", kernel_read_line("/sys/kernel/mm/transparent_hugepage/defrag",
							  "unavailable", line, sizeof(line)));
	report_kv(m, "fault_around_bytes", "%s", kernel_read_line("/sys/kernel/debug/fault_around_bytes",
								  "unknown", line, sizeof(line)));
	report_kv(m, "scratch_filesystem", "%s (%s)", run->fs_type, run->opt.tmpdir);
	report_kv(m, "sizes_capped", "%s", run->capped ? "yes (a quarter of memory_bound)" : "no");
}

// ---- setup ---------------------------------------------------------------------------------------

enum { OPT_MAX_SIZE = 256, OPT_TMPDIR };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	switch (val) {
	case OPT_MAX_SIZE:
		return cli_arg_size("--max-size", arg, 1u << 20, 16ull << 30, &o->max_size);
	case OPT_TMPDIR:
		return cli_arg_dir("--tmpdir", arg, &o->tmpdir);
	}
	return -EINVAL;
}

static void plan(struct run *run)
{
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS

	run->page = sysconf(_SC_PAGESIZE);
	run->huge = kernel_huge_page_bytes();
	if (!run->opt.max_size)
		run->opt.max_size = run->lab.opt.quick ? 8u << 20 : 256u << 20;
	// Two mappings of the largest size can exist at once (the cow child's copy): stay under a
	// quarter of what the machine has free.
	if (avail && run->opt.max_size > avail / 4) {
		run->opt.max_size = avail / 4;
		run->capped = true;
	}
	for (uint64_t s = 1u << 20; s <= run->opt.max_size && run->nr_sizes < MAX_SIZES;
	     s *= run->lab.opt.quick ? 8 : 4)
		run->sizes[run->nr_sizes++] = s;
	if (!run->nr_sizes)
		die("not enough free memory for a 1 MiB mapping");

	snprintf(run->scratch_dir, sizeof(run->scratch_dir), "%s/lab09.XXXXXX", run->opt.tmpdir);
	if (!mkdtemp(run->scratch_dir))
		die_usage("--tmpdir %s: cannot create a scratch directory there: %s", run->opt.tmpdir,
			  strerror(errno));
	run->dir_handle = report_temp_add(run->scratch_dir);
	snprintf(run->scratch_file, sizeof(run->scratch_file), "%s/file", run->scratch_dir);
	run->file_handle = report_temp_add(run->scratch_file);
	snprintf(run->fs_type, sizeof(run->fs_type), "%s", report_fs_type(run->scratch_dir));
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ "tmpdir", required_argument, NULL, OPT_TMPDIR },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "09-page-faults",
		.summary = "Counts and times page faults: first touch, zero page, MAP_POPULATE, huge "
			   "pages, file mappings from the cache and the disk, copy-on-write.",
		.options_help = "  --max-size SIZE    largest mapping (default 256M, quick 8M)\n"
				"  --tmpdir DIR       where the scratch file goes (default $TMPDIR or "
				"/tmp)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};
	const char *tmp = getenv("TMPDIR");

	// parse -> describe the machine
	run.opt.tmpdir = tmp && *tmp ? tmp : "/tmp";
	lab_init(&run.lab, &info, "Lab 9: page faults", argc, argv);
	lab_pin_here(&run.lab);
	counters_init(&run.counters, metrics, sizeof(metrics) / sizeof(metrics[0]));
	lab_print_counters(&run.counters);

	// prepare -> predict
	plan(&run);
	lab_prediction("mmap allocates nothing: every first write to a page is a fault (one per %ld-"
		       "byte page), reading first costs two; MAP_POPULATE pays inside mmap; a huge "
		       "page maps %zu pages per fault", run.page, run.huge / (size_t)run.page);
	lab_prediction("file pages in the page cache fault cheaply (minor, several pages per "
		       "fault), from the disk expensively (major); copy-on-write costs a page copy");
	lab_prediction("a random 4 KiB read from an SSD takes tens of us, a random load from memory "
		       "about 100 ns: a few hundred times, not 100,000x (that was a spinning disk's "
		       "10 ms)");

	// measure
	printf("measuring:");
	for (size_t i = 0; i < run.nr_sizes; i++) {
		char sz[32];

		printf(" %s", cli_format_size(run.sizes[i], sz, sizeof(sz)));
		fflush(stdout);
		measure_size(&run, run.sizes[i]);
	}
	printf(" random reads");
	fflush(stdout);
	measure_disk_read(&run, run.sizes[run.nr_sizes - 1]);
	measure_dram_load(&run);
	printf(" done\n");

	// report
	print_table(&run);
	print_counted(&run);
	printf("\n");
	verdicts(&run);
	lab_note_missing_counters(&run.counters);
	write_csv(&run);
	lab_write_manifest(&run.lab, &run.counters, manifest_extra, &run);

	// release
	counters_release(&run.counters);
	report_temp_remove(run.file_handle);
	report_temp_remove(run.dir_handle);
	lab_finish(&run.lab);
	return 0;
}
