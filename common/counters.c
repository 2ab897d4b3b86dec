// SPDX-License-Identifier: MIT
// counters: PAPI metrics with candidate lists and reasons (see counters.h).
#include "counters.h"

#include "clock.h"
#include "kernel.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <papi.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// Candidates per metric, most portable first. Presets are missing on many current CPUs (Zen 4,
// hybrid Intel), hence the perf:: generic events. ":u=1:k=1" asks for kernel-mode counting, which
// context switches need: counted in user mode only they read 0, a wrong answer, not a missing one.
// meant_for names the libpfm4 PMU models a vendor event exists on (tests/e2e/event_table.sh
// checks each against libpfm4's tables; common/counter-events.md is the table it prints).
#define MAX_CANDIDATES 6
static const struct counters_candidate candidates[COUNTERS_NR_METRICS][MAX_CANDIDATES] = {
	[COUNTERS_CYCLES] = {
		{ "PAPI_TOT_CYC", "", "core cycles" },
		{ "perf::CYCLES", "", "core cycles (the kernel's generic event)" } },
	[COUNTERS_INSTRUCTIONS] = {
		{ "PAPI_TOT_INS", "", "instructions retired" },
		{ "perf::INSTRUCTIONS", "", "instructions retired (the kernel's generic event)" } },
	[COUNTERS_PAGE_FAULTS] = {
		{ "perf::PAGE-FAULTS", "", "page faults (a software event)" } },
	[COUNTERS_CONTEXT_SWITCHES] = {
		{ "perf::CONTEXT-SWITCHES:u=1:k=1", "", "context switches (a software event)" } },
	[COUNTERS_CACHE_MISSES] = {
		{ "PAPI_L3_TCM", "", "last-level (L3) misses" },
		{ "perf::CACHE-MISSES", "",
		  "the kernel's generic cache-misses: last-level misses on Intel, L2 misses on AMD, "
		  "L1D refills or last-level reads on arm64" } },
	[COUNTERS_L1D_MISSES] = {
		{ "PAPI_L1_DCM", "", "L1 data cache misses" },
		{ "perf::L1-DCACHE-LOAD-MISSES", "", "L1 data cache load misses (generic)" } },
	// Loads served by another core's copy of the line: what false sharing causes. No event on
	// arm64's common PMUs; none that is per socket across sockets (that needs the remote one).
	[COUNTERS_COHERENCE] = {
		{ "MEM_LOAD_L3_HIT_RETIRED:XSNP_HITM", "skl icl",
		  "retired loads that hit a line modified in another core of this socket (loads only: "
		  "stores that false-share count 0)" },
		{ "MEM_LOAD_L3_HIT_RETIRED:XSNP_FWD", "spr",
		  "retired loads forwarded from another core of this socket" },
		{ "MEM_LOAD_UOPS_L3_HIT_RETIRED:XSNP_HITM", "hsw",
		  "retired loads that hit a line modified in another core of this socket" },
		{ "DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_CACHE", "amd64_fam17h_zen2",
		  "L1D fills from another core's cache in this CCX" },
		{ "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:INT_CACHE", "amd64_fam19h_zen3",
		  "L1D fills from the L3 or another core's L2 in this CCX" },
		{ "ANY_DATA_CACHE_FILLS_FROM_SYSTEM:LOCAL_CCX", "amd64_fam19h_zen4",
		  "L1D fills from the L3 or another core's L2 in this CCX" } },
	[COUNTERS_DTLB_MISSES] = {
		{ "PAPI_TLB_DM", "", "data TLB misses (page walks on Intel, L1 dTLB misses on AMD)" },
		{ "perf::DTLB-LOAD-MISSES", "", "data TLB load misses (generic)" } },
};

const struct counters_candidate *counters_candidate(enum counters_metric metric, unsigned index)
{
	if ((unsigned)metric >= COUNTERS_NR_METRICS || index >= MAX_CANDIDATES ||
	    !candidates[metric][index].event)
		return NULL;
	return &candidates[metric][index];
}

bool counters_event_known(const char *event)
{
	int code;

	if (counters_library_init() != 0 || PAPI_event_name_to_code(event, &code) != PAPI_OK)
		return false;
	// A preset's name is always known; whether this CPU has the events behind it is a query.
	return !IS_PRESET(code) || PAPI_query_event(code) == PAPI_OK;
}

