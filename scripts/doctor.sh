#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What this machine can measure, and why not: what moves timings (governor, boost, SMT,
# mitigations, clock source, power, throttling, virtualisation, how busy it is: a lab's --machine,
# the same reader as the manifests), PAPI, the hardware PMU, the perf_event_paranoid level, software
# events, hwloc topology, CPU kinds and binding, gnuplot, page and huge page sizes, THP, overcommit
# and ASLR.
# Every problem comes with the command that fixes it. Changes nothing.
# Usage: scripts/doctor.sh
set -uo pipefail

problems=0
ok() { printf '  ok    %s\n' "$*"; }
info() { printf '  info  %s\n' "$*"; }
warn() { printf '  warn  %s\n' "$1"; [ -n "${2:-}" ] && printf '        fix: %s\n' "$2"; problems=$((problems + 1)); }
section() { printf '\n%s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# What the labs themselves read about this machine: every lab's --machine prints the facts its
# manifest records (common/machine.c, lab.c), so this report and the manifests cannot disagree.
lab_bin=$(ls "${BUILD:-build}"/labs/01-*/stack_vs_heap 2>/dev/null | head -n 1)
facts=""
[ -x "$lab_bin" ] && facts=$(COLUMNS=10000 "$lab_bin" --machine 2>/dev/null)
fact() { sed -n "s/^$1: //p" <<<"$facts" | head -n 1; }

section "Machine"
info "$(uname -srm); $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown OS}")"
model=$(fact cpu_model)
[ -n "$model" ] || model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
info "CPU: ${model:-unknown} ($(nproc) CPUs usable)"
[ "$(nproc)" -lt 2 ] &&
	warn "only one CPU is usable: the multi-core labs (5-8) cannot show cross-core effects" \
	     "give the VM or container at least 2 CPUs (or run without taskset/cpuset limits)"
if [ -z "$facts" ]; then
	info "build the labs ('make') to see what moves timings here (governor, boost, mitigations...)"
else
	info "identity: $(fact cpu_identity); microcode: $(fact microcode)"
	virt=$(fact virtualization)
	case "$virt" in
	none*) ok "virtualization: $virt" ;;
	*) info "virtualization: $virt (hardware counters and core placement may be virtual)" ;;
	esac
	[[ "$virt" == *container* ]] &&
		info "inside a container: perf_event_open may be blocked by its seccomp profile"
	[[ "$virt" == WSL2* ]] && info "WSL2: no hardware counters are exposed; software events and timing work"
	gov=$(fact cpu_governor)
	case "$gov" in
	performance) ok "CPU frequency governor: performance" ;;
	unknown*) info "CPU frequency governor: $gov" ;;
	*) warn "CPU frequency governor: $gov: the clock follows the load, so timings move with it" \
		"for steadier timings (optional): sudo cpupower frequency-set -g performance (and back: sudo cpupower frequency-set -g ${gov%% *})" ;;
	esac
	info "boost: $(fact cpu_boost); SMT: $(fact smt); frequency driver: $(fact cpufreq_driver)"
	info "mitigations (what a system call and a switch cost depends on them, Labs 4 and 8): $(fact mitigations)"
	clock=$(fact clocksource)
	case "$clock" in
	*"(slow"*) warn "clock source: $clock" \
		"if /sys/devices/system/clocksource/clocksource0/available_clocksource lists tsc: echo tsc | sudo tee /sys/devices/system/clocksource/clocksource0/current_clocksource" ;;
	*) ok "clock source: $clock" ;;
	esac
	power=$(fact power_source)
	case "$power" in
	battery*) warn "power: $power" "plug in the charger: on battery a laptop lowers its clock" ;;
	*) info "power: $power" ;;
	esac
	busy=$(fact busy_now)
	case "$busy" in
	*"(busy"*) warn "right now: $busy" "close other programs, or wait for them to finish, before running a lab" ;;
	*) ok "right now: $busy" ;;
	esac
	throttle=$(fact throttle_events_since_boot)
	case "$throttle" in
	unknown*) info "thermal throttling: $throttle" ;;
	0) ok "thermal throttling: none since boot" ;;
	*) warn "thermal throttling: the CPU slowed itself $throttle times since boot to cool down" \
		"check the cooling (vents, fan); a lab run throttled says so in its manifest (throttle_events)" ;;
	esac
fi

