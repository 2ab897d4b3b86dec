#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Unpacks another machine's bundle (from make bundle) into results/<machine>/, safely: every entry
# must be a plain file or directory under one top directory with a safe name; absolute paths, '..',
# links, devices and archives over the size bounds are refused with one line, and nothing is
# written. Importing the same bundle twice replaces the first copy.
# Usage: scripts/import.sh BUNDLE.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."

max_archive_bytes=$((64 * 1024 * 1024))	# compressed
max_content_bytes=$((512 * 1024 * 1024))	# uncompressed: no decompression bombs
max_entries=20000

bundle=${1:-}
refuse() { echo "import: $bundle: $*" >&2; exit 2; }
[ -n "$bundle" ] || { echo "import: usage: make import BUNDLE=path/to/machine.tar.gz" >&2; exit 2; }
[ -f "$bundle" ] || refuse "no such file"
[ "$(stat -c %s "$bundle")" -le "$max_archive_bytes" ] || refuse "larger than $((max_archive_bytes >> 20)) MiB"
listing=$(tar -tvzf "$bundle" 2>/dev/null) || refuse "not a gzip-compressed tar archive"

# Check every entry from the verbose listing: type, size, path.
top="" total=0 entries=0
while IFS= read -r line; do
	[ -n "$line" ] || continue
	entries=$((entries + 1))
	type=${line:0:1}
	read -r _mode _owner size _date _time path <<<"$line"
	case "$type" in
	-|d) ;;
	l|h) refuse "contains a link ($path): bundles hold plain files only" ;;
	*) refuse "contains a device or special file ($path)" ;;
	esac
	case "$path" in
	/*) refuse "contains an absolute path ($path)" ;;
	esac
	case "/$path/" in
	*/../*|*/./*) refuse "contains a '.' or '..' path component ($path)" ;;
	esac
	first=${path%%/*}
	[ -n "$top" ] || top=$first
	[ "$first" = "$top" ] || refuse "has more than one top directory ($top, $first)"
	total=$((total + size))
done <<<"$listing"
[ -n "$top" ] || refuse "is empty"
[[ "$top" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]] || refuse "its machine name '$top' is not a safe name"
[ "$total" -le "$max_content_bytes" ] || refuse "unpacks to more than $((max_content_bytes >> 20)) MiB"
[ "$entries" -le "$max_entries" ] || refuse "has more than $max_entries entries"

# Unpack into a private directory first, then replace results/<machine> in one move.
stage=$(mktemp -d results/.import.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tar -C "$stage" --no-same-owner --no-same-permissions --no-overwrite-dir -xzf "$bundle"
rm -rf "results/${top:?}"
mv "$stage/$top" "results/$top"
echo "import: results/$top/ ($(ls -d "results/$top"/*/ 2>/dev/null | wc -l) labs)"
