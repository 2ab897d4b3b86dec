#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The lab contract (../shared/DESIGN.md), checked on every built lab: a quick run exits 0 and prints
# the machine, counters and a verdict; data.csv is tidy; the manifest has its fields; plots are
# drawn; bad arguments give one line and exit 2; MACHINE cannot escape results/; Ctrl-C and kill leave no
# temporary files or children; nothing is written outside the output directory.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/e2e/lib.sh

manifest_keys="lab machine_id cpu kernel os compiler cflags git_revision papi_version hwloc_version
	perf_event_paranoid hardware_pmu pinning timer quick samples_per_point date_utc
	transparent_hugepages aslr"

contract() {	# LAB_DIR
	local lab=$1 name bin out cwd
	name=$(basename "$lab")
	bin=$root/$(lab_binary "$lab")
	out=$scratch/$name/out
	cwd=$scratch/$name/cwd
	mkdir -p "$cwd"

	if [ ! -x "$bin" ]; then
		fail "$name: program is built" "missing $bin"
		return
	fi

	# A quick run from an empty working directory, writing to --out.
	(cd "$cwd" && "$bin" --quick --out "$out") >"$scratch/$name.stdout" 2>"$scratch/$name.stderr"
	local status=$?
	check "$name: quick run exits 0" test "$status" -eq 0
	[ "$status" -eq 0 ] || { fail "$name: run output" "$(tail -n 5 "$scratch/$name.stderr")"; return; }
	check "$name: prints the machine line" grep -q '^machine:  .*line [0-9]* B' "$scratch/$name.stdout"
	check "$name: prints the counters" grep -q '^counters: ' "$scratch/$name.stdout"
	check "$name: prints a prediction" grep -q '^prediction: ' "$scratch/$name.stdout"
	check "$name: prints a verdict with numbers" grep -qE '^verdict: .*[0-9]' "$scratch/$name.stdout"
	check "$name: says where the files went" grep -q "^files:    $out/" "$scratch/$name.stdout"
	check "$name: nothing on stderr" test ! -s "$scratch/$name.stderr"
	check "$name: nothing written in the working directory" test -z "$(ls -A "$cwd")"

	# Output files: exactly the expected ones, no temporaries.
	check "$name: writes data.csv, manifest.txt, summary.csv, verdict.txt, verdicts.csv and nothing else" \
		test "$(cd "$out" && ls -A | sort | tr '\n' ' ')" = "data.csv manifest.txt summary.csv verdict.txt verdicts.csv "
	check_verdicts_csv "$name" "$out" "$scratch/$name.stdout"
	check "$name: summary.csv has its header and a numeric headline figure" \
		awk -F, 'NR == 1 && $0 != "lab,name,value,unit,cross_check_value" { bad = 1 }
			 NR == 2 && $3 !~ /^-?[0-9.e+]+$/ { bad = 1 } END { exit bad || NR < 2 }' "$out/summary.csv"
	check "$name: verdict.txt matches the printed verdict" \
		diff <(sed -n 's/^verdict: //p; s/^shown: */shown: /p' "$scratch/$name.stdout") "$out/verdict.txt"

	# data.csv: a header with units, rows with as many cells, no zero where a counter is missing.
	local header rows
	header=$(head -n 1 "$out/data.csv")
	rows=$(($(wc -l <"$out/data.csv") - 1))
	check "$name: data.csv has rows" test "$rows" -gt 0
	check "$name: data.csv header names units (ns_per_op_median, ns_per_op_p05, ns_per_op_p95)" \
		grep -qE '(^|,)ns_per_op_median,ns_per_op_p05,ns_per_op_p95(,|$)' <<<"$header"
	check "$name: every row has as many cells as the header" \
		awk -F, 'NR == 1 { n = NF } NF != n { bad = 1 } END { exit bad }' "$out/data.csv"
	local metric col
	for metric in instructions cycles; do
		col=$(csv_col "$header" "${metric}_per_op")
		[ -n "$col" ] || continue
		if grep -q "^counter.$metric: unavailable" "$out/manifest.txt"; then
			check "$name: unavailable $metric are empty cells, never 0" \
				awk -F, -v c="$col" 'NR > 1 && $c != "" { bad = 1 } END { exit bad }' "$out/data.csv"
		else
			check "$name: counted $metric are numbers" \
				awk -F, -v c="$col" 'NR > 1 && $c !~ /^[0-9.e+-]*$/ { bad = 1 } END { exit bad }' "$out/data.csv"
		fi
	done

	# manifest.txt
	local key missing=""
	for key in $manifest_keys; do
		grep -q "^$key: ." "$out/manifest.txt" || missing="$missing $key"
	done
	check "$name: manifest has every field (missing:${missing:- none})" test -z "$missing"
	check "$name: manifest lists its counters, or says it uses none" \
		grep -qE '^(counter\.[a-z_]*: |counters: none used)' "$out/manifest.txt"

	# Plots.
	if command -v gnuplot >/dev/null 2>&1; then
		scripts/plot.sh "$lab" "$out" >"$scratch/$name.plot" 2>&1
		check "$name: plot.sh exits 0" test $? -eq 0
		check "$name: plot.png is a PNG" bash -c "head -c 8 '$out/plot.png' | od -An -c | grep -q 'P   N   G'"
		check "$name: plot.svg is an SVG" grep -q '<svg' "$out/plot.svg"
		check "$name: the terminal plot is drawn" grep -q '+---' "$scratch/$name.plot"
		check "$name: no gnuplot warnings" bash -c "! grep -qiE 'warning|error' '$scratch/$name.plot'"
		check "$name: plotting leaves no temporaries" test -z "$(find "$out" -name '*tmp*')"
	else
		skip "$name: plots" "gnuplot is not installed"
	fi

	# Bad arguments: one line on stderr, exit status 2.
	local args
	for args in "--reps 0" "--reps abc" "--reps 99999999999999999999" "--bogus" "--quick=yes" \
		    "stray-argument" "--out"; do
		# shellcheck disable=SC2086 # split on purpose
		"$bin" $args >/dev/null 2>"$scratch/err"
		local st=$?
		check "$name: '$args' -> exit 2 with one line (got $st, $(wc -l <"$scratch/err") lines)" \
			test "$st" -eq 2 -a "$(wc -l <"$scratch/err")" -eq 1
	done
	check "$name: --help exits 0" quiet "$bin" --help
	check "$name: --version exits 0" quiet "$bin" --version

	# --out into a read-only directory: one clear line, exit 2.
	local ro=$scratch/$name/ro
	mkdir -p "$ro"
	if unshare -rm true 2>/dev/null; then
		unshare -rm sh -c "mount -t tmpfs -o ro tmpfs '$ro' && exec '$bin' --quick --out '$ro/x'" \
			>/dev/null 2>"$scratch/err"
		local st=$?
		check "$name: --out on a read-only mount -> exit 2, one line" \
			test "$st" -eq 2 -a "$(wc -l <"$scratch/err")" -eq 1
		check "$name: ... and the line says why" grep -qi 'read-only' "$scratch/err"
	elif [ "$(id -u)" -ne 0 ]; then
		chmod 555 "$ro"
		"$bin" --quick --out "$ro/x" >/dev/null 2>"$scratch/err"
		check "$name: --out into a read-only directory -> exit 2" test $? -eq 2
		chmod 755 "$ro"
	else
		skip "$name: --out read-only" "root ignores permissions and unshare is not allowed here"
	fi

	# MACHINE cannot lead outside results/.
	local where
	where=$(cd "$cwd" && MACHINE=../../x "$bin" --print-out-dir)
	check "$name: MACHINE=../../x stays under results/ ($where)" test "$where" = "results/x/$name"

	# Ctrl-C (SIGINT) and kill (SIGTERM) in the middle of a long run (--reps 200 makes every lab
	# take seconds): it dies of the signal and leaves no temporaries or children. Job control on,
	# so the background run does not start with SIGINT ignored (as a non-interactive shell's
	# background jobs do).
	local sig want
	for sig in INT TERM; do
		local int_out=$scratch/$name/$sig
		set -m
		"$bin" --reps 200 --out "$int_out" >/dev/null 2>&1 &
		local pid=$!
		set +m
		sleep 1.5
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			skip "$name: SIG$sig" "the run ended within 1.5 s, before the signal could be sent"
			continue
		fi
		kill -"$sig" "$pid" 2>/dev/null
		wait "$pid"
		st=$?
		want=$((128 + $(kill -l "$sig")))
		check "$name: SIG$sig ends the run (status $st)" test "$st" -eq "$want"
		check "$name: SIG$sig leaves no temporary files" \
			test -z "$(find "$int_out" -name '*tmp*' 2>/dev/null)"
		# With job control the run leads its own process group; a child it left behind would
		# still be in that group after being re-parented.
		sleep 0.2
		check "$name: SIG$sig leaves no child processes" test -z "$(pgrep -g "$pid" 2>/dev/null)"
	done
}

mapfile -t labs < <(scripts/labs.sh built)
for lab in "${labs[@]}"; do
	contract "$lab"
done

# The whole pipeline once, as a learner types it (without make): run, plot, list the files.
if [ ${#labs[@]} -gt 0 ]; then
	id=e2e-pipeline-$$
	first=$(basename "${labs[0]}")
	QUICK=1 MACHINE=$id scripts/run-lab.sh "${first%%-*}" >"$scratch/pipeline" 2>&1
	check "run-lab.sh ${first%%-*} exits 0" test $? -eq 0
	check "run-lab.sh writes results/$id/$first/ with plots" \
		test -s "results/$id/$first/plot.png" -a -s "results/$id/$first/data.csv"
	check "run-lab.sh shows the terminal plot and where the plots went" \
		grep -q "^plots:    results/$id/$first/plot.png" "$scratch/pipeline"
	rm -rf "results/$id"
fi
scripts/labs.sh resolve 42 >/dev/null 2>"$scratch/err"
check "an unknown lab number -> exit 2 with the list of labs" \
	test $? -eq 2 -a "$(grep -c 'stack-vs-heap' "$scratch/err")" -eq 1
