#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets machines side by side (make compare). For each lab, in results/compare/<NN-lab>/:
#   figure-K.png    each figure of the lab's compare.txt, one line per machine
#   compare.txt     which machine is on which figure, with its range, or why it is not
#   headlines.txt   each headline figure (summary.csv) across the class: median, range, outliers,
#                   then every machine's value
#   class.png       the headline figures as a strip plot: each machine's value over the class median
#   verdicts.txt    for each verdict id (verdicts.csv), how many machines saw holds / fails /
#                   inconclusive
#   class.tsv, class-summary.tsv, verdicts.tsv   the same, for make report
#   .points/        the gnuplot script and the points it reads, removed once plotted unless
#                   KEEP_PLOT_SCRIPTS=1
# A machine keeps its line style (scripts/style.gp) in every plot of every lab.
# Quick and full runs are kept apart: a lab is compared over its full runs where any machine has
# one, over its quick runs otherwise, and the runs left out are listed. RUNS=quick, RUNS=full or
# RUNS=all chooses.
# Usage: scripts/compare.sh [LAB]       (RESULTS=dir reads and writes another results directory)
#        scripts/compare.sh --machines  lists the machines found: DIR<TAB>LABEL per line
#
# A lab's compare.txt has one figure per line, fields separated by '|':
#   title | x column | y column | rows (column=value ...) | axes (logx, logy)
# A numeric x column is plotted as is; a non-numeric one (or columns joined with '+', as in
# kind+channel) is a category axis, in the order the categories first appear. Axis labels come
# from axis_label below: a new column needs a line there.
set -euo pipefail
cd "$(dirname "$0")/.."

results=${RESULTS:-results}
out_root=$results/compare
runs=${RUNS:-}
case "$runs" in
'' | full | quick | all) ;;
*) echo "compare: RUNS must be full, quick or all, not '$runs'" >&2; exit 2 ;;
esac

