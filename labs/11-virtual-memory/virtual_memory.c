// SPDX-License-Identifier: MIT
// Lab 11: where each kind of data lives, and how two processes share one address without sharing
// memory. A map of this process (/proc/self/maps) with a sample object in each region, run three
// times to show ASLR; a forked child writing the same virtual address (and, where permitted, the
// physical frames from /proc/self/pagemap); a mapping far larger than RAM (MAP_NORESERVE): virtual
// against resident size as pages are touched; thread stacks reserved against resident; and sizeof
// of an array against the pointer it decays to.
// Usage: virtual_memory [--quick] [--reps N] [--out DIR] [--threads N]
//        virtual_memory --print-addresses   (internal: one run's sample addresses, for ASLR)
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"
#include "compare.h"
#include "die.h"
#include "guard.h"
#include "kernel.h"
#include "lab.h"
#include "report.h"
#include "term.h"
#include "topo.h"

#define MAX_SAMPLES 12
#define MAX_STEPS 32
#define NR_ASLR_RUNS 3
#define MAX_THREADS 64

// ---- the sample objects: one in each kind of region ---------------------------------------------

static const char read_only_text[] = "a string constant";	// .rodata
static int initialised_global = 42;				// .data
static int zeroed_global[1024];					// .bss

struct sample {
	const char *id;		// for data.csv and the plot's legend
	const char *name;	// what it is
	uintptr_t address;
	char region[96];	// where /proc/self/maps puts it
};

static int local_marker(void)
{
	return initialised_global + zeroed_global[0];
}

// Fills the samples of this process. The heap and mmap samples stay allocated (they are the point).
static size_t take_samples(struct sample *s)
{
	static void *heap_block, *mmap_block;
	int on_stack = 0;
	size_t n = 0;

	if (!heap_block)
		heap_block = malloc(64);
	if (!mmap_block)
		mmap_block = malloc(4u << 20);	// above the mmap threshold: its own mapping
	s[n++] = (struct sample){ .id = "code", .name = "code (a function)",
				  .address = (uintptr_t)local_marker };
	s[n++] = (struct sample){ .id = "rodata", .name = "read-only data (a string constant)",
				  .address = (uintptr_t)read_only_text };
	s[n++] = (struct sample){ .id = "data", .name = "data (an initialised global)",
				  .address = (uintptr_t)&initialised_global };
	s[n++] = (struct sample){ .id = "bss", .name = "bss (a zeroed global)",
				  .address = (uintptr_t)zeroed_global };
	s[n++] = (struct sample){ .id = "heap", .name = "heap (malloc 64 B)",
				  .address = (uintptr_t)heap_block };
	s[n++] = (struct sample){ .id = "mmap", .name = "mmap region (malloc 4 MiB)",
				  .address = (uintptr_t)mmap_block };
	s[n++] = (struct sample){ .id = "library", .name = "shared library (libc's printf)",
				  .address = (uintptr_t)printf };
	s[n++] = (struct sample){ .id = "stack", .name = "stack (a local variable)",
				  .address = (uintptr_t)&on_stack };
	s[n++] = (struct sample){ .id = "vdso", .name = "vdso (the kernel's page)",
				  .address = (uintptr_t)getauxval(AT_SYSINFO_EHDR) };
	bench_escape(&on_stack);
	return n;
}

// ---- /proc/self/maps ----------------------------------------------------------------------------

struct region {
	uintptr_t start, end;
	char perms[8];
	char name[256];
};

#define MAX_REGIONS 512

static size_t read_maps(struct region *r, size_t max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	size_t n = 0;

	if (!f)
		die_errno(errno, "cannot read /proc/self/maps");
	while (n < max && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[8], path[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255[^\n]", &start, &end, perms, path) < 3)
			continue;
		r[n].start = start;
		r[n].end = end;
		snprintf(r[n].perms, sizeof(r[n].perms), "%s", perms);
		const char *p = path;
		while (*p == ' ')
			p++;
		snprintf(r[n].name, sizeof(r[n].name), "%s", *p ? p : "(anonymous)");
		n++;
	}
	fclose(f);
	return n;
}

static const struct region *region_of(const struct region *r, size_t n, uintptr_t a)
{
	for (size_t i = 0; i < n; i++)
		if (a >= r[i].start && a < r[i].end)
			return &r[i];
	return NULL;
}

// "libc.so.6" from "/usr/lib/x86_64-linux-gnu/libc.so.6"; the executable is called "this program".
static const char *short_name(const char *path, const char *exe)
{
	if (!strcmp(path, exe))
		return "this program";
	const char *slash = strrchr(path, '/');
	return slash && path[0] == '/' ? slash + 1 : path;
}

// ---- ASLR: the same program, exec'd again -------------------------------------------------------

static void print_addresses(void)
{
	struct sample s[MAX_SAMPLES];
	size_t n = take_samples(s);

	for (size_t i = 0; i < n; i++)
		printf("%zu %lx\n", i, (unsigned long)s[i].address);
}

// Runs this program again with --print-addresses (supervised) and reads its samples' addresses.
static int addresses_of_new_run(const char *exe, uintptr_t *addr, size_t n)
{
	char *const argv[] = { (char *)exe, (char *)"--print-addresses", NULL };
	struct guard_limits limits = { .timeout_ms = 10000 };
	struct guard_result g;
	char out[2048];
	size_t got = 0;

	int err = guard_exec(argv, NULL, &limits, out, sizeof(out), &g);
	if (err)
		return err;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		size_t i;
		unsigned long a;

		if (sscanf(line, "%zu %lx", &i, &a) == 2 && i < n) {
			addr[i] = a;
			got++;
		}
	}
	return got == n && g.outcome == GUARD_EXITED && g.exit_status == 0 ? 0 : -EIO;
}