section "Performance counters (PAPI)"
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown)
case "$paranoid" in
-1) ok "perf_event_paranoid=-1: everything can be counted" ;;
0|1) ok "perf_event_paranoid=$paranoid: user and kernel counting of your own processes" ;;
2) if [ "$(id -u)" -eq 0 ]; then
	ok "perf_event_paranoid=2, but you are root: the level does not restrict you (whether anything counts is below)"
   else
	warn "perf_event_paranoid=2: user-mode counting only; context switches come from getrusage" \
	     "sudo sysctl kernel.perf_event_paranoid=1"
   fi ;;
3|4) warn "perf_event_paranoid=$paranoid: perf_event_open is denied to non-root users; PAPI counts nothing, labs time only" \
	  "sudo sysctl kernel.perf_event_paranoid=1" ;;
*) warn "perf_event_paranoid cannot be read (no /proc/sys/kernel/perf_event_paranoid): counting unlikely" "" ;;
esac
if ls -d /sys/bus/event_source/devices/{cpu,cpu_core,cpu_atom,armv*} >/dev/null 2>&1; then
	ok "hardware PMU present: $(cd /sys/bus/event_source/devices && ls -d cpu cpu_core cpu_atom armv* 2>/dev/null | tr '\n' ' ')"
else
	warn "no hardware PMU visible: cycles, instructions and cache misses cannot be counted (usual in VMs)" \
	     "on KVM/QEMU start the guest with '-cpu host,pmu=on' (libvirt: <pmu state='on'/>); or use bare metal"
fi
if have papi_avail; then
	info "$(papi_avail 2>/dev/null | sed -n 's/^PAPI version *: */PAPI version /p' | head -n 1)"
	comps=$(papi_component_avail 2>/dev/null | sed -n '/^Active components/,$p' | sed -n 's/^Name: *\([^ ]*\).*/\1/p' | tr '\n' ' ')
	if [[ "$comps" == *perf_event* ]]; then
		ok "active PAPI components: $comps"
	else
		why=$(papi_component_avail 2>/dev/null | grep -A1 'perf_event ' | tail -n 1 | sed 's/^ *//')
		if [[ "$why" == *paranoid* ]]; then
			warn "PAPI's perf_event component is not active: $why" "sudo sysctl kernel.perf_event_paranoid=1"
		else
			warn "PAPI's perf_event component is not active: $why" \
			     "a PAPI/libpfm4 that knows this CPU (a newer distribution), or a machine whose PMU is visible"
		fi
	fi
	presets=$(papi_avail -a 2>/dev/null | grep -c '^PAPI_' || true)
	if [ "$presets" -gt 0 ]; then ok "$presets PAPI preset events available"; else
		info "no PAPI preset events (PAPI_TOT_CYC...): the labs fall back to native and perf:: events"; fi
	if have papi_command_line; then
		if grep -q '^perf::PAGE-FAULTS : ' <<<"$(papi_command_line perf::PAGE-FAULTS 2>/dev/null)"; then
			ok "software event perf::PAGE-FAULTS counts"
		else
			fix="in a container, allow perf_event_open (--cap-add PERFMON); or a PAPI whose perf_event component starts here (above)"
			[[ "$paranoid" =~ ^[0-9]+$ ]] && [ "$paranoid" -gt 2 ] && fix="sudo sysctl kernel.perf_event_paranoid=2 (or lower)"
			warn "software event perf::PAGE-FAULTS cannot be counted: page faults come from getrusage only" "$fix"
		fi
		# A counted event prints "name : value"; a refused one "Failed adding: name".
		if grep -q '^perf::CONTEXT-SWITCHES.* : ' <<<"$(papi_command_line perf::CONTEXT-SWITCHES:u=1:k=1 2>/dev/null)"; then
			ok "kernel-mode software events (context switches) count"
		else
			if [ "$(id -u)" -ne 0 ] && [[ "$paranoid" =~ ^[0-9]+$ ]] && [ "$paranoid" -ge 2 ]; then
				info "kernel-mode events (context switches) are not countable: labs use getrusage for them (fix: sudo sysctl kernel.perf_event_paranoid=1)"
			else
				info "kernel-mode events (context switches) are not countable here (PAPI cannot count them, see above): labs use getrusage for them"
			fi
		fi
	fi
else
	warn "PAPI tools are not installed" "make deps"
fi
# What the labs themselves resolve: every metric's event here and what it counts (a lab's --counters).
if [ -x "$lab_bin" ]; then
	info "which event each metric uses here, and what it counts ('--counters' of any lab):"
	"$lab_bin" --counters 2>&1 | sed 's/^/        /'
else
	info "build the labs ('make') to see which event each metric uses here"
fi