# Machines: every directory under results/ (and results/examples/) with at least one lab result,
# read once. m_dir[i], m_name[i] (the id, as in legends) and m_label[i] (id and CPU).
m_dir=() m_name=() m_label=()
load_machines() {
	local dir id manifest desc
	for dir in "$results"/*/ "$results"/examples/*/; do
		dir=${dir%/}
		id=$(basename "$dir")
		case "$id" in examples | compare | report | cluster | '*') continue ;; esac
		manifest=("$dir"/*/manifest.txt)
		[ -f "${manifest[0]}" ] || continue
		desc=$(awk -F': ' '$1 == "cpu_model" && !c { c = $2 } $1 == "nr_pus" && !p { p = $2 }
			$1 == "virtual_machine" && $2 == "yes" { vm = ", VM" }
			END { printf "%s, %s PUs%s", c ? c : "unknown CPU", p ? p : "?", vm }' "${manifest[0]}")
		[[ "$dir" == "$results"/examples/* ]] && id="$id (example)"
		m_dir+=("$dir")
		m_name+=("$id")
		m_label+=("$id: $desc")
	done
}

# Human axis labels, with units, for the columns the labs' compare.txt files plot.
axis_label() {	# COLUMN
	case "$1" in
	size_bytes) echo "size (bytes)" ;;
	array_bytes) echo "local array in each frame (bytes)" ;;
	stack_bytes) echo "stack size (bytes)" ;;
	buffer_bytes) echo "buffer size (bytes)" ;;
	distance_bytes) echo "distance between the two counters (bytes)" ;;
	touched_bytes) echo "bytes touched" ;;
	ops) echo "operations done" ;;
	step) echo "step of the experiment" ;;
	kind) echo "variant" ;;
	mode) echo "kind of mapping" ;;
	strategy) echo "retry strategy" ;;
	placement) echo "placement of the two threads" ;;
	kind+channel+placement) echo "mechanism / channel / placement" ;;
	nr_accounts) echo "accounts" ;;
	nr_threads) echo "threads" ;;
	nr_workers) echo "workers" ;;
	clients) echo "clients" ;;
	requests) echo "requests served" ;;
	ns_per_op_median) echo "time per operation, median (ns)" ;;
	ns_per_load) echo "time per load, median (ns)" ;;
	ns_per_fault) echo "time per page fault (ns)" ;;
	faults_per_op_rusage) echo "page faults per operation (getrusage)" ;;
	faults_per_page) echo "page faults per page" ;;
	frame_bytes_measured) echo "stack used per frame (bytes)" ;;
	max_depth) echo "deepest recursion (frames)" ;;
	rss_bytes) echo "resident memory (bytes)" ;;
	live_bytes) echo "live heap (bytes)" ;;
	resident_bytes) echo "resident (bytes)" ;;
	rss_per_request_bytes) echo "resident memory per request (bytes)" ;;
	bytes) echo "bytes" ;;
	mb_per_s_median) echo "throughput, median (MB/s)" ;;
	gb_per_s) echo "read bandwidth (GB/s)" ;;
	speedup_vs_packed) echo "padded over packed (x, above 1: padding helps)" ;;
	ms_to_deadlock_median) echo "time to deadlock, median (ms)" ;;
	transfers_per_s_median) echo "transfers per second, median" ;;
	retries_per_success) echo "retries per success" ;;
	completed_runs) echo "runs completed before the time limit" ;;
	switches_per_request) echo "context switches per request" ;;
	late_p99_us) echo "lateness, 99th percentile (us)" ;;
	balance) echo "balance read through the pointer" ;;
	*) echo "${1//_/ }" ;;
	esac
}

# A gnuplot single-quoted string.
quote() { printf "'%s'" "${1//\'/\'\'}"; }

is_quick() { grep -q '^quick: yes' "$1/manifest.txt" 2>/dev/null; }

# The settings every plot starts from; a plot per machine uses "linetype <machine number>".
plot_preamble() {	# OUTPUT TITLE NR_MACHINES
	local height=$((160 + 15 * $3))
	[ "$height" -ge 650 ] || height=650
	echo "reset"
	echo "set terminal $png_term size 1200,$height"
	echo "set output $(quote "$1")"
	echo "load 'scripts/style.gp'"
	echo "set datafile separator tab"
	echo "set title $(quote "$2")"
	echo "set grid"
	# Outside the data, whatever the number of machines; one column, small type.
	echo "set key outside right top vertical Left reverse font ',9' spacing 1 samplen 2"
}

compare_lab() {	# LAB_DIR
	local lab_dir=$1 lab spec out pts i nr_full=0 nr_quick=0 mode
	lab=$(basename "$lab_dir")
	spec=$lab_dir/compare.txt
	[ -f "$spec" ] || { echo "$lab: no compare.txt: nothing to compare"; return 0; }
	out=$out_root/$lab
	# The points each plot reads: written, plotted, removed (compare.txt says what they were).
	pts=$out/.points
	rm -rf "$out"
	mkdir -p "$pts"

	# Which runs of this lab are compared: full and quick are never mixed unless RUNS=all.
	for i in "${!m_dir[@]}"; do
		[ -f "${m_dir[$i]}/$lab/data.csv" ] || continue
		if is_quick "${m_dir[$i]}/$lab"; then nr_quick=$((nr_quick + 1)); else nr_full=$((nr_full + 1)); fi
	done
	mode=$runs
	[ -n "$mode" ] || { [ "$nr_full" -gt 0 ] && mode=full || mode=quick; }
	sel=() left=()
	for i in "${!m_dir[@]}"; do
		[ -f "${m_dir[$i]}/$lab/data.csv" ] || continue
		if is_quick "${m_dir[$i]}/$lab"; then
			[ "$mode" = full ] && { left+=("${m_name[$i]}"); continue; }
		else
			[ "$mode" = quick ] && { left+=("${m_name[$i]}"); continue; }
		fi
		sel+=("$i")
	done

	{
		echo "== $lab: ${#sel[@]} machine$([ ${#sel[@]} -eq 1 ] || echo s), $(case $mode in full) echo "full runs" ;;
			quick) echo "quick runs (no full run to compare: fewer points, short samples)" ;;
			all) echo "full and quick runs together, quick ones marked" ;; esac)"
		[ ${#left[@]} -eq 0 ] ||
			echo "   left out, $( [ "$mode" = full ] && echo quick || echo full) runs (RUNS=all shows them): ${left[*]}"
		counter_meanings "$lab"
	} | tee "$out/compare.txt"
	[ ${#sel[@]} -gt 0 ] || { rm -rf "$pts"; return 0; }

	local n=0 title xspec ycol rows axes
	: >"$pts/plots.gp"
	while IFS='|' read -r title xspec ycol rows axes; do
		title=$(echo "$title" | sed 's/^ *//; s/ *$//')
		[ -z "$title" ] || [[ "$title" == \#* ]] && continue
		n=$((n + 1))
		compare_figure "$lab" "$out" "$n" "$title" "${xspec// /}" "${ycol// /}" \
			"$(echo "$rows" | sed 's/^ *//; s/ *$//')" "$axes"
	done <"$spec"
	class_view "$lab" "$out"
	verdict_counts "$lab" "$out"
	if [ "$have_gnuplot" = 1 ] && [ -s "$pts/plots.gp" ]; then
		gnuplot "$pts/plots.gp" 2>"$out/gnuplot.log" ||
			echo "  gnuplot failed on $lab: $(head -n 1 "$out/gnuplot.log")"
		[ -s "$out/gnuplot.log" ] || rm -f "$out/gnuplot.log"
	fi
	[ "${KEEP_PLOT_SCRIPTS:-}" = 1 ] || rm -rf "$pts"
}

# A counter column means what its event counts, and that differs between CPUs (cache_misses: last-
# level misses on Intel, L2 misses on AMD) and between runs (user mode only, or user+kernel). Where
# the machines compared differ, the first lines of compare.txt say so, with who counts what.
counter_meanings() {	# LAB
	local lab=$1 i args=()
	for i in "${sel[@]}"; do
		args+=("name=$(run_name "$i" "$lab")" "${m_dir[$i]}/$lab/manifest.txt")
	done
	awk '
	/^counter_domain: / { key = "counter_domain"; val = substr($0, 17) }
	/^counter\.[a-z_]+: / {
		key = substr($1, 1, length($1) - 1); val = substr($0, length($1) + 2)
		if (val ~ /^unavailable/ || val ~ /, stalled: /) next	# no figure, nothing to mislead
	}
	/^counter(_domain|\.[a-z_]+): / {
		if (!((key, val) in who)) { nv[key]++; vals[key, nv[key]] = val }
		who[key, val] = who[key, val] (who[key, val] == "" ? "" : ", ") name
		if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
	}
	END {
		for (k = 1; k <= nk; k++) {
			key = keys[k]
			if (nv[key] < 2) continue
			printf "   %s differs between these machines: the figures that use it are not the same quantity\n", key
			for (j = 1; j <= nv[key]; j++) printf "     %s: %s\n", vals[key, j], who[key, vals[key, j]]
		}
	}' "${args[@]}"
}

# The name a machine has in legends and lines: its id, and whether this was a quick run.
run_name() {	# MACHINE_INDEX LAB
	printf '%s' "${m_name[$1]}"
	is_quick "${m_dir[$1]}/$2" && printf ' [quick run]'
	return 0
}

# One figure: one awk over every selected machine's data.csv writes each machine's points
# (figure-N.mK.tsv, K the machine's number) and says what it found; then the plot's gnuplot lines.
compare_figure() {	# LAB OUT N TITLE XSPEC YCOL ROWS AXES
	local lab=$1 out=$2 n=$3 title=$4 xspec=$5 ycol=$6 rows=$7 axes=$8 i args=() names=""
	for i in "${sel[@]}"; do
		args+=("k=$((i + 1))" "${m_dir[$i]}/$lab/data.csv")
		names="$names$((i + 1))=$(run_name "$i" "$lab")"$'\n'
	done
	echo "figure $n: $title ($ycol by ${xspec//+/\/})" | tee -a "$out/compare.txt"
	awk -F, -v xspec="$xspec" -v ycol="$ycol" -v rows="$rows" -v names="$names" \
		-v prefix="$pts/figure-$n" '
	BEGIN {
		nn = split(names, nl, "\n")
		for (i = 1; i <= nn; i++) if (nl[i] != "") { p = index(nl[i], "="); name[substr(nl[i], 1, p - 1)] = substr(nl[i], p + 1) }
		nx = split(xspec, xs, "+"); nf = split(rows, filt, " ")
	}
	FNR == 1 {
		order[++nm] = k; delete col
		for (i = 1; i <= NF; i++) col[$i] = i
		why[k] = ""
		for (i = 1; i <= nx; i++) if (!(xs[i] in col)) why[k] = "its data.csv has no column " xs[i]
		if (!(ycol in col)) why[k] = "its data.csv has no column " ycol " (an older version of the lab?)"
		for (i = 1; i <= nf; i++) {
			split(filt[i], kv, "=")
			if (!(kv[1] in col)) why[k] = "its data.csv has no column " kv[1]
			fcol[i] = col[kv[1]]; fval[i] = kv[2]
		}
		matched[k] = 0; np[k] = 0
		next
	}
	why[k] != "" { next }
	{
		for (i = 1; i <= nf; i++) if ($(fcol[i]) != fval[i]) next
		matched[k]++
		if ($(col[ycol]) == "") next
		x = $(col[xs[1]])
		for (i = 2; i <= nx; i++) x = x "/" $(col[xs[i]])
		if (x !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) categorical = 1
		if (!(x in cat)) { cat[x] = ncat++; catname[ncat - 1] = x }
		y = $(col[ycol]) + 0
		m = ++np[k]; px[k, m] = x; py[k, m] = y
	}
	function g(v) { return sprintf("%.3g", v) }
	END {
		xtics = ""
		if (categorical) for (c = 0; c < ncat; c++) {
			s = catname[c]; gsub(/\047/, "\047\047", s)
			xtics = xtics (c ? ", " : "") "\047" s "\047 " c
		}
		for (j = 1; j <= nm; j++) {
			k = order[j]
			if (why[k] == "" && !matched[k]) why[k] = "no rows with " rows " (a different sweep, or the experiment was skipped there)"
			else if (why[k] == "" && !np[k]) why[k] = ycol " is empty there: not measured on that machine (its manifest says why)"
			if (why[k] == "") nplotted++
		}
		for (j = 1; j <= nm; j++) {
			k = order[j]
			if (why[k] != "") { printf "  %-28s not on this plot: %s\n", name[k], why[k]; continue }
			# On a category axis each machine sits at its own small offset, the same in every
			# category, so that thirty machines do not hide each other.
			off = categorical && nplotted > 1 ? (rank++) / (nplotted - 1) * 0.6 - 0.3 : 0
			# Points in x order (numeric axis) or category order; few points, insertion sort.
			for (a = 1; a <= np[k]; a++) {
				key[a] = categorical ? cat[px[k, a]] : px[k, a] + 0; val[a] = py[k, a]
				for (b = a; b > 1 && key[b - 1] > key[b]; b--) {
					t = key[b]; key[b] = key[b - 1]; key[b - 1] = t
					t = val[b]; val[b] = val[b - 1]; val[b - 1] = t
				}
			}
			lo = hi = val[1]
			file = prefix ".m" k ".tsv"
			for (a = 1; a <= np[k]; a++) {
				print key[a] + off "\t" val[a] > file
				if (val[a] < lo) lo = val[a]; if (val[a] > hi) hi = val[a]
			}
			close(file)
			printf "  %-28s %3d points, %s %s .. %s\n", name[k], np[k], ycol, g(lo), g(hi)
			plotted = plotted " " k
		}
		printf "%d\n%d\n%s\n%s\n", categorical, ncat, xtics, plotted > (prefix ".meta")
	}' "${args[@]}" | tee -a "$out/compare.txt"

	local categorical nr_cats xtics plotted plot_cmd="" k
	{ read -r categorical; read -r nr_cats; read -r xtics; read -r plotted; } <"$pts/figure-$n.meta"
	if [ -z "${plotted// /}" ]; then
		echo "  (no machine has this figure's data)" | tee -a "$out/compare.txt"
		return 0
	fi
	# Categories are not a scale: points only, no lines suggesting values between them.
	local style=linespoints
	[ "$categorical" = 0 ] || style=points
	for k in $plotted; do
		plot_cmd="$plot_cmd$(quote "$pts/figure-$n.m$k.tsv") using 1:2 with $style linetype $k title $(quote "$(run_name $((k - 1)) "$lab")"), "
	done
	{
		plot_preamble "$out/figure-$n.png" "$lab: $title" "$(wc -w <<<"$plotted")"
		echo "set xlabel $(quote "$(axis_label "$xspec")")"
		echo "set ylabel $(quote "$(axis_label "$ycol")")"
		# Sizes in bytes read better as 4 KiB, 1 MiB than as 4096, 1.04858e+06.
		[[ "$xspec" == *_bytes ]] && [ "$categorical" = 0 ] && echo "set format x '%.0b %BB'"
		[[ "$ycol" == *bytes ]] && echo "set format y '%.0b %BB'"
		[[ "$axes" == *logx* ]] && [ "$categorical" = 0 ] && echo "set logscale x 2"
		[[ "$axes" == *logy* ]] && echo "set logscale y 10"
		if [ "$categorical" = 1 ]; then
			echo "set xtics ($xtics) rotate by -30"
			echo "set xrange [-0.5:$((nr_cats - 1)).5]"
		fi
		echo "plot ${plot_cmd%, }"
	} >>"$pts/plots.gp"
}

# The headline figures of the selected machines: per figure the class median and range, and the
# machines outside Tukey's fences (1.5 interquartile ranges beyond the quartiles, on a log scale
# since these are times and ratios; with 5 machines or more, all values positive).
class_view() {	# LAB OUT
	local lab=$1 out=$2 i args=() names=""
	for i in "${sel[@]}"; do
		[ -f "${m_dir[$i]}/$lab/summary.csv" ] || continue
		args+=("k=$((i + 1))" "${m_dir[$i]}/$lab/summary.csv")
		names="$names$((i + 1))=$(run_name "$i" "$lab")"$'\n'
	done
	if [ ${#args[@]} -eq 0 ]; then
		echo "headline figures: no machine has a summary.csv for $lab" | tee "$out/headlines.txt"
		return 0
	fi
	awk -F, -v names="$names" -v out="$out" -v pts="$pts" '
	BEGIN {
		nn = split(names, nl, "\n")
		for (i = 1; i <= nn; i++) if (nl[i] != "") { p = index(nl[i], "="); name[substr(nl[i], 1, p - 1)] = substr(nl[i], p + 1) }
	}
	FNR == 1 { order[++nm] = k; next }
	$3 != "" {
		f = $2 " (" $4 ")"
		if (!(f in seen)) { seen[f] = ++nf; fig[nf] = f; fname[nf] = $2; funit[nf] = $4 }
		j = seen[f]; cnt[j]++; v[j, cnt[j]] = $3 + 0; who[j, cnt[j]] = k
		val[j, k] = $3; xc[j, k] = $5
	}
	function sortv(a, n,    x, y, t) { for (x = 2; x <= n; x++) for (y = x; y > 1 && a[y - 1] > a[y]; y--) { t = a[y]; a[y] = a[y - 1]; a[y - 1] = t } }
	function q(a, n, p,    h, l) { h = (n - 1) * p + 1; l = int(h); return l >= n ? a[n] : a[l] + (h - l) * (a[l + 1] - a[l]) }
	function g(x) { return sprintf("%.4g", x) }
	END {
		ylo = 0.5; yhi = 2	# the strip plot never narrower than that
		printf "headline figures across %d machine%s: class median, range and outliers (Tukey fences\n", nm, nm == 1 ? "" : "s"
		printf "on a log scale, 5 machines or more), then each machine (cross-check in brackets):\n"
		print "figure\tunit\tmachines\tmedian\tmin\tmax\toutliers" > (out "/class-summary.tsv")
		print "figure\tunit\tmachine\tvalue\tcross_check\tover_median\toutlier" > (out "/class.tsv")
		for (j = 1; j <= nf; j++) {
			n = cnt[j]; pos = 1
			for (i = 1; i <= n; i++) { s[i] = v[j, i]; if (s[i] <= 0) pos = 0 }
			sortv(s, n)
			med = q(s, n, 0.5)
			lo = hi = ""
			if (pos && n >= 5) {
				for (i = 1; i <= n; i++) ls[i] = log(s[i])
				q1 = q(ls, n, 0.25); q3 = q(ls, n, 0.75)
				lo = q1 - 1.5 * (q3 - q1); hi = q3 + 1.5 * (q3 - q1)
			}
			outl = ""
			for (i = 1; i <= n; i++) {
				kk = who[j, i]; x = v[j, i]
				o = (lo != "" && (log(x) < lo || log(x) > hi))
				out_of[j, kk] = o
				if (o) outl = outl (outl ? ", " : "") name[kk] " (" g(x) ")"
			}
			printf "%s: median %s, range %s .. %s, %d machine%s%s\n", fig[j], g(med), g(s[1]), g(s[n]),
				n, n == 1 ? "" : "s", outl ? "; outliers: " outl : ""
			print fname[j] "\t" funit[j] "\t" n "\t" g(med) "\t" g(s[1]) "\t" g(s[n]) "\t" outl > (out "/class-summary.tsv")
			for (m = 1; m <= nm; m++) {
				kk = order[m]
				if (!((j, kk) in val)) continue
				ratio = med != 0 ? val[j, kk] / med : ""
				print fname[j] "\t" funit[j] "\t" name[kk] "\t" val[j, kk] "\t" xc[j, kk] "\t" ratio "\t" out_of[j, kk] > (out "/class.tsv")
				if (med > 0 && val[j, kk] > 0) {
					# The strip plot: x = figure, each machine at the same small offset in every column.
					off = nm > 1 ? (m - 1) / (nm - 1) * 0.6 - 0.3 : 0
					print (j - 1 + off) "\t" ratio "\t" out_of[j, kk] > (pts "/class.m" kk ".tsv")
					if (ratio < ylo) ylo = ratio; if (ratio > yhi) yhi = ratio
				}
			}
		}
		print ylo / 1.25 " " yhi * 1.25 > (pts "/class.range")
	}' "${args[@]}" >"$out/headlines.txt"
	sed 's/^/  /' "$out/headlines.txt"
	# Each machine's values, figure by figure, after the class lines (the file, not the terminal).
	awk -F'\t' 'NR > 1 { if ($1 != last) { print $1 " (" $2 "):"; last = $1 }
		printf "  %-28s %s%s%s\n", $3, $4, $5 != "" ? " [" $5 "]" : "", $7 == 1 ? "  outlier" : "" }' \
		"$out/class.tsv" >>"$out/headlines.txt"

	local plot_cmd="" f i xtics ylo yhi
	for i in "${sel[@]}"; do	# in machine order, as in the other plots' legends
		f=$pts/class.m$((i + 1)).tsv
		[ -e "$f" ] || continue
		plot_cmd="$plot_cmd$(quote "$f") using 1:2 with points linetype $((i + 1)) title $(quote "$(run_name "$i" "$lab")"), "
		plot_cmd="$plot_cmd$(quote "$f") using 1:(\$3 == 1 ? \$2 : NaN) with points pointtype 6 pointsize 3 linecolor rgb 'black' notitle, "
	done
	[ -n "$plot_cmd" ] || return 0
	xtics=$(awk -F'\t' 'NR > 1 && $4 > 0 { s = $1; gsub(/\047/, "", s); printf "%s\047%s\047 %d", n++ ? ", " : "", s, NR - 2 }' \
		"$out/class-summary.tsv")
	{
		plot_preamble "$out/class.png" "$lab: headline figures across the class, each machine over the class median (outliers circled)" \
			"${#sel[@]}"
		echo "set ylabel 'value / class median (log scale)'"
		echo "set logscale y 10"
		read -r ylo yhi <"$pts/class.range"
		echo "set yrange [$ylo:$yhi]"
		echo "set ytics ('1/16' 0.0625, '1/8' 0.125, '1/4' 0.25, '1/2' 0.5, '1' 1, '2' 2, '4' 4, '8' 8, '16' 16, '32' 32)"
		echo "set xtics ($xtics) rotate by -30 font ',9'"
		echo "set xrange [-0.5:$(($(wc -l <"$out/class-summary.tsv") - 2)).5]"
		echo "set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linecolor rgb '#888888'"
		echo "plot ${plot_cmd%, }"
	} >>"$pts/plots.gp"
}

# For each verdict id: how many of the selected machines saw each status.
verdict_counts() {	# LAB OUT
	local lab=$1 out=$2 i files=()
	for i in "${sel[@]}"; do
		[ -f "${m_dir[$i]}/$lab/verdicts.csv" ] && files+=("${m_dir[$i]}/$lab/verdicts.csv")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	awk -F, -v out="$out/verdicts.tsv" '
	FNR == 1 { next }
	{
		if (!($2 in seen)) { seen[$2] = 1; ids[++n] = $2; claim[$2] = $3 }
		c[$2, $4]++; total[$2]++
	}
	END {
		print "verdicts across the class (machines that saw each status):"
		print "id\tclaim\tholds\tfails\tinconclusive\tother\tmachines" > out
		for (i = 1; i <= n; i++) {
			id = ids[i]
			other = total[id] - c[id, "holds"] - c[id, "fails"] - c[id, "inconclusive"]
			printf "  %-44s holds %d, fails %d, inconclusive %d%s\n", id, c[id, "holds"], c[id, "fails"],
				c[id, "inconclusive"], other ? ", other " other : ""
			print id "\t" claim[id] "\t" c[id, "holds"] + 0 "\t" c[id, "fails"] + 0 "\t" c[id, "inconclusive"] + 0 "\t" other "\t" total[id] > out
		}
	}' "${files[@]}" | tee "$out/verdicts.txt"
}

load_machines
if [ "${1:-}" = --machines ]; then
	for i in "${!m_dir[@]}"; do printf '%s\t%s\n' "${m_dir[$i]}" "${m_label[$i]}"; done
	exit 0
fi
lab_filter=
if [ -n "${1:-}" ]; then
	lab_filter=$(scripts/labs.sh resolve "$1") || exit 2
	lab_filter=$(basename "$lab_filter")
fi
if [ ${#m_dir[@]} -eq 0 ]; then
	echo "compare: no results yet: run 'make course' (or make lab-N), or 'make import BUNDLE=...'" >&2
	exit 1
fi
have_gnuplot=0 png_term="png noenhanced"
if command -v gnuplot >/dev/null 2>&1; then
	have_gnuplot=1
	gnuplot -e "set terminal pngcairo" </dev/null >/dev/null 2>&1 && png_term="pngcairo noenhanced font ',10'"
fi
echo "compare: ${#m_dir[@]} machines found:"
printf '  %s\n' "${m_label[@]}"
for lab_dir in $(scripts/labs.sh built); do
	[ -z "$lab_filter" ] || [ "$(basename "$lab_dir")" = "$lab_filter" ] || continue
	compare_lab "$lab_dir"
done
[ "$have_gnuplot" = 1 ] ||
	echo "compare: gnuplot is not installed ('make deps' installs it): text only, no plots"
echo "compare: plots and tables in $out_root/"
