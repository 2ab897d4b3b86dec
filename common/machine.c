// SPDX-License-Identifier: MIT
// machine: what moves timings between machines besides the CPU's name (see machine.h).
#include "machine.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "stats.h"

#define MAX_CPUS 4096

// A whole small file (under LABS_KERNEL_ROOT when set) into buf; false when it cannot be read.
static bool read_file(const char *path, char *buf, size_t len)
{
	char real[4096];
	FILE *f = fopen(kernel_path(path, real, sizeof(real)), "r");

	if (!f)
		return false;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n > 0;
}

// The first line of a file, trimmed; false when there is none.
static bool read_line(const char *path, char *buf, size_t len)
{
	if (!read_file(path, buf, len))
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] != '\0';
}

static bool exists(const char *path)
{
	char real[4096];
	FILE *f = fopen(kernel_path(path, real, sizeof(real)), "r");

	if (f)
		fclose(f);
	return f != NULL;
}

// True while cpuN exists (its directory; fopen() opens a directory for reading).
static bool cpu_exists(int cpu)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
	return cpu < MAX_CPUS && exists(path);
}

// The value of "key : value" in a /proc/cpuinfo text, from its first block; false if absent.
static bool cpuinfo_field(const char *text, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		const char *colon = strchr(line, ':');
		bool match = strncmp(line, key, klen) == 0 &&
			     (line[klen] == ' ' || line[klen] == '\t' || line[klen] == ':');

		if (!match || !colon || (end && colon > end)) {
			line = end ? end + 1 : NULL;
			continue;
		}
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		size_t n = end ? (size_t)(end - colon) : strlen(colon);
		snprintf(buf, len, "%.*s", (int)n, colon);
		return true;
	}
	return false;
}

const char *machine_cpu_identity(const char *cpuinfo, char *buf, size_t len)
{
	char vendor[64], family[16], model[16], stepping[16];
	char impl[16], part[16], variant[16], rev[16];

	buf[0] = '\0';
	if (cpuinfo_field(cpuinfo, "vendor_id", vendor, sizeof(vendor)) &&
	    cpuinfo_field(cpuinfo, "cpu family", family, sizeof(family)) &&
	    cpuinfo_field(cpuinfo, "model", model, sizeof(model)))
		snprintf(buf, len, "x86 %s family %s model %s stepping %s", vendor, family, model,
			 cpuinfo_field(cpuinfo, "stepping", stepping, sizeof(stepping)) ? stepping
											 : "?");
	else if (cpuinfo_field(cpuinfo, "CPU implementer", impl, sizeof(impl)) &&
		 cpuinfo_field(cpuinfo, "CPU part", part, sizeof(part)))
		snprintf(buf, len, "arm64 implementer %s part %s variant %s revision %s", impl, part,
			 cpuinfo_field(cpuinfo, "CPU variant", variant, sizeof(variant)) ? variant : "?",
			 cpuinfo_field(cpuinfo, "CPU revision", rev, sizeof(rev)) ? rev : "?");
	return buf;
}

static char *cpuinfo_text(void)
{
	size_t len = 1 << 20;	// a few KiB a CPU: room for hundreds
	char *text = malloc(len);

	if (text && !read_file("/proc/cpuinfo", text, len))
		text[0] = '\0';
	return text;
}

// One value of a per-CPU cpufreq file over every CPU: the value, "mixed: a (cpu0), b (cpu4)", or
// false when no CPU has the file.
static bool per_cpu_value(const char *file, char *out, size_t len)
{
	char path[128], v[128], first[128] = "";
	int first_cpu = -1, other_cpu = -1;
	char other[128] = "";

	for (int cpu = 0; cpu_exists(cpu); cpu++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/%s", cpu, file);
		if (!read_line(path, v, sizeof(v)))
			continue;
		if (first_cpu < 0) {
			snprintf(first, sizeof(first), "%s", v);
			first_cpu = cpu;
		} else if (strcmp(v, first) != 0 && other_cpu < 0) {
			snprintf(other, sizeof(other), "%s", v);
			other_cpu = cpu;
		}
	}
	if (first_cpu < 0)
		return false;
	if (other_cpu < 0)
		snprintf(out, len, "%s", first);
	else
		snprintf(out, len, "mixed: %s (cpu%d), %s (cpu%d)", first, first_cpu, other, other_cpu);
	return true;
}

