#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unpacks other machines' bundles (from make bundle) into results/<machine>/, safely and without
# losing anything: every entry must be a plain file or directory under one top directory with a
# safe name; absolute paths, '..', links, devices and archives over the size bounds are refused
# with one line, and nothing of that bundle is written. Nothing already in results/ is ever
# replaced: a bundle whose machine name is taken by other results is imported under the next free
# name (<machine>-2, -3 ...) and the line says so; importing the same bundle again changes nothing
# and says so.
# Usage: scripts/import.sh BUNDLE|DIRECTORY...   (a directory: every *.tar.gz and *.tgz in it, e.g.
#        a shared folder or a USB stick the class copied its bundles to; RESULTS=dir imports into
#        dir in place of results/)
# Exit status: 0, or 2 when any bundle was refused or missing (the others are still imported).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

results=${RESULTS:-results}
max_archive_bytes=$((64 * 1024 * 1024))	# compressed
max_content_bytes=$((512 * 1024 * 1024))	# uncompressed: no decompression bombs
max_entries=20000

[ $# -gt 0 ] || { echo "import: usage: make import BUNDLE='a.tar.gz b.tar.gz' (or a directory of bundles)" >&2; exit 2; }

# Checks one bundle's listing: type, size and path of every entry. Prints the top directory, or
# one line on stderr and returns 1.
check_listing() {
	local bundle=$1 listing line type size path first top="" total=0 entries=0
	refuse() { echo "import: $bundle: $*" >&2; return 1; }

	[ -f "$bundle" ] || { refuse "no such file"; return 1; }
	[ "$(stat -c %s "$bundle")" -le "$max_archive_bytes" ] ||
		{ refuse "larger than $((max_archive_bytes >> 20)) MiB"; return 1; }
	listing=$(tar -tvzf "$bundle" 2>/dev/null) || { refuse "not a gzip-compressed tar archive"; return 1; }
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		entries=$((entries + 1))
		type=${line:0:1}
		read -r _ _ size _ _ path <<<"$line"
		case "$type" in
		-|d) ;;
		l|h) refuse "contains a link ($path): bundles hold plain files only"; return 1 ;;
		*) refuse "contains a device or special file ($path)"; return 1 ;;
		esac
		case "$path" in
		/*) refuse "contains an absolute path ($path)"; return 1 ;;
		esac
		case "/$path/" in
		*/../*|*/./*) refuse "contains a '.' or '..' path component ($path)"; return 1 ;;
		esac
		first=${path%%/*}
		[ -n "$top" ] || top=$first
		[ "$first" = "$top" ] || { refuse "has more than one top directory ($top, $first)"; return 1; }
		total=$((total + size))
	done <<<"$listing"
	[ -n "$top" ] || { refuse "is empty"; return 1; }
	[[ "$top" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]] || { refuse "its machine name '$top' is not a safe name"; return 1; }
	[ "$total" -le "$max_content_bytes" ] || { refuse "unpacks to more than $((max_content_bytes >> 20)) MiB"; return 1; }
	[ "$entries" -le "$max_entries" ] || { refuse "has more than $max_entries entries"; return 1; }
	echo "$top"
}

labs_in() { ls -d "$1"/*/ 2>/dev/null | wc -l; }

# Unpacks one checked bundle into a private directory, then moves it to a name nothing holds yet.
import_one() {
	local bundle=$1 top stage name n
	top=$(check_listing "$bundle") || return 1
	mkdir -p "$results"
	stage=$(mktemp -d "$results/.import.XXXXXX")
	if ! tar -C "$stage" --no-same-owner --no-same-permissions --no-overwrite-dir -xzf "$bundle"; then
		rm -rf "$stage"
		echo "import: $bundle: could not be unpacked" >&2
		return 1
	fi
	# The same results already here (this bundle, or a copy of it, imported before): nothing to do.
	for name in "$results/$top" "$results/$top"-[0-9]*; do
		if [ -d "$name" ] && diff -rq "$stage/$top" "$name" >/dev/null 2>&1; then
			rm -rf "$stage"
			echo "import: $bundle: already imported as $name/ (the same results): nothing changed"
			return 0
		fi
	done
	name=$results/$top n=1
	while [ -e "$name" ]; do
		n=$((n + 1))
		name=$results/$top-$n
	done
	mv "$stage/$top" "$name"
	rm -rf "$stage"
	if [ "$n" -eq 1 ]; then
		echo "import: $name/ ($(labs_in "$name") labs)"
	else
		echo "import: $bundle: $results/$top/ already holds other results (another machine with" \
			"the same name, or another run): imported as $name/ ($(labs_in "$name") labs)"
	fi
}

status=0
for arg in "$@"; do
	if [ -d "$arg" ]; then
		found=0
		for bundle in "$arg"/*.tar.gz "$arg"/*.tgz; do
			[ -f "$bundle" ] || continue
			found=1
			import_one "$bundle" || status=2
		done
		[ "$found" -eq 1 ] || { echo "import: $arg: no bundles (*.tar.gz, *.tgz) in this directory" >&2; status=2; }
	else
		import_one "$arg" || status=2
	fi
done
exit "$status"
