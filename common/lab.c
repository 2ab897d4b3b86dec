// SPDX-License-Identifier: MIT
// lab: the shared steps of a lab program (see lab.h).
#include "lab.h"

#include <errno.h>
#include <math.h>
#include <papi.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"
#include "clock.h"
#include "die.h"
#include "guard.h"
#include "kernel.h"
#include "term.h"

static void os_name(char *buf, size_t len)
{
	FILE *f = fopen("/etc/os-release", "r");
	char line[256];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *v = line + 12;
		size_t n = strlen(v);
		if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
			v[n - 1] = '\0';
			v++;
		}
		snprintf(buf, len, "%s", v);
	}
	fclose(f);
}

// CPUs this process may run on (taskset, a cpuset), which can be fewer than the machine has.
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	return CPU_COUNT(&set);
}

// The architecture this program was built for, and the one /proc/cpuinfo describes (by the
// fields only that architecture's kernel writes): they differ when an emulator runs the program,
// such as qemu-user running an aarch64 build on an x86-64 machine. Then the clock and timings are
// the emulator's, and hwloc, /proc and sysfs describe the host.
static const char *built_for(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return "x86";
#elif defined(__aarch64__) || defined(__arm__)
	return "arm";
#elif defined(__riscv)
	return "riscv";
#else
	return "";
#endif
}

static const char *cpuinfo_arch(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	const char *arch = "";

	if (!f)
		return "";
	while (!*arch && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "vendor_id", 9))
			arch = "x86";
		else if (!strncmp(line, "CPU implementer", 15))
			arch = "arm";
		else if (!strncmp(line, "isa", 3) && strstr(line, "rv"))
			arch = "riscv";
	}
	fclose(f);
	return arch;
}

static void detect_emulation(char *buf, size_t len)
{
	const char *built = built_for(), *host = cpuinfo_arch();

	buf[0] = '\0';
	if (*built && *host && strcmp(built, host) != 0)
		snprintf(buf, len, "built for %s, this program runs on an %s CPU through an emulator "
			 "(qemu-user?)", built, host);
}

// Where this run lives: on a hybrid CPU a PU of one kind (the largest cores unless --cpu-kind
// says otherwise), and only that kind's PUs for the workers, so that the caches described, the PU
// pinned to and the threads placed all belong to one kind; elsewhere the PU it started on.
// Returns the kind asked for, or -1 on a machine with one kind.
static int choose_home(struct lab *lab)
{
	unsigned kinds = topo_nr_cpu_kinds(&lab->topo);
	int wanted = lab->opt.cpu_kind;

	lab->home_pu = topo_current_pu(&lab->topo);
	lab->cpu_kind = -1;
	if (wanted >= 0 && (unsigned)wanted >= (kinds > 1 ? kinds : 1))
		die_usage("--cpu-kind %d: this machine has %u kind%s of core (0%s)", wanted,
			  kinds > 1 ? kinds : 1, kinds > 1 ? "s" : "", kinds > 1 ? " and up" : " only");
	if (kinds < 2)
		return -1;
	int kind = wanted >= 0 ? wanted : topo_biggest_kind(&lab->topo);
	int pu = topo_first_pu_of_kind(&lab->topo, kind, lab->allowed_pus);
	if (pu >= 0) {
		hwloc_bitmap_t set = topo_kind_cpuset(&lab->topo, kind);

		lab->home_pu = pu;
		lab->cpu_kind = kind;
		if (set && lab->allowed_pus) {
			hwloc_bitmap_and(lab->allowed_pus, lab->allowed_pus, set);
			lab->nr_allowed_pus = (unsigned)hwloc_bitmap_weight(lab->allowed_pus);
		}
		hwloc_bitmap_free(set);
	}
	topo_set_home_pu(&lab->topo, lab->home_pu);
	return kind;
}

static void print_home(const struct lab *lab, int kind)
{
	char what[64];

	if (kind < 0)
		return;
	topo_kind_describe(&lab->topo, kind, what, sizeof(what));
	if (lab->cpu_kind < 0)
		printf("cpu kind: no PU of kind %d (%s) may be used here (a cpuset?): running where it "
		       "started, PU %d, and describing its caches\n", kind, what, lab->home_pu);
	else
		printf("cpu kind: kind %d of %u (%s), %u usable PUs of it; the caches above are this "
		       "kind's; --cpu-kind chooses another\n", kind, topo_nr_cpu_kinds(&lab->topo),
		       what, lab->nr_allowed_pus);
}

