/* SPDX-License-Identifier: MIT */
/*
 * counters: hardware and software event counts through PAPI, per thread. Each metric is a list of
 * candidate events (PAPI preset, then native, then perf:: software event); the first that can be
 * counted wins. Never required at run time: a metric that cannot be counted is NAN, with a reason
 * and a way to enable it, and the lab goes on timing-only. getrusage() stays the ground truth for
 * faults and context switches (see bench.h for the cross-check).
 */
#ifndef COMMON_COUNTERS_H
#define COMMON_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum counters_metric {
	COUNTERS_CYCLES,
	COUNTERS_INSTRUCTIONS,
	COUNTERS_PAGE_FAULTS,		/* minor + major, user-mode counting suffices */
	COUNTERS_CONTEXT_SWITCHES,	/* needs kernel-mode counting: paranoid <= 1 or root */
	COUNTERS_CACHE_MISSES,		/* last-level cache misses */
	COUNTERS_L1D_MISSES,
	COUNTERS_COHERENCE,		/* loads served from another core's modified line (HITM) */
	COUNTERS_DTLB_MISSES,		/* data TLB misses (loads) */
	COUNTERS_NR_METRICS
};

#define COUNTERS_MAX 8
#define COUNTERS_REASON_MAX 256

/* One wanted metric and what became of it. */
struct counters_slot {
	enum counters_metric metric;
	const char *event;	/* the candidate that was added, NULL if none could be */
	const char *counts;	/* what that event counts on this CPU ("core cycles"), NULL if none */
	int papi_error;		/* the last candidate's PAPI error code when none could be */
	/* Set when counting stopped working during the run (see counters_stop): from then on the
	 * slot reads NAN, and reason says why. */
	bool stalled;
	char reason[COUNTERS_REASON_MAX];	/* why not, and how to enable it, when event is NULL
						 * or stalled */
};

struct counters {
	int event_set;		/* a PAPI event set, or -1 (PAPI_NULL) when nothing can be counted */
	size_t nr_slots;
	struct counters_slot slots[COUNTERS_MAX];
	/* Whether the hardware events count kernel mode too (root, or perf_event_paranoid <= 1), or
	 * user mode only: then the kernel's share of a syscall or a page fault is missing. */
	bool kernel_mode;
	/* A cycles event added behind the slots when the lab counts hardware events but neither
	 * cycles nor instructions: the proof that the counters ran (see counters_stop). */
	bool has_sentinel;
	uint64_t started_ns;	/* when counters_start() started them */
};

/*
 * Starts PAPI for the process, thread support included. Idempotent and thread-safe.
 * Returns 0, or a negative PAPI error code (then every counters_init() gives timing-only).
 */
int counters_library_init(void);

/* One line on the state of PAPI: its version and active component, or why it is unusable. */
const char *counters_library_status(void);

/*
 * Prepares counting of the given metrics in the calling thread (an event set is per thread).
 * Tries each metric's candidates and keeps the first that can be started. Always returns 0 with
 * c usable: unavailable metrics are recorded with their reason. -EINVAL for more than COUNTERS_MAX.
 */
int counters_init(struct counters *c, const enum counters_metric *metrics, size_t nr_metrics);

/* Number of metrics that will be counted (0: timing only). */
size_t counters_nr_available(const struct counters *c);

/* Starts counting. Returns 0 or a negative PAPI code; 0 with nothing to count. */
int counters_start(struct counters *c);

/*
 * Stops and reads: values[i] is slot i's count, or NAN when slot i is unavailable.
 * Returns 0 or a negative PAPI code (then every value is NAN).
 *
 * Silent zeros: events that were opened but did not run read 0, not an error (a thread on a
 * hybrid CPU's other core type, another perf user or the NMI watchdog holding the counters). A
 * region that ran for COUNTERS_MIN_REGION_NS cannot have taken 0 cycles or 0 instructions: when
 * one reads 0, every hardware slot is marked stalled, with the reason, and reads NAN from then on.
 */
#define COUNTERS_MIN_REGION_NS 100000

/* The silent-zero test itself: true when raw[] (one value per available slot, in slot order,
 * then the sentinel's) over a region of elapsed_ns proves that the counters did not run. */
bool counters_read_proves_stall(const struct counters *c, const long long *raw,
				uint64_t elapsed_ns);
int counters_stop(struct counters *c, double *values);

/* Releases the event set and unregisters the calling thread from PAPI (call it before a worker
 * thread ends). Safe to call twice. */
void counters_release(struct counters *c);

/* "user+kernel" or "user mode only": which modes the hardware events count in. */
const char *counters_domain_name(const struct counters *c);

/* True for the metrics counted by the CPU's PMU (not the kernel's software events). */
bool counters_metric_is_hardware(enum counters_metric metric);

/* "cycles", "instructions", "page_faults", "context_switches", "cache_misses", "l1d_misses",
 * "coherence_misses", "dtlb_misses". */
const char *counters_metric_name(enum counters_metric metric);

/* One candidate event for a metric: its PAPI or libpfm4 name, the libpfm4 PMU models a vendor
 * event is meant for (space-separated; "" for presets and generic events), and what it counts. */
struct counters_candidate {
	const char *event;
	const char *meant_for;
	const char *counts;
};

/* A metric's index-th candidate, in the order counters_init() tries them; NULL past the last. */
const struct counters_candidate *counters_candidate(enum counters_metric metric, unsigned index);

/* Whether PAPI knows an event by this name on the PMU libpfm4 found (or was forced to with
 * LIBPFM_FORCE_PMU): a name lookup, nothing is counted. */
bool counters_event_known(const char *event);

/* /proc/sys/kernel/perf_event_paranoid, or -100 when it cannot be read. */
int counters_paranoid_level(void);

/* True when the kernel exposes a CPU performance-monitoring unit (false in most VMs). Reads
 * /sys/bus/event_source/devices, under LABS_KERNEL_ROOT when set (see kernel.h). */
bool counters_have_hw_pmu(void);

/* True when there is one core PMU per core type (Intel's cpu_core and cpu_atom): an event is
 * opened on one type's PMU and counts nothing while the thread runs on the other. */
bool counters_hybrid_pmus(void);

#endif