// ---- fork: one address, two frames --------------------------------------------------------------

// Alone on its page: if the parent wrote anything else on that page after fork, the parent would
// take the copy and the child keep the original frame, blurring the picture. 64 KiB long and
// aligned, so that it is alone on its page with 4, 16 and 64 KiB pages alike (Linux's base page
// sizes); zeroed (.bss, no file space), set to 1 before the fork. volatile: the child's write
// must stay between its two pagemap reads.
#define COW_PAGE_BYTES 65536
static union {
	volatile int value;
	char whole_page[COW_PAGE_BYTES];
} cow_page __attribute__((aligned(COW_PAGE_BYTES)));
#define cow_variable (cow_page.value)

struct cow_report {
	uintptr_t address;
	int value_seen, value_after_write;
	uint64_t frame_before, frame_after;	// 0: not visible
	bool done;
};

// The physical frame number of the page holding addr, or 0 if the kernel does not show it: since
// Linux 4.0, frame numbers need CAP_SYS_ADMIN (they helped Rowhammer attacks).
static uint64_t frame_of(const volatile void *addr, int *why)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t entry = 0;

	*why = 0;
	if (fd < 0) {
		*why = errno;
		return 0;
	}
	off_t at = (off_t)((uintptr_t)addr / (uintptr_t)page * sizeof(entry));
	if (pread(fd, &entry, sizeof(entry), at) != (ssize_t)sizeof(entry))
		*why = errno ? errno : EIO;
	close(fd);
	if (!(entry >> 63))
		return 0;				// not present
	return entry & ((1ull << 55) - 1);	// bits 0-54; all zero when hidden
}

static int cow_child(void *arg)
{
	struct cow_report *r = arg;
	int why;

	r->address = (uintptr_t)&cow_variable;
	r->value_seen = cow_variable;
	r->frame_before = frame_of(&cow_variable, &why);
	cow_variable = 2;	// the copy-on-write fault: this process gets its own page
	r->value_after_write = cow_variable;
	r->frame_after = frame_of(&cow_variable, &why);
	r->done = true;
	return 0;
}

// ---- reserving more than RAM --------------------------------------------------------------------

struct step {
	double touched, virtual_bytes, resident, maxrss;
};

// What reserving costs: mmap(MAP_NORESERVE) + munmap of size bytes, never touched.
struct reserve_job {
	size_t bytes;
	int error;
};

static void reserve_kernel(void *arg, uint64_t iters)
{
	struct reserve_job *j = arg;

	for (uint64_t i = 0; i < iters; i++) {
		void *p = mmap(NULL, j->bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED) {
			j->error = errno;
			return;
		}
		(void)munmap(p, j->bytes);
	}
}

#define NR_RESERVE_SIZES 3

// A "Key: N kB" line of /proc/self/status (VmSize, VmRSS), in bytes; NAN if absent.
static double status_bytes(const char *key)
{
	uint64_t bytes = memlimit_kb_field("/proc/self/status", key);

	return bytes == MEMLIMIT_NONE ? NAN : (double)bytes;
}

static double maxrss_bytes(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss * 1024;
}

// ---- thread stacks ------------------------------------------------------------------------------

struct stacks {
	pthread_barrier_t ready, done;
};

static void *idle_thread(void *arg)
{
	struct stacks *s = arg;

	pthread_barrier_wait(&s->ready);
	pthread_barrier_wait(&s->done);
	return NULL;
}

// ---- the run ------------------------------------------------------------------------------------

struct options {
	uint64_t threads;
};

// "The stack grows down, the heap grows up, toward each other": each direction measured, and what
// lies between them in this process's map.
struct growth {
	double stack_step;		// address of a frame 64 calls deeper minus the first (< 0: down)
	double brk_step;		// program break after 2 MiB of small mallocs minus before (> 0: up)
	double mmap_step;		// second 1 MiB mapping minus the first (< 0: the mmap area grows down)
	uintptr_t heap_end, stack_start;
	double stack_reach;		// RLIMIT_STACK: how far below its top the stack may grow
	size_t nr_between;		// mappings between the heap's end and the stack's start
	uintptr_t nearest_above_heap;	// the lowest mapping above the heap (0: none)
	bool stack_unlimited;
};

