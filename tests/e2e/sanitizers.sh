#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every lab's quick run built with AddressSanitizer + UndefinedBehaviorSanitizer, and every threaded
# lab (its source starts threads) with ThreadSanitizer: clean, except for the deliberate bugs a lab
# declares in its source with a line
#   // sanitizer-expects: ThreadSanitizer lock-order-inversion (why)
# which must then be reported, and be the only kind reported. Labs are found by themselves.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

mapfile -t labs < <(scripts/labs.sh built)

# build_variant NAME FLAGS: every lab built with FLAGS under $scratch/NAME; 1 if the toolchain
# cannot (no sanitizer runtime installed).
build_variant() {
	make --no-print-directory -s BUILD="$scratch/$1" OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
		CFLAGS="$2" LDFLAGS="$2" labs >"$scratch/$1.build" 2>&1
}

# expected SOURCE SANITIZER: the report kinds the lab declares for that sanitizer, one per line.
expected() {
	sed -n "s|^// sanitizer-expects: $2 \([a-z-]*\).*|\1|p" "$1"
}

# check_run VARIANT SANITIZER LAB: runs the lab's quick mode from that build and checks its reports.
check_run() {
	local variant=$1 sanitizer=$2 lab=$3 name src bin out log kinds want kind st
	name=$(basename "$lab")
	src=$(ls "$lab"/*.c | head -n 1)
	bin=$scratch/$variant/labs/$name/$(basename "$src" .c)
	out=$scratch/$variant-out/$name
	log=$scratch/$variant-$name.log
	# Reports go to stderr, the children's too; a report makes the process exit non-zero.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		TSAN_OPTIONS=second_deadlock_stack=1 timeout 600 "$bin" --quick --out "$out" >"$log" 2>&1
	st=$?
	# Any sanitizer's report (LeakSanitizer reports inside an ASan build), and UBSan's.
	kinds=$(sed -n "s/.*\(ERROR\|WARNING\): [A-Za-z]*Sanitizer: \([a-z-]*\).*/\2/p
		s/.*runtime error:.*/undefined-behaviour/p" "$log" | sort -u)
	want=$(expected "$src" "$sanitizer" | sort -u)
	if [ -z "$want" ]; then
		if [ "$st" -eq 0 ] && [ -z "$kinds" ]; then
			pass "$sanitizer: $name runs clean"
		else
			fail "$sanitizer: $name runs clean (status $st, reports: ${kinds:-none})" \
				"$(grep -m1 -A12 "Sanitizer\|runtime error" "$log" || tail -n 5 "$log")"
		fi
		return
	fi
	for kind in $want; do
		check "$sanitizer: $name reports its deliberate $kind" grep -qx "$kind" <<<"$kinds"
	done
	local other
	other=$(comm -23 <(echo "$kinds") <(echo "$want"))
	check "$sanitizer: $name reports nothing else${other:+ (got: $(echo "$other" | tr '\n' ' '))}" \
		test -z "$other"
	check "$sanitizer: $name still writes its results" test -s "$out/data.csv" -a -s "$out/summary.csv"
}

if build_variant asan "-fsanitize=address,undefined -fno-sanitize-recover=undefined"; then
	for lab in "${labs[@]}"; do
		check_run asan AddressSanitizer "$lab"
	done
else
	skip "AddressSanitizer + UBSan" "the labs do not build with them here: $(tail -n 1 "$scratch/asan.build")"
fi

threaded=()
for lab in "${labs[@]}"; do
	grep -q 'pthread_create' "$lab"/*.c && threaded+=("$lab")
done
if [ ${#threaded[@]} -eq 0 ]; then
	skip "ThreadSanitizer" "no lab starts threads"
elif build_variant tsan "-fsanitize=thread"; then
	for lab in "${threaded[@]}"; do
		check_run tsan ThreadSanitizer "$lab"
	done
else
	skip "ThreadSanitizer" "the labs do not build with it here: $(tail -n 1 "$scratch/tsan.build")"
fi
exit 0