static void governor_facts(machine_kv_fn kv, void *ctx)
{
	static const char *const no_cpufreq =
		"unknown (no cpufreq: this kernel exposes no frequency control, as in most VMs)";
	char v[300], b[64];

	kv(ctx, "cpu_governor", per_cpu_value("scaling_governor", v, sizeof(v)) ? v : no_cpufreq);
	kv(ctx, "cpufreq_driver", per_cpu_value("scaling_driver", v, sizeof(v)) ? v : no_cpufreq);
	kv(ctx, "energy_performance_preference",
	   per_cpu_value("energy_performance_preference", v, sizeof(v)) ? v
	   : "unknown (not exposed: only intel_pstate and amd-pstate in active mode have one)");
	if (read_line("/sys/devices/system/cpu/cpufreq/boost", b, sizeof(b)))
		kv(ctx, "cpu_boost", strcmp(b, "1") == 0 ? "on" : "off");
	else if (read_line("/sys/devices/system/cpu/intel_pstate/no_turbo", b, sizeof(b)))
		kv(ctx, "cpu_boost", strcmp(b, "0") == 0 ? "on (intel_pstate)" : "off (intel_pstate no_turbo)");
	else
		kv(ctx, "cpu_boost", "unknown (no cpufreq boost switch here)");
}

// "meltdown: PTI | spectre_v2: Retpolines; STIBP: disabled | ... | 12 not affected" (" | " between
// vulnerabilities: a kernel's own text uses "; " inside one). entry_only: those that change
// what entering the kernel costs, each by its first clause, and how many of the kinds that could
// were not affected or left unmitigated ("meltdown: PTI | spectre_v2: Retpolines (2 of 7 kinds
// mitigated; 4 not affected, 1 unmitigated)").
static void mitigations(char *out, size_t len, bool entry_only)
{
	static const char *const entry[] = { "meltdown", "spectre_v2", "retbleed",
					     "spec_rstack_overflow", "mds", "tsa",
					     "indirect_target_selection" };
	char dir[4096], path[512], v[256];
	size_t used = 0;
	unsigned not_affected = 0, unmitigated = 0, listed = 0;
	struct dirent **names = NULL;
	int n = scandir(kernel_path("/sys/devices/system/cpu/vulnerabilities", dir, sizeof(dir)),
			&names, NULL, alphasort);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		bool wanted = !entry_only;

		for (size_t k = 0; k < sizeof(entry) / sizeof(entry[0]); k++)
			wanted = wanted || strcmp(name, entry[k]) == 0;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/vulnerabilities/%s", name);
		if (name[0] == '.' || !wanted || !read_line(path, v, sizeof(v)))
			continue;
		listed++;
		if (strncmp(v, "Not affected", 12) == 0) {
			not_affected++;
			continue;
		}
		// An entry left vulnerable costs the kernel's entry nothing: not a mitigation there.
		if (entry_only && strncmp(v, "Vulnerable", 10) == 0) {
			unmitigated++;
			continue;
		}
		const char *what = strncmp(v, "Mitigation: ", 12) == 0 ? v + 12 : v;
		if (entry_only)
			v[strcspn(v, ";")] = '\0';
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s: %s",
						 used ? " | " : "", name, what);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (n < 0)
		snprintf(out, len, "unknown (no /sys/devices/system/cpu/vulnerabilities: a kernel "
			 "older than 4.15)");
	else if (entry_only && used < len)
		snprintf(out + used, len - used, "%s(%u of %u kinds mitigated; %u not affected, %u "
			 "unmitigated)", used ? " " : "none that affect system calls ",
			 listed - not_affected - unmitigated, listed, not_affected, unmitigated);
	else if (!used)
		snprintf(out, len, "none (%u not affected)", not_affected);
	else if (not_affected && used < len)
		snprintf(out + used, len - used, " | %u not affected", not_affected);
}

