// SPDX-License-Identifier: MIT
// Lab 1: what an allocation costs, by size and by kind (stack, malloc, calloc), where glibc's malloc
// switches to mmap, and whether data is faster to read from the stack or from the heap.
// Usage: stack_vs_heap [--quick] [--reps N] [--out DIR] [--min-size SIZE] [--max-size SIZE]
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "counters.h"
#include "die.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "sanitizer.h"
#include "term.h"

// glibc's documented default M_MMAP_THRESHOLD (mallopt(3)): a request of at least this many bytes
// that the heap cannot serve from free space gets its own mmap, until a free() moves the threshold.
#define GLIBC_DEFAULT_MMAP_THRESHOLD ((size_t)128 * 1024)
#define MAX_SIZES 40
#define MAX_POINTS 512

enum experiment { ALLOC, ACCESS };

enum kind {
	// allocation experiment: one op = one allocation (and its free)
	STACK_TOUCH,		// a stack array of `size` bytes, every cache line written
	MALLOC_FREE,		// malloc(size) + free: the allocator alone
	MALLOC_TOUCH_FREE,	// malloc(size), every cache line written, free: same work as the stack
	CALLOC_FREE,		// calloc(1, size) + free: the allocator plus zeroing (or fresh pages)
	// access experiment: one op = one 8-byte element summed
	STACK_ARRAY,
	HEAP_ARRAY,
	LIST_IN_ORDER,		// heap list, nodes linked in the order malloc returned them
	LIST_SCATTERED,		// the same nodes linked in a random order
	NR_KINDS,
	// Not a row of its own: the harness, alloc_kernel's loop, dispatch and call around an op
	// that does nothing, subtracted to leave the allocations alone.
	ALLOC_HARNESS = NR_KINDS
};

static const char *const kind_names[NR_KINDS] = {
	"stack_touch", "malloc_free", "malloc_touch_free", "calloc_free",
	"stack_array", "heap_array", "list_in_order", "list_scattered",
};
// The same, as the text names them.
static const char *const kind_labels[NR_KINDS] = {
	"stack+touch", "malloc+free", "malloc+touch+free", "calloc+free",
	"stack array", "heap array", "list in order", "scattered list",
};

// How glibc decides between its heap and mmap: the default, adaptive threshold, or one fixed with
// mallopt(M_MMAP_THRESHOLD), which also stops it from moving.
enum malloc_mode { MODE_NONE, MODE_DYNAMIC, MODE_FIXED };
static const char *const mode_names[] = { "", "dynamic_threshold", "fixed_threshold" };

// Counted in samples of their own after the timed ones (bench.h), in this order (see counters.h
// for the candidates).
static const enum counters_metric metrics[] = {
	COUNTERS_PAGE_FAULTS, COUNTERS_INSTRUCTIONS, COUNTERS_CYCLES,
};
enum { SLOT_FAULTS, SLOT_INSTRUCTIONS, SLOT_CYCLES };

struct point {
	enum experiment experiment;
	enum kind kind;
	enum malloc_mode mode;
	uint64_t size_bytes;
	bool measured;			// false: skipped (e.g. larger than the stack allows)
	struct bench_result r;		// per op
	int first_request_mmapped;	// 1/0 from mallinfo2, -1 unknown (not glibc, or not malloc)
	int steady_request_mmapped;
	double heap_free_top_bytes;	// the heap's free top before the first request; NAN unknown
};

struct options {
	uint64_t min_size, max_size;
};

// What alloc_kernel does on each iteration: one op of `kind` on `size` bytes, writing every
// `stride`-th byte.
struct alloc_arg {
	enum kind kind;
	size_t size, stride;
};


struct run {
	struct lab lab;
	struct options opt;
	struct counters counters;
	struct bench_config bench;
	struct alloc_arg harness_arg;	// alloc_kernel doing nothing: the allocations' harness
	unsigned line_bytes;
	uint64_t stack_limit_bytes;	// the largest stack array we dare (half of RLIMIT_STACK)
	double call_overhead_ns;
	uint64_t sizes[MAX_SIZES];
	size_t nr_sizes;
	uint64_t access_sizes[4];
	size_t nr_access_sizes;
	struct point points[MAX_POINTS];
	size_t nr_points;
	// The headline comparison at CLAIM_SIZE, measured interleaved: see measure_stack_claim().
	struct compare_samples claim;
	// The access experiment's rounds, one set per working set (access_sizes[]).
	struct compare_samples access[4];
	size_t nr_access_measured;
};

// The size the tutorials' "10x" is about: a small block.
#define CLAIM_SIZE 64
// The variants of the headline comparison, in the order compare_kernels() gets them.
enum { CLAIM_HARNESS, CLAIM_STACK_TOUCH, CLAIM_MALLOC_FREE, CLAIM_MALLOC_TOUCH_FREE,
       NR_CLAIM_VARIANTS };

// ---- the measured operations ----------------------------------------------------------------
// Each is noinline so that one op is one real call in every kind (a fair comparison), and each
// passes its memory to bench_escape() so the compiler can neither drop the allocation nor the
// writes to memory it can prove is never read.

static void touch(char *p, size_t size, size_t stride)
{
	for (size_t i = 0; i < size; i += stride)
		p[i] = (char)i;
}

static __attribute__((noinline)) void stack_touch_op(size_t size, size_t stride)
{
	char buf[size];		// a VLA: moving the stack pointer is the whole allocation

	touch(buf, size, stride);
	bench_escape(buf);
}

static __attribute__((noinline)) void malloc_free_op(size_t size)
{
	void *p = malloc(size);

	bench_escape(p);
	free(p);
}

static __attribute__((noinline)) void malloc_touch_free_op(size_t size, size_t stride)
{
	char *p = malloc(size);

	if (p)
		touch(p, size, stride);
	bench_escape(p);
	free(p);
}

static __attribute__((noinline)) void empty_alloc_op(size_t size, size_t stride)
{
	bench_escape(&size);	// takes the same arguments, does nothing the compiler can drop
	bench_escape(&stride);
}

static __attribute__((noinline)) void calloc_free_op(size_t size)
{
	void *p = calloc(1, size);

	bench_escape(p);
	free(p);
}

static void alloc_kernel(void *arg, uint64_t nr_iters)
{
	const struct alloc_arg *a = arg;

	for (uint64_t i = 0; i < nr_iters; i++) {
		switch (a->kind) {
		case STACK_TOUCH:
			stack_touch_op(a->size, a->stride);
			break;
		case MALLOC_FREE:
			malloc_free_op(a->size);
			break;
		case MALLOC_TOUCH_FREE:
			malloc_touch_free_op(a->size, a->stride);
			break;
		case ALLOC_HARNESS:
			empty_alloc_op(a->size, a->stride);
			break;
		default:
			calloc_free_op(a->size);
			break;
		}
	}
}