static const char *const metric_names[COUNTERS_NR_METRICS] = {
	[COUNTERS_CYCLES] = "cycles",
	[COUNTERS_INSTRUCTIONS] = "instructions",
	[COUNTERS_PAGE_FAULTS] = "page_faults",
	[COUNTERS_CONTEXT_SWITCHES] = "context_switches",
	[COUNTERS_CACHE_MISSES] = "cache_misses",
	[COUNTERS_L1D_MISSES] = "l1d_misses",
	[COUNTERS_COHERENCE] = "coherence_misses",
	[COUNTERS_DTLB_MISSES] = "dtlb_misses",
};

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_error = PAPI_ENOINIT;
static char library_status[256];

const char *counters_metric_name(enum counters_metric metric)
{
	return (unsigned)metric < COUNTERS_NR_METRICS ? metric_names[metric] : "unknown";
}

int counters_paranoid_level(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	int level = -100;

	if (f) {
		if (fscanf(f, "%d", &level) != 1)
			level = -100;
		fclose(f);
	}
	return level;
}

// Whether a PMU whose name starts with one of prefixes is listed in /sys/bus/event_source.
static bool have_pmu(const char *const *prefixes, size_t nr_prefixes)
{
	char dir[4096];
	DIR *d = opendir(kernel_path("/sys/bus/event_source/devices", dir, sizeof(dir)));
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		for (size_t i = 0; i < nr_prefixes; i++)
			if (!strncmp(e->d_name, prefixes[i], strlen(prefixes[i])))
				found = true;
	}
	closedir(d);
	return found;
}

bool counters_have_hw_pmu(void)
{
	// Core PMUs only: "cpu" (x86, and IBM POWER's core PMU), "cpu_core"/"cpu_atom" (hybrid
	// Intel), "armv8_..." (Arm cores), Apple's cores under Asahi, RISC-V's SBI PMU. Not "power"
	// (x86 RAPL energy) or "arm_spe"/"arm_cmn" (profiling and interconnect units).
	static const char *const prefixes[] = { "cpu", "armv", "apple_", "riscv_pmu" };

	return have_pmu(prefixes, sizeof(prefixes) / sizeof(prefixes[0]));
}

bool counters_hybrid_pmus(void)
{
	static const char *const core[] = { "cpu_core" }, *const atom[] = { "cpu_atom" };

	return have_pmu(core, 1) && have_pmu(atom, 1);
}

bool counters_metric_is_hardware(enum counters_metric metric)
{
	return metric != COUNTERS_PAGE_FAULTS && metric != COUNTERS_CONTEXT_SWITCHES;
}

const char *counters_domain_name(const struct counters *c)
{
	return c->kernel_mode ? "user+kernel" : "user mode only";
}

static unsigned long thread_id(void)
{
	return (unsigned long)pthread_self();
}

static void library_init_once(void)
{
	int ret = PAPI_library_init(PAPI_VER_CURRENT);

	// Success is the version number itself, not PAPI_OK.
	if (ret != PAPI_VER_CURRENT) {
		library_error = ret < 0 ? ret : PAPI_EINVAL;
		snprintf(library_status, sizeof(library_status),
			 "PAPI could not start (%s): timing only",
			 ret < 0 ? PAPI_strerror(ret) : "library and header versions differ");
		return;
	}
	ret = PAPI_thread_init(thread_id);
	if (ret != PAPI_OK) {
		library_error = ret;
		snprintf(library_status, sizeof(library_status),
			 "PAPI thread support failed (%s): timing only", PAPI_strerror(ret));
		return;
	}
	int cidx = PAPI_get_component_index("perf_event");
	const PAPI_component_info_t *info = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
	if (!info || info->disabled) {
		library_error = PAPI_ECMP;
		snprintf(library_status, sizeof(library_status),
			 "PAPI %d.%d.%d: perf_event component disabled (%.120s): timing only; %s",
			 PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION),
			 PAPI_VERSION_REVISION(PAPI_VERSION),
			 info && info->disabled_reason[0] ? info->disabled_reason : "not found",
			 counters_paranoid_level() >= 3
				 ? "enable: sudo sysctl kernel.perf_event_paranoid=1"
				 : "see 'make doctor'");
		return;
	}
	library_error = 0;
	snprintf(library_status, sizeof(library_status),
		 "PAPI %d.%d.%d, perf_event component active (%d counters)",
		 PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION),
		 PAPI_VERSION_REVISION(PAPI_VERSION), info->num_cntrs);
}

