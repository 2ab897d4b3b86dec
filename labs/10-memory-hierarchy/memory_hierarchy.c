// SPDX-License-Identifier: MIT
// Lab 10: how fast is each level of the memory hierarchy on this CPU? Load-to-use latency by a
// pointer chase through a random cycle (one pointer per cache line), from 4 KiB to beyond the last
// level cache; the same chase in address order (what the prefetcher hides); one load per page with
// 4 KiB and with huge pages (the TLB); sequential read bandwidth; and a stride x size "memory
// mountain". hwloc's cache sizes are set beside the measured steps, and disagreement is reported.
// Beside the loads, what a mispredicted branch costs (the other row of the classic latency table
// that lives in the core): a loop whose branch goes a random way against one that alternates.
// Usage: memory_hierarchy [--quick] [--reps N] [--out DIR] [--max-size SIZE]
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "counters.h"
#include "die.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "term.h"
#include "stats.h"
#include "topo.h"

#define MAX_SIZES 64
#define MAX_POINTS 512
// The transparent huge page, read once in main (kernel.h): 2 MiB with 4 KiB base pages, 32 MiB
// with 16 KiB, 512 MiB with 64 KiB.
static size_t huge_page_bytes = (size_t)2 << 20;
#define NR_STRIDES 7			// the mountain: 8, 16 ... 512 bytes

// LATENCY chases on huge pages where the kernel gives them, so that past the TLB's reach a load
// does not also pay a page walk; LATENCY_4K is the same chase on 4 KiB pages, for comparison.
// SEQUENTIAL, set beside LATENCY to show the prefetcher, is on huge pages too: on base pages a
// chase in address order past the TLB's reach also waits for a page walk every 64 lines.
enum experiment { LATENCY, LATENCY_4K, SEQUENTIAL, TLB_4K, TLB_HUGE, BANDWIDTH, MOUNTAIN,
		  NR_EXPERIMENTS };
static const char *const experiment_names[NR_EXPERIMENTS] = {
	"latency", "latency", "sequential_chase", "tlb", "tlb", "bandwidth", "mountain",
};
static const char *const kind_names[NR_EXPERIMENTS] = {
	"random", "random_4k_pages", "address_order", "4k_pages", "huge_pages", "read", "read",
};

struct point {
	enum experiment e;
	uint64_t size_bytes, stride_bytes;
	struct bench_result r;
	double ns_per_load, cycles_per_load, gb_per_s;
	double instructions_per_load;	// net of the loop step (the chase's harness)
	double huge_bytes;		// TLB experiments: how much of the buffer THP really backed
};

struct options {
	uint64_t max_size;
};

// What a verdict compares, measured on its own in interleaved rounds.
struct judged_pair {
	bool measured;
	uint64_t size[2];
	double ns[2];			// per load, median of the rounds
	double huge_bytes[2];		// TLB chases: of each buffer, in huge pages
	struct compare_ratio ratio;	// the first / the second, paired by round
};

// The branch comparison: a loop with a branch the predictor cannot guess against the same loop
// with one it can.
enum { BRANCH_ALTERNATING, BRANCH_RANDOM, NR_BRANCH_KINDS };
struct branch_cost {
	bool measured;
	uint64_t iters[NR_BRANCH_KINDS];	// per sample, as calibrated
	struct stats ns[NR_BRANCH_KINDS];	// per iteration, over the clean rounds
	struct stats mispredict;	// ns per mispredicted branch, one figure per round
	struct compare_ratio ratio;	// random / alternating, paired by round
};

struct run {
	struct lab lab;
	struct options opt;
	struct counters counters;
	unsigned line, page;
	uint64_t cache[4];		// hwloc: L1d, L2, L3 bytes by level (index 1-3), 0 if absent
	uint64_t sizes[MAX_SIZES];
	size_t nr_sizes;
	bool capped, thp_available;
	char thp[96];
	struct point points[MAX_POINTS];
	size_t nr_points;
	struct judged_pair memory_vs_l1, tlb_4k_vs_huge;
	struct branch_cost branch;
};

static const enum counters_metric metrics[] = { COUNTERS_CYCLES, COUNTERS_INSTRUCTIONS };
enum { SLOT_CYCLES, SLOT_INSTRUCTIONS };

// ---- the buffers --------------------------------------------------------------------------------

// An anonymous mapping aligned to a huge page, with transparent huge pages asked for or refused.
struct buffer {
	char *base, *p;
	size_t map_len, len;
};

static void buffer_map(struct buffer *b, size_t len, bool huge)
{
	b->len = len;
	b->map_len = len + huge_page_bytes;
	b->base = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->base == MAP_FAILED)
		die_errno(errno, "mmap of %zu bytes", b->map_len);
	size_t misalign = (uintptr_t)b->base & (huge_page_bytes - 1);
	b->p = misalign ? b->base + (huge_page_bytes - misalign) : b->base;
	// Advice only: a kernel without THP refuses it, and the TLB verdict then says so.
	(void)madvise(b->p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

static void buffer_unmap(struct buffer *b)
{
	(void)munmap(b->base, b->map_len);
}

// Bytes of this process's anonymous memory in huge pages (/proc/self/smaps_rollup), or NAN.
static double anon_huge_bytes(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	double kib = NAN;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "AnonHugePages: %llu kB", &v) == 1)
			kib = (double)v;
	}
	if (f)
		fclose(f);
	return kib * 1024;
}

// ---- the chase ----------------------------------------------------------------------------------

struct chase {
	void **cur;	// where the chase stands: kept between calls, so calibration warms it up
};

// Each load's address comes from the previous load: no two can overlap, so the time per step is
// the latency of one load from wherever the line lives.
static void chase_kernel(void *arg, uint64_t iters)
{
	struct chase *c = arg;
	void **p = c->cur;

	for (uint64_t i = 0; i < iters; i++)
		p = *p;
	c->cur = p;
	bench_escape(p);
}