struct node {
	struct node *next;
	uint64_t value;
};

struct access_arg {
	const uint64_t *array;
	const struct node *list;
	size_t nr_elements;
};

static volatile uint64_t sum_sink;	// where every sum goes, so no sum can be optimised away

// The same summing code for the stack array and the heap array: only where the bytes live differs.
// Its form must not depend on the compiler (bench.h): four independent scalar sums, so that the
// adds do not wait on one register, and no vectorisation.
static __attribute__((noinline)) BENCH_NO_VECTORIZE uint64_t sum_array(const uint64_t *a,
								    size_t n)
{
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;

	BENCH_NO_VECTORIZE_LOOP
	for (; i + 4 <= n; i += 4) {
		s0 += a[i];
		s1 += a[i + 1];
		s2 += a[i + 2];
		s3 += a[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i];
	return s0 + s1 + s2 + s3;
}

static __attribute__((noinline)) uint64_t sum_list(const struct node *p)
{
	uint64_t sum = 0;

	for (; p; p = p->next)
		sum += p->value;
	return sum;
}

static void array_kernel(void *arg, uint64_t nr_iters)
{
	const struct access_arg *a = arg;

	for (uint64_t i = 0; i < nr_iters; i++)
		sum_sink = sum_array(a->array, a->nr_elements);
}

static void list_kernel(void *arg, uint64_t nr_iters)
{
	const struct access_arg *a = arg;

	for (uint64_t i = 0; i < nr_iters; i++)
		sum_sink = sum_list(a->list);
}

// ---- measuring ---------------------------------------------------------------------------------

// Whether malloc(size) is served by mmap right now, from glibc's own count of mmapped chunks, and
// how many bytes the heap's free top chunk held just before (glibc serves a request from free heap
// space before it looks at the threshold). The probe frees what it took, which in dynamic mode
// itself moves the threshold: callers probe before and after the timing on purpose.
static int probe_mmapped(size_t size, double *free_top_bytes)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 before = mallinfo2();
	void *p = malloc(size);

	if (!p)
		die("malloc(%zu) failed", size);
	struct mallinfo2 after = mallinfo2();
	bench_escape(p);
	free(p);
	if (free_top_bytes)
		*free_top_bytes = (double)before.keepcost;
	return after.hblks > before.hblks;
#else
	(void)size;
	if (free_top_bytes)
		*free_top_bytes = NAN;
	return -1;
#endif
}

static struct point *new_point(struct run *run, enum experiment e, enum kind k,
			       enum malloc_mode mode, uint64_t size)
{
	if (run->nr_points == MAX_POINTS)
		die("too many points (raise MAX_POINTS)");
	struct point *p = &run->points[run->nr_points++];

	*p = (struct point){ .experiment = e, .kind = k, .mode = mode, .size_bytes = size,
			     .first_request_mmapped = -1, .steady_request_mmapped = -1,
			     .heap_free_top_bytes = NAN };
	return p;
}

static void measure(struct run *run, struct point *p, clock_kernel_fn kernel, void *arg)
{
	int err = bench_run(&run->bench, kernel, arg, &p->r);

	if (err == -EINVAL || err == -ENOMEM)
		die_errno(err, "measuring %s at %llu B", kind_names[p->kind],
			  (unsigned long long)p->size_bytes);
	p->measured = true;	// a counter error leaves NAN counts; the timing stands
}

static void measure_stack_sweep(struct run *run)
{
	for (size_t i = 0; i < run->nr_sizes; i++) {
		uint64_t size = run->sizes[i];
		struct point *p = new_point(run, ALLOC, STACK_TOUCH, MODE_NONE, size);
		struct alloc_arg arg = { STACK_TOUCH, size, run->line_bytes };

		if (size <= run->stack_limit_bytes)
			measure(run, p, alloc_kernel, &arg);
	}
}

static void measure_malloc_sweep(struct run *run, enum malloc_mode mode)
{
	static const enum kind kinds[] = { MALLOC_FREE, MALLOC_TOUCH_FREE, CALLOC_FREE };

	for (size_t i = 0; i < run->nr_sizes; i++) {
		uint64_t size = run->sizes[i];
		// What a fresh request of this size gets, then (after the timing, and after the
		// frees the timing did) what the timed requests got.
		double free_top;
		int first = probe_mmapped(size, &free_top);
		struct point *ps[3];

		for (size_t k = 0; k < 3; k++) {
			struct alloc_arg arg = { kinds[k], size, run->line_bytes };

			ps[k] = new_point(run, ALLOC, kinds[k], mode, size);
			measure(run, ps[k], alloc_kernel, &arg);
		}
		int steady = probe_mmapped(size, NULL);
		for (size_t k = 0; k < 3; k++) {
			ps[k]->first_request_mmapped = first;
			ps[k]->steady_request_mmapped = steady;
			ps[k]->heap_free_top_bytes = free_top;
		}
	}
}

// The comparison the tutorials' claim is about, at CLAIM_SIZE bytes: stack+touch, malloc+free and
// malloc+touch+free, with the harness alone (loop step and call) measured in the same rounds, so
// that the ratios can be given with and without it. Interleaved: drift hits every variant alike.
static void measure_stack_claim(struct run *run)
{
	struct alloc_arg stack = { STACK_TOUCH, CLAIM_SIZE, run->line_bytes };
	struct alloc_arg heap = { MALLOC_FREE, CLAIM_SIZE, run->line_bytes };
	struct alloc_arg heap_touch = { MALLOC_TOUCH_FREE, CLAIM_SIZE, run->line_bytes };
	struct compare_kernel variants[NR_CLAIM_VARIANTS] = {
		[CLAIM_HARNESS] = { "harness", alloc_kernel, &run->harness_arg, 0 },
		[CLAIM_STACK_TOUCH] = { kind_labels[STACK_TOUCH], alloc_kernel, &stack, 0 },
		[CLAIM_MALLOC_FREE] = { kind_labels[MALLOC_FREE], alloc_kernel, &heap, 0 },
		[CLAIM_MALLOC_TOUCH_FREE] = { kind_labels[MALLOC_TOUCH_FREE], alloc_kernel,
					      &heap_touch, 0 },
	};
	struct compare_plan plan = lab_plan(&run->lab);
	int err = compare_kernels(variants, NR_CLAIM_VARIANTS, &plan, run->lab.opt.min_sample_ns, 0,
				  &run->claim);

	if (err)
		die_errno(err, "measuring the stack and malloc at %d B", CLAIM_SIZE);
}

