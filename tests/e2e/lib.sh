# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Helpers for end-to-end tests: TAP-like result lines that tests/run.sh counts, and lab lookup.
# Sourced, not run.

BUILD=${BUILD:-build}
# The labs break their lines to the terminal's width (common/term.h), 80 when it is unknown; the
# tests read whole lines, so they ask for lines too wide to break. terminal_width.sh sets its own.
export COLUMNS=10000
nr_tests=0

pass() { nr_tests=$((nr_tests + 1)); echo "ok $nr_tests - $1"; }
fail() {	# DESCRIPTION [DETAIL...]
	nr_tests=$((nr_tests + 1))
	echo "not ok $nr_tests - $1"
	shift
	local detail
	for detail in "$@"; do printf '%s\n' "$detail" | head -n 15 | sed 's/^/# /'; done
}
skip() { nr_tests=$((nr_tests + 1)); echo "ok $nr_tests # SKIP $1: $2"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc" "command: $*"; fi
}

# classtools import|compare|report ...: the class tools, as make import, compare and report run them.
classtools() { python3 scripts/classtools "$@"; }

# quiet COMMAND...: runs it with its output discarded (it must not mix with the result lines).
quiet() { "$@" >/dev/null 2>&1; }

# check_bad_args BIN ARGS...: each ARGS string (split on blanks) is a bad command line: the lab
# must answer with exit status 2 and exactly one line on stderr, and leave no temporary file.
check_bad_args() {
	local bin=$1 args st
	shift
	for args in "$@"; do
		# shellcheck disable=SC2086 # split on purpose
		"$bin" $args --quick --out "$scratch/bad" >/dev/null 2>"$scratch/bad.err"
		st=$?
		check "'$args' -> exit 2 with one line (got $st, $(wc -l <"$scratch/bad.err") lines)" \
			test "$st" -eq 2 -a "$(wc -l <"$scratch/bad.err")" -eq 1
		check "'$args' leaves no temporary file" \
			test -z "$(find "$scratch/bad" -name '*tmp*' 2>/dev/null)"
	done
}