// The chase's harness: the same loop with no load in it, so that instructions per load can be
// counted net of the loop step (one load per step: the net count is about 1).
static void empty_chase_kernel(void *arg, uint64_t iters)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++)
		__asm__ volatile("");	// a loop the optimiser must keep, and nothing in it
}

// Links nr slots of slot_bytes each into one cycle: in a random order (defeats the prefetcher)
// or in address order. offset_step spreads the pointers over the cache sets when the slots are
// whole pages (otherwise every pointer would sit at offset 0 and use one set).
static void **build_cycle(char *mem, size_t nr, size_t slot_bytes, size_t offset_step, bool random,
			  uint64_t seed)
{
	uint64_t s = seed;

	if (nr < 2)
		die("internal error: a cycle needs two slots");
	uint32_t *order = malloc(nr * sizeof(*order));
	if (!order)
		die("out of memory for a %zu-slot permutation", nr);
	if (random) {
		bench_random_order(order, nr, &s);
	} else {
		for (size_t i = 0; i < nr; i++)
			order[i] = (uint32_t)i;
	}
	// The i-th slot of the cycle: the order[i]-th slot of the buffer, at the i-th offset.
#define CYCLE_SLOT(i) ((void **)(void *)(mem + (size_t)order[(i)] * slot_bytes + \
			(offset_step ? ((i) * offset_step) % slot_bytes : 0)))
	for (size_t i = 0; i < nr; i++)
		*CYCLE_SLOT(i) = CYCLE_SLOT((i + 1) % nr);
	void **first = CYCLE_SLOT(0);
#undef CYCLE_SLOT
	free(order);
	return first;
}

static struct point *new_point(struct run *run, enum experiment e, uint64_t size, uint64_t stride)
{
	if (run->nr_points == MAX_POINTS)
		die("internal error: too many points");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .e = e, .size_bytes = size, .stride_bytes = stride,
			     .cycles_per_load = NAN, .gb_per_s = NAN, .huge_bytes = NAN,
			     .instructions_per_load = NAN };
	return p;
}

// harness: what is subtracted from the instructions (bench.h), or NULL. The cycles keep it: the
// loop step runs beside a load that waits, and subtracting its cycles would understate the latency.
static void bench(struct run *run, clock_kernel_fn kernel, void *arg, clock_kernel_fn harness,
		  struct bench_result *r)
{
	struct bench_config config = { .nr_samples = run->lab.opt.nr_reps,
				       .min_sample_ns = run->lab.opt.min_sample_ns,
				       .counters = &run->counters, .harness = harness,
				       .harness_metrics = 1u << COUNTERS_INSTRUCTIONS };
	int err = bench_run(&config, kernel, arg, r);

	if (err == -EINVAL || err == -ENOMEM)
		die_errno(err, "cannot measure");
	// A counter error leaves NAN in the counts; the timings stand.
}

// A chase ready to run: its buffer, faulted in, and the cycle through it.
struct chase_buffer {
	struct buffer b;
	struct chase c;
	double huge_bytes;	// TLB chases: how much of this buffer THP backed; NAN otherwise
};

static void chase_prepare(struct run *run, enum experiment e, uint64_t size,
			  struct chase_buffer *cb)
{
	bool tlb = e == TLB_4K || e == TLB_HUGE;
	bool counted = tlb || e == LATENCY || e == SEQUENTIAL;	// where huge pages matter, count them
	size_t slot = tlb ? run->page : run->line;
	double huge_before = counted ? anon_huge_bytes() : NAN;

	buffer_map(&cb->b, size, e == TLB_HUGE || e == LATENCY || e == SEQUENTIAL);
	memset(cb->b.p, 0, size);	// fault every page in before timing (and let THP collapse)
	cb->c.cur = build_cycle(cb->b.p, size / slot, slot, tlb ? run->line : 0, e != SEQUENTIAL,
				size);
	// What this mapping added to the process's huge pages (another buffer may hold some).
	cb->huge_bytes = counted ? anon_huge_bytes() - huge_before : NAN;
}

static void measure_chase(struct run *run, enum experiment e, uint64_t size)
{
	bool tlb = e == TLB_4K || e == TLB_HUGE;
	size_t slot = tlb ? run->page : run->line;
	struct chase_buffer cb;

	if (size < 2 * slot)
		return;
	chase_prepare(run, e, size, &cb);
	struct point *p = new_point(run, e, size, slot);
	p->huge_bytes = cb.huge_bytes;
	bench(run, chase_kernel, &cb.c, empty_chase_kernel, &p->r);
	p->ns_per_load = p->r.ns_per_op.median;
	p->cycles_per_load = p->r.counter_per_op[SLOT_CYCLES];
	p->instructions_per_load = p->r.counter_per_op[SLOT_INSTRUCTIONS];
	buffer_unmap(&cb.b);
}

// The two buffers of a judged pair, and how to make them again.
struct chase_pair {
	struct run *run;
	enum experiment e[2];
	uint64_t size[2];
	struct chase_buffer cb[2];
};

// In each process of the comparison: buffers of its own, on pages of its own (a process's page
// placement and huge pages are what differs from one run to the next), in place, so that the
// kernels' arguments stay valid.
static void chase_pair_remake(void *arg)
{
	struct chase_pair *cp = arg;

	for (int i = 0; i < 2; i++) {
		buffer_unmap(&cp->cb[i].b);
		chase_prepare(cp->run, cp->e[i], cp->size[i], &cp->cb[i]);
	}
}

// Two chases in interleaved rounds (compare.h), counters stopped (disabled): the ratio first / second.
static void compare_chases(struct run *run, enum experiment e1, uint64_t size1,
			   enum experiment e2, uint64_t size2, struct judged_pair *out)
{
	struct chase_pair cp = { .run = run, .e = { e1, e2 }, .size = { size1, size2 } };
	struct chase_buffer *cb = cp.cb;
	struct compare_samples s;