// Fixes glibc's mmap threshold at its default, so that free() can no longer move it, and gives the
// heap's free top back to the kernel. Without the trim the fixed sweep would show no mmap at all:
// glibc consults the threshold only when its heap cannot serve a request, and the dynamic sweep
// left megabytes of free heap behind.
static void fix_mmap_threshold(void)
{
	// Only another malloc refuses: a sanitizer's, or one preloaded by the learner.
	if (mallopt(M_MMAP_THRESHOLD, (int)GLIBC_DEFAULT_MMAP_THRESHOLD) != 1)
		lab_note("this malloc refuses mallopt(M_MMAP_THRESHOLD)%s%s: the fixed-threshold sweep "
			 "measures its default behaviour again", sanitizer_name() ? ": built with " : "",
			 sanitizer_name() ? sanitizer_name() : "");
	(void)malloc_trim(0);	// returns whether memory was released: either way is fine
}

// Per-pass figures -> per-element figures.
static void per_element(struct bench_result *r, size_t nr_elements)
{
	double f = 1.0 / (double)nr_elements;

	r->ns_per_op.min *= f;
	r->ns_per_op.p05 *= f;
	r->ns_per_op.median *= f;
	r->ns_per_op.p95 *= f;
	r->ns_per_op.max *= f;
	r->ns_per_op.mean *= f;
	r->ns_per_op.stddev *= f;
	for (size_t i = 0; i < COUNTERS_MAX; i++)
		r->counter_per_op[i] *= f;
	r->faults_per_op_rusage *= f;
	r->voluntary_switches_per_op_rusage *= f;
	r->involuntary_switches_per_op_rusage *= f;
}

static void fill(uint64_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = i;
}

// Links nodes[] in array order, or in a random (fixed-seed, so repeatable) order.
static struct node *link_nodes(struct node **nodes, size_t n, bool scattered)
{
	uint64_t seed = 0x9e3779b97f4a7c15u;

	if (scattered) {
		for (size_t i = n - 1; i > 0; i--) {	// Fisher-Yates
			size_t j = (size_t)(bench_rand(&seed) % (i + 1));
			struct node *t = nodes[i];

			nodes[i] = nodes[j];
			nodes[j] = t;
		}
	}
	for (size_t i = 0; i < n; i++)
		nodes[i]->next = i + 1 < n ? nodes[i + 1] : NULL;
	return nodes[0];
}

// One working set of the access experiment: the four ways to hold it, each summed in turn in every
// round (compare.h), so that drift between them cannot pass for a difference.
enum { ACC_STACK, ACC_HEAP, ACC_LIST_IN_ORDER, ACC_LIST_SCATTERED, NR_ACCESS_VARIANTS };

// A point's timing from the rounds, per element.
static void point_from_rounds(struct point *p, const struct compare_samples *s, size_t variant,
			      const struct compare_kernel *k, size_t nr_elements)
{
	if (compare_variant_stats(s, variant, &p->r.ns_per_op) != 0)
		die("no samples for %s", kind_names[p->kind]);
	p->r.iters_per_sample = k->iters;
	for (size_t i = 0; i < COUNTERS_MAX; i++)
		p->r.counter_per_op[i] = NAN;	// timed with counters stopped (disabled)
	p->r.faults_per_op_rusage = p->r.voluntary_switches_per_op_rusage = NAN;
	p->r.involuntary_switches_per_op_rusage = NAN;
	per_element(&p->r, nr_elements);
	p->measured = true;
}

// The stack array lives in this function's frame while the rounds below it sum it.
static __attribute__((noinline)) void measure_working_set(struct run *run, uint64_t bytes,
							   const uint64_t *heap,
							   struct node **nodes[2])
{
	size_t n = bytes / sizeof(uint64_t);
	bool on_stack = bytes <= run->stack_limit_bytes;
	uint64_t a[on_stack ? n : 1];
	struct access_arg stack_arg = { .array = a, .nr_elements = n };
	struct access_arg heap_arg = { .array = heap, .nr_elements = n };
	struct access_arg in_order = { .list = link_nodes(nodes[0], n, false), .nr_elements = n };
	struct access_arg scattered = { .list = link_nodes(nodes[1], n, true), .nr_elements = n };
	if (on_stack)
		fill(a, n);
	struct compare_kernel v[NR_ACCESS_VARIANTS] = {
		[ACC_STACK] = { "stack array", array_kernel, &stack_arg, 0 },
		[ACC_HEAP] = { "heap array", array_kernel, &heap_arg, 0 },
		[ACC_LIST_IN_ORDER] = { "list in order", list_kernel, &in_order, 0 },
		[ACC_LIST_SCATTERED] = { "scattered list", list_kernel, &scattered, 0 },
	};
	// Without room on the stack, the heap array stands in for it, and the row says "-".
	if (!on_stack)
		v[ACC_STACK] = v[ACC_HEAP];
	struct compare_samples *s = &run->access[run->nr_access_measured++];
	struct compare_plan plan = lab_plan(&run->lab);
	int err = compare_kernels(v, NR_ACCESS_VARIANTS, &plan, run->lab.opt.min_sample_ns, 0, s);
	if (err)
		die_errno(err, "measuring a %llu-byte working set", (unsigned long long)bytes);
	static const enum kind kinds[] = { STACK_ARRAY, HEAP_ARRAY, LIST_IN_ORDER, LIST_SCATTERED };
	for (size_t k = 0; k < NR_ACCESS_VARIANTS; k++) {
		struct point *p = new_point(run, ACCESS, kinds[k], MODE_NONE, bytes);

		if (k != ACC_STACK || on_stack)
			point_from_rounds(p, s, k, &v[k], n);
	}
	bench_escape(a);
}

static void measure_access(struct run *run)
{
	for (size_t s = 0; s < run->nr_access_sizes; s++) {
		uint64_t bytes = run->access_sizes[s];
		size_t n = bytes / sizeof(uint64_t);
		uint64_t *heap = malloc(bytes);
		// Two lists, each of nodes malloc'd one by one (what a program building a list
		// gets): one linked in allocation order, one in a random order. Both exist at once
		// so that the rounds can alternate between them.
		struct node **nodes[2] = { calloc(n, sizeof(struct node *)),
					   calloc(n, sizeof(struct node *)) };

		if (!heap || !nodes[0] || !nodes[1])
			die("out of memory for a %llu-byte working set", (unsigned long long)bytes);
		fill(heap, n);
		for (size_t l = 0; l < 2; l++)
			for (size_t i = 0; i < n; i++) {
				nodes[l][i] = malloc(sizeof(struct node));
				if (!nodes[l][i])
					die("out of memory building a %zu-node list", n);
				nodes[l][i]->value = i;
			}
		measure_working_set(run, bytes, heap, nodes);
		for (size_t l = 0; l < 2; l++) {
			for (size_t i = 0; i < n; i++)
				free(nodes[l][i]);
			free(nodes[l]);
		}
		free(heap);
	}
}

// ---- reporting ---------------------------------------------------------------------------------

