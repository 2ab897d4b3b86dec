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
	int papi_error;		/* the last candidate's PAPI error code when none could be */
	char reason[COUNTERS_REASON_MAX];	/* why not, and how to enable it, when event is NULL */
};

struct counters {
	int event_set;		/* a PAPI event set, or -1 (PAPI_NULL) when nothing can be counted */
	size_t nr_slots;
	struct counters_slot slots[COUNTERS_MAX];
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
 */
int counters_stop(struct counters *c, double *values);

/* Releases the event set and unregisters the calling thread from PAPI (call it before a worker
 * thread ends). Safe to call twice. */
void counters_release(struct counters *c);

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

/* True when the kernel exposes a CPU performance-monitoring unit (false in most VMs). */
bool counters_have_hw_pmu(void);

#endif