# The program of a lab directory: labs/NN-name/prog.c -> $BUILD/labs/NN-name/prog
lab_binary() {
	local src
	src=$(ls "$1"/*.c | head -n 1)
	echo "$BUILD/labs/$(basename "$1")/$(basename "$src" .c)"
}

# Absolute path of the repository (tests run from it).
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# A scratch directory removed when the test script exits.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")
trap '[ -n "${KEEP_SCRATCH:-}" ] && echo "# kept $scratch" || rm -rf "$scratch"' EXIT

# The value of column NAME in a CSV header line.
csv_col() { tr ',' '\n' <<<"$1" | grep -nx "$2" | cut -d: -f1; }

# csv_max FILE COLUMN: the largest number in that column of a data.csv (empty cells skipped).
csv_max() {
	awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
		c && $c != "" && $c + 0 > m { m = $c + 0 } END { printf "%.0f\n", m }' "$1"
}

# path_without CMD...: a PATH under which the named commands are missing and everything else is
# there (symbolic links in a scratch directory), to test what a machine without them sees.
path_without() {
	local bin=$scratch/path-without-$1 dir f
	mkdir -p "$bin"
	IFS=: read -ra dirs <<<"$PATH"
	for dir in "${dirs[@]}"; do
		for f in "$dir"/*; do
			[ -x "$f" ] && [ ! -e "$bin/${f##*/}" ] && ln -s "$f" "$bin/${f##*/}"
		done
	done
	for f in "$@"; do rm -f "$bin/$f"; done
	echo "$bin"
}

# check_verdicts_csv NAME OUT_DIR STDOUT: verdicts.csv has its header, at least one row, twelve
# comma-free cells a row, a known status, numbers or empty cells for the figures, ids in
# snake_case without repeats; a ratio's rounds, coverage and processes come together (a verdict
# from rounds has all of them, a count or a fact none); and the printed verdicts carry as many
# statuses ("verdict: '...' STATUS:" or "shown: '...':").
check_verdicts_csv() {
	local name=$1 stdout=$3 f=$2/verdicts.csv
	check "$name: verdicts.csv has its header" \
		test "$(head -n 1 "$f" 2>/dev/null)" = "lab,id,claim,status,value,ci_low,ci_high,unit,rounds,coverage,processes,disturbed"
	# Read as CSV, not split on commas: a claim may hold one, and report.c quotes it then.
	check "$name: verdicts.csv has a row per judged claim, each well formed" \
		python3 - "$name" "$f" <<'PY'
import csv, re, sys
lab, path = sys.argv[1], sys.argv[2]
number = re.compile(r"^(-?[0-9.]+([eE][-+]?[0-9]+)?)?$")
rows, seen, bad = list(csv.reader(open(path)))[1:], set(), False
for r in rows:
    if len(r) != 12 or r[0] != lab or not re.match(r"^[a-z0-9_]+$", r[1]) or r[1] in seen or \
            r[3] not in ("holds", "fails", "inconclusive", "not_shown", "shown"):
        bad = True
        continue
    seen.add(r[1])
    bad = bad or any(not number.match(r[i]) for i in range(4, 12) if i != 7)
    rounds, coverage, processes = r[8], r[9], r[10]
    bad = bad or (rounds == "") != (coverage == "") or (rounds == "") != (processes == "")
    if rounds:
        bad = bad or float(rounds) < 1 or not 0 <= float(coverage) <= 1 or float(processes) < 1
    bad = bad or (r[3] == "shown" and rounds != "")
sys.exit(1 if bad or not rows else 0)
PY
	check "$name: every verdicts.csv row was printed with its status" \
		test "$(grep -cE "^(verdict: '.*' (holds|fails|inconclusive|not shown)|shown: +'.*'): " "$stdout")" \
			-eq "$(($(wc -l <"$f") - 1))"
}

# check_page_in_browser PAGE WHAT [SCREENSHOT]: a real browser (headless Chromium) loads the page:
# every image decoded (the page's own self-check line says how many), no console message, and a
# screenshot (copied to SCREENSHOT when given). Skipped, with the reason, without Chromium.
check_page_in_browser() {
	local page=$1 what=$2 keep=${3:-} browser nr_images chrome
	browser=$(command -v chromium || command -v chromium-browser || true)
	if [ -z "$browser" ]; then
		skip "$what in a browser" "chromium is not installed ('make deps test' installs it)"
		return 0
	fi
	nr_images=$(grep -o '<img ' "$page" | wc -l)
	# A private profile; no sandbox (root and containers), no GPU, no network: the page needs none.
	chrome=("$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
		--disable-background-networking --disable-extensions --user-data-dir="$scratch/chromium"
		--enable-logging=stderr --v=0)
	timeout 120 "${chrome[@]}" --dump-dom "file://$page" >"$scratch/dom.html" 2>"$scratch/chromium.log"
	check "chromium loads $what" test $? -eq 0 -a -s "$scratch/dom.html"
	check "every image on $what loads ($nr_images)" \
		grep -q "self-check: $nr_images of $nr_images images loaded" "$scratch/dom.html"
	check "no console message while loading $what" bash -c "! grep -q 'CONSOLE' '$scratch/chromium.log'"
	timeout 120 "${chrome[@]}" --window-size=1200,3000 --screenshot="$scratch/screenshot.png" \
		"file://$page" >/dev/null 2>&1
	check "a screenshot of $what" bash -c "head -c 4 '$scratch/screenshot.png' | grep -q PNG"
	[ -z "$keep" ] || cp "$scratch/screenshot.png" "$keep"
}

# example_machine WHAT: prints the first curated example machine's directory (results/examples/X),
# or reports WHAT skipped and returns 1 when there is none.
example_machine() {
	local dir
	dir=$(ls -d results/examples/*/ 2>/dev/null | head -n 1)
	[ -n "$dir" ] || { skip "$1" "results/examples/ holds no example machine"; return 1; }
	echo "${dir%/}"
}

# The labs cross-built for arm64 (tests/e2e/arm64_emulated.sh, pmu_emulated.sh): Debian's aarch64
# cross compiler against the arm64 PAPI and hwloc (multiarch), -Werror, into build/test-arm64.
arm64_pc=/usr/lib/aarch64-linux-gnu/pkgconfig
arm64_build=build/test-arm64
# need_arm64 WHAT TOOL...: the cross tools and these; when one is missing, a skip line for WHAT
# and status 1.
need_arm64() {
	local what=$1 need
	shift
	for need in aarch64-linux-gnu-gcc "$@" "$arm64_pc/papi.pc" "$arm64_pc/hwloc.pc"; do
		[ -e "$need" ] || command -v "$need" >/dev/null 2>&1 && continue
		skip "$what" "$need is missing ('make deps test' installs the aarch64 cross compiler, the arm64 PAPI and hwloc, qemu-user, qemu-system-arm and cpio)"
		return 1
	done
}
# build_arm64_labs: status 0 when the labs cross-compile; the log is $scratch/build.log.
build_arm64_labs() {
	PKG_CONFIG_LIBDIR=$arm64_pc:/usr/share/pkgconfig make --no-print-directory -s \
		BUILD="$arm64_build" CC=aarch64-linux-gnu-gcc WERROR=1 labs >"$scratch/build.log" 2>&1
}