static const struct point *find(const struct run *run, enum kind k, enum malloc_mode mode,
				uint64_t size)
{
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];

		if (p->kind == k && p->mode == mode && p->size_bytes == size && p->measured)
			return p;
	}
	return NULL;
}

static double median_ns(const struct run *run, enum kind k, enum malloc_mode mode, uint64_t size)
{
	const struct point *p = find(run, k, mode, size);

	return p ? p->r.ns_per_op.median : NAN;
}

// A time in ns in 8 columns, with '~' when the spread is too wide to trust the median.
static void print_ns(const struct point *p, int width)
{
	char buf[16];

	if (!p) {
		printf(" %*s", width, "-");
		return;
	}
	double v = p->r.ns_per_op.median;
	const char *mark = stats_noisy_mark(&p->r.ns_per_op);

	if (v < 10)
		snprintf(buf, sizeof(buf), "%.2f%s", v, mark);
	else if (v < 1000)
		snprintf(buf, sizeof(buf), "%.1f%s", v, mark);
	else
		snprintf(buf, sizeof(buf), "%.0f%s", v, mark);
	printf(" %*s", width, buf);
}

static void print_faults(const struct point *p)
{
	if (!p)
		printf(" %8s", "-");
	else
		printf(" %8.1f", p->r.faults_per_op_rusage);
}

// 105 columns wide; narrower terminals get narrower columns and no calloc+free (data.csv has it).
#define ALLOC_TABLE_WIDTH 105

static void print_alloc_table(const struct run *run)
{
	// The table's columns, left to right; a '|' goes before each kind's first column.
	static const struct { enum kind kind; enum malloc_mode mode; } columns[] = {
		{ STACK_TOUCH, MODE_NONE },
		{ MALLOC_FREE, MODE_DYNAMIC }, { MALLOC_FREE, MODE_FIXED },
		{ MALLOC_TOUCH_FREE, MODE_DYNAMIC }, { MALLOC_TOUCH_FREE, MODE_FIXED },
		{ CALLOC_FREE, MODE_DYNAMIC }, { CALLOC_FREE, MODE_FIXED },
	};
	bool narrow = term_width() < ALLOC_TABLE_WIDTH;
	size_t nr_columns = sizeof(columns) / sizeof(columns[0]) - (narrow ? 2 : 0);
	int w = narrow ? 8 : 9;	// "1646221~" is 8
	char size[32];

	printf("\nAllocation: ns per op (median of %u samples; %s)\n", run->bench.nr_samples,
	       STATS_NOISY_LEGEND);
	printf("%-9s %*s | %*s | %*s |", "", w, "stack", 2 * w + 1, "malloc+free", 2 * w + 1,
	       "malloc+touch+free");
	if (!narrow)
		printf(" %*s |", 2 * w + 1, "calloc+free");
	printf(" %17s\n", "faults/op m+t+f");
	printf("%-9s %*s | %*s %*s | %*s %*s |", "size", w, "+touch", w, "dynamic", w, "fixed", w,
	       "dynamic", w, "fixed");
	if (!narrow)
		printf(" %*s %*s |", w, "dynamic", w, "fixed");
	printf(" %8s %8s\n", "dynamic", "fixed");
	for (size_t i = 0; i < run->nr_sizes; i++) {
		uint64_t s = run->sizes[i];

		printf("%-9s", cli_format_size(s, size, sizeof(size)));
		for (size_t c = 0; c < nr_columns; c++) {
			if (columns[c].mode != MODE_FIXED)
				printf("%s", c ? " |" : "");
			print_ns(find(run, columns[c].kind, columns[c].mode, s), w);
		}
		printf(" |");
		print_faults(find(run, MALLOC_TOUCH_FREE, MODE_DYNAMIC, s));
		print_faults(find(run, MALLOC_TOUCH_FREE, MODE_FIXED, s));
		printf("\n");
	}
	if (narrow)
		term_note_left_out("calloc+free", ALLOC_TABLE_WIDTH);
}

static void print_access_table(const struct run *run)
{
	char size[32];

	printf("\nAccess: ns per 8-byte element summed (median of %u interleaved rounds; ~ = "
	       "noisy)\n", lab_rounds(&run->lab));
	printf("%-12s %9s %9s %9s %9s\n", "working set", "stack arr", "heap arr", "list ord",
	       "list scat");
	for (size_t i = 0; i < run->nr_access_sizes; i++) {
		uint64_t s = run->access_sizes[i];

		printf("%-12s", cli_format_size(s, size, sizeof(size)));
		for (enum kind k = STACK_ARRAY; k <= LIST_SCATTERED; k++)
			print_ns(find(run, k, MODE_NONE, s), 9);
		printf("\n");
	}
}

// The cross-check: page faults per op from PAPI beside the kernel's own count.
static void print_fault_cross_check(const struct run *run, uint64_t size)
{
	const struct point *p = find(run, MALLOC_TOUCH_FREE, MODE_FIXED, size);
	char sz[32];

	if (!p)
		return;
	printf("\ncross-check, page faults per malloc+touch+free of %s (fixed threshold): "
	       "getrusage %.1f, PAPI ", cli_format_size(size, sz, sizeof(sz)),
	       p->r.faults_per_op_rusage);
	if (isnan(p->r.counter_per_op[SLOT_FAULTS]))
		printf("unavailable (see counters above)\n");
	else
		printf("%.1f\n", p->r.counter_per_op[SLOT_FAULTS]);
}

// What the CPU counted per op, net of the harness, for the rows the verdicts are about: the claim's
// three kinds at CLAIM_SIZE, and a large fixed-threshold malloc+touch+free, where the kernel does
// most of the work (which user-mode-only counting leaves out).
static void print_counts(const struct run *run, uint64_t large)
{
	static const struct { enum kind kind; enum malloc_mode mode; bool large; } rows[] = {
		{ STACK_TOUCH, MODE_NONE, false }, { MALLOC_FREE, MODE_DYNAMIC, false },
		{ MALLOC_TOUCH_FREE, MODE_DYNAMIC, false }, { MALLOC_TOUCH_FREE, MODE_FIXED, true },
	};
	const struct point *first = find(run, STACK_TOUCH, MODE_NONE, CLAIM_SIZE);
	char sz[32];

	if (!first || isnan(first->r.counter_per_op[SLOT_INSTRUCTIONS]) ||
	    isnan(first->r.counter_per_op[SLOT_CYCLES]))
		return;	// the note at the end says so
	printf("\nCounted per op (%s): instructions net of the harness (%.1f: the loop, dispatch "
	       "and call), cycles whole\n", counters_domain_name(&run->counters),
	       first->r.harness_per_op[SLOT_INSTRUCTIONS]);
	printf("%-34s %12s %12s %6s %10s\n", "op", "instructions", "cycles", "IPC", "ns");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t size = rows[i].large ? large : CLAIM_SIZE;
		const struct point *p = find(run, rows[i].kind, rows[i].mode, size);
		char label[64];

		if (!p)
			continue;
		snprintf(label, sizeof(label), "%s %s%s", kind_labels[p->kind],
			 cli_format_size(size, sz, sizeof(sz)),
			 rows[i].mode == MODE_FIXED ? " (fixed)" : "");
		double ins = p->r.counter_per_op[SLOT_INSTRUCTIONS];
		double cyc = p->r.counter_per_op[SLOT_CYCLES];
		printf("%-34s %12.1f %12.1f %6.2f %10.1f\n", label, ins, cyc, ins / cyc,
		       p->r.ns_per_op.median);
	}
}

