#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the labs need (compiler, make, pkg-config, PAPI, hwloc, gnuplot, strace, and python3
# for the class tools) with the distribution's package manager, and, where the distribution packages them, the optional extras:
# perf (Lab 4's cross-check), jemalloc, mimalloc and tcmalloc (Lab 3). With --test also what the tests
# use: cmocka, and where packaged Chromium (headless, to load make report's page), valgrind,
# cppcheck, clang-tidy, shellcheck, pyflakes and Slurm with munge (make cluster's test); without those
# the tests that need them are skipped with the reason. A learner's 'make deps' installs no test tool; 'make
# deps test' and 'make deps-test' do. Says what it will install and how much it downloads first.
# Fast and quiet when everything is already there; safe to re-run.
# Usage: scripts/install-deps.sh [--test] [--check]   (--check: only report what is missing, exit 1
#        if any)
set -euo pipefail

test_tools=0 check_only=0
for arg in "$@"; do
	case "$arg" in
	--test) test_tools=1 ;;
	--check) check_only=1 ;;
	*) echo "deps: unknown option '$arg' (usage: scripts/install-deps.sh [--test] [--check])" >&2; exit 2 ;;
	esac
done

missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pc() { have_cmd pkg-config && pkg-config --exists "$1" 2>/dev/null; }

have_cmd cc || have_cmd gcc || missing+=("C compiler")
have_cmd make || missing+=(make)
have_cmd pkg-config || missing+=(pkg-config)
have_pc papi || missing+=("PAPI library")
have_cmd papi_avail || missing+=("PAPI tools")
have_pc hwloc || missing+=("hwloc library")
have_cmd lstopo-no-graphics || missing+=("hwloc tools")
have_cmd gnuplot || missing+=(gnuplot)
have_cmd strace || missing+=("strace")
have_cmd python3 || missing+=("python3 (make import, compare, report)")
[ "$test_tools" = 0 ] || have_pc cmocka || missing+=("cmocka (unit tests)")