int counters_library_init(void)
{
	pthread_once(&library_once, library_init_once);
	return library_error;
}

const char *counters_library_status(void)
{
	counters_library_init();
	return library_status;
}

// Why a metric cannot be counted, and the one thing that would fix it.
static void explain(struct counters_slot *s)
{
	int paranoid = counters_paranoid_level();
	bool hardware = counters_metric_is_hardware(s->metric);

	if (library_error) {
		// Every reason ends with the one thing that would fix it, as the others do.
		snprintf(s->reason, sizeof(s->reason), "PAPI cannot count anything here (see above); "
			 "enable: %s", library_error != PAPI_ECMP ? "see 'make doctor'"
			 : paranoid >= 3 ? "sudo sysctl kernel.perf_event_paranoid=1"
			 : counters_hybrid_pmus()
				 ? "a PAPI/libpfm4 that knows this hybrid CPU's two core types (a "
				   "newer distribution)"
				 : "a PAPI/libpfm4 that knows this CPU (a newer distribution), or a "
				   "machine whose PMU is visible");
	} else if (hardware && !counters_have_hw_pmu()) {
		snprintf(s->reason, sizeof(s->reason),
			 "no hardware PMU visible (a VM without counter passthrough?); enable: "
			 "give the guest a PMU, e.g. KVM/QEMU -cpu host,pmu=on, or use bare metal");
	} else if (s->papi_error == PAPI_EPERM && (geteuid() == 0 || paranoid <= 1)) {
		// The sysctl allows this process, so something else refused: in practice a container's
		// seccomp profile (Docker's default blocks perf_event_open) or an LSM.
		snprintf(s->reason, sizeof(s->reason),
			 "perf_event_open refused although perf_event_paranoid=%d allows it (a container "
			 "or seccomp filter?); enable: allow perf_event_open, e.g. docker --cap-add "
			 "PERFMON with a seccomp profile that permits it, or run outside the container",
			 paranoid);
	} else if (s->papi_error == PAPI_EPERM && paranoid >= 3) {
		snprintf(s->reason, sizeof(s->reason),
			 "not permitted to users at perf_event_paranoid=%d; enable: "
			 "sudo sysctl kernel.perf_event_paranoid=1, or run as root", paranoid);
	} else if (s->papi_error == PAPI_EPERM) {
		snprintf(s->reason, sizeof(s->reason),
			 "not permitted at perf_event_paranoid=%d (kernel-mode counting); enable: "
			 "sudo sysctl kernel.perf_event_paranoid=1, or run as root", paranoid);
	} else if (s->papi_error == PAPI_ECNFLCT || s->papi_error == PAPI_ECOUNT) {
		snprintf(s->reason, sizeof(s->reason),
			 "no free hardware counter: too few for the events this lab asks for, or "
			 "another perf user or the NMI watchdog holds them; enable: stop the other perf "
			 "user, or sudo sysctl kernel.nmi_watchdog=0");
	} else if (s->papi_error == PAPI_ESYS) {
		snprintf(s->reason, sizeof(s->reason),
			 "perf_event_open failed (%s; a container's seccomp profile?); enable: run "
			 "with perf_event_open allowed (e.g. docker --cap-add PERFMON)",
			 PAPI_strerror(s->papi_error));
	} else {
		snprintf(s->reason, sizeof(s->reason), "no candidate event on this CPU (%s)",
			 PAPI_strerror(s->papi_error));
	}
}

// Adds one candidate and proves it can be started: some refusals only show at start.
static int try_add(int event_set, const char *name)
{
	int ret = PAPI_add_named_event(event_set, name);

	if (ret != PAPI_OK)
		return ret;
	ret = PAPI_start(event_set);
	if (ret == PAPI_OK) {
		long long scratch[COUNTERS_MAX + 1];

		return PAPI_stop(event_set, scratch);
	}
	(void)PAPI_remove_named_event(event_set, name);	// best effort: it is not in use
	return ret;
}