bool lab_in_vm(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool vm = false;

	if (!f)
		return false;
	while (!vm && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " hypervisor"))
			vm = true;
	fclose(f);
	return vm;
}


// machine.h's facts as "key: value" lines: on stdout (--machine), or into the manifest.
static void print_fact(void *ctx, const char *key, const char *value)
{
	(void)ctx;
	printf("%s: %s\n", key, value);
}

static void manifest_fact(void *ctx, const char *key, const char *value)
{
	report_kv(ctx, key, "%s", value);
}

// The memory settings and what moves timings between machines (machine.h): one reader for the
// manifest and for --machine, which 'make doctor' shows, so the two cannot disagree.
static void system_facts(machine_kv_fn kv, void *ctx)
{
	char buf[256];

	kernel_read_line("/sys/kernel/mm/transparent_hugepage/enabled", "unknown", buf, sizeof(buf));
	kv(ctx, "transparent_hugepages", buf);
	kv(ctx, "aslr", kernel_read_line("/proc/sys/kernel/randomize_va_space", "unknown", buf,
					 sizeof(buf)));
	snprintf(buf, sizeof(buf), "%ld", sysconf(_SC_PAGESIZE));
	kv(ctx, "page_size_bytes", buf);
	snprintf(buf, sizeof(buf), "%zu", kernel_huge_page_bytes());
	kv(ctx, "huge_page_bytes", buf);
	snprintf(buf, sizeof(buf), "%d", kernel_overcommit_mode());
	kv(ctx, "overcommit_memory", buf);
	machine_describe(kv, ctx);
}

// --machine: the facts above, and what only a look at this moment tells: how busy the machine is
// (over half a second) and how often the CPU has throttled since boot.
static void list_machine(void)
{
	struct busy_meter meter;
	struct busy now;
	struct machine_sample s;
	struct topo topo;
	char buf[200];

	// The model as the manifest names it (hwloc reads the CPU's own brand string, which can
	// differ from /proc/cpuinfo's "model name" in a VM).
	if (topo_init(&topo) == 0) {
		printf("cpu_model: %s\n", topo_cpu_model(&topo, buf, sizeof(buf)));
		topo_release(&topo);
	}
	system_facts(print_fact, NULL);
	busy_start(&meter);
	(void)nanosleep(&(struct timespec){ .tv_nsec = 500000000L }, NULL);
	busy_stop(&meter, &now);
	printf("busy_now: %s%s\n", busy_describe(&now, buf, sizeof(buf)),
	       busy_is_noisy(&now) ? " (busy: timings will be noisy)" : "");
	machine_sample(NULL, &s);
	if (s.throttle_events < 0)
		printf("throttle_events_since_boot: unknown (no thermal_throttle counters: only Intel "
		       "CPUs on bare metal have them)\n");
	else
		printf("throttle_events_since_boot: %lld\n", s.throttle_events);
}