static uint64_t pick_size(const struct run *run, uint64_t wanted)
{
	uint64_t best = run->sizes[0];

	for (size_t i = 0; i < run->nr_sizes; i++)
		if (run->sizes[i] <= wanted)
			best = run->sizes[i];
	return best;
}

// The median of one variant of the headline comparison.
static double claim_median(const struct run *run, size_t variant)
{
	struct stats st;

	return compare_variant_stats(&run->claim, variant, &st) == 0 ? st.median : NAN;
}

static void verdict_stack_claim(struct run *run)
{
	char size_s[32], a[32], b[32], c[32], harness_s[32], alloc_only_s[96];
	struct compare_ratio same_work, same_work_net, alloc_only;
	uint64_t large = 0;

	for (size_t i = 0; i < run->nr_sizes; i++)
		if (find(run, STACK_TOUCH, MODE_NONE, run->sizes[i]))
			large = run->sizes[i];
	// The fair pair does the same work (allocate, write each line, release): only where the
	// bytes come from differs. The harness (loop step and call) is in both: the net ratio
	// leaves it out and says what the allocations alone cost.
	(void)compare_ratio(&run->claim, CLAIM_MALLOC_TOUCH_FREE, CLAIM_STACK_TOUCH, COMPARE_NONE,
			    &same_work);
	(void)compare_ratio(&run->claim, CLAIM_MALLOC_TOUCH_FREE, CLAIM_STACK_TOUCH, CLAIM_HARNESS,
			    &same_work_net);
	(void)compare_ratio(&run->claim, CLAIM_MALLOC_FREE, CLAIM_STACK_TOUCH, COMPARE_NONE,
			    &alloc_only);
	lab_headline(&run->lab, "malloc_free_over_stack_at_64B", alloc_only.median, "x", NAN);
	printf("The claim, at %d B, %u interleaved rounds: stack+touch %s, malloc+touch+free %s, "
	       "malloc+free %s; the harness alone (loop step and call) %s\n", CLAIM_SIZE,
	       run->claim.nr_rounds, cli_format_ns(claim_median(run, CLAIM_STACK_TOUCH), a, 32),
	       cli_format_ns(claim_median(run, CLAIM_MALLOC_TOUCH_FREE), b, 32),
	       cli_format_ns(claim_median(run, CLAIM_MALLOC_FREE), c, 32),
	       cli_format_ns(claim_median(run, CLAIM_HARNESS), size_s, 32));
	// "Depends on what you time": judged twice. Per call, as a function that allocates its
	// buffer one way or the other pays it; and on the allocations alone, without the harness,
	// where the stack's side is a cycle or two and the interval is wide.
	lab_judge_ratio(&run->lab, "stack_10x_faster_per_call",
			"a function that puts a small buffer on the stack runs 10x faster than one "
			"that uses malloc", compare_at_least(&same_work, 10), &same_work,
			"malloc+touch+free / stack+touch at %d B, one call each; malloc+free alone %s",
			CLAIM_SIZE, compare_format_ratio(&alloc_only, alloc_only_s, sizeof(alloc_only_s)));
	// The net ratio divides by the stack's own share, a fraction of a nanosecond: where that
	// share is lost in the rounds' noise, the per-round ratios scatter (a round whose share
	// came out at zero or below counts as unbounded) and the interval says so.
	lab_judge_ratio(&run->lab, "stack_10x_faster_allocation_alone",
			"a small stack allocation is 10x faster than malloc+free (net of the loop "
			"around them)", compare_at_least(&same_work_net, 10), &same_work_net,
			"the same pair (each writes its one line) less the harness measured in the same "
			"rounds: alloc_kernel's loop, dispatch and call around an op that does nothing, "
			"%s", cli_format_ns(claim_median(run, CLAIM_HARNESS), harness_s, 32));
	if (!large)
		return;
	double stack_large = median_ns(run, STACK_TOUCH, MODE_NONE, large);
	double dyn_large = median_ns(run, MALLOC_TOUCH_FREE, MODE_DYNAMIC, large);
	double fixed_large = median_ns(run, MALLOC_TOUCH_FREE, MODE_FIXED, large);
	lab_shown(&run->lab,
		  "at %s, using the memory dominates: stack+touch %s vs malloc+touch+free %s "
		  "(%.1fx) with glibc's dynamic threshold, %s (%.1fx) with a fixed one, where every "
		  "request is a fresh mmap whose pages fault in",
		  cli_format_size(large, size_s, sizeof(size_s)),
		  cli_format_ns(stack_large, a, sizeof(a)), cli_format_ns(dyn_large, b, sizeof(b)),
		  dyn_large / stack_large, cli_format_ns(fixed_large, c, sizeof(c)),
		  fixed_large / stack_large);
}

// The first size whose timed requests glibc served with mmap (fixed threshold), or 0.
static uint64_t find_mmap_switch(const struct run *run, uint64_t *below)
{
	*below = 0;
	for (size_t i = 0; i < run->nr_sizes; i++) {
		const struct point *p = find(run, MALLOC_FREE, MODE_FIXED, run->sizes[i]);

		if (p && p->steady_request_mmapped == 1)
			return run->sizes[i];
		*below = run->sizes[i];
	}
	return 0;
}

#define MMAP_CLAIM "from 128 KiB (glibc's default threshold) malloc gets each block from mmap"