struct run {
	struct lab lab;
	struct options opt;
	char exe[4096];
	struct sample samples[MAX_SAMPLES];
	size_t nr_samples;
	uintptr_t aslr[NR_ASLR_RUNS][MAX_SAMPLES];
	int aslr_error, aslr_setting;
	size_t nr_changed;
	struct cow_report cow;		// what the child saw
	int parent_value;		// what the parent reads after the child's write
	uint64_t parent_frame;
	bool frames_visible;
	int pagemap_why;
	uint64_t mem_total, reserve_bytes, touch_max;
	int overcommit;
	int reserve_error;
	struct step steps[MAX_STEPS];
	size_t nr_steps;
	uint64_t reserve_sizes[NR_RESERVE_SIZES];
	struct bench_result reserve_cost[NR_RESERVE_SIZES];
	double stack_virtual_per_thread, stack_resident_per_thread, default_stack;
	unsigned nr_threads;
	int array_bytes, pointer_bytes, decayed_bytes;
	struct growth growth;
};

// The address of the stack frame `depth` calls below this one.
static __attribute__((noinline)) uintptr_t frame_address(unsigned depth)
{
	volatile char here = 0;

	if (depth == 0)
		return (uintptr_t)__builtin_frame_address(0);
	uintptr_t deeper = frame_address(depth - 1);
	bench_escape((void *)&here);	// keeps the frame: no tail call
	return deeper;
}

static void measure_growth(struct growth *g)
{
	static struct region r[MAX_REGIONS];
	enum { NR_BLOCKS = 32 };
	void *blocks[NR_BLOCKS];
	struct rlimit rl;

	g->stack_step = (double)frame_address(64) - (double)frame_address(0);
	uintptr_t brk_before = (uintptr_t)sbrk(0);
	for (int i = 0; i < NR_BLOCKS; i++) {
		blocks[i] = malloc((size_t)64 * 1024);	// below the mmap threshold: from brk
		bench_escape(blocks[i]);
	}
	g->brk_step = (double)(uintptr_t)sbrk(0) - (double)brk_before;
	char *m1 = mmap(NULL, 1u << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *m2 = mmap(NULL, 1u << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g->mmap_step = m1 != MAP_FAILED && m2 != MAP_FAILED ? (double)(uintptr_t)m2 - (double)(uintptr_t)m1
							      : NAN;
	size_t n = read_maps(r, MAX_REGIONS);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(r[i].name, "[heap]"))
			g->heap_end = r[i].end;
		if (!strcmp(r[i].name, "[stack]"))
			g->stack_start = r[i].start;
	}
	for (size_t i = 0; i < n && g->heap_end && g->stack_start; i++)
		if (r[i].start >= g->heap_end && r[i].end <= g->stack_start) {
			g->nr_between++;
			if (!g->nearest_above_heap || r[i].start < g->nearest_above_heap)
				g->nearest_above_heap = r[i].start;
		}
	if (getrlimit(RLIMIT_STACK, &rl) == 0) {
		g->stack_unlimited = rl.rlim_cur == RLIM_INFINITY;
		g->stack_reach = g->stack_unlimited ? NAN : (double)rl.rlim_cur;
	}
	if (m1 != MAP_FAILED)
		munmap(m1, 1u << 20);
	if (m2 != MAP_FAILED)
		munmap(m2, 1u << 20);
	for (int i = 0; i < NR_BLOCKS; i++)
		free(blocks[i]);
}

static int read_int(const char *path, int fallback)
{
	FILE *f = fopen(path, "r");
	int v = fallback;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = fallback;
		fclose(f);
	}
	return v;
}

// The tables name each sample object in words ("code (a function)"); in a terminal narrower than
// SAMPLE_TABLE_WIDTH by its id ("code"), with the words in a line below the first table.
#define SAMPLE_TABLE_WIDTH 90

static const char *sample_label(const struct sample *s)
{
	return term_width() < SAMPLE_TABLE_WIDTH ? s->id : s->name;
}

static int sample_width(void)
{
	return term_width() < SAMPLE_TABLE_WIDTH ? 8 : 36;
}

static void map_this_process(struct run *run)
{
	static struct region regions[MAX_REGIONS];
	char sz[32];

	run->nr_samples = take_samples(run->samples);	// first: the samples allocate mappings
	size_t nr = read_maps(regions, MAX_REGIONS);
	printf("\nWhere each kind of data lives in this process (/proc/self/maps)\n");
	printf("  %-*s %-18s %-5s %10s  %s\n", sample_width(), "sample object", "address", "perms",
	       "region", "mapping");
	for (size_t i = 0; i < run->nr_samples; i++) {
		struct sample *s = &run->samples[i];
		const struct region *r = region_of(regions, nr, s->address);

		snprintf(s->region, sizeof(s->region), "%.90s",
			 r ? short_name(r->name, run->exe) : "(not mapped?)");
		printf("  %-*s 0x%016lx %-5s %10s  %s\n", sample_width(), sample_label(s),
		       (unsigned long)s->address, r ? r->perms : "-",
		       r ? cli_format_size(r->end - r->start, sz, sizeof(sz)) : "-", s->region);
	}
	if (term_width() < SAMPLE_TABLE_WIDTH) {
		printf("  (");
		for (size_t i = 0; i < run->nr_samples; i++)
			printf("%s%s: %s", i ? "; " : "", run->samples[i].id, run->samples[i].name);
		printf(")\n");
	}
}