void lab_init(struct lab *lab, const struct cli_lab *info, const char *title, int argc,
	      char **argv)
{
	memset(lab, 0, sizeof(*lab));
	lab->info = info;
	lab->bind_error = 1;
	lab->home_pu = lab->cpu_kind = -1;
	switch (cli_parse(argc, argv, info, &lab->opt)) {
	case CLI_RUN:
		break;
	case CLI_EXIT_OK:
		exit(0);
	case CLI_EXIT_USAGE:
		exit(DIE_USAGE_STATUS);
	}
	// Every line from here on fits the terminal (term.h); --help above is narrow already.
	(void)term_fit_stdout();	// -1: output as it was, unbroken
	if (lab->opt.list_counters) {
		lab_list_counters();
		exit(0);
	}
	if (lab->opt.list_machine) {
		list_machine();
		exit(0);
	}
	size_t used = 0;
	for (int i = 0; i < argc && used < sizeof(lab->command_line); i++)
		used += (size_t)snprintf(lab->command_line + used, sizeof(lab->command_line) - used,
					 "%s%s", i ? " " : "", argv[i]);

	int err = report_make_dir(lab->opt.out_dir);
	if (err)
		die_usage("--out %s: cannot write there: %s", lab->opt.out_dir, strerror(-err));
	err = report_file_open(&lab->verdict, lab->opt.out_dir, "verdict.txt");
	if (err)
		die_usage("--out %s: cannot write there: %s", lab->opt.out_dir, strerror(-err));
	report_machine_id(lab->machine_id, sizeof(lab->machine_id));

	printf("== %s ==\n", title);
	int kind = -1;
	err = topo_init(&lab->topo);
	lab->have_topo = err == 0;
	if (lab->have_topo) {
		lab->allowed_pus = topo_allowed_pus(&lab->topo);
		lab->nr_allowed_pus = lab->allowed_pus ? (unsigned)hwloc_bitmap_weight(lab->allowed_pus)
						       : 0;
		kind = choose_home(lab);
		topo_describe(&lab->topo, lab->machine_line, sizeof(lab->machine_line));
	}
	else
		snprintf(lab->machine_line, sizeof(lab->machine_line),
			 "unknown (hwloc could not load the topology: %s)", strerror(-err));
	printf("machine:  %s%s\n", lab->machine_line, lab_in_vm() ? " | virtual machine" : "");
	print_home(lab, kind);
	detect_emulation(lab->emulated, sizeof(lab->emulated));
	if (lab->emulated[0])
		printf("emulated: %s: timings are the emulator's, and the machine line, caches and "
		       "counters describe the host, not the CPU this program was built for\n",
		       lab->emulated);
	lab->usable_cpus = usable_cpus();
	if (lab->have_topo && lab->usable_cpus > 0 &&
	    (unsigned)lab->usable_cpus < topo_nr_pus(&lab->topo))
		printf("cpus:     this process may run on %d of the %u PUs (taskset or a cpuset "
		       "limits it)\n", lab->usable_cpus, topo_nr_pus(&lab->topo));
	memlimit_read(&lab->memory);
	if (lab->memory.source != MEMLIMIT_MEM_AVAILABLE) {
		char why[200];

		printf("memory:   sized below %s, which is less than MemAvailable\n",
		       memlimit_describe(&lab->memory, why, sizeof(why)));
	}
	lab->clock_overhead_ns = clock_overhead_ns();
	lab->clock_step_ns = clock_step_ns();
	printf("timer:    CLOCK_MONOTONIC, smallest step seen %llu ns (clock_getres says %llu ns), "
	       "%.1f ns per read\n", (unsigned long long)lab->clock_step_ns,
	       (unsigned long long)clock_resolution_ns(), lab->clock_overhead_ns);
	// Before measuring: 100 ms idle, so that what /proc/stat counts is other programs.
	struct busy_meter before;
	busy_start(&before);
	(void)nanosleep(&(struct timespec){ .tv_nsec = 100000000L }, NULL);
	busy_stop(&before, &lab->busy_before);
	busy_start(&lab->busy_meter);
	cpu_set_t cpus;
	lab_allowed_cpus(lab, &cpus);
	machine_sample(&cpus, &lab->machine_before);
	if (busy_is_noisy(&lab->busy_before)) {
		char what[160];

		printf("busy:     %s right now: timings will be noisy; close other programs or "
		       "rerun\n", busy_describe(&lab->busy_before, what, sizeof(what)));
	}
	// A verdict needs its interval to clear the threshold by a margin (compare.h): 5%, for
	// what changes between runs; half again in a quick run, whose 3 rounds cover about 75%.
	compare_set_margin(lab->opt.quick ? LAB_QUICK_MARGIN : LAB_FULL_MARGIN);
	if (lab->opt.quick)
		printf("mode:     --quick (fewer points, %u samples of %.0f ms in one process: its "
		       "intervals cover about 75%%, so a claim is judged only where it clears its "
		       "threshold by %.1fx; for tests, not for conclusions)\n", lab->opt.nr_reps,
		       (double)lab->opt.min_sample_ns / 1e6, LAB_QUICK_MARGIN);
}

void lab_pin_here(struct lab *lab)
{
	int pu = lab->have_topo ? lab->home_pu : -1;

	if (pu < 0) {
		lab->bind_error = -ENOSYS;
		printf("pinning:  not pinned (hwloc cannot tell where this thread runs); samples may "
		       "migrate between CPUs\n");
		return;
	}
	lab->bind_error = topo_bind_thread(&lab->topo, (unsigned)pu, &lab->binding);
	if (lab->bind_error)
		printf("pinning:  could not pin to PU %d (%s); running unpinned: samples may migrate\n",
		       pu, strerror(-lab->bind_error));
	else
		printf("pinning:  pinned to PU %d (%s)\n", pu,
		       lab->binding.verified ? "verified: running there" : "not verified");
}

// The index-th PU this process may use, round robin, as lab_pin_worker() picks it; -1 if none.
static int worker_pu(const struct lab *lab, unsigned index)
{
	if (!lab->have_topo || !lab->allowed_pus || lab->nr_allowed_pus == 0)
		return -1;
	index %= lab->nr_allowed_pus;
	int pu = hwloc_bitmap_first(lab->allowed_pus);
	while (index-- > 0)
		pu = hwloc_bitmap_next(lab->allowed_pus, pu);
	return pu;
}