// The modes the event set's hardware events count in. PAPI's default is user mode only; kernel
// mode is what a syscall or a page fault costs, and the kernel allows it to root, or to anyone at
// perf_event_paranoid <= 1. Set before any event is added: PAPI encodes each event with it.
static bool set_domain(int event_set, bool kernel_mode)
{
	PAPI_option_t opt;

	memset(&opt, 0, sizeof(opt));
	opt.domain.eventset = event_set;
	opt.domain.domain = kernel_mode ? PAPI_DOM_ALL : PAPI_DOM_USER;
	return PAPI_set_opt(PAPI_DOMAIN, &opt) == PAPI_OK;
}

static int create_event_set(bool want_kernel, bool *kernel_mode)
{
	int event_set = PAPI_NULL;
	int cidx = PAPI_get_component_index("perf_event");

	*kernel_mode = false;
	if (PAPI_create_eventset(&event_set) != PAPI_OK)
		return PAPI_NULL;
	// A domain is a component's setting: the event set must belong to one first.
	if (cidx < 0 || PAPI_assign_eventset_component(event_set, cidx) != PAPI_OK)
		return event_set;	// PAPI's default domain, user mode
	*kernel_mode = want_kernel && set_domain(event_set, true);
	if (!*kernel_mode)
		(void)set_domain(event_set, false);	// already PAPI's default if this fails
	return event_set;
}

static bool kernel_counting_allowed(void)
{
	return geteuid() == 0 || counters_paranoid_level() <= 1;
}

// Adds the first candidate of s's metric that can be counted.
static void add_slot(struct counters *c, struct counters_slot *s)
{
	for (unsigned k = 0; c->event_set != PAPI_NULL && k < MAX_CANDIDATES; k++) {
		const char *name = candidates[s->metric][k].event;

		if (!name)
			break;
		s->papi_error = try_add(c->event_set, name);
		if (s->papi_error == PAPI_OK) {
			s->event = name;
			s->counts = candidates[s->metric][k].counts;
			return;
		}
	}
	explain(s);
}

int counters_init(struct counters *c, const enum counters_metric *metrics, size_t nr_metrics)
{
	if (nr_metrics > COUNTERS_MAX)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->event_set = PAPI_NULL;
	c->nr_slots = nr_metrics;
	for (size_t i = 0; i < nr_metrics; i++) {
		c->slots[i].metric = metrics[i];
		c->slots[i].papi_error = PAPI_ENOEVNT;
	}
	if (counters_library_init() == 0)
		c->event_set = create_event_set(kernel_counting_allowed(), &c->kernel_mode);
	for (size_t i = 0; i < nr_metrics; i++)
		add_slot(c, &c->slots[i]);
	bool all_refused = nr_metrics > 0;
	for (size_t i = 0; i < nr_metrics; i++)
		all_refused &= c->slots[i].papi_error == PAPI_EPERM;
	if (c->kernel_mode && all_refused && c->event_set != PAPI_NULL) {
		// Kernel mode was refused although the sysctl allows it (a seccomp filter, an LSM):
		// user mode may still be allowed.
		(void)PAPI_destroy_eventset(&c->event_set);
		c->event_set = create_event_set(false, &c->kernel_mode);
		for (size_t i = 0; i < nr_metrics; i++)
			add_slot(c, &c->slots[i]);
	}

	// The proof that the hardware counters ran: cycles or instructions, added behind the slots
	// when the lab counts neither.
	bool hardware = false, proof = false;
	for (size_t i = 0; i < nr_metrics; i++) {
		hardware |= c->slots[i].event && counters_metric_is_hardware(metrics[i]);
		proof |= c->slots[i].event && (metrics[i] == COUNTERS_CYCLES ||
					       metrics[i] == COUNTERS_INSTRUCTIONS);
	}
	for (unsigned k = 0; hardware && !proof && !c->has_sentinel && k < MAX_CANDIDATES &&
	     candidates[COUNTERS_CYCLES][k].event; k++)
		c->has_sentinel = try_add(c->event_set, candidates[COUNTERS_CYCLES][k].event) ==
				  PAPI_OK;
	return 0;
}

size_t counters_nr_available(const struct counters *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nr_slots; i++)
		n += c->slots[i].event != NULL && !c->slots[i].stalled;
	return n;
}