	chase_prepare(run, e1, size1, &cb[0]);
	chase_prepare(run, e2, size2, &cb[1]);
	struct compare_kernel v[2] = {
		{ "first", chase_kernel, &cb[0].c, 0 },
		{ "second", chase_kernel, &cb[1].c, 0 },
	};
	struct compare_plan plan = lab_plan(&run->lab);
	cpu_set_t watch;
	plan.process_setup = chase_pair_remake;
	plan.setup_ctx = &cp;
	// Every usable CPU is watched, not only this thread's: an SMT sibling shares the TLB and the
	// L1 and L2, every core the L3 and memory. A busy loop on the other vCPU of this VM made the
	// huge-page chase 2.7x slower in every round while this thread never waited to run.
	lab_allowed_cpus(&run->lab, &watch);
	plan.watch_cpus = &watch;
	int err = compare_kernels(v, 2, &plan, run->lab.opt.min_sample_ns, 0, &s);
	if (err)
		die_errno(err, "comparing two chases");
	(void)compare_ratio(&s, 0, 1, COMPARE_NONE, &out->ratio);
	for (int i = 0; i < 2; i++) {
		struct stats st;

		out->ns[i] = compare_variant_stats(&s, (size_t)i, &st) == 0 ? st.median : NAN;
		out->huge_bytes[i] = cb[i].huge_bytes;
		buffer_unmap(&cb[i].b);
	}
	out->size[0] = size1;
	out->size[1] = size2;
	out->measured = true;
	compare_samples_release(&s);
}

// ---- bandwidth ----------------------------------------------------------------------------------

struct scan {
	const uint64_t *p;
	size_t nr;	// elements read per pass
	size_t step;	// elements between reads (the mountain's stride / 8)
	uint64_t sink;
};

// One pass reads nr elements, step apart, into four independent sums (so the adds do not serialise
// on one register and the loads can overlap), 8-byte scalar loads whatever the compiler (bench.h):
// what this measures is that loop's read rate, not the widest loads the CPU could issue.
static BENCH_NO_VECTORIZE void scan_kernel(void *arg, uint64_t iters)
{
	struct scan *s = arg;

	for (uint64_t it = 0; it < iters; it++) {
		uint64_t a = 0, b = 0, c = 0, d = 0;
		size_t i = 0, n = s->nr * s->step, st = s->step;

		BENCH_NO_VECTORIZE_LOOP
		for (; i + 3 * st < n; i += 4 * st) {
			a += s->p[i];
			b += s->p[i + st];
			c += s->p[i + 2 * st];
			d += s->p[i + 3 * st];
		}
		for (; i < n; i += st)
			a += s->p[i];
		s->sink += a + b + c + d;
	}
	bench_escape(&s->sink);
}

static void measure_scan(struct run *run, enum experiment e, uint64_t size, uint64_t stride)
{
	struct buffer b;

	buffer_map(&b, size, false);
	memset(b.p, 1, size);
	struct scan s = { (const uint64_t *)(const void *)b.p, size / stride, stride / 8, 0 };
	struct point *p = new_point(run, e, size, stride);
	bench(run, scan_kernel, &s, NULL, &p->r);
	// Bytes delivered per ns = GB/s: what the loop read, not the lines the memory moved.
	p->gb_per_s = (double)(s.nr * 8) / p->r.ns_per_op.median;
	p->ns_per_load = p->r.ns_per_op.median / (double)s.nr;
	buffer_unmap(&b);
}

// ---- a mispredicted branch ---------------------------------------------------------------------

struct branchy {
	uint64_t x, sum;
};

// One xorshift step (bench_rand) and one branch per iteration. random: the branch follows the
// step's top bit, which no predictor can guess (it is missed about half the time, whatever the
// predictor); otherwise it alternates, which every predictor learns. Both do the same work: the
// same step, half the iterations each way. Each side holds an asm statement of its own: the
// compiler cannot run an asm statement on the path not taken, so it cannot turn the branch into
// a conditional move (which would have nothing to mispredict).
static inline __attribute__((always_inline)) void branch_loop(void *arg, uint64_t iters,
							       bool random)
{
	struct branchy *b = arg;
	uint64_t x = b->x, sum = b->sum;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t r = bench_rand(&x);

		if (random ? r >> 63 : i & 1) {
			sum += r;
			__asm__ volatile("# taken" : "+r"(sum));
		} else {
			sum ^= r;
			__asm__ volatile("# not taken" : "+r"(sum));
		}
	}
	b->x = x;
	b->sum = sum;
	bench_escape(&b->sum);
}

static void branch_alternating_kernel(void *arg, uint64_t iters)
{
	branch_loop(arg, iters, false);
}

static void branch_random_kernel(void *arg, uint64_t iters)
{
	branch_loop(arg, iters, true);
}

// The two loops in interleaved rounds (compare.h). A mispredict's cost is twice the difference
// per iteration (half the random branches are missed; the alternating ones almost never are),
// taken round by round, so that its spread is the rounds'.
static void measure_branches(struct run *run)
{
	struct branch_cost *bc = &run->branch;
	struct branchy b[NR_BRANCH_KINDS] = { { 0x9e3779b97f4a7c15u, 0 }, { 0x9e3779b97f4a7c15u, 0 } };
	struct compare_kernel v[NR_BRANCH_KINDS] = {
		[BRANCH_ALTERNATING] = { "alternating", branch_alternating_kernel, &b[0], 0 },
		[BRANCH_RANDOM] = { "random", branch_random_kernel, &b[1], 0 },
	};
	struct compare_plan plan = lab_plan(&run->lab);
	struct compare_samples s;
	cpu_set_t watch;

	// An SMT sibling shares the predictor: every usable CPU is watched, as for the chases.
	lab_allowed_cpus(&run->lab, &watch);
	plan.watch_cpus = &watch;
	int err = compare_kernels(v, NR_BRANCH_KINDS, &plan, run->lab.opt.min_sample_ns, 0, &s);
	if (err)
		die_errno(err, "comparing two branches");
	(void)compare_ratio(&s, BRANCH_RANDOM, BRANCH_ALTERNATING, COMPARE_NONE, &bc->ratio);
	bc->measured =
		compare_difference_stats(&s, BRANCH_RANDOM, BRANCH_ALTERNATING, 2, &bc->mispredict) == 0 &&
		compare_variant_stats(&s, BRANCH_ALTERNATING, &bc->ns[BRANCH_ALTERNATING]) == 0 &&
		compare_variant_stats(&s, BRANCH_RANDOM, &bc->ns[BRANCH_RANDOM]) == 0;
	for (int k = 0; k < NR_BRANCH_KINDS; k++)
		bc->iters[k] = v[k].iters;
	compare_samples_release(&s);
}