static void verdict_mmap_switch(struct run *run)
{
	char sz[32], below_s[32], a[32], b[32];
	uint64_t below, switch_size = find_mmap_switch(run, &below);

	if (!switch_size) {
		lab_judge(&run->lab, "mmap_from_128kib", MMAP_CLAIM, COMPARE_NOT_SHOWN, NAN, NAN, NAN,
			  "bytes", "malloc never switched to mmap in this sweep (up to %s): %s",
			  cli_format_size(run->sizes[run->nr_sizes - 1], sz, sizeof(sz)),
			    probe_mmapped(16, NULL) < 0 ? "not glibc, so no mallinfo2() to tell"
						  : "raise --max-size past 128K to see it");
		return;
	}
	cli_format_size(switch_size, sz, sizeof(sz));
	const struct point *at = find(run, MALLOC_TOUCH_FREE, MODE_FIXED, switch_size);
	const struct point *dyn = find(run, MALLOC_TOUCH_FREE, MODE_DYNAMIC, switch_size);
	double pages = (double)switch_size / (double)sysconf(_SC_PAGESIZE);
	// A switch one step above the threshold is still glibc's rule: a request the heap's free top
	// can hold is served from there whatever its size (see the free-top column).
	const struct point *at_threshold = find(run, MALLOC_FREE, MODE_FIXED,
						GLIBC_DEFAULT_MMAP_THRESHOLD);
	bool late_but_explained = at_threshold && switch_size > GLIBC_DEFAULT_MMAP_THRESHOLD &&
				  at_threshold->heap_free_top_bytes >= GLIBC_DEFAULT_MMAP_THRESHOLD;
	bool as_predicted = switch_size == GLIBC_DEFAULT_MMAP_THRESHOLD ||
			    (below < GLIBC_DEFAULT_MMAP_THRESHOLD &&
			     switch_size > GLIBC_DEFAULT_MMAP_THRESHOLD);

	lab_headline(&run->lab, "mmap_switch_size", (double)switch_size, "bytes", NAN);
	if (at)
		lab_headline(&run->lab, "faults_per_op_at_switch", at->r.faults_per_op_rusage,
			     "faults", at->r.counter_per_op[SLOT_FAULTS]);
	if (below) {
		double before = median_ns(run, MALLOC_FREE, MODE_FIXED, below);
		double after = median_ns(run, MALLOC_FREE, MODE_FIXED, switch_size);

		lab_judge(&run->lab, "mmap_from_128kib", MMAP_CLAIM,
			  as_predicted ? COMPARE_HOLDS : COMPARE_FAILS, (double)switch_size, NAN, NAN,
			  "bytes",
			  "malloc switched to mmap between %s and %s (mallinfo2%s): malloc+free %s -> "
			  "%s (%.0fx), and malloc+touch+free at %s takes %.1f page faults per op "
			  "(%.0f pages)",
			  cli_format_size(below, below_s, sizeof(below_s)), sz,
			  late_but_explained && !as_predicted ? "; one step late, explained below" : "",
			  cli_format_ns(before, a, sizeof(a)), cli_format_ns(after, b, sizeof(b)),
			  after / before, sz, at ? at->r.faults_per_op_rusage : NAN, pages);
	}
	if (late_but_explained && !as_predicted)
		lab_shown(&run->lab,
			  "the 128 KiB requests came from the heap because its free top already "
			  "held %s: glibc serves a request from free heap space before it looks at "
			  "the threshold, and it grows the heap with 128 KiB to spare (M_TOP_PAD)",
			  cli_format_size((uint64_t)at_threshold->heap_free_top_bytes, a,
					  sizeof(a)));
	if (!dyn)
		return;
	if (dyn->first_request_mmapped == 1 && dyn->steady_request_mmapped == 0)
		lab_shown(&run->lab,
			  "with the dynamic threshold the first %s request was mmapped, but its "
			  "free raised the threshold: the timed requests came from the heap, "
			  "%.1f faults per op instead of %.1f", sz, dyn->r.faults_per_op_rusage,
			  at ? at->r.faults_per_op_rusage : NAN);
	else if (dyn->first_request_mmapped == 0 && dyn->heap_free_top_bytes >= (double)switch_size)
		lab_shown(&run->lab,
			  "with the dynamic threshold not even the first %s request was mmapped: the "
			  "heap's free top already held %s, and glibc serves a request from free "
			  "heap space before it looks at the threshold", sz,
			  cli_format_size((uint64_t)dyn->heap_free_top_bytes, a, sizeof(a)));
	else
		lab_shown(&run->lab,
			  "with the dynamic threshold, %s requests were %smmapped at first and %s"
			  "mmapped after the timing (%.1f faults per op): not the usual pattern of "
			  "a threshold raised by the first free", sz,
			  dyn->first_request_mmapped == 1 ? "" : "not ",
			  dyn->steady_request_mmapped == 1 ? "" : "not ",
			  dyn->r.faults_per_op_rusage);
}

// The stack array against the heap array, working set by working set. Shown, not judged: one
// function sums both, and memory is memory wherever its address points, so the ratio cannot come
// out far from 1 on Linux. What the ratios show is what a difference would come from (where the
// bytes sit: alignment, pages), and how close two equal things measure.
static void show_stack_heap(struct run *run)
{
	char detail[512] = "", sz[32], r_s[96];
	size_t used = 0, nr_sets = 0;
	double lo = INFINITY, hi = 0;

	for (size_t i = 0; i < run->nr_access_measured; i++) {
		struct compare_ratio r;

		if (run->access_sizes[i] > run->stack_limit_bytes)
			continue;	// the heap array stood in for the stack one
		if (compare_ratio(&run->access[i], ACC_STACK, ACC_HEAP, COMPARE_NONE, &r) != 0)
			continue;
		nr_sets++;
		lo = fmin(lo, r.median);
		hi = fmax(hi, r.median);
		if (used < sizeof(detail))
			used += (size_t)snprintf(detail + used, sizeof(detail) - used, "%s%s %s",
						 used ? "; " : "",
						 cli_format_size(run->access_sizes[i], sz, sizeof(sz)),
						 compare_format_ratio(&r, r_s, sizeof(r_s)));
	}
	if (!nr_sets) {
		lab_note("no working set fitted on the stack: the stack and heap arrays were not "
			 "compared");
		return;
	}
	lab_show(&run->lab, "stack_array_reads_like_heap_array",
		 "reading an array costs the same on the stack and on the heap", (lo + hi) / 2, "x",
		 "stack array / heap array time, summed by the same function, %.2f-%.2fx over %zu "
		 "working sets: %s", lo, hi, nr_sets, detail);
}

