// SPDX-License-Identifier: MIT
// Unit tests of common/machine: every manifest key read right from made-up /sys and /proc trees
// (LABS_KERNEL_ROOT): a laptop with cpufreq, boost and a battery; a server with SMT off and boost
// off; a VM without cpufreq; an arm64 CPU; and the mitigations that change a system call's cost.
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "machine.h"
#include "unit.h"

static char root[64];

static int setup(void **state)
{
	(void)state;
	return unit_fake_kernel_root(root, "test_machine");
}

static int teardown(void **state)
{
	(void)state;
	return unit_release_kernel_root(root);
}

// The facts machine_describe() gives, kept to look up by key.
struct facts {
	char key[16][40];
	char value[16][1100];
	int n;
};

static void keep(void *ctx, const char *key, const char *value)
{
	struct facts *f = ctx;

	assert_true(f->n < 16);
	snprintf(f->key[f->n], sizeof(f->key[0]), "%s", key);
	snprintf(f->value[f->n], sizeof(f->value[0]), "%s", value);
	f->n++;
}

static const char *fact(const struct facts *f, const char *key)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->key[i], key))
			return f->value[i];
	fail_msg("no key %s", key);
	return NULL;
}

static void describe(struct facts *f)
{
	memset(f, 0, sizeof(*f));
	machine_describe(keep, f);
}

static const char *const x86_cpuinfo =
	"processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 154\n"
	"model name\t: 12th Gen Intel(R) Core(TM) i7-1260P\nstepping\t: 3\nmicrocode\t: 0x430\n"
	"cpu MHz\t\t: 2100.000\nflags\t\t: fpu vme de pse\n\n"
	"processor\t: 1\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 154\n"
	"cpu MHz\t\t: 400.000\nflags\t\t: fpu vme de pse\n\n";