// ---- plan, predict ------------------------------------------------------------------------------

static void read_thp(struct run *run)
{
	enum kernel_thp mode = kernel_thp_mode();

	kernel_read_line("/sys/kernel/mm/transparent_hugepage/enabled", "not available", run->thp,
			 sizeof(run->thp));
	run->thp_available = mode == KERNEL_THP_MADVISE || mode == KERNEL_THP_ALWAYS;
	huge_page_bytes = kernel_huge_page_bytes();
}

static uint64_t llc_bytes(const struct run *run)
{
	for (int level = 3; level >= 1; level--)
		if (run->cache[level])
			return run->cache[level];
	return 0;
}

static void plan(struct run *run)
{
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS

	run->line = run->lab.have_topo ? topo_line_bytes(&run->lab.topo) : 64;
	run->page = (unsigned)sysconf(_SC_PAGESIZE);
	for (unsigned level = 1; level <= 3; level++)
		run->cache[level] = run->lab.have_topo ? topo_cache_bytes(&run->lab.topo, level) : 0;
	uint64_t llc = llc_bytes(run);
	if (!run->opt.max_size) {
		// Four times the last level, at least 64 MiB: the last plateau must be memory, and a
		// climb that came only past twice the cache (the verdict's limit) must be able to show.
		run->opt.max_size = run->lab.opt.quick ? 16u << 20 : 64u << 20;
		if (!run->lab.opt.quick && llc * 4 > run->opt.max_size)
			run->opt.max_size = llc * 4;
	}
	// One buffer at a time plus its permutation (4 bytes per line), two for the TLB verdict's
	// pair: a quarter of what the machine has free each keeps the two under half of it.
	if (avail && run->opt.max_size > avail / 4) {
		run->opt.max_size = avail / 4;
		run->capped = true;
	}
	// 4 KiB, then steps of sqrt(2) (of 2 in quick mode), rounded to whole lines.
	double f = run->lab.opt.quick ? 2.0 : M_SQRT2;
	for (double s = 4096; s <= (double)run->opt.max_size * 1.0001 && run->nr_sizes < MAX_SIZES;
	     s *= f)
		run->sizes[run->nr_sizes++] = (uint64_t)s / run->line * run->line;
	read_thp(run);
}

static void predict(const struct run *run)
{
	char a[32], b[32], c[32];

	lab_prediction("a random chase costs about 1 ns per load while it fits the L1d (%s), a few "
		       "ns in the L2 (%s), 10-20 ns in the L3 (%s), and 60-120 ns from memory on huge "
		       "pages (more in a VM, and more on base pages, which add a page walk): memory 50x "
		       "or more the L1d; the climb to memory comes between half and twice the last level",
		       cli_format_size(run->cache[1], a, sizeof(a)),
		       cli_format_size(run->cache[2], b, sizeof(b)),
		       cli_format_size(run->cache[3], c, sizeof(c)));
	lab_prediction("in address order the prefetcher fetches ahead: the steps nearly vanish; one "
		       "load per base page (%u bytes here) also misses the TLB, which huge pages avoid: "
		       "page-strided loads 1.1x or more faster on huge pages",
		       run->page);
	lab_prediction("a branch whose direction is random is missed half the time, and a miss costs "
		       "10-20 cycles (3-7 ns at 3 GHz; the classic table says 5 ns): a loop of one "
		       "xorshift step and such a branch runs 1.5x or more slower than with one that "
		       "alternates");
}

// ---- report -------------------------------------------------------------------------------------

static const struct point *find(const struct run *run, enum experiment e, uint64_t size,
				uint64_t stride)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->e == e && p->size_bytes == size && (!stride || p->stride_bytes == stride))
			return p;
	}
	return NULL;
}

// The measured latency at the largest size not above limit (NAN if none).
static double latency_at_most(const struct run *run, enum experiment e, uint64_t limit)
{
	double v = NAN;

	for (size_t i = 0; i < run->nr_sizes && run->sizes[i] <= limit; i++) {
		const struct point *p = find(run, e, run->sizes[i], 0);

		if (p)
			v = p->ns_per_load;
	}
	return v;
}

static const char *noisy(const struct point *p)
{
	return p ? stats_noisy_mark(&p->r.ns_per_op) : "";
}

// The latency table's full width, with its read GB/s column and "<- L3" marks.
#define LATENCY_TABLE_WIDTH 103

