// SPDX-License-Identifier: MIT
// pmu_hog: holds every hardware counter of every CPU until it is killed, as another perf user or
// the NMI watchdog would: per-CPU pinned events are scheduled before any task's events, so a lab
// that opens its events now gets them "running" on no counter, and they read 0 with no error.
// tests/e2e/pmu_emulated.sh runs it in the emulated arm64 machine to check that the labs then say
// "unavailable" instead of printing 0 cycles. Needs root (per-CPU events).
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// More events than any PMU has counters (PMUv3 has at most 31 and a cycle counter).
#define EVENTS_PER_CPU 40

int main(void)
{
	long nr_cpus = sysconf(_SC_NPROCESSORS_CONF);
	int held = 0;

	for (long cpu = 0; cpu < nr_cpus; cpu++) {
		for (int i = 0; i < EVENTS_PER_CPU; i++) {
			struct perf_event_attr attr;

			memset(&attr, 0, sizeof(attr));
			attr.size = sizeof(attr);
			attr.type = PERF_TYPE_HARDWARE;
			attr.config = i == 0 ? PERF_COUNT_HW_CPU_CYCLES : PERF_COUNT_HW_INSTRUCTIONS;
			attr.pinned = 1;
			// Events that find no counter left go into an error state: harmless here.
			if (syscall(SYS_perf_event_open, &attr, -1, (int)cpu, -1, 0) >= 0)
				held++;
		}
	}
	printf("pmu_hog: %d events pinned on %ld CPUs\n", held, nr_cpus);
	fflush(stdout);
	if (held == 0)
		return 1;
	for (;;)
		pause();
}