const char *machine_entry_mitigations(char *buf, size_t len)
{
	mitigations(buf, len, true);
	return buf;
}

// What the kernel was told on its command line: mitigations=, pti=, spectre_v2= ...
static void cmdline_mitigations(char *out, size_t len)
{
	static const char *const keys[] = { "mitigations=", "pti=", "nopti", "spectre_v2=",
					    "nospectre_v2", "retbleed=", "spec_rstack_overflow=" };
	char cmdline[4096];
	size_t used = 0;

	out[0] = '\0';
	if (!read_line("/proc/cmdline", cmdline, sizeof(cmdline)))
		return;
	for (char *w = strtok(cmdline, " "); w; w = strtok(NULL, " ")) {
		if (strcmp(w, "--") == 0)
			break;	// what follows is init's, not the kernel's
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strncmp(w, keys[k], strlen(keys[k])) == 0 && used < len)
				used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", w);
	}
}

static void power_source(char *out, size_t len)
{
	char dir[4096], path[512], type[32], v[64], status[32], cap[16];
	bool mains_online = false, any = false;
	char battery[128] = "";
	struct dirent **names = NULL;
	int n = scandir(kernel_path("/sys/class/power_supply", dir, sizeof(dir)), &names, NULL,
			alphasort);

	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		snprintf(path, sizeof(path), "/sys/class/power_supply/%s/type", name);
		if (name[0] == '.' || !read_line(path, type, sizeof(type)))
			continue;
		any = true;
		if (strcmp(type, "Mains") == 0) {
			snprintf(path, sizeof(path), "/sys/class/power_supply/%s/online", name);
			mains_online = mains_online || (read_line(path, v, sizeof(v)) && !strcmp(v, "1"));
		} else if (strcmp(type, "Battery") == 0 && !battery[0]) {
			snprintf(path, sizeof(path), "/sys/class/power_supply/%s/status", name);
			if (!read_line(path, status, sizeof(status)))
				snprintf(status, sizeof(status), "status unknown");
			snprintf(path, sizeof(path), "/sys/class/power_supply/%s/capacity", name);
			if (!read_line(path, cap, sizeof(cap)))
				snprintf(cap, sizeof(cap), "?");
			snprintf(battery, sizeof(battery), "battery %s, %s%%", status, cap);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!any)
		snprintf(out, len, "unknown (no /sys/class/power_supply entry: a desktop, a server or "
			 "a VM; mains, most likely)");
	else if (mains_online)
		snprintf(out, len, "mains%s%s%s", battery[0] ? " (" : "", battery, battery[0] ? ")" : "");
	else if (battery[0])
		snprintf(out, len, "%s: on battery a laptop may run slower", battery);
	else
		snprintf(out, len, "unknown (a power supply without a mains or battery entry)");
}