static void measure_aslr(struct run *run)
{
	for (size_t i = 0; i < run->nr_samples; i++)
		run->aslr[0][i] = run->samples[i].address;
	for (int k = 1; k < NR_ASLR_RUNS && !run->aslr_error; k++)
		run->aslr_error = addresses_of_new_run(run->exe, run->aslr[k], run->nr_samples);
	if (run->aslr_error)
		return;
	for (size_t i = 0; i < run->nr_samples; i++) {
		bool changed = false;

		for (int k = 1; k < NR_ASLR_RUNS; k++)
			changed = changed || run->aslr[k][i] != run->aslr[0][i];
		run->nr_changed += changed;
	}
	printf("\nThe same addresses in %d runs of this program (ASLR: randomize_va_space = %d)\n",
	       NR_ASLR_RUNS, run->aslr_setting);
	for (size_t i = 0; i < run->nr_samples; i++) {
		printf("  %-*s", sample_width(), sample_label(&run->samples[i]));
		for (int k = 0; k < NR_ASLR_RUNS; k++)
			printf(" 0x%012lx", (unsigned long)run->aslr[k][i]);
		printf("\n");
	}
}

static void measure_fork(struct run *run)
{
	struct cow_report *r = guard_shared_alloc(sizeof(*r));
	struct guard_limits limits = { .timeout_ms = 10000 };
	struct guard_result g;
	char why[128];

	if (!r)
		die("cannot share memory with the child");
	if (sysconf(_SC_PAGESIZE) > COW_PAGE_BYTES)
		lab_note("pages here are %ld bytes, larger than the %d the fork experiment's variable "
			 "has to itself: other data shares its page", sysconf(_SC_PAGESIZE),
			 COW_PAGE_BYTES);
	cow_variable = 1;
	uint64_t parent_frame = frame_of(&cow_variable, &run->pagemap_why);
	int err = guard_run(cow_child, r, &limits, &g);
	if (err)
		die_errno(err, "cannot start the supervised child");
	if (g.outcome != GUARD_EXITED || !r->done)
		die("the fork child failed: %s", guard_describe(&g, why, sizeof(why)));
	run->cow = *r;
	guard_shared_free(r, sizeof(*r));

	printf("\nfork(): the child writes 2 at the address where the parent keeps 1\n");
	printf("  parent: &cow_variable = 0x%lx, value %d after the child's write\n",
	       (unsigned long)&cow_variable, cow_variable);
	printf("  child:  &cow_variable = 0x%lx, value %d before its write, %d after\n",
	       (unsigned long)run->cow.address, run->cow.value_seen, run->cow.value_after_write);
	run->parent_value = cow_variable;
	run->frames_visible = parent_frame && run->cow.frame_before && run->cow.frame_after;
	if (run->frames_visible)
		printf("  physical frames: parent 0x%llx; child before its write 0x%llx, after 0x%llx\n",
		       (unsigned long long)parent_frame, (unsigned long long)run->cow.frame_before,
		       (unsigned long long)run->cow.frame_after);
	run->parent_frame = parent_frame;
	if (!parent_frame && !run->pagemap_why)
		run->pagemap_why = EPERM;	// readable, but the frame numbers read as 0
}

static void measure_reserve(struct run *run)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t avail = lab_memory_bytes(&run->lab);	// MemAvailable, cgroup, RLIMIT_AS

	run->mem_total = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)page;
	run->overcommit = kernel_overcommit_mode();
	run->reserve_bytes = 4 * run->mem_total;
	run->touch_max = run->lab.opt.quick ? 32u << 20 : 512u << 20;
	if (avail && run->touch_max > avail / 4)
		run->touch_max = avail / 4;
	char *p = mmap(NULL, run->reserve_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		run->reserve_error = errno;
		return;
	}
	double base_virtual = status_bytes("VmSize") - (double)run->reserve_bytes;
	double base_resident = status_bytes("VmRSS");
	uint64_t touched = 0;
	for (uint64_t target = 0; run->nr_steps < MAX_STEPS; target = target ? target * 2 : 1u << 20) {
		if (target > run->touch_max)
			break;
		for (; touched < target; touched += (uint64_t)page)
			p[touched] = 1;
		struct step *s = &run->steps[run->nr_steps++];
		s->touched = (double)touched;
		s->virtual_bytes = status_bytes("VmSize") - base_virtual;
		s->resident = status_bytes("VmRSS") - base_resident;
		s->maxrss = maxrss_bytes();
	}
	(void)munmap(p, run->reserve_bytes);
}