section "Topology and placement (hwloc)"
if have lstopo-no-graphics; then
	info "$(lstopo-no-graphics --version 2>/dev/null)"
	# Hybrid CPUs (performance and efficiency cores, big.LITTLE): hwloc's CPU kinds.
	kinds=$(lstopo-no-graphics --cpukinds 2>/dev/null | grep -c '^CPU kind' || true)
	if [ "${kinds:-0}" -gt 1 ]; then
		warn "$kinds kinds of cores (a hybrid CPU): a lab's numbers depend on the kind it runs on, and its machine line may show the other kind's caches" \
		     "run a lab on one kind: taskset -c <that kind's CPUs, listed below> make lab-N"
		lstopo-no-graphics --cpukinds 2>/dev/null | sed 's/^/        /'
	else
		ok "one kind of core: every PU has the same caches and speed"
	fi
	lstopo-no-graphics --no-io --of console 2>/dev/null | sed 's/^/        /' | head -n 24
	if have hwloc-bind && hwloc-bind pu:0 -- true 2>/dev/null; then
		ok "threads can be bound to a PU (hwloc-bind pu:0 works)"
	else
		warn "binding threads to CPUs fails: placement experiments run unpinned" \
		     "outside a container, or with a cpuset that allows the CPUs (docker --cpuset-cpus)"
	fi
	hwloc_mem=$(lstopo-no-graphics --of console --no-io 2>/dev/null | sed -n 's/^Machine (\([0-9]*\)MB.*/\1/p')
	avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
	info "memory: MemAvailable ${avail} MB (hwloc says ${hwloc_mem:-?} MB total; labs size memory from MemAvailable)"
else
	warn "hwloc tools are not installed" "make deps"
fi

section "Plots (gnuplot)"
if have gnuplot; then
	terms=$(gnuplot -e 'set terminal' 2>&1 </dev/null | awk '{print $1}' | grep -xE 'pngcairo|png|svg|dumb' | tr '\n' ' ')
	ok "gnuplot $(gnuplot --version 2>/dev/null | awk '{print $2}'), terminals: $terms"
	[[ " $terms " == *" pngcairo "* ]] || warn "no pngcairo terminal: PNGs use the plainer png terminal" \
		"install a gnuplot build with cairo (Debian: gnuplot-nox or gnuplot-qt)"
else
	warn "gnuplot is not installed: labs write CSV but no plots" "make deps"
fi

section "Memory settings"
page=$(fact page_size_bytes)
[ -n "$page" ] || page=$(getconf PAGESIZE)
huge=$(fact huge_page_bytes)
[ -n "$huge" ] || huge=$((page * page / 8))
info "page size $((page / 1024)) KiB, huge page $((huge / 1024 / 1024)) MiB ($((huge / page)) pages): labs 1, 9 and 10 use both"
[ "$page" -eq 4096 ] || info "pages are not 4 KiB here: the labs read the page size, so figures per page and per fault differ from x86-64's"
thp=$(fact transparent_hugepages)
[ -n "$thp" ] || thp="unknown (build the labs to read it)"
case "$thp" in
*"[always]"*) info "transparent huge pages: $thp: any aligned $((huge / 1024 / 1024)) MiB of a mapping may become one huge page, so lab 1's large sizes and lab 2's stack growth take fewer faults (they say so)" ;;
*"[madvise]"*) ok "transparent huge pages: $thp: only where a program asks (labs 9 and 10 do)" ;;
*) info "transparent huge pages: $thp: labs 9 and 10's huge-page comparisons are not shown" ;;
esac
overcommit=$(fact overcommit_memory)
case "$overcommit" in
0) ok "vm.overcommit_memory=0 (heuristic): large reservations are granted, pages come at first touch" ;;
1) info "vm.overcommit_memory=1 (always): every reservation is granted" ;;
2) info "vm.overcommit_memory=2 (strict): every private mapping is committed when made, thread stacks too: lab 3's large malloc can really fail, lab 8's 500 threads may be refused, lab 11's huge reservation is refused (each says so)" ;;
*) info "vm.overcommit_memory cannot be read" ;;
esac
aslr=$(fact aslr)
case "$aslr" in
2) ok "ASLR on (randomize_va_space=2): addresses change from run to run" ;;
*) info "ASLR randomize_va_space=${aslr:-unknown} (2 is the usual default; lab 11 shows its effect)" ;;
esac
info "stack limit: $(ulimit -s) KiB (ulimit -s); lab 1 keeps stack arrays under half of it"

echo
if [ "$problems" -eq 0 ]; then
	echo "doctor: this machine can run every lab with everything it measures"
else
	echo "doctor: $problems thing(s) limit what the labs can measure here (each has a fix above); the labs still run"
fi