# Optional extras, by Debian/Ubuntu package: counted as missing only where apt can install them,
# so that a distribution without them does not run the package manager at every 'make deps'.
# Not "ldconfig -p | grep -q": grep stops at the first match, and pipefail then sees SIGPIPE.
have_lib() { grep -q "$1" <<<"$(ldconfig -p 2>/dev/null)"; }
want_optional() {	# PACKAGE PRESENT-TEST...
	local pkg=$1
	shift
	"$@" && return
	apt-cache show "$pkg" >/dev/null 2>&1 && optional+=("$pkg")
}
find_optional() {
	optional=()
	have_cmd apt-get || return 0
	want_optional libjemalloc2 have_lib libjemalloc.so.2
	want_optional libmimalloc2.0 have_lib libmimalloc.so.2
	want_optional libtcmalloc-minimal4 have_lib libtcmalloc_minimal.so.4
	want_optional linux-perf have_cmd perf
	[ "$test_tools" = 1 ] || return 0
	want_optional chromium have_cmd chromium
	want_optional valgrind have_cmd valgrind
	want_optional cppcheck have_cmd cppcheck
	want_optional clang-tidy have_cmd clang-tidy
	want_optional shellcheck have_cmd shellcheck
	want_optional pyflakes3 have_cmd pyflakes3
	want_optional munge have_cmd munged
	want_optional slurmctld have_cmd slurmctld
	want_optional slurmd have_cmd slurmd
	want_optional slurm-client have_cmd sbatch
	want_arm64_cross
	# An arm64 machine with a PMU, emulated (tests/e2e/pmu_emulated.sh): QEMU's system emulator,
	# and cpio for its initramfs. Its kernel and busybox are downloaded by the test (apt-get
	# download, arm64, about 22 MB, kept in build/pmu-vm).
	want_optional qemu-system-arm have_cmd qemu-system-aarch64
	want_optional cpio have_cmd cpio
}
# The labs cross-compiled for arm64 and run under qemu-aarch64 (tests/e2e/arm64_emulated.sh): on
# an amd64 Debian or Ubuntu, the cross compiler, qemu-user, and PAPI and hwloc for arm64 through
# multiarch (which adds arm64 to dpkg's architectures). One entry, "arm64-cross", installed below.
have_arm64_cross() {
	have_cmd aarch64-linux-gnu-gcc && have_cmd qemu-aarch64 &&
		[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/papi.pc ] &&
		[ -f /usr/lib/aarch64-linux-gnu/pkgconfig/hwloc.pc ]
}
want_arm64_cross() {
	[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || return 0
	have_arm64_cross || optional+=(arm64-cross)
}
install_arm64_cross() {
	dpkg --print-foreign-architectures | grep -qx arm64 || {
		"${as_root[@]}" dpkg --add-architecture arm64 && "${as_root[@]}" apt-get update -q
	} || return 1
	"${as_root[@]}" apt-get install -y -q --no-install-recommends gcc-aarch64-linux-gnu qemu-user \
		libpapi-dev:arm64 libhwloc-dev:arm64
}
find_optional

if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
	echo "deps: everything is installed"
	exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: everything needed is installed; optional extras missing: ${optional[*]}"
	[ "$check_only" = 1 ] && exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: missing: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')"
	[ "$check_only" = 1 ] && exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif have_cmd sudo; then
	as_root=(sudo)
	echo "deps: installing packages needs root; sudo may ask for your password"
else
	echo "deps: not root and no sudo: ask an administrator to run scripts/install-deps.sh as root" >&2
	exit 1
fi

# One package list per package manager. Debian/Ubuntu is the one CI tests.
if have_cmd apt-get; then
	pkgs=(build-essential pkg-config libpapi-dev papi-tools libhwloc-dev hwloc-nox gnuplot-nox strace python3)
	[ "$test_tools" = 0 ] || pkgs+=(libcmocka-dev)
	export DEBIAN_FRONTEND=noninteractive
	"${as_root[@]}" apt-get update -q
	find_optional	# again: before 'apt-get update' a fresh machine's package lists may be empty
	# What will come down the wire, before it does: apt's own list of what is not yet here.
	packages=()
	for p in "${optional[@]}"; do [ "$p" = arm64-cross ] || packages+=("$p"); done
	apt-get install -qq --print-uris --no-install-recommends "${pkgs[@]}" "${packages[@]}" 2>/dev/null |
		awk '{ n++; bytes += $3 } END { printf "deps: will download %d packages, %.1f MB\n", n, bytes / 1e6 }'
	echo "deps: will install: ${pkgs[*]} ${optional[*]}"
	[ "${#packages[@]}" -eq "${#optional[@]}" ] ||
		echo "deps: arm64-cross: the aarch64 cross compiler, qemu-user and arm64 PAPI and hwloc" \
			"(about 80 MB more; adds arm64 to dpkg's architectures)"
	"${as_root[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"
	# The optional extras, one by one: one that fails to install does not stop the rest.
	for p in "${optional[@]}"; do
		if [ "$p" = arm64-cross ]; then
			install_arm64_cross ||
				echo "deps: the arm64 cross tools could not be installed (the arm64 test is skipped)"
			continue
		fi
		"${as_root[@]}" apt-get install -y -q --no-install-recommends "$p" ||
			echo "deps: optional $p could not be installed (the labs say what they skip)"
	done
	# Ubuntu ties perf to the running kernel.
	if ! have_cmd perf && apt-cache show "linux-tools-$(uname -r)" >/dev/null 2>&1; then
		"${as_root[@]}" apt-get install -y -q --no-install-recommends "linux-tools-$(uname -r)" ||
			echo "deps: optional perf could not be installed (Lab 4 skips its cross-check)"
	fi
elif have_cmd dnf; then
	tests=()
	[ "$test_tools" = 0 ] || tests=(libcmocka-devel)
	"${as_root[@]}" dnf install -y gcc make pkgconf-pkg-config papi-devel papi hwloc-devel hwloc \
		gnuplot strace python3 "${tests[@]}"
	"${as_root[@]}" dnf install -y --skip-broken perf jemalloc mimalloc gperftools-libs ||
		echo "deps: some optional extras could not be installed"
elif have_cmd pacman; then
	tests=()
	[ "$test_tools" = 0 ] || tests=(cmocka)
	"${as_root[@]}" pacman -S --needed --noconfirm base-devel pkgconf papi hwloc gnuplot \
		strace python "${tests[@]}"
	"${as_root[@]}" pacman -S --needed --noconfirm perf jemalloc mimalloc gperftools ||
		echo "deps: some optional extras could not be installed"
elif have_cmd zypper; then
	tests=()
	[ "$test_tools" = 0 ] || tests=(libcmocka-devel)
	"${as_root[@]}" zypper --non-interactive install gcc make pkg-config papi-devel papi \
		hwloc-devel hwloc gnuplot strace python3 "${tests[@]}"
	"${as_root[@]}" zypper --non-interactive install perf libjemalloc2 mimalloc \
		libtcmalloc4 || echo "deps: some optional extras could not be installed"
else
	echo "deps: no apt-get, dnf, pacman or zypper found; install by hand: a C compiler, make," \
	     "pkg-config, PAPI (library, headers, tools), hwloc (library, headers, tools), gnuplot, cmocka," \
	     "strace, python3 (and perf if you can)" >&2
	exit 1
fi

# Say plainly if the package manager succeeded but something is still not found.
recheck=(--check)
[ "$test_tools" = 0 ] || recheck+=(--test)
if ! "$0" "${recheck[@]}" >/dev/null; then
	"$0" "${recheck[@]}" >&2 || true
	echo "deps: some dependencies are still missing after the install (see above)" >&2
	exit 1
fi
echo "deps: done"