// One consistent reading: a hypervisor flag and what names it, then a container's marks.
static void virtualization(const char *cpuinfo, char *out, size_t len)
{
	char flags[4096] = "", v[256], clock[64], vendor[128] = "", product[128] = "";
	char vm[256] = "", container[128] = "";

	if (read_line("/proc/version", v, sizeof(v)) && (strstr(v, "microsoft") || strstr(v, "Microsoft")))
		snprintf(vm, sizeof(vm), "WSL2 (a Hyper-V virtual machine)");
	(void)cpuinfo_field(cpuinfo, "flags", flags, sizeof(flags));
	bool hypervisor = strstr(flags, " hypervisor") || strncmp(flags, "hypervisor", 10) == 0;
	if (!vm[0] && hypervisor) {
		(void)read_line("/sys/class/dmi/id/sys_vendor", vendor, sizeof(vendor));
		(void)read_line("/sys/class/dmi/id/product_name", product, sizeof(product));
		const char *kind = "unknown hypervisor";
		if (read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", clock,
			      sizeof(clock))) {
			if (!strcmp(clock, "kvm-clock"))
				kind = "KVM";
			else if (!strncmp(clock, "xen", 3))
				kind = "Xen";
			else if (!strncmp(clock, "hyperv", 6))
				kind = "Hyper-V";
		}
		if (strstr(vendor, "QEMU") || strstr(product, "KVM"))
			kind = "KVM";
		else if (strstr(vendor, "VMware"))
			kind = "VMware";
		else if (strstr(vendor, "Microsoft"))
			kind = "Hyper-V";
		else if (strstr(vendor, "Xen"))
			kind = "Xen";
		snprintf(vm, sizeof(vm), "virtual machine (%s%s%s%s%s)", kind,
			 vendor[0] ? "; DMI: " : "", vendor, product[0] ? " " : "", product);
	}
	if (exists("/.dockerenv"))
		snprintf(container, sizeof(container), "container files (/.dockerenv)");
	else if (exists("/run/.containerenv"))
		snprintf(container, sizeof(container), "container (podman: /run/.containerenv)");
	else if (read_file("/proc/1/cgroup", v, sizeof(v)) &&
		 (strstr(v, "docker") || strstr(v, "kubepods") || strstr(v, "lxc") ||
		  strstr(v, "containerd")))
		snprintf(container, sizeof(container), "container (/proc/1/cgroup)");
	if (!vm[0] && !container[0])
		snprintf(out, len, "none (bare metal: no hypervisor flag, no container)");
	else
		snprintf(out, len, "%s%s%s", vm[0] ? vm : "no hypervisor flag", container[0] ? "; " : "",
			 container);
}

void machine_describe(machine_kv_fn kv, void *ctx)
{
	char *info = cpuinfo_text();
	const char *text = info ? info : "";
	char v[1024], cmd[256];

	machine_cpu_identity(text, v, sizeof(v));
	kv(ctx, "cpu_identity", v[0] ? v : "unknown (/proc/cpuinfo names no vendor and family, or "
					   "implementer and part)");
	kv(ctx, "microcode", cpuinfo_field(text, "microcode", v, sizeof(v)) ? v
	   : "unknown (not in /proc/cpuinfo: a VM hides it, and arm64 does not show it)");
	governor_facts(kv, ctx);
	char control[32], active[8];
	if (read_line("/sys/devices/system/cpu/smt/control", control, sizeof(control))) {
		snprintf(v, sizeof(v), "%s%s%s", control,
			 read_line("/sys/devices/system/cpu/smt/active", active, sizeof(active))
				 ? strcmp(active, "1") ? ", inactive" : ", active" : "",
			 !strcmp(control, "on") ? " (sibling threads share a core)" : "");
		kv(ctx, "smt", v);
	} else {
		kv(ctx, "smt", "unknown (no /sys/devices/system/cpu/smt: an older kernel)");
	}
	mitigations(v, sizeof(v), false);
	cmdline_mitigations(cmd, sizeof(cmd));
	if (cmd[0] && strlen(v) + strlen(cmd) + 20 < sizeof(v))
		snprintf(v + strlen(v), sizeof(v) - strlen(v), " | kernel command line: %s", cmd);
	kv(ctx, "mitigations", v);
	char clock[64];
	if (read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", clock,
		      sizeof(clock))) {
		bool slow = !strcmp(clock, "hpet") || !strcmp(clock, "acpi_pm");
		snprintf(v, sizeof(v), "%s%s", clock, slow ? " (slow: every clock read is a trip to a "
							    "device, about a microsecond; the vDSO falls back to a "
							    "system call)" : "");
		kv(ctx, "clocksource", v);
	} else {
		kv(ctx, "clocksource", "unknown (no /sys/devices/system/clocksource)");
	}
	power_source(v, sizeof(v));
	kv(ctx, "power_source", v);
	virtualization(text, v, sizeof(v));
	kv(ctx, "virtualization", v);
	free(info);
}

