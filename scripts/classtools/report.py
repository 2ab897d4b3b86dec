# SPDX-License-Identifier: MIT
"""make report: one static page with every machine's results, results/report/index.html.

Per lab: the headline figures across the class (machines as rows, the class median and range,
outliers marked) and their strip plot, how many machines saw each verdict, the comparison plots,
what was left out of the files and why, then each machine's verdict, plot, what it could not
measure and its manifest, folded. Images are linked where they are (results/compare/, each
machine's folder), not inlined, so the page stays small for a class of thirty; nothing is loaded
from elsewhere, and the page's Content-Security-Policy forbids it. Every string on the page goes
through classtools.html, which escapes by construction.
"""

import datetime
import os

from . import compare, numbers, safe
from .html import E, page
from .results import open_regular

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em; line-height: 1.4; }
h2 { border-top: 2px solid #888; padding-top: 0.6em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
.xc { color: #555; font-size: 90%; }
img { max-width: 100%; border: 1px solid #ddd; }
.plots figure { display: inline-block; width: 32%; margin: 0.5%; vertical-align: top; }
details.machine img { max-width: 60%; }
.scroll { overflow-x: auto; }
table.class td { text-align: right; white-space: nowrap; }
table.class td:first-child { text-align: left; }
tr.summary td { font-weight: bold; background: #f3f3f3; }
.outlier { color: #b00; font-weight: bold; }
.unit, .note, .runs { color: #555; font-size: 90%; }
details.machine { border-bottom: 1px solid #ddd; padding: 0.2em 0; }
figure { margin: 0.5em 0; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; white-space: pre-wrap; }
.missing, .left-out { color: #8a4b00; }
#self-check { color: #555; font-size: 90%; }
"""

# The page checks itself when it loads: every image decoded. The tests read this line.
SCRIPT = """
window.addEventListener("load", function () {
	var images = document.images, broken = 0;
	for (var i = 0; i < images.length; i++)
		if (!images[i].complete || images[i].naturalWidth === 0) broken++;
	document.getElementById("self-check").textContent =
		"self-check: " + (images.length - broken) + " of " + images.length + " images loaded";
});
"""

VERDICT_COLUMNS = (("holds", "holds"), ("fails", "fails"), ("inconclusive", "inconclusive"),
                   ("shown", "shown"), ("not_shown", "not shown"))


class Page:
    def __init__(self, results, out_dir):
        self.results = results
        self.out_dir = out_dir

    def link(self, path):
        """A path under results/ as the page links it (relative to the page)."""
        return os.path.relpath(path, self.out_dir)

    def image(self, path, alt):
        """A thumbnail that opens full size, when path is a PNG image; else None."""
        f = open_regular(path)
        if f is None:
            return None
        with f:
            if f.read(8) != PNG_SIGNATURE:
                return None
        rel = self.link(path)
        return E("a", E("img", src=rel, alt=alt), href=rel)


def machines_table(machines):
    rows = [E("tr", [E("th", h) for h in ("machine", "CPU and caches", "kernel", "counters", "labs")])]
    for m in machines:
        first = next(iter(m.runs.values()))
        f = first.field
        nr_quick = sum(1 for r in m.runs.values() if r.quick)
        counters = "PMU: %s, perf_event_paranoid %s; %s" % (f("hardware_pmu"), f("perf_event_paranoid"),
                                                            f("papi_status"))
        labs = "%d%s" % (len(m.runs), " (%d quick)" % nr_quick if nr_quick else "")
        rows.append(E("tr", E("td", m.label), E("td", f("cpu")), E("td", f("kernel")), E("td", counters),
                      E("td", labs)))
    return E("details", E("summary", "%d machines: CPU, kernel, counters" % len(machines)),
             E("table", rows), open="open" if len(machines) <= 8 else None)


def headline_table(cmp):
    if not cmp.headlines:
        return E("p", "No machine has a summary.csv for this lab (runs from before summary.csv existed).")
    heads = [E("th", "machine")]
    for st in cmp.headlines:
        # Long figure names may break after an underscore.
        parts = st.name.split("_")
        name = [[p, "_", E("wbr")] if i < len(parts) - 1 else p for i, p in enumerate(parts)]
        heads.append(E("th", name, E("br"), E("span", st.unit, class_="unit")))
    rows = [E("tr", heads)]
    for run in cmp.runs:
        cells = [E("td", run.machine.run_name(run))]
        for st in cmp.headlines:
            h = next((h for r, h in st.values if r is run), None)
            if h is None:
                cells.append(E("td", "-"))
                continue
            text = [compare.fmt_value(h.value, st.unit)]
            if h.cross_check is not None:
                text += [" ", E("span", "(%s)" % compare.fmt_value(h.cross_check, st.unit), class_="xc")]
            if id(run) in st.outliers:
                text = E("span", text, " \u25b2", class_="outlier", title="outside the class fences")
            cells.append(E("td", text))
        if any(c.text != "-" for c in cells[1:]):
            rows.append(E("tr", cells))
    rows.append(E("tr", E("td", "class median"),
                  [E("td", compare.fmt_value(st.median, st.unit)) for st in cmp.headlines], class_="summary"))
    rows.append(E("tr", E("td", "range"),
                  [E("td", "%s \u2013 %s" % (compare.fmt_value(st.lo, st.unit), compare.fmt_value(st.hi, st.unit)))
                   for st in cmp.headlines], class_="summary"))
    quick = [st.name for st in cmp.headlines if st.quick]
    return [E("div", E("table", rows, class_="class"), class_="scroll"),
            E("p", "Cross-checks in brackets; \u25b2 an outlier: beyond 1.5 interquartile ranges from the "
                   "quartiles on a log scale (with 5 machines or more).",
              " Figures from quick runs (short samples, fewer points): %s." % ", ".join(quick) if quick else None,
              class_="note")]


def numbers_table(machines):
    """The latency numbers every programmer should know, one column per machine, the class median
    and range, and the classic figure (classtools.numbers judges each machine's row)."""
    per_machine = [(m, numbers.numbers_of(m)) for m in machines]
    rows = [E("tr", E("th", "row"), E("th", "classic"), [E("th", m.display) for m, _ in per_machine],
              E("th", "class median"), E("th", "range"))]
    for i, row in enumerate(numbers.ROWS):
        cells, values = [], []
        for _, res in per_machine:
            r = res[i]
            if r.measured is None:
                cells.append(E("td", "-", title=r.why))
                continue
            values.append(r.measured.value_ns)
            cells.append(E("td", numbers.fmt_ns(r.measured.value_ns), " ",
                           E("span", "(%s)" % r.status.replace("_", " "), class_="unit"), title=r.why))
        values.sort()
        median = compare._quantile(values, 0.5) if values else None
        classic = "%s (%s)" % (numbers.fmt_ns(row.classic_ns), row.source) if row.classic_ns else "-"
        rows.append(E("tr", E("td", row.name), E("td", classic), cells,
                      E("td", numbers.fmt_ns(median) or "-"),
                      E("td", "%s \u2013 %s" % (numbers.fmt_ns(values[0]), numbers.fmt_ns(values[-1]))
                        if values else "-")))
    return [E("div", E("table", rows, class_="class"), class_="scroll"),
            E("p", "A classic figure holds on a machine when its p5-p95 range lies within %gx of it (the "
                   "table's figures are orders of magnitude); hover a cell for why. Each machine's own "
                   "table: make numbers." % numbers.BAND, class_="note")]


C2C_LAB = "05-false-sharing"
C2C_CLAIM = "sharing_a_cache_hands_over_faster"


def core_to_core_table(pg, machines):
    """Lab 5's core-to-core maps across the class: per machine the pairs it measured and the median
    one-way hand-off by placement (same core, shared L2 or L3, package...), the claim's status, and
    each machine's plot (its map is the heatmap panel) side by side."""
    runs = [m.runs[C2C_LAB] for m in machines if C2C_LAB in m.runs]
    per_run, placements = [], []
    for run in runs:
        header, rows = run.data
        col = {h: i for i, h in enumerate(header)}
        if not {"experiment", "placement", "ns_per_op_median"} <= col.keys():
            continue
        by_placement = {}
        for _, r in rows:
            if len(r) != len(header) or r[col["experiment"]] != "core_to_core":
                continue
            ns = safe.parse_number(r[col["ns_per_op_median"]])
            where = safe.printable(r[col["placement"]], 40)
            if ns is None or ns <= 0 or not where:
                continue
            by_placement.setdefault(where, []).append(ns)
            if where not in placements:
                placements.append(where)
        if by_placement:
            per_run.append((run, by_placement))
    if not per_run:
        return [E("p", "No machine's Lab 5 run has a core-to-core map (a run from before Lab 5 drew it, "
                       "or Lab 5 has not run).", class_="note")]
    rows = [E("tr", E("th", "machine"), E("th", "pairs"), [E("th", p) for p in placements],
              E("th", "sharing a cache hands over faster"))]
    for run, by in per_run:
        status = next((v.status for v in run.verdicts if v.id == C2C_CLAIM), "-")
        cells = []
        for p in placements:
            v = sorted(by.get(p, []))
            cells.append(E("td", "%s (%d)" % (numbers.fmt_ns(compare._quantile(v, 0.5)), len(v)) if v else "-"))
        rows.append(E("tr", E("td", run.machine.run_name(run)), E("td", str(sum(len(v) for v in by.values()))),
                      cells, E("td", status.replace("_", " "))))
    plots = [pg.image(os.path.join(run.dir, "plot.png"), "Lab 5 on %s" % run.machine.display)
             for run, _ in per_run]
    return [E("div", E("table", rows, class_="class"), class_="scroll"),
            E("p", "One-way time to hand a cache line to another PU (a compare-and-swap ping-pong), the "
                   "median over the pairs of each placement (how many in brackets). Each machine's "
                   "heatmap is the last panel of its Lab 5 plot:", class_="note"),
            E("div", [E("figure", img) for img in plots if img is not None], class_="plots")]


def verdict_table(cmp):
    rows = [E("tr", E("th", "verdict"), E("th", "claim"), [E("th", label) for _, label in VERDICT_COLUMNS])]
    for v in cmp.verdicts:
        rows.append(E("tr", E("td", E("code", v.id)), E("td", v.claim),
                      [E("td", str(v.counts.get(s, 0))) for s, _ in VERDICT_COLUMNS]))
    return E("table", rows)


def machine_details(pg, run):
    """One machine's run of one lab, folded: verdict, what it could not measure, plot, manifest."""
    tally = {}
    for v in run.verdicts:
        tally[v.status] = tally.get(v.status, 0) + 1
    summary = run.machine.label + (" [quick run]" if run.quick else "")
    if tally:
        summary += " \u2014 " + ", ".join("%d %s" % (n, s.replace("_", " ")) for s, n in tally.items())
    verdict = run.verdict_text
    # What it could not measure: unavailable counters, missing placements, skips.
    missing = []
    for key, value in run.fields.items():
        s = None
        if key.startswith("counter.") and value.startswith("unavailable: "):
            s = "counter %s: %s" % (key[len("counter."):], value[len("unavailable: "):])
        elif key.startswith("placement.") and value.startswith("none on this machine"):
            s = "placement %s: %s" % (key[len("placement."):], value)
        elif key == "counters" and "unavailable" in value:
            s = value
        if s and s not in missing:
            missing.append(s)
    for line in verdict:
        low = line.lower()
        if any(w in low for w in ("skipped", "not available", "could not", "cannot")) and line not in missing:
            missing.append(line)
    img = pg.image(os.path.join(run.dir, "plot.png"), "%s on %s" % (run.lab, run.machine.display))
    return E("details",
             E("summary", summary),
             E("pre", "\n".join(verdict), class_="verdict") if verdict else None,
             [E("p", "Could not measure on this machine:", class_="missing"),
              E("ul", [E("li", m) for m in missing], class_="missing")] if missing else None,
             E("figure", img) if img is not None else
             E("p", "No plot (gnuplot was missing on that machine, or its plot.png is not an image): the data "
                    "is in data.csv.", class_="missing"),
             E("details", E("summary", "Manifest"), E("pre", "\n".join(run.manifest_lines))),
             class_="machine")


def lab_section(pg, root, cmp, machines):
    lab = cmp.lab
    title = lab_title(root, lab)
    parts = [E("h2", title)]
    header = cmp.header_lines()
    parts.append(E("p", header[0].split(": ", 1)[1], class_="runs"))
    parts += [E("p", line.strip(), class_="runs") for line in header[1:]]
    parts.append(E("h3", "Headline figures across the class"))
    parts.append(headline_table(cmp) if cmp.runs else E("p", "No machine ran this lab."))
    out = cmp.out_dir
    cls = pg.image(os.path.join(out, "class.png"), "%s: each machine's headline figures over the class median" % lab)
    if cls is not None:
        parts.append(E("figure", cls))
    if cmp.verdicts:
        parts += [E("h3", "Verdicts across the class"), verdict_table(cmp)]
    figs = [pg.image(os.path.join(out, "figure-%d.png" % f.n), "%s figure %d" % (lab, f.n)) for f in cmp.figures]
    figs = [f for f in figs if f is not None]
    if figs:
        parts += [E("h3", "Across machines"), E("div", [E("figure", f) for f in figs], class_="plots")]
    if cmp.runs:
        parts.append(E("details", E("summary", "Which machine is on which comparison plot"),
                       E("pre", "\n".join(compare.compare_text(cmp)))))
    problems = cmp.problems
    if problems:
        parts.append(E("details", E("summary", "Left out of this lab's figures: %d entr%s from the machines' files"
                                    % (len(problems), "y" if len(problems) == 1 else "ies")),
                       E("ul", [E("li", p.line()) for p in problems], class_="left-out")))
    parts.append(E("h3", "Each machine"))
    parts += [machine_details(pg, m.runs[lab]) for m in machines if lab in m.runs]
    return E("section", parts, id=lab)


def lab_title(root, lab):
    try:
        with open(os.path.join(root, "labs", lab, "README.md"), encoding="utf-8") as f:
            return f.readline().lstrip("#").strip() or lab
    except OSError:
        return lab


def build(root, results, labs, machines, comparisons):
    """The page's HTML."""
    out_dir = os.path.join(results, "report")
    pg = Page(results, out_dir)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = [E("h1", "Memory and OS labs: results across machines"),
            E("p", "Generated %s by " % when, E("code", "make report"), " from the results in ",
              E("code", os.path.abspath(results)),
              " (this machine's runs, imported bundles and the curated examples in its examples/ folder)."),
            E("h2", "Machines", id="machines"), machines_table(machines),
            E("h2", "Latency numbers every programmer should know", id="numbers"), *numbers_table(machines),
            E("h2", "Core-to-core maps", id="core-to-core"), *core_to_core_table(pg, machines),
            E("h2", "Labs"),
            E("ul", [E("li", E("a", lab, href="#" + lab), ": ", lab_title(root, lab)) for lab in labs])]
    body += [lab_section(pg, root, cmp, machines) for cmp in comparisons]
    body.append(E("p", "self-check: pending", id="self-check"))
    return page("Memory and OS labs: results across machines", STYLE, SCRIPT, body)


def write(root, results, labs, machines, comparisons):
    out_dir = os.path.join(results, "report")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "index.html")
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(build(root, results, labs, machines, comparisons))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