// Marks the slots stalled (every slot, or the hardware ones): from now on they read NAN.
static void stall(struct counters *c, bool hardware_only, const char *why, const char *enable)
{
	for (size_t i = 0; i < c->nr_slots; i++) {
		struct counters_slot *s = &c->slots[i];

		if (!s->event || s->stalled ||
		    (hardware_only && !counters_metric_is_hardware(s->metric)))
			continue;
		s->stalled = true;
		snprintf(s->reason, sizeof(s->reason), "%s; enable: %s", why, enable);
	}
}

// The counters read 0 over a region that ran: opened, never running.
static void stall_silent(struct counters *c)
{
	bool hybrid = counters_hybrid_pmus();

	stall(c, true, hybrid ? "0 cycles over a region that ran: the counters did not run (a "
			       "hybrid CPU: the events were opened for the other core type)"
			      : "0 cycles over a region that ran: the counters did not run (another "
				"perf user or the NMI watchdog took them?)",
	      hybrid ? "run the lab on the other --cpu-kind, or a PAPI/libpfm4 that knows this "
		       "CPU (a newer distribution)"
		     : "stop the other perf user, or sudo sysctl kernel.nmi_watchdog=0");
}

// PAPI refused to start or read the counters in the middle of the run. PAPI pins its event
// groups, so a group that loses its counters to another user's pinned events goes into an error
// state, and reading it fails: taken counters end here, not in silent zeros.
static void stall_error(struct counters *c, int papi_error)
{
	char why[160];

	snprintf(why, sizeof(why), "the counters stopped working during the run (PAPI: %s): "
		 "another perf user or the NMI watchdog may have taken them",
		 PAPI_strerror(papi_error));
	stall(c, false, why, "stop the other perf user, or sudo sysctl kernel.nmi_watchdog=0");
}

bool counters_read_proves_stall(const struct counters *c, const long long *raw,
				uint64_t elapsed_ns)
{
	size_t k = 0;

	if (elapsed_ns < COUNTERS_MIN_REGION_NS)
		return false;	// too short to be sure that a cycle must have passed
	for (size_t i = 0; i < c->nr_slots; i++) {
		const struct counters_slot *s = &c->slots[i];

		if (!s->event)
			continue;
		if (raw[k] == 0 && (s->metric == COUNTERS_CYCLES || s->metric == COUNTERS_INSTRUCTIONS))
			return true;
		k++;
	}
	return c->has_sentinel && raw[k] == 0;	// the sentinel is read after the slots
}

int counters_start(struct counters *c)
{
	if (c->event_set == PAPI_NULL || counters_nr_available(c) == 0)
		return 0;
	c->started_ns = clock_now_ns();
	int ret = PAPI_start(c->event_set);
	if (ret != PAPI_OK)
		stall_error(c, ret);
	return ret;
}

int counters_stop(struct counters *c, double *values)
{
	long long raw[COUNTERS_MAX + 1] = { 0 };
	int ret = PAPI_ENOEVNT;	// nothing read: every value NAN

	if (c->event_set != PAPI_NULL && counters_nr_available(c) > 0) {
		ret = PAPI_stop(c->event_set, raw);
		if (ret != PAPI_OK)
			stall_error(c, ret);
		else if (counters_read_proves_stall(c, raw, clock_now_ns() - c->started_ns))
			stall_silent(c);
	}
	// PAPI returns the values in the order events were added, which is slot order with the
	// unavailable slots left out, then the sentinel.
	size_t k = 0;
	for (size_t i = 0; i < c->nr_slots; i++) {
		const struct counters_slot *s = &c->slots[i];

		if (s->event && ret == PAPI_OK && !s->stalled)
			values[i] = (double)raw[k];
		else
			values[i] = NAN;
		k += s->event != NULL;
	}
	return ret == PAPI_ENOEVNT ? 0 : ret;
}

void counters_release(struct counters *c)
{
	if (c->event_set != PAPI_NULL) {
		(void)PAPI_cleanup_eventset(c->event_set);	// nothing to do if it fails
		(void)PAPI_destroy_eventset(&c->event_set);
	}
	c->event_set = PAPI_NULL;
	// A worker thread ends after this: PAPI must forget it, because glibc reuses thread stacks
	// and ids, and PAPI's thread table would take the next thread for this one. A thread that
	// calls PAPI again is registered again on that call.
	if (counters_library_init() == 0)
		(void)PAPI_unregister_thread();
}
