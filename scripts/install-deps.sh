#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what the course needs (compiler, make, pkg-config, PAPI, hwloc, gnuplot, cmocka, strace)
# with the distribution's package manager, and perf for cross-checks where the distribution packages
# it. Fast and quiet when everything is already there; safe to re-run.
# Usage: scripts/install-deps.sh [--check]   (--check: only report what is missing, exit 1 if any)
set -euo pipefail

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
have_pc cmocka || missing+=("cmocka (unit tests)")
have_cmd strace || missing+=("strace (tests)")

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: everything is installed"
	exit 0
fi
echo "deps: missing: $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g')"
if [ "${1:-}" = "--check" ]; then
	exit 1
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
	pkgs=(build-essential pkg-config libpapi-dev papi-tools libhwloc-dev hwloc-nox gnuplot-nox
	      libcmocka-dev strace)
	export DEBIAN_FRONTEND=noninteractive
	"${as_root[@]}" apt-get update -q
	"${as_root[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}"
	# perf (the cross-check of Lab 4) is linux-perf on Debian; Ubuntu ties it to the running
	# kernel (linux-tools-$(uname -r)). Optional: the labs say when it is missing.
	if ! have_cmd perf; then
		for p in linux-perf "linux-tools-$(uname -r)"; do
			if apt-cache show "$p" >/dev/null 2>&1; then
				"${as_root[@]}" apt-get install -y -q --no-install-recommends "$p" ||
					echo "deps: optional $p could not be installed (perf cross-checks skipped)"
				break
			fi
		done
	fi
elif have_cmd dnf; then
	"${as_root[@]}" dnf install -y gcc make pkgconf-pkg-config papi-devel papi hwloc-devel hwloc \
		gnuplot libcmocka-devel strace perf
elif have_cmd pacman; then
	"${as_root[@]}" pacman -S --needed --noconfirm base-devel pkgconf papi hwloc gnuplot cmocka \
		strace perf
elif have_cmd zypper; then
	"${as_root[@]}" zypper --non-interactive install gcc make pkg-config papi-devel papi \
		hwloc-devel hwloc gnuplot libcmocka-devel strace perf
else
	echo "deps: no apt-get, dnf, pacman or zypper found; install by hand: a C compiler, make," \
	     "pkg-config, PAPI (library, headers, tools), hwloc (library, headers, tools), gnuplot, cmocka," \
	     "strace (and perf if you can)" >&2
	exit 1
fi

# Say plainly if the package manager succeeded but something is still not found.
if ! "$0" --check >/dev/null; then
	"$0" --check >&2 || true
	echo "deps: some dependencies are still missing after the install (see above)" >&2
	exit 1
fi
echo "deps: done"