// Reserving 1 MiB, 1 GiB, and 4x RAM: the same few microseconds, since nothing is allocated.
static void measure_reserve_cost(struct run *run)
{
	struct bench_config config = { .nr_samples = run->lab.opt.nr_reps,
				       .min_sample_ns = run->lab.opt.min_sample_ns };

	run->reserve_sizes[0] = 1u << 20;
	run->reserve_sizes[1] = 1u << 30;
	run->reserve_sizes[2] = run->reserve_bytes;
	for (int i = 0; i < NR_RESERVE_SIZES; i++) {
		struct reserve_job job = { run->reserve_sizes[i], 0 };

		if (run->reserve_error && i == NR_RESERVE_SIZES - 1)
			break;	// refused above: the verdict says why
		if (bench_run(&config, reserve_kernel, &job, &run->reserve_cost[i]) != 0 || job.error)
			run->reserve_cost[i].ns_per_op.median = NAN;
	}
}

static void measure_stacks(struct run *run)
{
	static pthread_t th[MAX_THREADS];
	struct stacks s;
	pthread_attr_t attr;
	size_t stack = 0;

	pthread_attr_init(&attr);
	pthread_attr_getstacksize(&attr, &stack);
	pthread_attr_destroy(&attr);
	run->default_stack = (double)stack;
	run->nr_threads = (unsigned)run->opt.threads;
	pthread_barrier_init(&s.ready, NULL, run->nr_threads + 1);
	pthread_barrier_init(&s.done, NULL, run->nr_threads + 1);
	double v0 = status_bytes("VmSize"), r0 = status_bytes("VmRSS");
	for (unsigned i = 0; i < run->nr_threads; i++)
		if (pthread_create(&th[i], NULL, idle_thread, &s) != 0)
			die("cannot start thread %u of %u", i + 1, run->nr_threads);
	pthread_barrier_wait(&s.ready);
	double v1 = status_bytes("VmSize"), r1 = status_bytes("VmRSS");
	pthread_barrier_wait(&s.done);
	for (unsigned i = 0; i < run->nr_threads; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&s.ready);
	pthread_barrier_destroy(&s.done);
	run->stack_virtual_per_thread = (v1 - v0) / run->nr_threads;
	run->stack_resident_per_thread = (r1 - r0) / run->nr_threads;
}

// An array parameter is a pointer: sizeof says so (the compiler warns about exactly this).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsizeof-array-argument"
static int sizeof_parameter(int a[100])
{
	// cppcheck-suppress sizeofwithsilentarraypointer ; that surprise is the demonstration
	return (int)sizeof(a);
}
#pragma GCC diagnostic pop

static void measure_sizeof(struct run *run)
{
	int a[100] = { 0 };
	int *p = a;

	bench_escape(p);
	run->array_bytes = (int)sizeof(a);
	run->pointer_bytes = (int)sizeof(p);
	run->decayed_bytes = sizeof_parameter(a);
	printf("\nArrays and pointers: int a[100]; int *p = a;\n");
	printf("  sizeof(a) = %d, sizeof(p) = %d, sizeof inside f(int a[100]) = %d\n",
	       run->array_bytes, run->pointer_bytes, run->decayed_bytes);
	printf("  (char *)(&a + 1) - (char *)&a = %td (the whole array), "
	       "(char *)(a + 1) - (char *)a = %td (one int)\n",
	       (char *)(&a + 1) - (char *)&a, (char *)(a + 1) - (char *)a);
}

// ---- report -------------------------------------------------------------------------------------

static void growth_verdicts(struct run *run)
{
	const struct growth *g = &run->growth;
	char a[32], b[32], c[32];

	// Directions are signs, not timings, and the ABI fixes them (x86-64 and arm64 stacks grow
	// down, brk only moves up): shown, where the allocator uses brk at all.
	if (g->brk_step == 0) {
		lab_judge(&run->lab, "stack_down_heap_up", "the stack grows down and the heap grows up",
			  COMPARE_NOT_SHOWN, g->stack_step, NAN, NAN, "bytes per 64 frames",
			  "this allocator does not use brk (the program break did not move): nothing "
			  "to show");
	} else {
		lab_demonstrate(&run->lab, g->stack_step < 0 && g->brk_step > 0, "stack_down_heap_up",
				"the stack grows down and the heap grows up", g->stack_step,
				"bytes per 64 frames", "a frame 64 calls deeper sits %.0f bytes %s; 2 MiB "
				"of small mallocs moved the program break (the heap's end) %s by %s",
				fabs(g->stack_step), g->stack_step < 0 ? "lower" : "higher",
				g->brk_step >= 0 ? "up" : "down",
				cli_format_size((uint64_t)fabs(g->brk_step), a, sizeof(a)));
	}
	// Whether they can meet: only if nothing lies between them and the stack may grow all
	// the way down.
	bool can_meet = g->heap_end && g->stack_start && g->nr_between == 0 && g->stack_unlimited;
	double gap = g->nearest_above_heap ? (double)(g->nearest_above_heap - g->heap_end) : NAN;
	// With a stack limit (the default) the stack cannot reach the heap: that is shown. Only
	// an unlimited stack leaves the question open, and then it is judged.
	if (g->heap_end && g->stack_start && !g->stack_unlimited) {
		lab_show(&run->lab, "stack_and_heap_meet",
			 "the stack and the heap never meet: a stack limit and the mmap area lie "
			 "between them", (double)g->nr_between, "mappings between",
			 "between the heap's end and the stack lie %zu mappings (the shared libraries, "
			 "the mmap area), the lowest %s above the heap; the mmap area grows down toward "
			 "the heap (a second 1 MiB mapping landed %s the first), and the stack may grow "
			 "only RLIMIT_STACK (%s) below its top: the heap would run into the mmap area, "
			 "never the stack", g->nr_between,
			 isnan(gap) ? "?" : cli_format_size((uint64_t)gap, b, sizeof(b)),
			 isnan(g->mmap_step) ? "?" : g->mmap_step < 0 ? "below" : "above",
			 cli_format_size((uint64_t)g->stack_reach, c, sizeof(c)));
		return;
	}
	lab_judge(&run->lab, "stack_and_heap_meet",
		  "the stack and the heap grow toward each other until they meet",
		  !g->heap_end || !g->stack_start ? COMPARE_NOT_SHOWN
		  : can_meet ? COMPARE_HOLDS : COMPARE_FAILS, (double)g->nr_between, NAN, NAN,
		  "mappings between",
		  "with an unlimited stack, %zu mappings lie between the heap's end and the stack "
		  "(the shared libraries, the mmap area), the lowest %s above the heap",
		  g->nr_between, isnan(gap) ? "?" : cli_format_size((uint64_t)gap, b, sizeof(b)));
}