static void print_tables(const struct run *run)
{
	char sz[32];

	// Under LATENCY_TABLE_WIDTH columns: narrower columns, shorter marks, no read GB/s (the
	// bandwidth verdict and the plot give it).
	bool narrow = term_width() < LATENCY_TABLE_WIDTH;
	int w = narrow ? 8 : 10, sw = 10;	// sw: the size column, wide enough for "724.1 KiB"

	printf("\nns per load (median of %u samples; cycles where counted; %s) by working-set size\n",
	       run->lab.opt.nr_reps, STATS_NOISY_LEGEND);
	printf("  %*s %*s %*s %*s %*s %*s %*s", sw, "size", w, "random", w,
	       narrow ? "base pg" : "base pages", w - 2, "cycles", narrow ? w : 14,
	       narrow ? "in order" : "address order", w + 2, "TLB base", w + 2, "TLB huge");
	printf(narrow ? "\n" : " %10s\n", "read GB/s");
	for (size_t i = 0; i < run->nr_sizes; i++) {
		uint64_t s = run->sizes[i];
		const struct point *r = find(run, LATENCY, s, 0), *q = find(run, SEQUENTIAL, s, 0);
		const struct point *r4 = find(run, LATENCY_4K, s, 0);
		const struct point *t4 = find(run, TLB_4K, s, 0), *th = find(run, TLB_HUGE, s, 0);
		const struct point *bw = find(run, BANDWIDTH, s, 0);
		const char *mark = "";

		for (unsigned level = 1; level <= 3; level++)
			if (run->cache[level] && s <= run->cache[level] &&
			    (i + 1 == run->nr_sizes || run->sizes[i + 1] > run->cache[level]))
				mark = level == 1 ? "L1d" : level == 2 ? "L2" : "L3";
		printf("  %*s %*.2f%1s %*.2f%1s %*.1f %*.2f%1s %*.2f%1s %*.2f%1s",
		       sw, cli_format_size(s, sz, sizeof(sz)), w - 1, r ? r->ns_per_load : NAN, noisy(r),
		       w - 1, r4 ? r4->ns_per_load : NAN, noisy(r4), w - 2,
		       r ? r->cycles_per_load : NAN, (narrow ? w : 14) - 1,
		       q ? q->ns_per_load : NAN, noisy(q), w + 1, t4 ? t4->ns_per_load : NAN,
		       noisy(t4), w + 1, th ? th->ns_per_load : NAN, noisy(th));
		if (!narrow)
			printf(" %10.1f", bw ? bw->gb_per_s : NAN);
		printf("%s%s\n", *mark ? (narrow ? " <" : "  <- ") : "", mark);
	}
	printf("  (random and address order: chases on huge pages where the kernel gives them; base "
	       "pages: the random one on %u-byte pages; <%s: the largest size that fits the cache hwloc "
	       "reports; TLB columns: one load per page)\n", run->page, narrow ? "" : "-");
	if (narrow)
		term_note_left_out("read GB/s", LATENCY_TABLE_WIDTH);
}

// The random chase's instruction count per load: about 1 net of the loop at every size, which
// says the cycles column is one load's latency, not work that grows with the working set.
static void print_counted(const struct run *run)
{
	double lo = INFINITY, hi = -INFINITY, loop = NAN;

	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->e != LATENCY || isnan(p->instructions_per_load))
			continue;
		lo = fmin(lo, p->instructions_per_load);
		hi = fmax(hi, p->instructions_per_load);
		loop = p->r.harness_per_op[SLOT_INSTRUCTIONS];
	}
	if (lo > hi)
		return;	// not counted: the note at the end says so
	printf("counted (%s): the random chase retires %.2f-%.2f instructions per load net of its "
	       "loop step (%.1f instructions), at every size: the cycles are one load's wait, and "
	       "they keep the loop step, which runs beside it\n", counters_domain_name(&run->counters),
	       lo, hi, loop);
}

// Where the latency climbs to memory: the smallest size whose random-chase latency is at least
// half of that at the largest size. Beyond the last-level cache almost every load goes to memory.
// which: 0 by each point's median, 1 by its slow samples (p95: the earliest the climb can be),
// -1 by its fast ones (p05: the latest).
static uint64_t memory_step_size(const struct run *run, double memory_ns, int which)
{
	for (size_t i = 0; i < run->nr_sizes; i++) {
		const struct point *p = find(run, LATENCY, run->sizes[i], 0);

		if (!p)
			continue;
		double ns = which > 0 ? p->r.ns_per_op.p95 : which < 0 ? p->r.ns_per_op.p05
								      : p->ns_per_load;
		if (ns >= memory_ns / 2)
			return run->sizes[i];
	}
	return run->sizes[run->nr_sizes - 1];
}

// A point whose samples split into two groups (a last-level cache shared with other guests of the
// host gives it one round and takes it the next): p95 more than twice p5. No cache level is named
// from such a point.
static bool bimodal(const struct point *p)
{
	return p && p->r.ns_per_op.p95 > 2 * p->r.ns_per_op.p05;
}

// The random-chase point at the largest size up to limit, or NULL.
static const struct point *latency_point(const struct run *run, uint64_t limit)
{
	const struct point *found = NULL;

	for (size_t i = 0; i < run->nr_sizes && run->sizes[i] <= limit; i++)
		found = find(run, LATENCY, run->sizes[i], 0) ? find(run, LATENCY, run->sizes[i], 0)
							     : found;
	return found;
}

// "L2 4.65 ns" when the point may be named after its cache; otherwise what it is instead.
static const char *level_label(const char *level, const struct point *p, bool steps_agree,
			       char *buf, size_t len)
{
	char sz[32];

	if (!p)
		snprintf(buf, len, "%s: no point", level);
	else if (bimodal(p))
		snprintf(buf, len, "at %s (half the %s) bimodal, %.1f to %.1f ns: no level named",
			 cli_format_size(p->size_bytes, sz, sizeof(sz)), level, p->r.ns_per_op.p05,
			 p->r.ns_per_op.p95);
	else if (!steps_agree)
		snprintf(buf, len, "at %s (half the %s hwloc reports) %.2f ns, not named: the step "
			 "to memory came earlier", cli_format_size(p->size_bytes, sz, sizeof(sz)), level,
			 p->ns_per_load);
	else
		snprintf(buf, len, "%s %.2f ns", level, p->ns_per_load);
	return buf;
}