int lab_pin_worker(const struct lab *lab, unsigned index)
{
	struct topo_binding b;
	int pu = worker_pu(lab, index);

	if (pu < 0 || topo_bind_thread(&lab->topo, (unsigned)pu, &b) != 0)
		return -1;
	return b.pu_observed;
}

void lab_worker_pus(const struct lab *lab, unsigned nr, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned t = 0; t < nr && used < len; t++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", t ? " " : "",
					 worker_pu(lab, t));
}

double lab_perf_bench_us(const char *const argv[])
{
	char out[4096];
	struct guard_limits limits = { .timeout_ms = 60000 };
	struct guard_result g;
	double us = NAN;

	if (guard_exec((char *const *)argv, NULL, &limits, out, sizeof(out), &g) != 0 ||
	    g.outcome != GUARD_EXITED || g.exit_status != 0)
		return NAN;
	// "     1.234 usecs/op": the figure leads its line.
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "usecs/op") && sscanf(line, "%lf", &us) == 1)
			return us;
	return NAN;
}

void lab_allowed_cpus(const struct lab *lab, cpu_set_t *set)
{
	CPU_ZERO(set);
	if (lab->allowed_pus) {
		int pu = -1;

		while ((pu = hwloc_bitmap_next(lab->allowed_pus, pu)) >= 0)
			if (pu < CPU_SETSIZE)
				CPU_SET(pu, set);
	} else if (sched_getaffinity(0, sizeof(*set), set) != 0) {
		CPU_ZERO(set);
	}
}

void lab_print_counters(const struct counters *c)
{
	printf("counters: %s\n", counters_library_status());
	bool hardware = false;
	for (size_t i = 0; i < c->nr_slots; i++) {
		const struct counters_slot *s = &c->slots[i];

		hardware |= s->event && counters_metric_is_hardware(s->metric);
		if (s->event)
			printf("  %-17s yes  %s: %s\n", counters_metric_name(s->metric), s->event,
			       s->counts);
		else
			printf("  %-17s no   %s\n", counters_metric_name(s->metric), s->reason);
	}
	if (hardware && c->kernel_mode)
		printf("  counted in user and kernel mode: a syscall's or a fault's kernel work is "
		       "in the counts\n");
	else if (hardware)
		printf("  counted in user mode only: the kernel's share of a syscall or a fault is "
		       "missing; enable: sudo sysctl kernel.perf_event_paranoid=1, or run as root\n");
}

void lab_list_counters(void)
{
	struct counters all = { .event_set = -1 }, one;

	// One metric at a time: together they might not fit the PMU, and each line should say what
	// this machine can count, not what fits beside the others.
	for (int m = 0; m < COUNTERS_NR_METRICS && m < COUNTERS_MAX; m++) {
		enum counters_metric metric = (enum counters_metric)m;

		counters_init(&one, &metric, 1);
		all.slots[all.nr_slots++] = one.slots[0];
		if (one.slots[0].event && counters_metric_is_hardware(metric))
			all.kernel_mode = one.kernel_mode;
		counters_release(&one);
	}
	lab_print_counters(&all);
}

void lab_note_missing_counters(const struct counters *c)
{
	char names[256] = "";
	size_t used = 0;

	for (size_t i = 0; i < c->nr_slots && used < sizeof(names); i++)
		if (!c->slots[i].event)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 used ? ", " : "",
						 counters_metric_name(c->slots[i].metric));
	if (used)
		lab_note("not counted on this machine, so empty in data.csv: %s (the counters lines "
			 "above say why; 'make doctor' explains)", names);
	// Slots that stopped during the run, one note per reason (a failure stops them all at once).
	bool told[COUNTERS_MAX] = { false };
	for (size_t i = 0; i < c->nr_slots; i++) {
		if (!c->slots[i].stalled || told[i])
			continue;
		used = 0;
		for (size_t k = i; k < c->nr_slots && used < sizeof(names); k++) {
			if (!c->slots[k].stalled || strcmp(c->slots[k].reason, c->slots[i].reason) != 0)
				continue;
			told[k] = true;
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 used ? ", " : "",
						 counters_metric_name(c->slots[k].metric));
		}
		lab_note("%s: unavailable from some point of the run on, so empty there in data.csv: "
			 "%s", names, c->slots[i].reason);
	}
}