static void laptop(void)
{
	unit_put(root, "proc/cpuinfo", x86_cpuinfo);
	for (int cpu = 0; cpu < 2; cpu++) {
		char p[128];

		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor", cpu);
		unit_put(root, p, "powersave\n");
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu%d/cpufreq/scaling_driver", cpu);
		unit_put(root, p, "intel_pstate\n");
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu%d/cpufreq/energy_performance_preference", cpu);
		unit_put(root, p, "balance_power\n");
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", cpu);
		unit_put(root, p, cpu ? "4700000\n" : "900000\n");
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu%d/thermal_throttle/core_throttle_count", cpu);
		unit_put(root, p, "3\n");
		snprintf(p, sizeof(p), "sys/devices/system/cpu/cpu%d/thermal_throttle/package_throttle_count", cpu);
		unit_put(root, p, "7\n");
	}
	unit_put(root, "sys/devices/system/cpu/intel_pstate/no_turbo", "0\n");
	unit_put(root, "sys/devices/system/cpu/smt/control", "on\n");
	unit_put(root, "sys/devices/system/cpu/smt/active", "1\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/spectre_v2",
		 "Mitigation: Enhanced / Automatic IBRS; IBPB: conditional; RSB filling\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/l1tf", "Not affected\n");
	unit_put(root, "sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
	unit_put(root, "sys/class/power_supply/AC/type", "Mains\n");
	unit_put(root, "sys/class/power_supply/AC/online", "0\n");
	unit_put(root, "sys/class/power_supply/BAT0/type", "Battery\n");
	unit_put(root, "sys/class/power_supply/BAT0/status", "Discharging\n");
	unit_put(root, "sys/class/power_supply/BAT0/capacity", "54\n");
	unit_put(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 mitigations=auto quiet\n");
	unit_put(root, "proc/version", "Linux version 6.1.0 (gcc)\n");
}

static void test_laptop(void **state)
{
	struct facts f;
	struct machine_sample s;

	(void)state;
	laptop();
	describe(&f);
	assert_string_equal(fact(&f, "cpu_identity"), "x86 GenuineIntel family 6 model 154 stepping 3");
	assert_string_equal(fact(&f, "microcode"), "0x430");
	assert_string_equal(fact(&f, "cpu_governor"), "powersave");
	assert_string_equal(fact(&f, "cpufreq_driver"), "intel_pstate");
	assert_string_equal(fact(&f, "energy_performance_preference"), "balance_power");
	assert_string_equal(fact(&f, "cpu_boost"), "on (intel_pstate)");
	assert_non_null(strstr(fact(&f, "smt"), "on, active"));
	assert_non_null(strstr(fact(&f, "mitigations"), "spectre_v2: Enhanced / Automatic IBRS"));
	assert_non_null(strstr(fact(&f, "mitigations"), " | 2 not affected"));
	assert_non_null(strstr(fact(&f, "mitigations"), "kernel command line: mitigations=auto"));
	assert_string_equal(fact(&f, "clocksource"), "tsc");
	assert_string_equal(fact(&f, "power_source"),
			    "battery Discharging, 54%: on battery a laptop may run slower");
	assert_non_null(strstr(fact(&f, "virtualization"), "none (bare metal"));

	machine_sample(NULL, &s);
	assert_true(s.mhz_min == 900 && s.mhz_max == 4700);
	assert_string_equal(s.mhz_source, "cpufreq");
	assert_int_equal(s.throttle_events, 3 + 3 + 7);	// per core, and once per package
	cpu_set_t only1;
	CPU_ZERO(&only1);
	CPU_SET(1, &only1);
	machine_sample(&only1, &s);
	assert_true(s.mhz_min == 4700 && s.mhz_max == 4700);

	// Throttled during a run: the count grows, and the line says so.
	struct machine_sample after = s;
	after.throttle_events += 4;
	memset(&f, 0, sizeof(f));
	machine_describe_run(&s, &after, keep, &f);
	assert_non_null(strstr(fact(&f, "throttle_events"), "4 during the run: the CPU slowed"));
	assert_non_null(strstr(fact(&f, "cpu_mhz_before"), "4700 / 4700 / 4700"));
}

static void test_server_smt_off_boost_off(void **state)
{
	struct facts f;

	(void)state;
	unit_put(root, "proc/cpuinfo", x86_cpuinfo);
	unit_put(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
	unit_put(root, "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor", "schedutil\n");
	unit_put(root, "sys/devices/system/cpu/cpufreq/boost", "0\n");
	unit_put(root, "sys/devices/system/cpu/smt/control", "off\n");
	unit_put(root, "sys/devices/system/cpu/smt/active", "0\n");
	unit_put(root, "sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n");
	describe(&f);
	assert_string_equal(fact(&f, "cpu_governor"), "mixed: performance (cpu0), schedutil (cpu1)");
	assert_string_equal(fact(&f, "cpu_boost"), "off");
	assert_string_equal(fact(&f, "smt"), "off, inactive");
	assert_non_null(strstr(fact(&f, "clocksource"), "hpet (slow"));
	assert_non_null(strstr(fact(&f, "power_source"), "unknown (no /sys/class/power_supply"));
	assert_non_null(strstr(fact(&f, "mitigations"), "unknown (no /sys/devices/system/cpu/vulnerabilities"));
}

static void test_vm_without_cpufreq(void **state)
{
	struct facts f;
	struct machine_sample s;
	char buf[256];

	(void)state;
	unit_put(root, "proc/cpuinfo",
		 "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
		 "stepping\t: 1\ncpu MHz\t\t: 2994.374\nflags\t\t: fpu hypervisor lahf_lm\n\n");
	unit_put(root, "sys/devices/system/cpu/cpu0/uevent", "");
	unit_put(root, "sys/devices/system/clocksource/clocksource0/current_clocksource", "kvm-clock\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/meltdown", "Mitigation: PTI\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/spectre_v2",
		 "Mitigation: Retpolines; STIBP: disabled; RSB filling\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/l1tf", "Not affected\n");
	unit_put(root, "sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow",
		 "Vulnerable: No microcode\n");
	unit_put(root, ".dockerenv", "");
	unit_put(root, "proc/cmdline", "console=ttyS0 pti=on mitigations=auto -- --init-arg pti=off\n");
	describe(&f);
	assert_string_equal(fact(&f, "cpu_identity"), "x86 AuthenticAMD family 26 model 2 stepping 1");
	assert_non_null(strstr(fact(&f, "microcode"), "unknown (not in /proc/cpuinfo"));
	assert_non_null(strstr(fact(&f, "cpu_governor"), "unknown (no cpufreq"));
	assert_non_null(strstr(fact(&f, "cpu_boost"), "unknown"));
	assert_string_equal(fact(&f, "virtualization"),
			    "virtual machine (KVM); container files (/.dockerenv)");
	// The kernel's options, not init's (after "--").
	assert_non_null(strstr(fact(&f, "mitigations"), "kernel command line: pti=on mitigations=auto"));
	assert_null(strstr(fact(&f, "mitigations"), "pti=off"));
	// All the vulnerabilities in the manifest; on the entry line only what the entry pays for
	// (one left vulnerable costs nothing there).
	assert_non_null(strstr(fact(&f, "mitigations"), "spec_rstack_overflow: Vulnerable: No microcode"));
	assert_string_equal(machine_entry_mitigations(buf, sizeof(buf)),
			    "meltdown: PTI | spectre_v2: Retpolines (2 of 3 kinds mitigated; 0 not "
			    "affected, 1 unmitigated)");
	machine_sample(NULL, &s);
	assert_true(fabs(s.mhz_median - 2994.374) < 1e-6);
	assert_string_equal(s.mhz_source, "/proc/cpuinfo");
	assert_int_equal(s.throttle_events, -1);
}

static void test_arm64_identity(void **state)
{
	char buf[160];

	(void)state;
	machine_cpu_identity("processor\t: 0\nBogoMIPS\t: 48.00\nCPU implementer\t: 0x41\n"
			     "CPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd0c\n"
			     "CPU revision\t: 1\n", buf, sizeof(buf));
	assert_string_equal(buf, "arm64 implementer 0x41 part 0xd0c variant 0x1 revision 1");
	machine_cpu_identity("nothing here\n", buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_laptop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_smt_off_boost_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vm_without_cpufreq, setup, teardown),
		cmocka_unit_test(test_arm64_identity),
	};

	return run_group(tests);
}