// "45.3 MiB" when the fast and the slow samples put the climb at one size, else "32 MiB-45.3 MiB".
static const char *step_range(uint64_t early, uint64_t late, char *buf, size_t len)
{
	char a[32], b[32];

	if (early == late)
		snprintf(buf, len, "%s", cli_format_size(early, a, sizeof(a)));
	else
		snprintf(buf, len, "%s-%s", cli_format_size(early, a, sizeof(a)),
			 cli_format_size(late, b, sizeof(b)));
	return buf;
}

static void verdicts(struct run *run)
{
	uint64_t largest = run->sizes[run->nr_sizes - 1], llc = llc_bytes(run);
	const struct point *mem = find(run, LATENCY, largest, 0);
	const struct point *seq = find(run, SEQUENTIAL, largest, 0);
	double l1 = latency_at_most(run, LATENCY, run->cache[1] ? run->cache[1] / 2 : 16384);
	char a[32], b[32], c[32];

	if (!mem)
		die("internal error: no latency point at the largest size");
	lab_headline(&run->lab, "l1_load_latency", l1, "ns", NAN);
	lab_headline(&run->lab, "memory_load_latency", mem->ns_per_load, "ns", NAN);
	const struct judged_pair *ml = &run->memory_vs_l1;
	// The largest size is memory only past the last-level cache: a quick run's sweep stops
	// at 16 MiB, inside many L3s, and would judge an L3 latency as memory's.
	bool reaches_memory = !llc || largest >= 2 * llc;
	if (ml->measured)
		lab_judge_ratio(&run->lab, "memory_50x_slower_than_l1",
				"a load from memory is 50x or more slower than one from the L1 cache",
				reaches_memory ? compare_at_least(&ml->ratio, 50) : COMPARE_INCONCLUSIVE,
				&ml->ratio, "%s against %s, in rounds of their own: %.1f ns and %.2f ns per "
				"load%s", cli_format_size(ml->size[0], a, sizeof(a)),
				cli_format_size(ml->size[1], b, sizeof(b)), ml->ns[0], ml->ns[1],
				reaches_memory ? "" : "; not judged: the sweep stops inside twice the "
						      "last-level cache (a quick run), so its largest "
						      "point is not memory");

	// Memory's latency for the step check: the median of the three largest sizes, so that one
	// noisy point at the end cannot move the step.
	double tail[3];
	size_t nt = 0;
	for (size_t i = run->nr_sizes; i > 0 && nt < 3; i--) {
		const struct point *p = find(run, LATENCY, run->sizes[i - 1], 0);

		if (p)
			tail[nt++] = p->ns_per_load;
	}
	struct stats tail_stats;
	double memory_ns = nt && stats_compute(&tail_stats, tail, nt) == 0 ? tail_stats.median
									   : mem->ns_per_load;
	uint64_t step = memory_step_size(run, memory_ns, 0);
	// The same from each point's fast and slow samples (p05, p95): the sizes between which the
	// climb lies, sample to sample. A bimodal point (a cache given and taken) widens it.
	uint64_t step_early = memory_step_size(run, memory_ns, 1);
	uint64_t step_late = memory_step_size(run, memory_ns, -1);
	// A level is named after its cache only where the step to memory came after it.
	bool l2_agrees = run->cache[2] && step > run->cache[2] / 2;
	bool l3_agrees = run->cache[3] && step > run->cache[3] / 2;
	char n1[160], n2[160], n3[160];
	lab_shown(&run->lab,
		    "latency by level (random chase, at half of each cache hwloc reports): %s, "
		    "%s, %s; at %s (memory) %.1f ns%s",
		    level_label("L1d", latency_point(run, run->cache[1] ? run->cache[1] / 2 : 16384),
				true, n1, sizeof(n1)),
		    level_label("L2", run->cache[2] ? latency_point(run, run->cache[2] / 2) : NULL,
				l2_agrees, n2, sizeof(n2)),
		    level_label("L3", run->cache[3] ? latency_point(run, run->cache[3] / 2) : NULL,
				l3_agrees, n3, sizeof(n3)),
		    cli_format_size(largest, a, sizeof(a)), mem->ns_per_load,
		    isnan(mem->huge_bytes) || mem->huge_bytes >= 0.5 * (double)largest ? ""
		    : " (on base pages: the kernel gave no huge pages, so this includes page walks)");
	char bimodal_sizes[256] = "";
	size_t used = 0;
	for (size_t i = 0; i < run->nr_sizes; i++)
		if (bimodal(find(run, LATENCY, run->sizes[i], 0)) && used < sizeof(bimodal_sizes))
			used += (size_t)snprintf(bimodal_sizes + used, sizeof(bimodal_sizes) - used,
						 "%s%s", used ? ", " : "",
						 cli_format_size(run->sizes[i], a, sizeof(a)));
	if (used)
		lab_note("bimodal points (p95 over twice p5: a cache shared with other programs or "
			 "guests gave and took its share from sample to sample): %s; no level is named "
			 "from them", bimodal_sizes);
	lab_headline(&run->lab, "memory_latency_from_size", (double)step, "bytes",
		     llc ? (double)llc : NAN);
	if (!llc) {
		lab_note("hwloc reports no cache sizes here, so the steps cannot be set beside them");
	} else if (largest < 2 * llc) {
		lab_note("the sweep stops at %s, below twice the last-level cache (%s): the last step "
			 "may not show (raise --max-size)", cli_format_size(largest, a, sizeof(a)),
			 cli_format_size(llc, b, sizeof(b)));
	} else {
		// Judged on the range the samples allow, not on one point: holds when the climb lies
		// between half and twice the last-level cache whichever samples are taken, fails when it
		// lies wholly outside a quarter to twice of it (the sweep goes on to 4x, so a late climb
		// shows). Between a quarter and half it is
		// inconclusive: in a VM the share of the host's cache a guest gets moves with the
		// other guests' load (this VM's climb came at 8, 16 and 22.6 MiB of a 32 MiB cache in
		// three runs), and a band cannot flip between holds and fails.
		enum compare_status st =
			step_early >= llc / 2 && step_late <= 2 * llc ? COMPARE_HOLDS :
			step_late < llc / 4 || step_early > 2 * llc ? COMPARE_FAILS : COMPARE_INCONCLUSIVE;
		char e_s[64];

		lab_judge(&run->lab, "memory_latency_past_llc",
			  "latency climbs to memory's between half and twice the last-level cache", st,
			  (double)step, (double)step_early, (double)step_late, "bytes",
			  "the climb comes at %s (%s from the fast and slow samples), hwloc's "
			  "last-level cache is %s%s", cli_format_size(step, a, sizeof(a)),
			  step_range(step_early, step_late, e_s, sizeof(e_s)),
			  cli_format_size(llc, b, sizeof(b)),
			  st == COMPARE_FAILS ? ": the reported and the measured hierarchy disagree; a VM "
						"reports the host's cache, of which a guest may get only "
						"a share, and L3 slices on other dies are farther" :
			  st == COMPARE_INCONCLUSIVE ? ": holds from half of it, fails below a quarter; "
						       "a VM gets a share of the host's cache that "
						       "changes with the other guests' load" : "");
	}
	if (seq) {
		lab_headline(&run->lab, "random_over_address_order", mem->ns_per_load / seq->ns_per_load,
			     "x", NAN);
		lab_shown(&run->lab,
			    "at %s a chase in address order costs %.2f ns per load against %.1f ns "
			    "random (%.0fx): the prefetcher sees the pattern and fetches ahead, so a "
			    "strided benchmark measures the prefetcher, not the latency",
			    cli_format_size(largest, a, sizeof(a)), seq->ns_per_load, mem->ns_per_load,
			    mem->ns_per_load / seq->ns_per_load);
	}

	const struct judged_pair *t = &run->tlb_4k_vs_huge;
	if (t->measured && t->huge_bytes[1] > 0) {
		lab_judge_ratio(&run->lab, "huge_pages_cut_tlb_cost",
				"huge pages make page-strided loads 1.1x or more faster",
				compare_at_least(&t->ratio, 1.1), &t->ratio,
				"one load per page over %s (the largest size whose touched lines fit "
				"the L2 twice), in rounds of their own: %.1f ns with %u-byte pages, %.1f ns "
				"with huge pages (%s of the buffer in huge pages): what TLB misses and "
				"page walks add", cli_format_size(t->size[0], a, sizeof(a)),
				t->ns[0], run->page, t->ns[1],
				cli_format_size((uint64_t)t->huge_bytes[1], c, sizeof(c)));
	} else if (t->measured || !run->thp_available) {
		lab_note("huge pages were not available (THP: %s, huge pages of %s), so the TLB "
			 "comparison has one side", run->thp,
			 cli_format_size(huge_page_bytes, c, sizeof(c)));
	}

	const struct branch_cost *bc = &run->branch;
	if (bc->measured) {
		lab_headline(&run->lab, "branch_mispredict", bc->mispredict.median, "ns", NAN);
		lab_judge_ratio(&run->lab, "unpredictable_branch_is_slower",
				"a branch the predictor cannot guess makes a loop 1.5x or more slower "
				"than one it can", compare_at_least(&bc->ratio, 1.5), &bc->ratio,
				"one xorshift step and one branch per iteration, in rounds of their own: "
				"%.2f ns going a random way, %.2f ns alternating; a mispredict costs "
				"%.1f ns (%.1f-%.1f over the rounds: twice the difference, as half the "
				"random branches are missed)", bc->ns[BRANCH_RANDOM].median,
				bc->ns[BRANCH_ALTERNATING].median, bc->mispredict.median,
				bc->mispredict.p05, bc->mispredict.p95);
	}

	const struct point *bw_small = find(run, BANDWIDTH, run->sizes[0], 0);
	const struct point *bw_large = find(run, BANDWIDTH, largest, 0);
	if (bw_small && bw_large)
		lab_shown(&run->lab,
			    "sequential reads: %.1f GB/s from the L1d (%s), %.1f GB/s from memory (%s)",
			    bw_small->gb_per_s, cli_format_size(bw_small->size_bytes, a, sizeof(a)),
			    bw_large->gb_per_s, cli_format_size(largest, b, sizeof(b)));
	if (run->capped)
		lab_note("the sweep was capped at %s, a quarter of the memory this process may use",
			 cli_format_size(run->opt.max_size, a, sizeof(a)));
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "size_bytes", "stride_bytes", "nr_samples", "iters_per_sample",
		"ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95", "ns_per_load",
		"cycles_per_load", "gb_per_s", "huge_page_bytes", "instructions_per_load",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		report_csv_str(&csv, experiment_names[p->e]);
		report_csv_str(&csv, kind_names[p->e]);
		report_csv_u64(&csv, p->size_bytes);
		report_csv_u64(&csv, p->stride_bytes);
		report_csv_u64(&csv, p->r.ns_per_op.nr_samples);
		report_csv_u64(&csv, p->r.iters_per_sample);
		report_csv_double(&csv, p->r.ns_per_op.median);
		report_csv_double(&csv, p->r.ns_per_op.p05);
		report_csv_double(&csv, p->r.ns_per_op.p95);
		report_csv_double(&csv, p->ns_per_load);
		report_csv_double(&csv, p->cycles_per_load);
		report_csv_double(&csv, p->gb_per_s);
		report_csv_double(&csv, p->huge_bytes);
		report_csv_double(&csv, p->instructions_per_load);
		lab_csv_end_row(&csv);
	}
	// The branch comparison: ns per iteration of each loop, and per mispredicted branch.
	const struct branch_cost *bc = &run->branch;
	static const char *const branch_kinds[] = { "alternating", "random", "mispredict" };
	for (int k = 0; bc->measured && k < 3; k++) {
		const struct stats *st = k < NR_BRANCH_KINDS ? &bc->ns[k] : &bc->mispredict;

		report_csv_str(&csv, "branch");
		report_csv_str(&csv, branch_kinds[k]);
		report_csv_u64(&csv, 0);
		report_csv_u64(&csv, 0);
		report_csv_u64(&csv, st->nr_samples);
		report_csv_u64(&csv, bc->iters[k < NR_BRANCH_KINDS ? k : BRANCH_RANDOM]);
		report_csv_double(&csv, st->median);
		report_csv_double(&csv, st->p05);
		report_csv_double(&csv, st->p95);
		for (int c = 0; c < 5; c++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	// The cache sizes hwloc reports, for the plot's vertical lines.
	for (unsigned level = 1; level <= 3; level++) {
		static const char *const names[] = { "", "L1d", "L2", "L3" };

		if (!run->cache[level])
			continue;
		report_csv_str(&csv, "cache");
		report_csv_str(&csv, names[level]);
		report_csv_u64(&csv, run->cache[level]);
		for (int k = 0; k < 11; k++)
			report_csv_double(&csv, NAN);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "line_bytes_used", "%u", run->line);
	report_kv(m, "page_bytes", "%u", run->page);
	report_kv(m, "thp_enabled", "%s", run->thp);
	report_kv(m, "max_size_bytes", "%llu%s", (unsigned long long)run->opt.max_size,
		  run->capped ? " (capped at a quarter of memory_bound)" : "");
	report_kv(m, "chase", "random cyclic permutation, one pointer per line (seeded by the size)");
}

// ---- main ---------------------------------------------------------------------------------------

enum { OPT_MAX_SIZE = 256 };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	if (val == OPT_MAX_SIZE)
		return cli_arg_size("--max-size", arg, 64u << 10, 16ull << 30, &o->max_size);
	return -EINVAL;
}