static void verdicts(struct run *run)
{
	char a[32], b[32], c[32], d[32];

	if (run->aslr_error)
		lab_note("could not run this program again to compare addresses: %s",
			 strerror(-run->aslr_error));
	else
		lab_judge(&run->lab, "aslr_moves_every_region",
			  "ASLR moves every region between runs",
			  run->aslr_setting == 0 ? COMPARE_NOT_SHOWN
			  : run->nr_changed == run->nr_samples ? COMPARE_HOLDS : COMPARE_FAILS,
			  (double)run->nr_changed, NAN, NAN, "regions",
			  "%zu of %zu sample addresses moved between %d runs (randomize_va_space = %d)%s",
			  run->nr_changed, run->nr_samples, NR_ASLR_RUNS, run->aslr_setting,
			  run->aslr_setting == 0 ? ": randomisation is off on this machine" : "");
	lab_headline(&run->lab, "aslr_moved_regions", (double)run->nr_changed, "regions", NAN);

	// Shown: after fork the child's pages are its own copy on write, guaranteed by Linux.
	lab_demonstrate(&run->lab, run->parent_value != run->cow.value_after_write,
		  "one_address_two_values",
		  "after fork one virtual address holds two values (one per process)", NAN, "",
		    "the child sees %d at 0x%lx and writes %d there; the parent still reads "
		    "%d at the same address: the address is virtual, and the child's write gave it a "
		    "page of its own", run->cow.value_seen, (unsigned long)run->cow.address,
		    run->cow.value_after_write, run->parent_value);
	if (run->frames_visible)
		lab_shown(&run->lab,
			  "pagemap shows it: the child's page is frame 0x%llx before its write (%s the "
			  "parent's 0x%llx) and 0x%llx after%s",
			  (unsigned long long)run->cow.frame_before,
			  run->cow.frame_before == run->parent_frame ? "the same as" : "unlike",
			  (unsigned long long)run->parent_frame,
			  (unsigned long long)run->cow.frame_after,
			  run->cow.frame_before == run->parent_frame &&
			  run->cow.frame_after != run->parent_frame ? ": the copy happened at the write"
								  : "");
	else
		lab_note("pagemap hides physical frame numbers here (%s): they need CAP_SYS_ADMIN since "
			 "Linux 4.0; run the lab as root to see them", strerror(run->pagemap_why));

	struct rlimit as;
	bool as_limited = getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY;

	if (run->reserve_error && as_limited) {
		lab_note("a %s MAP_NORESERVE mapping was refused (%s): the address space is limited to "
			 "%s (ulimit -v); raise it to see a mapping larger than RAM",
			 cli_format_size(run->reserve_bytes, a, sizeof(a)), strerror(run->reserve_error),
			 cli_format_size(as.rlim_cur, b, sizeof(b)));
	} else if (run->reserve_error) {
		lab_note("a %s MAP_NORESERVE mapping was refused (%s; vm.overcommit_memory = %d: 2 "
			 "means strict accounting, which ignores MAP_NORESERVE)",
			 cli_format_size(run->reserve_bytes, a, sizeof(a)),
			 strerror(run->reserve_error), run->overcommit);
	} else if (run->nr_steps) {
		const struct step *last = &run->steps[run->nr_steps - 1];

		lab_headline(&run->lab, "reserved_over_ram", (double)run->reserve_bytes /
			     (double)run->mem_total, "x", NAN);
		// Cross-check: the kernel's peak RSS (getrusage) grew by as much as the touches.
		lab_headline(&run->lab, "resident_per_touched_byte", last->resident / last->touched,
			     "ratio", (last->maxrss - run->steps[0].maxrss) / last->touched);
		double per_byte = last->resident / last->touched;
		lab_judge(&run->lab, "resident_follows_touched",
			  "virtual size is a promise: only touched memory becomes resident",
			  fabs(per_byte - 1) <= 0.10 ? COMPARE_HOLDS : COMPARE_FAILS, per_byte, NAN, NAN,
			  "resident/touched bytes",
			    "a %s mapping (4x this machine's %s of RAM) was granted at once; touching "
			    "%s of it made %s resident (%.3f per byte touched): virtual size is a "
			    "promise, resident size is what was used",
			    cli_format_size(run->reserve_bytes, a, sizeof(a)),
			    cli_format_size(run->mem_total, b, sizeof(b)),
			    cli_format_size((uint64_t)last->touched, c, sizeof(c)),
			    cli_format_size((uint64_t)fmax(last->resident, 0), d, sizeof(d)),
			    last->resident / last->touched);
	}
	char costs[160] = "";
	size_t used = 0;
	for (int i = 0; i < NR_RESERVE_SIZES && used < sizeof(costs); i++)
		if (run->reserve_cost[i].ns_per_op.median > 0)
			used += (size_t)snprintf(costs + used, sizeof(costs) - used, "%s%s %.1f us%s",
						 used ? ", " : "",
						 cli_format_size(run->reserve_sizes[i], a, sizeof(a)),
						 run->reserve_cost[i].ns_per_op.median / 1000,
						 stats_noisy_mark(&run->reserve_cost[i].ns_per_op));
	if (costs[0])
		lab_shown(&run->lab, "reserving costs microseconds at any size (mmap + munmap, "
			    "median; ~ = noisy): %s: nothing is allocated until a page is touched", costs);
	lab_headline(&run->lab, "thread_stack_resident", run->stack_resident_per_thread, "bytes",
		     NAN);
	lab_shown(&run->lab,
		    "%u idle threads: each reserved %s of address space (the default stack is %s) but "
		    "made only %s resident", run->nr_threads,
		    cli_format_size((uint64_t)fmax(run->stack_virtual_per_thread, 0), a, sizeof(a)),
		    cli_format_size((uint64_t)run->default_stack, b, sizeof(b)),
		    cli_format_size((uint64_t)fmax(run->stack_resident_per_thread, 0), c, sizeof(c)));
	lab_shown(&run->lab,
		    "sizeof(int[100]) is %d but the same array passed to a function is %s %d-byte "
		    "pointer: an array parameter is a pointer, and sizeof cannot recover the length",
		    run->array_bytes, run->decayed_bytes == 8 ? "an" : "a", run->decayed_bytes);
}

