#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Writes one static page with every machine's results: results/report/index.html. Self-contained
# (images inlined as data: URIs, no script or style from elsewhere), so it opens from file:// and can
# be mailed as one file. Per lab: the comparison plots (scripts/compare.sh), the headline figures as a
# table across machines, each machine's verdict and plots, what it could not measure, its manifest.
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
img() {	# PNG ALT
	printf '<img src="data:image/png;base64,%s" alt="%s">\n' "$(base64 -w0 <"$1")" "$(esc "$2")"
}
anchor() { printf '%s' "$1" | tr -c 'A-Za-z0-9-' '-'; }

# What a machine could not measure for one lab: the manifest's unavailable counters, the
# placements it lacks, and the skips its verdict mentions.
could_not() {	# RESULT_DIR
	{
		sed -n 's/^counter\.\([a-z_]*\): unavailable: \(.*\)/counter \1: \2/p' "$1/manifest.txt"
		sed -n 's/^placement\.\([a-z0-9-]*\): none on this machine/placement \1: none on this machine/p' \
			"$1/manifest.txt"
		sed -n 's/^counters: \(.*unavailable.*\)/\1/p' "$1/manifest.txt"
		grep -i 'skipped\|not available\|could not\|cannot' "$1/verdict.txt" 2>/dev/null || true
	} | sort -u
}

lab_section() {	# LAB_DIR
	local lab_dir=$1 lab title cmp entry dir label res fig n
	lab=$(basename "$lab_dir")
	title=$(sed -n '1s/^# *//p' "$lab_dir/README.md")
	cmp=$results/compare/$lab
	echo "<section id=\"$(anchor "$lab")\">"
	echo "<h2>$(esc "$title")</h2>"

	echo "<h3>Headline figures</h3>"
	headline_html "$lab"

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

	for entry in "${machines[@]}"; do
		dir=${entry%%$'\t'*}
		label=${entry#*$'\t'}
		res=$dir/$lab
		[ -f "$res/manifest.txt" ] || continue
		echo "<h3>$(esc "$label")</h3>"
		if [ -s "$res/verdict.txt" ]; then
			echo "<pre class=\"verdict\">"
			html <"$res/verdict.txt"
			echo "</pre>"
		fi
		local missing
		missing=$(could_not "$res")
		if [ -n "$missing" ]; then
			echo "<p class=\"missing\">Could not measure on this machine:</p><ul class=\"missing\">"
			printf '%s\n' "$missing" | html | sed 's|^|<li>|; s|$|</li>|'
			echo "</ul>"
		fi
		if [ -f "$res/plot.png" ]; then
			echo "<figure>$(img "$res/plot.png" "$lab on $label")</figure>"
		else
			echo "<p class=\"missing\">No plot (gnuplot was missing on that machine): the data is in data.csv.</p>"
		fi
		echo "<details><summary>Manifest</summary><pre>"
		html <"$res/manifest.txt"
		echo "</pre></details>"
	done
	echo "</section>"
}

# The lab's summary.csv files as one table: a row per headline figure, a column per machine.
headline_html() {	# LAB
	local lab=$1 files=() labels=() entry dir
	for entry in "${machines[@]}"; do
		dir=${entry%%$'\t'*}
		[ -f "$dir/$lab/summary.csv" ] || continue
		files+=("$dir/$lab/summary.csv")
		labels+=("${entry#*$'\t'}")
	done
	if [ ${#files[@]} -eq 0 ]; then
		echo "<p>No machine has a summary.csv for this lab (runs from before summary.csv existed).</p>"
		return 0
	fi
	echo "<table><tr><th>figure</th><th>unit</th>"
	printf '%s\n' "${labels[@]}" | html | sed 's|^|<th>|; s|$|</th>|'
	echo "</tr>"
	awk -F, '
		FNR == 1 { m++; next }
		{
			key = $2 SUBSEP $4
			if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
			v = $3; if ($5 != "") v = v " <span class=\"xc\">(cross-check " $5 ")</span>"
			val[key, m] = v
		}
		END {
			for (i = 1; i <= nk; i++) {
				split(order[i], part, SUBSEP)
				printf "<tr><td>%s</td><td>%s</td>", part[1], part[2]
				for (j = 1; j <= m; j++) printf "<td>%s</td>", ((order[i], j) in val) ? val[order[i], j] : "-"
				print "</tr>"
			}
		}' "${files[@]}"
	echo "</table>"
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
.plots figure { display: inline-block; width: 48%; margin: 0.5%; vertical-align: top; }
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
	echo "<h2 id=\"machines\">Machines</h2><table><tr><th>machine</th><th>CPU and caches</th><th>kernel</th><th>counters</th><th>labs</th></tr>"
	for entry in "${machines[@]}"; do
		dir=${entry%%$'\t'*}
		manifest=$(ls "$dir"/*/manifest.txt | head -n 1)
		field() { sed -n "s/^$1: //p" "$manifest" | head -n 1; }
		counters="PMU: $(field hardware_pmu), perf_event_paranoid $(field perf_event_paranoid); $(field papi_status)"
		printf '<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n' \
			"$(esc "${entry#*$'\t'}")" "$(esc "$(field cpu)")" "$(esc "$(field kernel)")" \
			"$(esc "$counters")" "$(ls -d "$dir"/*/ | wc -l)"
	done
	echo "</table>"
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
