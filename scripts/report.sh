#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Writes one static page with every machine's results: results/report/index.html. It links its
# images where they are (the comparison plots in results/compare/, each machine's plot.png in its
# results directory) instead of inlining them, so it stays small for a class of thirty; nothing is
# loaded from elsewhere. To pass it on, pass on results/ (zip it), or the bundles. Per lab: the
# headline figures across the class (machines as rows, the class median and range, outliers
# marked) and their strip plot, how many machines saw each verdict, the comparison plots, then each
# machine's verdict, plot, what it could not measure and its manifest, folded.
# Usage: scripts/report.sh       (RESULTS=dir: another results directory, as for compare.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

results=${RESULTS:-results}
export RESULTS=$results
out_dir=$results/report
page=$out_dir/index.html
tmp=$out_dir/.index.html.tmp.$$
trap 'rm -f "$tmp"' EXIT

# The comparison plots first; its text goes to a log, the page shows the plots and tables.
mkdir -p "$out_dir"
scripts/compare.sh >"$out_dir/compare.log" 2>&1 || {
	cat "$out_dir/compare.log" >&2
	exit 1
}

# The same machine list as compare.sh: DIR<TAB>LABEL.
mapfile -t machines < <(scripts/compare.sh --machines)

html() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g'; }
esc() { printf '%s' "$1" | html; }
# A thumbnail that opens full size, linked by its path relative to the page.
img() {	# PNG ALT
	local rel=../${1#"$results"/}
	printf '<a href="%s"><img src="%s" alt="%s"></a>\n' "$(esc "$rel")" "$(esc "$rel")" "$(esc "$2")"
}
anchor() { printf '%s' "$1" | tr -c 'A-Za-z0-9-' '-'; }

lab_section() {	# LAB_DIR
	local lab_dir=$1 lab title cmp fig n
	lab=$(basename "$lab_dir")
	title=$(sed -n '1s/^# *//p' "$lab_dir/README.md")
	cmp=$results/compare/$lab
	echo "<section id=\"$(anchor "$lab")\">"
	echo "<h2>$(esc "$title")</h2>"
	# Which runs were compared, and which were left out (quick beside full).
	[ -f "$cmp/compare.txt" ] &&
		sed -n '1s/^== [^:]*: //p; 2{/^ *left out/s/^ *//p}' "$cmp/compare.txt" | html | sed 's|^|<p class="runs">|; s|$|</p>|'

	echo "<h3>Headline figures across the class</h3>"
	headline_html "$cmp"
	[ -f "$cmp/class.png" ] && echo "<figure class=\"wide\">$(img "$cmp/class.png" "$lab: each machine's headline figures over the class median")</figure>"
	if [ -f "$cmp/verdicts.tsv" ]; then
		echo "<h3>Verdicts across the class</h3>"
		verdicts_html "$cmp/verdicts.tsv"
	fi

	if ls "$cmp"/figure-*.png >/dev/null 2>&1; then
		echo "<h3>Across machines</h3>"
		echo '<div class="plots">'
		for fig in "$cmp"/figure-*.png; do
			n=$(basename "$fig" .png)
			echo "<figure>$(img "$fig" "$lab $n")</figure>"
		done
		echo '</div>'
	fi
	if [ -f "$cmp/compare.txt" ]; then
		echo "<details><summary>Which machine is on which comparison plot</summary><pre>"
		html <"$cmp/compare.txt"
		echo "</pre></details>"
	fi

	echo "<h3>Each machine</h3>"
	machines_html "$lab"
	echo "</section>"
}

# Each machine's run of one lab, folded: its verdict, what it could not measure, its plot and its
# manifest. One awk for all machines (a class of thirty is 390 of these).
machines_html() {	# LAB
	local lab=$1 entry dir args=()
	for entry in "${machines[@]}"; do
		dir=${entry%%$'\t'*}
		[ -f "$dir/$lab/manifest.txt" ] || continue
		args+=("$dir/$lab" "${entry#*$'\t'}")
	done
	[ ${#args[@]} -gt 0 ] || return 0
	awk -v results="$results" -v lab="$lab" '
	function h(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); gsub(/"/, "\\&quot;", s); return s }
	# The lines of FILE, escaped; sets nlines.
	function slurp(file, lines,    line, n) { n = 0; while ((getline line < file) > 0) lines[++n] = line; close(file); return n }
	BEGIN {
		for (a = 1; a < ARGC; a += 2) {
			res = ARGV[a]; label = ARGV[a + 1]
			delete tally; t = ""
			nv = slurp(res "/verdicts.csv", vcsv)
			for (i = 2; i <= nv; i++) { split(vcsv[i], f, ","); if (!(f[4] in tally)) order[++no] = f[4]; tally[f[4]]++ }
			for (i = 1; i <= no; i++) t = t (i > 1 ? ", " : "") tally[order[i]] " " order[i]
			delete order; no = 0
			nm = slurp(res "/manifest.txt", manifest)
			quick = ""
			for (i = 1; i <= nm; i++) if (manifest[i] == "quick: yes") quick = " [quick run]"
			printf "<details class=\"machine\"><summary>%s%s%s</summary>\n", h(label), quick, t ? " &mdash; " t : ""
			nt = slurp(res "/verdict.txt", verdict)
			if (nt) {
				print "<pre class=\"verdict\">"
				for (i = 1; i <= nt; i++) print h(verdict[i])
				print "</pre>"
			}
			# What it could not measure: unavailable counters, missing placements, skips.
			delete seen; nmiss = 0
			for (i = 1; i <= nm; i++) {
				m = manifest[i]; s = ""
				if (m ~ /^counter\.[a-z_]*: unavailable: /) { sub(/^counter\./, "counter ", m); sub(/: unavailable: /, ": ", m); s = m }
				else if (m ~ /^placement\.[a-z0-9-]*: none on this machine/) { sub(/^placement\./, "placement ", m); s = m }
				else if (m ~ /^counters: .*unavailable/) { sub(/^counters: /, "", m); s = m }
				if (s != "" && !(s in seen)) { seen[s] = 1; miss[++nmiss] = s }
			}
			for (i = 1; i <= nt; i++)
				if (tolower(verdict[i]) ~ /skipped|not available|could not|cannot/ && !(verdict[i] in seen)) { seen[verdict[i]] = 1; miss[++nmiss] = verdict[i] }
			if (nmiss) {
				print "<p class=\"missing\">Could not measure on this machine:</p><ul class=\"missing\">"
				for (i = 1; i <= nmiss; i++) print "<li>" h(miss[i]) "</li>"
				print "</ul>"
			}
			png = res "/plot.png"
			if ((getline line < png) >= 0 && close(png) == 0) {
				rel = "../" substr(png, length(results) + 2)
				printf "<figure><a href=\"%s\"><img src=\"%s\" alt=\"%s on %s\"></a></figure>\n", h(rel), h(rel), h(lab), h(label)
			} else
				print "<p class=\"missing\">No plot (gnuplot was missing on that machine): the data is in data.csv.</p>"
			print "<details><summary>Manifest</summary><pre>"
			for (i = 1; i <= nm; i++) print h(manifest[i])
			print "</pre></details></details>"
		}
	}' "${args[@]}"
}

# The class's headline figures (compare.sh's class.tsv) as one table: a row per machine, a column
# per figure; outliers marked; the class median and range below.
headline_html() {	# COMPARE_DIR
	if [ ! -s "$1/class.tsv" ]; then
		echo "<p>No machine has a summary.csv for this lab (runs from before summary.csv existed).</p>"
		return 0
	fi
	awk -F'\t' '
	function h(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
	function g(x) { return x ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ ? sprintf("%.4g", x) : h(x) }
	FNR == 1 { file++; next }
	file == 1 {
		# Long figure names may break after an underscore.
		if (!($1 in col)) { col[$1] = ++nc; name = h($1); gsub(/_/, "_<wbr>", name); head[nc] = name "<br><span class=\"unit\">" h($2) "</span>" }
		if (!($3 in row)) { row[$3] = ++nr; who[nr] = h($3) }
		c = g($4) (($5 != "") ? " <span class=\"xc\">(" g($5) ")</span>" : "")
		if ($7 == 1) c = "<span class=\"outlier\" title=\"outside the class fences\">" c " &#9650;</span>"
		cell[row[$3], col[$1]] = c
		next
	}
	{ med[col[$1]] = $4; lo[col[$1]] = $5; hi[col[$1]] = $6 }
	END {
		print "<div class=\"scroll\"><table class=\"class\"><tr><th>machine</th>"
		for (j = 1; j <= nc; j++) printf "<th>%s</th>", head[j]
		print "</tr>"
		for (i = 1; i <= nr; i++) {
			printf "<tr><td>%s</td>", who[i]
			for (j = 1; j <= nc; j++) printf "<td>%s</td>", ((i, j) in cell) ? cell[i, j] : "-"
			print "</tr>"
		}
		printf "<tr class=\"summary\"><td>class median</td>"
		for (j = 1; j <= nc; j++) printf "<td>%s</td>", med[j]
		printf "</tr>\n<tr class=\"summary\"><td>range</td>"
		for (j = 1; j <= nc; j++) printf "<td>%s &ndash; %s</td>", lo[j], hi[j]
		print "</tr></table></div>"
		print "<p class=\"note\">Cross-checks in brackets; &#9650; an outlier: beyond 1.5 interquartile ranges from the quartiles on a log scale (with 5 machines or more).</p>"
	}' "$1/class.tsv" "$1/class-summary.tsv"
}

# How many machines saw each verdict (compare.sh's verdicts.tsv).
verdicts_html() {	# VERDICTS_TSV
	awk -F'\t' '
	function h(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
	NR == 1 { print "<table><tr><th>verdict</th><th>claim</th><th>holds</th><th>fails</th><th>inconclusive</th><th>other</th></tr>"; next }
	{ printf "<tr><td><code>%s</code></td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td></tr>\n", h($1), h($2), $3, $4, $5, $6 }
	END { print "</table>" }' "$1"
}

{
	cat <<'EOF'
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Memory and OS labs: results across machines</title>
<style>
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em; line-height: 1.4; }
h2 { border-top: 2px solid #888; padding-top: 0.6em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
.xc { color: #555; font-size: 90%; }
img { max-width: 100%; border: 1px solid #ddd; }
.plots figure { display: inline-block; width: 32%; margin: 0.5%; vertical-align: top; }
figure.wide img, details.machine img { max-width: 60%; }
.scroll { overflow-x: auto; }
table.class td { text-align: right; white-space: nowrap; }
table.class td:first-child { text-align: left; }
tr.summary td { font-weight: bold; background: #f3f3f3; }
.outlier { color: #b00; font-weight: bold; }
.unit, .note, .runs { color: #555; font-size: 90%; }
details.machine { border-bottom: 1px solid #ddd; padding: 0.2em 0; }
figure { margin: 0.5em 0; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; white-space: pre-wrap; }
.missing { color: #8a4b00; }
#self-check { color: #555; font-size: 90%; }
</style>
</head>
<body>
<h1>Memory and OS labs: results across machines</h1>
EOF
	echo "<p>Generated $(date -u +%Y-%m-%dT%H:%M:%SZ) by <code>make report</code> from the results in"
	echo "<code>results/</code> (this machine's runs, imported bundles and <code>results/examples/</code>).</p>"
	# The machines table: folded for a class (the labs come first), open for a few machines.
	echo "<h2 id=\"machines\">Machines</h2>"
	echo "<details$([ ${#machines[@]} -gt 8 ] || echo ' open')><summary>${#machines[@]} machines: CPU, kernel, counters</summary>"
	echo "<table><tr><th>machine</th><th>CPU and caches</th><th>kernel</th><th>counters</th><th>labs</th></tr>"
	for entry in "${machines[@]}"; do
		dir=${entry%%$'\t'*}
		manifest=$(ls "$dir"/*/manifest.txt | head -n 1)
		field() { sed -n "s/^$1: //p" "$manifest" | head -n 1; }
		counters="PMU: $(field hardware_pmu), perf_event_paranoid $(field perf_event_paranoid); $(field papi_status)"
		nr_quick=$(cat "$dir"/*/manifest.txt | grep -c '^quick: yes' || true)
		printf '<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n' \
			"$(esc "${entry#*$'\t'}")" "$(esc "$(field cpu)")" "$(esc "$(field kernel)")" \
			"$(esc "$counters")" "$(ls -d "$dir"/*/ | wc -l)$([ "$nr_quick" -eq 0 ] || echo " ($nr_quick quick)")"
	done
	echo "</table></details>"
	echo "<h2>Labs</h2><ul>"
	for lab_dir in $(scripts/labs.sh built); do
		lab=$(basename "$lab_dir")
		echo "<li><a href=\"#$(anchor "$lab")\">$(esc "$lab")</a>: $(esc "$(sed -n '1s/^# *//p' "$lab_dir/README.md")")</li>"
	done
	echo "</ul>"
	for lab_dir in $(scripts/labs.sh built); do
		lab_section "$lab_dir"
	done
	# The page checks itself when it loads: every image decoded. The tests read this line.
	cat <<'EOF'
<p id="self-check">self-check: pending</p>
<script>
window.addEventListener("load", function () {
	var images = document.images, broken = 0;
	for (var i = 0; i < images.length; i++)
		if (!images[i].complete || images[i].naturalWidth === 0) broken++;
	document.getElementById("self-check").textContent =
		"self-check: " + (images.length - broken) + " of " + images.length + " images loaded";
});
</script>
</body>
</html>
EOF
} >"$tmp"
mv -f "$tmp" "$page"
echo "report: $page ($(du -h "$page" | cut -f1), ${#machines[@]} machines); open it in a browser"