static void verdict_access(struct run *run)
{
	char sz[32];
	uint64_t size = run->access_sizes[run->nr_access_sizes - 1];
	double heap = median_ns(run, HEAP_ARRAY, MODE_NONE, size);
	double in_order = median_ns(run, LIST_IN_ORDER, MODE_NONE, size);
	struct compare_ratio list;

	cli_format_size(size, sz, sizeof(sz));
	show_stack_heap(run);
	// The scattered list against the array, paired by round at the largest working set.
	double scattered = median_ns(run, LIST_SCATTERED, MODE_NONE, size);
	uint64_t l2_bytes = run->lab.have_topo ? topo_cache_bytes(&run->lab.topo, 2) : 0;
	bool outgrows_l2 = l2_bytes && size * 4 > l2_bytes;
	(void)compare_ratio(&run->access[run->nr_access_measured - 1], ACC_LIST_SCATTERED, ACC_HEAP,
			    COMPARE_NONE, &list);
	lab_headline(&run->lab, "scattered_list_over_array", list.median, "x", NAN);
	lab_judge_ratio(&run->lab, "scattered_list_3x_slower",
			"a scattered list is 3x or more slower to read than an array",
			outgrows_l2 ? compare_at_least(&list, 3) : COMPARE_NOT_SHOWN, &list,
			"summing %s: heap array %.2f ns/element, list in allocation order %.2f ns, "
			"scattered list %.1f ns%s", sz, heap, in_order, scattered,
			outgrows_l2 ? "" : " (its nodes fit in the L2 here: no effect predicted)");
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "malloc_mode", "size_bytes", "nr_samples",
		"iters_per_sample", "ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95",
		"ns_per_op_cv", "faults_per_op", "faults_per_op_rusage", "instructions_per_op",
		"cycles_per_op", "first_request_mmapped", "steady_request_mmapped",
		"heap_free_top_bytes",
	};
	struct report_csv csv;

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_points; i++) {
		const struct point *p = &run->points[i];
		const struct bench_result *r = &p->r;
		bool m = p->measured;

		report_csv_str(&csv, p->experiment == ALLOC ? "alloc" : "access");
		report_csv_str(&csv, kind_names[p->kind]);
		report_csv_str(&csv, mode_names[p->mode]);
		report_csv_u64(&csv, p->size_bytes);
		report_csv_double(&csv, m ? (double)r->ns_per_op.nr_samples : NAN);
		report_csv_double(&csv, m ? (double)r->iters_per_sample : NAN);
		report_csv_double(&csv, m ? r->ns_per_op.median : NAN);
		report_csv_double(&csv, m ? r->ns_per_op.p05 : NAN);
		report_csv_double(&csv, m ? r->ns_per_op.p95 : NAN);
		report_csv_double(&csv, m ? r->ns_per_op.cv : NAN);
		report_csv_double(&csv, m ? r->counter_per_op[SLOT_FAULTS] : NAN);
		report_csv_double(&csv, m ? r->faults_per_op_rusage : NAN);
		report_csv_double(&csv, m ? r->counter_per_op[SLOT_INSTRUCTIONS] : NAN);
		report_csv_double(&csv, m ? r->counter_per_op[SLOT_CYCLES] : NAN);
		report_csv_double(&csv, p->first_request_mmapped < 0 ? NAN
				  : (double)p->first_request_mmapped);
		report_csv_double(&csv, p->steady_request_mmapped < 0 ? NAN
				  : (double)p->steady_request_mmapped);
		report_csv_double(&csv, p->heap_free_top_bytes);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "sizes_bytes", "%llu..%llu (x%d)", (unsigned long long)run->sizes[0],
		  (unsigned long long)run->sizes[run->nr_sizes - 1], run->lab.opt.quick ? 4 : 2);
	report_kv(m, "touch_stride_bytes", "%u", run->line_bytes);
	report_kv(m, "stack_array_limit_bytes", "%llu",
		  (unsigned long long)run->stack_limit_bytes);
	report_kv(m, "call_overhead_ns", "%.2f (one loop step and call, not subtracted)",
		  run->call_overhead_ns);
	report_kv(m, "fixed_mmap_threshold_bytes", "%zu (set with mallopt after malloc_trim(0))",
		  GLIBC_DEFAULT_MMAP_THRESHOLD);
	report_kv(m, "glibc", "%s", gnu_get_libc_version());
}

// ---- setup ---------------------------------------------------------------------------------------

enum { OPT_MIN_SIZE = 256, OPT_MAX_SIZE };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	switch (val) {
	case OPT_MIN_SIZE:
		return cli_arg_size("--min-size", arg, 16, 64u << 20, &o->min_size);
	case OPT_MAX_SIZE:
		return cli_arg_size("--max-size", arg, 16, 256u << 20, &o->max_size);
	}
	return -EINVAL;
}

// The access experiment's working sets, from hwloc's caches: inside the L1d, the L2 and the last
// level (half of each), and past the last level (twice it, at most 32 MiB: a scattered list there
// is a memory miss per node, and 4 million of them per pass is already 0.6 s). Quick: the L1d and
// twice the L2. Each working set needs about 9x its bytes (the array and two lists of 32-byte
// chunks): the largest shrinks to fit a quarter of the memory this process may use.
static void plan_access_sizes(struct run *run)
{
	uint64_t l1 = 32u << 10, l2 = 1u << 20, llc = 8u << 20;

	if (run->lab.have_topo) {
		l1 = topo_cache_bytes(&run->lab.topo, 1) ? topo_cache_bytes(&run->lab.topo, 1) : l1;
		l2 = topo_cache_bytes(&run->lab.topo, 2) ? topo_cache_bytes(&run->lab.topo, 2) : l2;
		llc = topo_cache_bytes(&run->lab.topo, 3) ? topo_cache_bytes(&run->lab.topo, 3) : 4 * l2;
	}
	uint64_t beyond = 2 * llc > (32u << 20) ? 32u << 20 : 2 * llc;
	uint64_t budget = lab_memory_bytes(&run->lab);
	while (budget && beyond > (1u << 20) && beyond * 9 > budget / 4)
		beyond /= 2;
	const uint64_t full[] = { l1 / 2, l2 / 2, llc / 2, beyond };
	const uint64_t quick[] = { l1 / 2, 2 * l2 > (4u << 20) ? 4u << 20 : 2 * l2 };
	const uint64_t *sizes = run->lab.opt.quick ? quick : full;
	size_t n = run->lab.opt.quick ? 2 : 4;

	run->nr_access_sizes = 0;
	for (size_t i = 0; i < n; i++) {
		// Whole 4-element groups, each larger than the one before.
		uint64_t s = sizes[i] / 32 * 32;

		if (s >= 1024 && (!run->nr_access_sizes ||
				  s > run->access_sizes[run->nr_access_sizes - 1]))
			run->access_sizes[run->nr_access_sizes++] = s;
	}
}