static bool wanted_cpu(const cpu_set_t *cpus, int cpu)
{
	return !cpus || (cpu < CPU_SETSIZE && CPU_ISSET(cpu, cpus));
}

void machine_sample(const cpu_set_t *cpus, struct machine_sample *s)
{
	double mhz[1024];
	size_t n = 0;
	char path[128], v[64];
	long long core = 0, package = 0;
	bool any_throttle = false;

	*s = (struct machine_sample){ .mhz_min = NAN, .mhz_median = NAN, .mhz_max = NAN,
				      .throttle_events = -1 };
	for (int cpu = 0; cpu_exists(cpu); cpu++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/thermal_throttle/core_throttle_count", cpu);
		if (read_line(path, v, sizeof(v))) {
			core += atoll(v);
			any_throttle = true;
		}
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/thermal_throttle/package_throttle_count", cpu);
		if (read_line(path, v, sizeof(v)) && atoll(v) > package)
			package = atoll(v);	// one count per package, repeated in each of its CPUs
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq",
			 cpu);
		if (wanted_cpu(cpus, cpu) && n < sizeof(mhz) / sizeof(mhz[0]) &&
		    read_line(path, v, sizeof(v)))
			mhz[n++] = atof(v) / 1000;	// kHz
	}
	if (any_throttle)
		s->throttle_events = core + package;
	snprintf(s->mhz_source, sizeof(s->mhz_source), "cpufreq");
	if (!n) {
		// /proc/cpuinfo's "cpu MHz", one per processor block.
		char *info = cpuinfo_text();
		int cpu = -1;

		for (char *line = info ? strtok(info, "\n") : NULL; line; line = strtok(NULL, "\n")) {
			if (!strncmp(line, "processor", 9))
				cpu = atoi(strchr(line, ':') ? strchr(line, ':') + 1 : "-1");
			else if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':') && wanted_cpu(cpus, cpu) &&
				 n < sizeof(mhz) / sizeof(mhz[0]))
				mhz[n++] = atof(strchr(line, ':') + 1);
		}
		free(info);
		snprintf(s->mhz_source, sizeof(s->mhz_source), n ? "/proc/cpuinfo" : "none");
	}
	struct stats st;
	if (n && stats_compute(&st, mhz, n) == 0) {
		s->mhz_min = st.min;
		s->mhz_median = st.median;
		s->mhz_max = st.max;
	}
}

static void mhz_line(const struct machine_sample *s, char *buf, size_t len)
{
	if (isnan(s->mhz_median))
		snprintf(buf, len, "unknown (neither cpufreq nor /proc/cpuinfo gives a frequency here)");
	else
		snprintf(buf, len, "%.0f / %.0f / %.0f (min / median / max over the CPUs used, %s%s)",
			 s->mhz_min, s->mhz_median, s->mhz_max, s->mhz_source,
			 strcmp(s->mhz_source, "cpufreq") ? ": in a VM often the nominal figure, not the "
							    "current one" : "");
}

void machine_describe_run(const struct machine_sample *before, const struct machine_sample *after,
			  machine_kv_fn kv, void *ctx)
{
	char v[256];

	mhz_line(before, v, sizeof(v));
	kv(ctx, "cpu_mhz_before", v);
	mhz_line(after, v, sizeof(v));
	kv(ctx, "cpu_mhz_after", v);
	if (before->throttle_events < 0 || after->throttle_events < 0)
		snprintf(v, sizeof(v), "unknown (no thermal_throttle counters: only Intel CPUs on bare "
			 "metal have them)");
	else
		snprintf(v, sizeof(v), "%lld during the run%s",
			 after->throttle_events - before->throttle_events,
			 after->throttle_events > before->throttle_events
				 ? ": the CPU slowed itself to cool down, and the timings with it" : "");
	kv(ctx, "throttle_events", v);
}