static void measure(struct run *run)
{
	printf("measuring: latency");
	for (size_t i = 0; i < run->nr_sizes; i++) {
		fflush(stdout);
		measure_chase(run, LATENCY, run->sizes[i]);
		if (run->sizes[i] >= 64 * (uint64_t)run->page)	// below, any TLB holds every page
			measure_chase(run, LATENCY_4K, run->sizes[i]);
		measure_chase(run, SEQUENTIAL, run->sizes[i]);
		if (i % 4 == 3)
			printf(".");
	}
	printf(" TLB");
	fflush(stdout);
	for (size_t i = 0; i < run->nr_sizes; i++) {
		if (run->sizes[i] < 64 * (uint64_t)run->page)
			continue;	// fewer pages than any TLB holds: nothing to see
		measure_chase(run, TLB_4K, run->sizes[i]);
		if (run->thp_available)
			measure_chase(run, TLB_HUGE, run->sizes[i]);
	}
	printf(" bandwidth");
	fflush(stdout);
	for (size_t i = 0; i < run->nr_sizes; i++)
		measure_scan(run, BANDWIDTH, run->sizes[i], 8);
	// What the verdicts compare, on its own: the sweep above measures one point after another,
	// counted in samples of their own after the timed ones (bench.h); these pairs run in
	// interleaved rounds.
	printf(" verdict pairs");
	fflush(stdout);
	uint64_t largest = run->sizes[run->nr_sizes - 1], l1 = 0;
	for (size_t i = 0; i < run->nr_sizes; i++)
		if (run->sizes[i] <= (run->cache[1] ? run->cache[1] / 2 : 16384))
			l1 = run->sizes[i];
	if (l1)
		compare_chases(run, LATENCY, largest, LATENCY, l1, &run->memory_vs_l1);
	// The TLB pair touches one line per page of each buffer: size / page x line bytes. Both
	// buffers' lines must fit in the L2, or the comparison measures cache misses (of a last
	// level shared with the rest of the host, in a VM) instead of page walks. With 64-byte
	// lines, 4 KiB pages and a 1 MiB L2 that is 8 MiB each: 2048 pages, more than an L1 dTLB
	// holds and about what a second-level TLB holds, so 4 KiB pages already walk some of the time.
	uint64_t l2 = run->cache[2] ? run->cache[2] : 256u << 10, tlb_size = 0;
	for (size_t i = 0; i < run->nr_sizes; i++)
		if (run->sizes[i] / run->page * run->line * 2 <= l2)
			tlb_size = run->sizes[i];
	if (run->thp_available && tlb_size >= 64 * (uint64_t)run->page)
		compare_chases(run, TLB_4K, tlb_size, TLB_HUGE, tlb_size, &run->tlb_4k_vs_huge);
	printf(" branches");
	fflush(stdout);
	measure_branches(run);
	printf(" mountain");
	fflush(stdout);
	for (uint64_t size = 16384; size <= run->opt.max_size; size *= run->lab.opt.quick ? 16 : 4)
		for (unsigned k = 0; k < NR_STRIDES; k++)
			measure_scan(run, MOUNTAIN, size, 8u << k);
	printf(" done\n");
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "10-memory-hierarchy",
		.summary = "Measures load latency by working-set size with a random pointer chase, the "
			   "prefetcher, the TLB with base and huge pages, read bandwidth, and a memory "
			   "mountain; compares the steps with hwloc's cache sizes, and times a "
			   "mispredicted branch.",
		.options_help = "  --max-size SIZE    largest working set (default 4x the last-level "
				"cache, at least 64M; quick 16M)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};

	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 10: memory hierarchy", argc, argv);
	lab_pin_here(&run.lab);
	counters_init(&run.counters, metrics, sizeof(metrics) / sizeof(metrics[0]));
	lab_print_counters(&run.counters);

	// prepare -> predict -> measure
	plan(&run);
	predict(&run);
	measure(&run);

	// report
	print_tables(&run);
	print_counted(&run);
	printf("\n");
	verdicts(&run);
	lab_note_missing_counters(&run.counters);
	write_csv(&run);
	lab_write_manifest(&run.lab, &run.counters, manifest_extra, &run);

	// release
	counters_release(&run.counters);
	lab_finish(&run.lab);
	return 0;
}