static void print_prefixed(FILE *f, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void print_prefixed(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	// A note in the middle of a progress line ("measuring: 1 MiB... ") starts a line of its own.
	if (f == stdout && !term_at_line_start())
		fputc('\n', f);
	fputs(prefix, f);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

void lab_prediction(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_prefixed(stdout, "prediction: ", fmt, ap);
	va_end(ap);
}

void lab_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_prefixed(stdout, "note: ", fmt, ap);
	va_end(ap);
}

// One line on the terminal and in verdict.txt (when open), each with its prefix.
static void print_to_both(struct lab *lab, const char *term_prefix, const char *file_prefix,
			  const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void print_to_both(struct lab *lab, const char *term_prefix, const char *file_prefix,
			  const char *fmt, va_list ap)
{
	va_list again;

	va_copy(again, ap);
	print_prefixed(stdout, term_prefix, fmt, ap);
	if (lab->verdict.f)
		print_prefixed(lab->verdict.f, file_prefix, fmt, again);
	va_end(again);
}

void lab_shown(struct lab *lab, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_to_both(lab, "shown:   ", "shown: ", fmt, ap);
	va_end(ap);
}

// "verdict: " lines are judged claims only (judge() below), so that every one has its row in
// verdicts.csv and the closing note's count of them is the count a learner sees.
static void print_verdict(struct lab *lab, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void print_verdict(struct lab *lab, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_to_both(lab, "verdict: ", "", fmt, ap);
	va_end(ap);
}

// Keeps a row for verdicts.csv; returns it, or NULL past LAB_MAX_VERDICTS (a bug in the lab).
static struct lab_verdict_row *add_row(struct lab *lab, const char *id, const char *claim,
				       enum compare_status status, double value, double ci_low,
				       double ci_high, const char *unit)
{
	if (lab->nr_verdicts == LAB_MAX_VERDICTS)
		return NULL;
	struct lab_verdict_row *row = &lab->verdicts[lab->nr_verdicts++];

	*row = (struct lab_verdict_row){ .status = status, .value = value, .ci_low = ci_low,
					 .ci_high = ci_high, .coverage = NAN };
	snprintf(row->id, sizeof(row->id), "%s", id);
	snprintf(row->claim, sizeof(row->claim), "%s", claim);
	snprintf(row->unit, sizeof(row->unit), "%s", unit);
	return row;
}

// Prints a judged claim's line and keeps its row; r (or NULL) gives the row its rounds.
static void judge(struct lab *lab, const char *id, const char *claim, enum compare_status status,
		  double value, double ci_low, double ci_high, const char *unit,
		  const struct compare_ratio *r, const char *detail)
{
	print_verdict(lab, "'%s' %s: %s", claim,
		      status == COMPARE_NOT_SHOWN ? "not shown" : compare_status_name(status), detail);
	struct lab_verdict_row *row = add_row(lab, id, claim, status, value, ci_low, ci_high, unit);

	if (row && r && r->nr_rounds) {
		row->rounds = r->nr_rounds;
		row->processes = r->nr_processes;
		row->disturbed = r->nr_disturbed + r->nr_redone;
		row->coverage = r->coverage;
		row->busy = r->busy;
	}
}

void lab_judge(struct lab *lab, const char *id, const char *claim, enum compare_status status,
	       double value, double ci_low, double ci_high, const char *unit, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	judge(lab, id, claim, status, value, ci_low, ci_high, unit, NULL, detail);
}

void lab_judge_ratio(struct lab *lab, const char *id, const char *claim,
		     enum compare_status status, const struct compare_ratio *r, const char *fmt,
		     ...)
{
	char detail[1024], ratio[256], line[1300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s; %s", compare_format_ratio(r, ratio, sizeof(ratio)), detail);
	judge(lab, id, claim, status, r->median, r->low, r->high, "x", r, line);
}

void lab_show(struct lab *lab, const char *id, const char *claim, double value, const char *unit,
	      const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	lab_shown(lab, "'%s': %s", claim, detail);
	(void)add_row(lab, id, claim, COMPARE_SHOWN, value, NAN, NAN, unit);
}

void lab_demonstrate(struct lab *lab, bool ok, const char *id, const char *claim, double value,
		     const char *unit, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (ok)
		lab_show(lab, id, claim, value, unit, "%s", detail);
	else
		judge(lab, id, claim, COMPARE_FAILS, value, NAN, NAN, unit, NULL, detail);
}

uint64_t lab_memory_bytes(const struct lab *lab)
{
	return lab->memory.bytes == MEMLIMIT_NONE ? 0 : lab->memory.bytes;
}

unsigned lab_rounds(const struct lab *lab)
{
	struct compare_plan plan = lab_plan(lab);

	return plan.nr_rounds * plan.nr_processes;
}

struct compare_plan lab_plan(const struct lab *lab)
{
	unsigned np = lab->opt.nr_processes ? lab->opt.nr_processes : 1;

	return (struct compare_plan){ .nr_rounds = (lab->opt.nr_reps + np - 1) / np,
				      .nr_processes = np };
}

// How busy the machine was from lab_init() until the first call (later calls return the same).
// Prints one "busy:" line when other work competed.
static const struct busy *lab_busy_run(struct lab *lab)
{
	char what[160];

	if (lab->have_busy_run)
		return &lab->busy_run;
	busy_sample(&lab->busy_meter);
	busy_stop(&lab->busy_meter, &lab->busy_run);
	lab->have_busy_run = true;
	if (busy_is_noisy(&lab->busy_run))
		printf("busy:     during this run %s: other work competed for the CPUs, so "
		       "timings are noisy; close other programs or rerun\n",
		       busy_describe(&lab->busy_run, what, sizeof(what)));
	return &lab->busy_run;
}

static void manifest_busy(struct report_file *m, struct lab *lab)
{
	char what[160];
	const struct busy *run = lab_busy_run(lab);

	report_kv(m, "busy_before", "%s", busy_describe(&lab->busy_before, what, sizeof(what)));
	report_kv(m, "busy_during_run", "%s over %.1f s%s",
		  busy_describe(run, what, sizeof(what)), run->elapsed_s,
		  busy_is_noisy(run) ? " (noisy)" : "");
}

static void manifest_machine(struct report_file *m, const struct lab *lab)
{
	struct utsname u;
	char buf[256], host[256] = "";

	report_kv(m, "lab", "%s", lab->info->name);
	report_kv(m, "machine_id", "%s", lab->machine_id);
	(void)gethostname(host, sizeof(host) - 1);	// empty if it fails
	report_kv(m, "hostname", "%s", host);
	report_kv(m, "cpu", "%s", lab->machine_line);
	if (lab->have_topo) {
		char model[128];

		report_kv(m, "cpu_model", "%s", topo_cpu_model(&lab->topo, model, sizeof(model)));
		report_kv(m, "nr_pus", "%u", topo_nr_pus(&lab->topo));
		report_kv(m, "nr_cores", "%u", topo_nr_cores(&lab->topo));
		report_kv(m, "cache_line_bytes", "%u", topo_line_bytes(&lab->topo));
		for (unsigned level = 1; level <= 3; level++)
			report_kv(m, level == 1 ? "l1d_bytes" : level == 2 ? "l2_bytes" : "l3_bytes",
				  "%llu", (unsigned long long)topo_cache_bytes(&lab->topo, level));
		report_kv(m, "nr_cpu_kinds", "%u", topo_nr_cpu_kinds(&lab->topo));
	}
	report_kv(m, "usable_cpus", "%d", lab->usable_cpus);
	if (lab->cpu_kind >= 0) {
		char what[64];

		report_kv(m, "cpu_kind", "%d of %u (%s)", lab->cpu_kind, topo_nr_cpu_kinds(&lab->topo),
			  topo_kind_describe(&lab->topo, lab->cpu_kind, what, sizeof(what)));
	} else {
		report_kv(m, "cpu_kind", "one kind of core");
	}
	report_kv(m, "emulated", "%s", lab->emulated[0] ? lab->emulated : "no");
	report_kv(m, "virtual_machine", "%s", lab_in_vm() ? "yes" : "no");
	report_kv(m, "mem_available_bytes", "%llu",
		  (unsigned long long)topo_mem_available_bytes());
	char bound[200];
	report_kv(m, "memory_bound", "%llu (%s)", (unsigned long long)lab_memory_bytes(lab),
		  memlimit_describe(&lab->memory, bound, sizeof(bound)));
	if (uname(&u) == 0)
		report_kv(m, "kernel", "%s %s %s", u.sysname, u.release, u.machine);
	os_name(buf, sizeof(buf));
	report_kv(m, "os", "%s", buf);
	system_facts(manifest_fact, m);
	// What changed during the run.
	cpu_set_t used;
	struct machine_sample after;
	lab_allowed_cpus(lab, &used);
	machine_sample(&used, &after);
	machine_describe_run(&lab->machine_before, &after, manifest_fact, m);
}

static void manifest_build_and_run(struct report_file *m, const struct lab *lab,
				   const struct counters *c)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	report_kv(m, "compiler", "%s", BUILD_CC_VERSION);
	report_kv(m, "cflags", "%s", BUILD_CFLAGS);
	report_kv(m, "git_revision", "%s", BUILD_GIT_REV);
	report_kv(m, "papi_version", "%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
		  PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION));
	unsigned hv = hwloc_get_api_version();
	report_kv(m, "hwloc_version", "%s (API %u.%u.%u at run time)", HWLOC_VERSION, hv >> 16,
		  (hv >> 8) & 0xff, hv & 0xff);
	report_kv(m, "papi_status", "%s", counters_library_status());
	report_kv(m, "perf_event_paranoid", "%d", counters_paranoid_level());
	report_kv(m, "hardware_pmu", "%s", counters_have_hw_pmu() ? "yes" : "no");
	if (!c)
		report_kv(m, "counters", "none used by this lab");
	else
		report_kv(m, "counter_domain", "%s", counters_domain_name(c));
	for (size_t i = 0; c && i < c->nr_slots; i++) {
		const struct counters_slot *s = &c->slots[i];
		char key[64];

		snprintf(key, sizeof(key), "counter.%s", counters_metric_name(s->metric));
		if (s->event && !s->stalled)
			report_kv(m, key, "%s (%s)", s->event, s->counts);
		else if (s->event)
			report_kv(m, key, "%s, stalled: %s", s->event, s->reason);
		else
			report_kv(m, key, "unavailable: %s", s->reason);
	}
	if (lab->bind_error == 1)
		report_kv(m, "pinning", "none");
	else if (lab->bind_error)
		report_kv(m, "pinning", "failed: %s", strerror(-lab->bind_error));
	else
		report_kv(m, "pinning", "main thread on PU %u (observed on PU %d)",
			  lab->binding.pu_requested, lab->binding.pu_observed);
	report_kv(m, "timer", "CLOCK_MONOTONIC smallest step %llu ns, resolution %llu ns (clock_getres), "
		  "overhead %.1f ns per read", (unsigned long long)lab->clock_step_ns,
		  (unsigned long long)clock_resolution_ns(), lab->clock_overhead_ns);
	report_kv(m, "quick", "%s", lab->opt.quick ? "yes" : "no");
	report_kv(m, "samples_per_point", "%u", lab->opt.nr_reps);
	if (compare_nr_runs()) {
		// --reps asked for; a comparison runs whole rounds in each process, so it may run a
		// few more.
		struct compare_plan plan = lab_plan(lab);

		report_kv(m, "processes_per_comparison", "%u", lab->opt.nr_processes);
		report_kv(m, "rounds_per_comparison", "%u (%u in each of %u process%s; --reps %u)",
			  plan.nr_rounds * plan.nr_processes, plan.nr_rounds, plan.nr_processes,
			  plan.nr_processes == 1 ? "" : "es", lab->opt.nr_reps);
	} else {
		report_kv(m, "rounds_per_comparison", "none (no paired comparison through compare.h; "
			  "rounds a lab runs itself are its samples_per_point)");
	}
	report_kv(m, "min_sample_ns", "%llu", (unsigned long long)lab->opt.min_sample_ns);
	report_kv(m, "command", "%s", lab->command_line);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	report_kv(m, "date_utc", "%s", date);
}

void lab_write_manifest(struct lab *lab, const struct counters *c,
			void (*extra)(struct report_file *manifest, void *ctx), void *ctx)
{
	struct report_file m;
	int err = report_file_open(&m, lab->opt.out_dir, "manifest.txt");

	if (err)
		die_errno(err, "cannot write %s/manifest.txt", lab->opt.out_dir);
	manifest_machine(&m, lab);
	manifest_build_and_run(&m, lab, c);
	manifest_busy(&m, lab);
	if (extra)
		extra(&m, ctx);
	err = report_file_commit(&m);
	if (err)
		die_errno(err, "cannot write %s/manifest.txt", lab->opt.out_dir);
}

void lab_csv_open_named(struct lab *lab, struct report_csv *csv, const char *name,
			const char *const *columns, size_t nr_columns)
{
	int err = report_csv_open(csv, lab->opt.out_dir, name, columns, nr_columns);

	if (err)
		die_errno(err, "cannot write %s/%s", lab->opt.out_dir, name);
}

void lab_csv_open(struct lab *lab, struct report_csv *csv, const char *const *columns,
		  size_t nr_columns)
{
	lab_csv_open_named(lab, csv, "data.csv", columns, nr_columns);
}

void lab_csv_end_row(struct report_csv *csv)
{
	if (report_csv_end_row(csv))
		die("data.csv: wrong number of cells in a row (a bug)");
}

void lab_csv_commit(struct report_csv *csv)
{
	int err = report_csv_commit(csv);

	if (err)
		die_errno(err, "cannot write %s", csv->file.path);
}

void lab_headline(struct lab *lab, const char *name, double value, const char *unit,
		  double cross_check)
{
	if (lab->nr_headlines == LAB_MAX_HEADLINES)
		return;
	struct lab_headline *h = &lab->headlines[lab->nr_headlines++];

	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->unit, sizeof(h->unit), "%s", unit);
	h->value = value;
	h->cross_check = cross_check;
}

static void write_summary(struct lab *lab)
{
	static const char *const columns[] = { "lab", "name", "value", "unit", "cross_check_value" };
	struct report_csv csv;

	lab_csv_open_named(lab, &csv, "summary.csv", columns, sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < lab->nr_headlines; i++) {
		const struct lab_headline *h = &lab->headlines[i];

		report_csv_str(&csv, lab->info->name);
		report_csv_str(&csv, h->name);
		report_csv_double(&csv, h->value);
		report_csv_str(&csv, h->unit);
		report_csv_double(&csv, h->cross_check);
		lab_csv_end_row(&csv);
	}
	lab_csv_commit(&csv);
}

static void write_verdicts(struct lab *lab)
{
	static const char *const columns[] = { "lab", "id", "claim", "status", "value", "ci_low",
					       "ci_high", "unit", "rounds", "coverage", "processes",
					       "disturbed" };
	struct report_csv csv;
	// The notes count the judged claims, the "verdict:" lines, not the demonstrations.
	unsigned nr_inconclusive = 0, nr_busy = 0, nr_judged = 0;

	lab_csv_open_named(lab, &csv, "verdicts.csv", columns,
			   sizeof(columns) / sizeof(columns[0]));
	for (size_t i = 0; i < lab->nr_verdicts; i++) {
		const struct lab_verdict_row *v = &lab->verdicts[i];

		report_csv_str(&csv, lab->info->name);
		report_csv_str(&csv, v->id);
		report_csv_str(&csv, v->claim);
		report_csv_str(&csv, compare_status_name(v->status));
		report_csv_double(&csv, v->value);
		report_csv_double(&csv, v->ci_low);
		report_csv_double(&csv, v->ci_high);
		report_csv_str(&csv, v->unit);
		// Empty cells where the verdict rests on no rounds (a count, a fact).
		report_csv_double(&csv, v->rounds ? (double)v->rounds : NAN);
		report_csv_double(&csv, v->rounds ? v->coverage : NAN);
		report_csv_double(&csv, v->rounds ? (double)v->processes : NAN);
		report_csv_double(&csv, v->rounds ? (double)v->disturbed : NAN);
		lab_csv_end_row(&csv);
		nr_inconclusive += v->status == COMPARE_INCONCLUSIVE && !v->busy;
		nr_busy += v->busy;
		nr_judged += v->status != COMPARE_SHOWN;
	}
	lab_csv_commit(&csv);
	if (nr_busy)
		lab_note("%u of %u verdicts inconclusive because the machine was busy: other "
			 "programs kept the measured threads from running in too many rounds. Close "
			 "them and rerun", nr_busy, nr_judged);
	if (nr_inconclusive)
		lab_note("%u of %u verdicts inconclusive: this run cannot tell (the interval, "
			 "widened by the margin a judgement allows, reaches the claim's "
			 "threshold).%s", nr_inconclusive, nr_judged,
			 lab->opt.quick ? " A quick run's 3 rounds give 75% intervals: rerun without "
					  "QUICK=1" :
					  " Rerun on a quiet machine with more rounds, e.g. "
					  "ARGS=\"--reps 21\"");
}

void lab_finish(struct lab *lab)
{
	(void)lab_busy_run(lab);	// the "busy:" line, if the manifest did not print it
	write_verdicts(lab);
	write_summary(lab);
	int err = report_file_commit(&lab->verdict);

	if (err)
		die_errno(err, "cannot write %s/verdict.txt", lab->opt.out_dir);
	printf("files:    %s/ (data.csv, summary.csv, manifest.txt, verdict.txt, verdicts.csv)\n",
	       lab->opt.out_dir);
	if (lab->allowed_pus)
		hwloc_bitmap_free(lab->allowed_pus);
	if (lab->have_topo)
		topo_release(&lab->topo);
}

void lab_program_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		die_errno(errno, "cannot find this program (/proc/self/exe)");
	buf[n] = '\0';
}
