/* SPDX-License-Identifier: MIT */
/*
 * machine: what moves timings between machines besides the CPU's name, read from /proc and /sys
 * (under LABS_KERNEL_ROOT when set, kernel.h): the CPU's identity (x86 vendor, family, model,
 * stepping; arm64 implementer, part, variant, revision), its microcode, the frequency governor and
 * driver, boost, SMT, the speculative-execution mitigations, the clock source, the power source,
 * thermal throttling, and the kind of virtualisation. Two laptops with the same CPU can differ 2x in
 * a system call for these reasons (a powersave governor, page-table isolation).
 *
 * One reader for the manifest and for `make doctor` (which runs a lab's --machine): they cannot
 * disagree. What cannot be read is "unknown (why)", never left out.
 */
#ifndef COMMON_MACHINE_H
#define COMMON_MACHINE_H

#include <sched.h>
#include <stddef.h>

/* Receives one fact: key and value, as the manifest's "key: value" lines. */
typedef void (*machine_kv_fn)(void *ctx, const char *key, const char *value);

/* The facts that do not change during a run, in a fixed order: cpu_identity, microcode,
 * cpu_governor, cpufreq_driver, energy_performance_preference, cpu_boost, smt, mitigations,
 * clocksource, power_source, virtualization. Never fails. */
void machine_describe(machine_kv_fn kv, void *ctx);

/* What can change during a run, read at its start and at its end. */
struct machine_sample {
	double mhz_min, mhz_median, mhz_max;	/* over the CPUs asked for; NAN unknown */
	char mhz_source[48];			/* where they came from, or why there are none */
	long long throttle_events;		/* thermal throttling counts so far; -1 unknown */
};

/* Reads the CPUs' current frequency (cpufreq's scaling_cur_freq, else /proc/cpuinfo's "cpu MHz")
 * and the thermal throttle counts. cpus NULL: every online CPU. Never fails. */
void machine_sample(const cpu_set_t *cpus, struct machine_sample *s);

/* cpu_mhz_before, cpu_mhz_after and throttle_events (during the run). */
void machine_describe_run(const struct machine_sample *before, const struct machine_sample *after,
			  machine_kv_fn kv, void *ctx);

/*
 * The mitigations that change what a system call or a switch costs, short, for a verdict line:
 * "page-table isolation, retpolines" or "none that affect system calls", from
 * /sys/devices/system/cpu/vulnerabilities. Returns buf.
 */
const char *machine_entry_mitigations(char *buf, size_t len);

/* Parses a /proc/cpuinfo text into "x86 GenuineIntel family 6 model 154 stepping 3" or "arm64
 * implementer 0x41 part 0xd0c variant 0x3 revision 0x1"; "" when it has neither. Public for the
 * unit tests. Returns buf. */
const char *machine_cpu_identity(const char *cpuinfo, char *buf, size_t len);

#endif