static void write_csv(struct run *run)
{
	static const char *const columns[] = {
		"experiment", "kind", "run", "address", "address_decimal", "region", "touched_bytes",
		"ns_per_op_median", "ns_per_op_p05", "ns_per_op_p95", "virtual_bytes",
		"resident_bytes", "maxrss_bytes", "value", "bytes",
	};
	struct report_csv csv;
	char hex[32];

	lab_csv_open(&run->lab, &csv, columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < run->nr_samples; i++) {
		for (int k = 0; k < (run->aslr_error ? 1 : NR_ASLR_RUNS); k++) {
			report_csv_str(&csv, "address");
			report_csv_str(&csv, run->samples[i].id);
			report_csv_u64(&csv, (uint64_t)k + 1);
			snprintf(hex, sizeof(hex), "0x%lx", (unsigned long)run->aslr[k][i]);
			report_csv_str(&csv, hex);
			report_csv_u64(&csv, run->aslr[k][i]);
			report_csv_str(&csv, run->samples[i].region);
			for (int x = 0; x < 9; x++)
				report_csv_double(&csv, NAN);
			lab_csv_end_row(&csv);
		}
	}
	for (size_t i = 0; i < run->nr_steps; i++) {
		const struct step *s = &run->steps[i];

		report_csv_str(&csv, "noreserve");
		report_csv_str(&csv, "touch");
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, s->touched);
		for (int x = 0; x < 3; x++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, s->virtual_bytes);
		report_csv_double(&csv, s->resident);
		report_csv_double(&csv, s->maxrss);
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, (double)run->reserve_bytes);
		lab_csv_end_row(&csv);
	}
	const struct { const char *e, *k; double v, b; } rows[] = {
		{ "thread_stack", "virtual_per_thread", NAN, run->stack_virtual_per_thread },
		{ "thread_stack", "resident_per_thread", NAN, run->stack_resident_per_thread },
		{ "fork", "child_value_before_write", run->cow.value_seen, NAN },
		{ "fork", "child_value_after_write", run->cow.value_after_write, NAN },
		{ "fork", "parent_value_after_child_write", run->parent_value, NAN },
		{ "fork", "frames_differ", run->frames_visible ?
		  (double)(run->cow.frame_after != run->parent_frame) : NAN, NAN },
		{ "sizeof", "array", NAN, run->array_bytes },
		{ "sizeof", "pointer", NAN, run->pointer_bytes },
		{ "sizeof", "array_parameter", NAN, run->decayed_bytes },
		{ "growth", "stack_64_frames", NAN, run->growth.stack_step },
		{ "growth", "brk_after_2MiB_malloc", NAN, run->growth.brk_step },
		{ "growth", "second_mmap", NAN, run->growth.mmap_step },
		{ "growth", "mappings_between_heap_and_stack", (double)run->growth.nr_between, NAN },
		{ "growth", "heap_to_next_mapping",
		  NAN, run->growth.nearest_above_heap
			? (double)(run->growth.nearest_above_heap - run->growth.heap_end) : NAN },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		report_csv_str(&csv, rows[i].e);
		report_csv_str(&csv, rows[i].k);
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		for (int x = 0; x < 7; x++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, rows[i].v);
		report_csv_double(&csv, rows[i].b);
		lab_csv_end_row(&csv);
	}
	for (int i = 0; i < NR_RESERVE_SIZES; i++) {
		const struct stats *t = &run->reserve_cost[i].ns_per_op;

		if (!run->reserve_sizes[i] || !(t->median > 0))
			continue;
		report_csv_str(&csv, "reserve_cost");
		report_csv_str(&csv, "mmap_noreserve_munmap");
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, NAN);
		report_csv_str(&csv, "");
		report_csv_double(&csv, NAN);
		report_csv_double(&csv, t->median);
		report_csv_double(&csv, t->p05);
		report_csv_double(&csv, t->p95);
		for (int x = 0; x < 4; x++)
			report_csv_double(&csv, NAN);
		report_csv_double(&csv, (double)run->reserve_sizes[i]);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void manifest_extra(struct report_file *m, void *ctx)
{
	const struct run *run = ctx;

	report_kv(m, "randomize_va_space", "%d", run->aslr_setting);
	report_kv(m, "mem_total_bytes", "%llu", (unsigned long long)run->mem_total);
	report_kv(m, "noreserve_bytes", "%llu", (unsigned long long)run->reserve_bytes);
	report_kv(m, "pagemap_frames", "%s", run->frames_visible ? "visible" : "hidden");
	report_kv(m, "threads", "%u", run->nr_threads);
}