static void plan(struct run *run)
{
	struct rlimit rl;
	unsigned factor = run->lab.opt.quick ? 4 : 2;

	if (run->opt.min_size > run->opt.max_size)
		die_usage("--min-size must not exceed --max-size");
	// Memory cap: the largest request is made a few times at once at most (malloc + list).
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS
	if (avail && run->opt.max_size * 8 > avail)
		die_usage("--max-size %llu: too large for the %llu MiB this process may use",
			  (unsigned long long)run->opt.max_size,
			  (unsigned long long)(avail >> 20));
	for (uint64_t s = run->opt.min_size; s <= run->opt.max_size && run->nr_sizes < MAX_SIZES;
	     s *= factor)
		run->sizes[run->nr_sizes++] = s;
	// The threshold the mmap claim is about is always a point of the sweep (a quick run's steps
	// of 4x pass it by): without it a quick run would judge the switch at the next size instead.
	uint64_t t = GLIBC_DEFAULT_MMAP_THRESHOLD;
	size_t at = 0;
	while (at < run->nr_sizes && run->sizes[at] < t)
		at++;
	if (t >= run->opt.min_size && t <= run->opt.max_size && run->nr_sizes < MAX_SIZES &&
	    (at == run->nr_sizes || run->sizes[at] != t)) {
		memmove(&run->sizes[at + 1], &run->sizes[at], (run->nr_sizes - at) * sizeof(run->sizes[0]));
		run->sizes[at] = t;
		run->nr_sizes++;
	}

	// Stack arrays stay within half of RLIMIT_STACK: the rest is for the frames below.
	run->stack_limit_bytes = 4u << 20;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 < run->stack_limit_bytes)
		run->stack_limit_bytes = rl.rlim_cur / 2;

	plan_access_sizes(run);

	run->line_bytes = run->lab.have_topo ? topo_line_bytes(&run->lab.topo) : 64;
	// The harness is alloc_kernel itself around an op that does nothing: the same loop, the
	// same dispatch on the kind, the same arguments loaded and the same call. Only its
	// instructions are subtracted: they add up exactly, while its cycles overlap the op's on an
	// out-of-order core (bench.h), so the cycles are the whole call's.
	run->harness_arg = (struct alloc_arg){ ALLOC_HARNESS, CLAIM_SIZE, run->line_bytes };
	run->bench = (struct bench_config){ .nr_samples = run->lab.opt.nr_reps,
					    .min_sample_ns = run->lab.opt.min_sample_ns,
					    .counters = &run->counters,
					    .harness = alloc_kernel, .harness_arg = &run->harness_arg,
					    .harness_metrics = 1u << COUNTERS_INSTRUCTIONS };
}

// With THP "always" the kernel may back any aligned huge page (2 MiB with 4 KiB pages) of an
// anonymous mapping with one huge page: the mmapped sizes of a huge page and more then take fewer
// faults than one per base page.
static void note_thp_always(void)
{
	char huge[32];

	if (kernel_thp_mode() == KERNEL_THP_ALWAYS)
		lab_note("transparent huge pages are 'always' here: mappings of %s and more may get "
			 "huge pages, so their faults per op can be size / %s instead of size / %ld "
			 "(the faults column shows which)",
			 cli_format_size(kernel_huge_page_bytes(), huge, sizeof(huge)), huge,
			 sysconf(_SC_PAGESIZE));
}

static void predict(const struct run *run)
{
	char l2[32], big[32], nodes[32];
	uint64_t biggest = run->access_sizes[run->nr_access_sizes - 1];

	lab_prediction("a stack allocation is a stack-pointer move (~1 ns), malloc+free of a small "
		       "block tens of ns: the stack wins by about 10x, but only while the block is "
		       "small; touching the memory soon costs more than either");
	lab_prediction("from 128 KiB (glibc's default M_MMAP_THRESHOLD) malloc calls mmap: each op "
		       "costs microseconds and touching faults in every %ld-byte page, unless "
		       "glibc's dynamic threshold has moved",
		       sysconf(_SC_PAGESIZE));
	lab_prediction("summing %s costs the same from a stack or a heap array; a list in "
		       "allocation order costs one dependent load per node at every size (about a "
		       "nanosecond: the prefetcher keeps it in cache); a scattered list (%s of nodes) "
		       "is many times slower once it outgrows the L2 (%s)",
		       cli_format_size(biggest, big, sizeof(big)),
		       cli_format_size(biggest * 4, nodes, sizeof(nodes)),
		       run->lab.have_topo && topo_cache_bytes(&run->lab.topo, 2)
			       ? cli_format_size(topo_cache_bytes(&run->lab.topo, 2), l2, sizeof(l2))
			       : "its size unknown: hwloc reports none");
}

int main(int argc, char **argv)
{
	static struct run run;	// large: the points array
	static const struct option options[] = {
		{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
		{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "01-stack-vs-heap",
		.summary = "Measures what an allocation costs on the stack and the heap, by size, where "
			   "malloc switches to mmap, and how reading stack, heap and list data compares.",
		.options_help = "  --min-size SIZE    smallest allocation (default 16, at least 16)\n"
				"  --max-size SIZE    largest allocation (default 4M, at most 256M)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};

	// parse -> describe the machine
	run.opt = (struct options){ .min_size = 16, .max_size = 4u << 20 };
	lab_init(&run.lab, &info, "Lab 1: stack vs heap", argc, argv);
	lab_pin_here(&run.lab);
	counters_init(&run.counters, metrics, sizeof(metrics) / sizeof(metrics[0]));
	lab_print_counters(&run.counters);

	// prepare -> predict
	plan(&run);
	run.call_overhead_ns = bench_call_overhead_ns(run.bench.nr_samples, run.bench.min_sample_ns);
	printf("overhead: each op includes one loop step and one function call: %.2f ns; the tables "
	       "keep it (every kind pays it); the 10x verdict net of the loop subtracts it, "
	       "timed again in its own rounds\n", run.call_overhead_ns);
	predict(&run);

	// measure: the stack, then malloc with glibc's defaults, then with a fixed threshold
	// (mallopt cannot undo that, so the dynamic sweep must come first), then access
	printf("measuring: the claim at %d B...", CLAIM_SIZE);
	fflush(stdout);
	measure_stack_claim(&run);
	printf(" stack...");
	fflush(stdout);
	measure_stack_sweep(&run);
	printf(" malloc (dynamic threshold)...");
	fflush(stdout);
	measure_malloc_sweep(&run, MODE_DYNAMIC);
	fix_mmap_threshold();
	printf(" malloc (fixed threshold)...");
	fflush(stdout);
	measure_malloc_sweep(&run, MODE_FIXED);
	printf(" access...");
	fflush(stdout);
	measure_access(&run);
	printf(" done\n");

	// report
	print_alloc_table(&run);
	print_access_table(&run);
	print_fault_cross_check(&run, pick_size(&run, 1u << 20));
	print_counts(&run, pick_size(&run, 1u << 20));
	printf("\n");
	verdict_stack_claim(&run);
	verdict_mmap_switch(&run);
	verdict_access(&run);
	note_thp_always();
	lab_note_missing_counters(&run.counters);
	write_csv(&run);
	lab_write_manifest(&run.lab, &run.counters, manifest_extra, &run);

	// release
	compare_samples_release(&run.claim);
	for (size_t i = 0; i < run.nr_access_measured; i++)
		compare_samples_release(&run.access[i]);
	counters_release(&run.counters);
	lab_finish(&run.lab);
	return 0;
}
