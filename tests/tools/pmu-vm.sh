#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An arm64 machine with a performance-monitoring unit, emulated: QEMU's system emulator
# (qemu-system-aarch64 -M virt, TCG) emulates the Arm PMUv3, and with -icount shift=0 every
# instruction advances the virtual clock by exactly 1 ns, so cycles equal instructions and counts
# are exact and repeatable. -cpu cortex-a57, because Debian 12's libpfm4 has no Cortex-A72 table.
#
# usage: pmu-vm.sh CACHE ROOT OUT
#   CACHE  where Debian's arm64 cloud kernel and busybox packages are downloaded once and kept
#   ROOT   files for the guest's / : the programs to run and /run.sh, which the guest's init runs
#          as root after mounting /proc, /sys and /dev; what it leaves in /out comes back
#   OUT    receives the guest's /out; the serial console is saved beside it as OUT.console
# The initramfs is busybox, ROOT, and the arm64 shared libraries ROOT's programs need (from the
# multiarch directories, where 'make deps test' installs them). No disk image, no network.
# Exit status: 0 when the guest ran /run.sh and /out came back; 3 when the packages or tools are
# not to be had here (the caller skips, with the line printed on stderr); 1 otherwise.
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: pmu-vm.sh CACHE ROOT OUT" >&2; exit 2; }
cache=$1 root=$2 out=$3
unavailable() { echo "$*" >&2; exit 3; }

for tool in qemu-system-aarch64 aarch64-linux-gnu-readelf cpio dpkg-deb; do
	command -v "$tool" >/dev/null ||
		unavailable "$tool is missing ('make deps test' installs qemu-system-arm, cpio and the arm64 cross tools)"
done

# The kernel and busybox, as Debian ships them for arm64 (apt-get download needs arm64 among
# dpkg's architectures, as the arm64 cross tools already do; no root needed).
mkdir -p "$cache"
fetch() {	# PACKAGE: unpacked under $cache/PACKAGE
	local pkg=$1 deb
	[ -d "$cache/$pkg" ] && return 0
	deb=$(cd "$cache" && apt-get download "$pkg:arm64" >/dev/null 2>&1 && ls -t ./*.deb | head -n 1) ||
		unavailable "cannot download $pkg:arm64 (is arm64 among dpkg's architectures? 'make deps test' adds it)"
	dpkg-deb -x "$cache/$deb" "$cache/$pkg.tmp" && mv "$cache/$pkg.tmp" "$cache/$pkg" && rm -f "$cache/$deb"
}
kernel_pkg=$(apt-cache depends linux-image-cloud-arm64:arm64 2>/dev/null |
	sed -n 's/.*Depends: \(linux-image-[^:]*\).*/\1/p' | head -n 1)
[ -n "$kernel_pkg" ] || [ -n "$(ls "$cache"/linux-image-*/boot/vmlinuz-* 2>/dev/null)" ] ||
	unavailable "apt knows no linux-image-cloud-arm64:arm64 (is arm64 among dpkg's architectures?)"
if [ -n "$kernel_pkg" ]; then fetch "$kernel_pkg"; fi
fetch busybox-static
vmlinuz=$(ls "$cache"/linux-image-*/boot/vmlinuz-* | tail -n 1)

# The guest's root: busybox, ROOT, the libraries, init.
guest=$(mktemp -d "${TMPDIR:-/tmp}/pmu-vm.XXXXXX")
trap 'rm -rf "$guest"' EXIT
mkdir -p "$guest"/{bin,dev,proc,sys,tmp,lib,out,etc}
cp "$cache/busybox-static/bin/busybox" "$guest/bin/"
for applet in sh mount poweroff cat ls echo mkdir su tar base64 timeout id; do
	ln -s busybox "$guest/bin/$applet"
done
cp -a "$root/." "$guest/"
libdirs="/usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu /usr/aarch64-linux-gnu/lib"
copy_needed() {	# ELF: copies its NEEDED libraries, and theirs, into the guest's /lib
	local lib dir
	for lib in $(aarch64-linux-gnu-readelf -d "$1" 2>/dev/null | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
		[ -e "$guest/lib/$lib" ] && continue
		for dir in $libdirs; do
			[ -e "$dir/$lib" ] || continue
			cp -L "$dir/$lib" "$guest/lib/" && copy_needed "$dir/$lib"
			break
		done
		[ -e "$guest/lib/$lib" ] || unavailable "the arm64 library $lib is missing ('make deps test' installs it)"
	done
}
while IFS= read -r -d '' elf; do
	copy_needed "$elf"
done < <(find "$guest" -path "$guest/lib" -prune -o -type f -perm -u+x -print0)
for dir in $libdirs; do
	[ -e "$dir/ld-linux-aarch64.so.1" ] && { cp -L "$dir/ld-linux-aarch64.so.1" "$guest/lib/"; break; }
done
echo 'learner:x:1000:1000::/tmp:/bin/sh' >"$guest/etc/passwd"
echo 'learner:x:1000:' >"$guest/etc/group"
# init: what /run.sh leaves in /out comes back over the console, as a base64 tar between markers.
cat >"$guest/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
chmod 1777 /tmp /out
sh /run.sh
echo "pmu-vm: run.sh exit $?"
echo "pmu-vm: out begins"
tar -C /out -c . | base64
echo "pmu-vm: out ends"
poweroff -f
EOF
chmod +x "$guest/init"
initrd=$guest.cpio.gz
(cd "$guest" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd" || { rm -f "$initrd"; exit 1; }

console=$out.console
timeout 600 qemu-system-aarch64 -M virt -cpu cortex-a57 -icount shift=0 -m 1024 -nographic \
	-nic none -no-reboot -kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyAMA0 quiet panic=-1" </dev/null >"$console" 2>&1
status=$?
rm -f "$initrd"
[ "$status" -eq 0 ] || { echo "qemu-system-aarch64 exited with $status (see $console)" >&2; exit 1; }
mkdir -p "$out"
sed -n '/^pmu-vm: out begins/,/^pmu-vm: out ends/p' "$console" | sed '1d;$d' | tr -d '\r' |
	base64 -d | tar -C "$out" -x || { echo "the guest's /out did not come back (see $console)" >&2; exit 1; }
grep -q '^pmu-vm: run.sh exit' "$console"