// ---- main ---------------------------------------------------------------------------------------

enum { OPT_THREADS = 256, OPT_PRINT_ADDRESSES };

static int on_option(int val, const char *arg, void *ctx)
{
	struct options *o = ctx;

	if (val == OPT_THREADS)
		return cli_arg_u64("--threads", arg, 1, MAX_THREADS, &o->threads);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static struct run run;
	static const struct option options[] = {
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ 0 },
	};
	const struct cli_lab info = {
		.name = "11-virtual-memory",
		.summary = "Maps this process's regions with a sample object in each, shows ASLR, one "
			   "virtual address in two processes after fork, a mapping larger than RAM, "
			   "thread stacks reserved vs resident, and sizeof of arrays vs pointers.",
		.options_help = "  --threads N        idle threads for the stack measurement (1-64; "
				"default 16, quick 4)\n",
		.options = options,
		.on_option = on_option,
		.ctx = &run.opt,
	};

	if (argc == 2 && !strcmp(argv[1], "--print-addresses")) {
		print_addresses();	// the child of measure_aslr(): no header, no files
		return 0;
	}
	// parse -> describe the machine
	lab_init(&run.lab, &info, "Lab 11: virtual memory", argc, argv);
	lab_pin_here(&run.lab);
	printf("counters: none used by this lab (addresses and sizes come from the kernel's /proc)\n");
	if (!run.opt.threads)
		run.opt.threads = run.lab.opt.quick ? 4 : 16;
	lab_program_path(run.exe, sizeof(run.exe));
	run.aslr_setting = read_int("/proc/sys/kernel/randomize_va_space", -1);

	// predict
	lab_prediction("code, data, heap, libraries, stack and vdso each live in their own region; "
		       "with ASLR (randomize_va_space = %d) every address changes from run to run",
		       run.aslr_setting);
	lab_prediction("the stack grows down and the heap up, but they never meet: the libraries and "
		       "the mmap area lie between them, and the stack may grow only RLIMIT_STACK");
	lab_prediction("after fork, parent and child hold different values at the same virtual "
		       "address; mmap can reserve far more than RAM, and only touched pages become "
		       "resident; a thread reserves its whole stack but uses a few KiB of it");

	// measure and show (each part prints as it goes: the addresses are the observation)
	map_this_process(&run);
	measure_aslr(&run);
	measure_fork(&run);
	measure_reserve(&run);
	measure_reserve_cost(&run);
	measure_stacks(&run);
	measure_sizeof(&run);
	measure_growth(&run.growth);

	// report
	printf("\n");
	verdicts(&run);
	growth_verdicts(&run);
	write_csv(&run);
	lab_write_manifest(&run.lab, NULL, manifest_extra, &run);
	lab_finish(&run.lab);
	return 0;
}
