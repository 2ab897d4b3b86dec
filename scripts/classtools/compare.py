# SPDX-License-Identifier: MIT
"""make compare: machines side by side. For each lab, in results/compare/<NN-lab>/:

  figure-K.png    each figure of the lab's compare.txt, one line per machine
  compare.txt     which runs were compared, what was left out and why, which counters differ, and
                  for each figure which machine is on it with its range, or why it is not
  headlines.txt   each headline figure (summary.csv) across the class: median, range, outliers,
                  then every machine's value
  class.png       the headline figures as a strip plot: each machine's value over the class median
  verdicts.txt    for each verdict id (verdicts.csv), how many machines saw each status
  class.tsv, class-summary.tsv, verdicts.tsv   the same for a spreadsheet (cells from bundles
                  that a spreadsheet would run as a formula are neutralised)

A lab's compare.txt (in labs/NN-name/, part of the course) has one figure per line:
  title | x column | y column | rows (column=value ...) | axes (logx, logy)
A numeric x column is plotted as is; a non-numeric one (or columns joined with '+') is a category
axis, in the order the categories first appear. Quick and full runs are kept apart: a lab is
compared over its full runs where any machine has one, over its quick runs otherwise (RUNS=quick,
full or all chooses). A machine keeps its line style (scripts/style.gp) in every plot of every lab.

Everything read from a machine's files comes through classtools.results (checked there); labels
reach gnuplot in data files or as single-quoted strings, never as commands.
"""

import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from . import numbers, safe
from .results import Problem

RUN_MODES = ("full", "quick", "all")

# Human axis labels, with units, for the columns the labs' compare.txt files plot.
AXIS_LABELS = {
    "size_bytes": "size (bytes)",
    "array_bytes": "local array in each frame (bytes)",
    "stack_bytes": "stack size (bytes)",
    "buffer_bytes": "buffer size (bytes)",
    "distance_bytes": "distance between the two counters (bytes)",
    "touched_bytes": "bytes touched",
    "ops": "operations done",
    "step": "step of the experiment",
    "kind": "variant",
    "mode": "kind of mapping",
    "strategy": "retry strategy",
    "placement": "placement of the two threads",
    "kind+channel+placement": "mechanism / channel / placement",
    "nr_accounts": "accounts",
    "nr_threads": "threads",
    "nr_workers": "workers",
    "clients": "clients",
    "requests": "requests served",
    "ns_per_op_median": "time per operation, median (ns)",
    "ns_per_load": "time per load, median (ns)",
    "ns_per_fault": "time per page fault (ns)",
    "faults_per_op_rusage": "page faults per operation (getrusage)",
    "faults_per_page": "page faults per page",
    "frame_bytes_measured": "stack used per frame (bytes)",
    "max_depth": "deepest recursion (frames)",
    "rss_bytes": "resident memory (bytes)",
    "live_bytes": "live heap (bytes)",
    "resident_bytes": "resident (bytes)",
    "rss_per_request_bytes": "resident memory per request (bytes)",
    "bytes": "bytes",
    "mb_per_s_median": "throughput, median (MB/s)",
    "gb_per_s": "read bandwidth (GB/s)",
    "speedup_vs_packed": "padded over packed (x, above 1: padding helps)",
    "ms_to_deadlock_median": "time to deadlock, median (ms)",
    "transfers_per_s_median": "transfers per second, median",
    "retries_per_success": "retries per success",
    "completed_runs": "runs completed before the time limit",
    "switches_per_request": "context switches per request",
    "late_p99_us": "lateness, 99th percentile (us)",
    "balance": "balance read through the pointer",
}


def axis_label(column):
    return AXIS_LABELS.get(column, column.replace("_", " "))


def fmt(v, digits=4):
    """A number as the tables print it: %g with a few digits."""
    return "%.*g" % (digits, v)


def fmt_value(v, unit, digits=4):
    """A figure in its unit's natural form: bytes in B, KiB, MiB or GiB; other units as %g."""
    if unit != "bytes" or v < 1024 or (v < 10240 and v % 1024):
        return fmt(v, digits)
    for scale, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if v >= scale:
            return "%s %s" % (fmt(v / scale, 3), name)
    return fmt(v, digits)


def fmt_with_unit(v, unit):
    text = fmt_value(v, unit)
    return text if unit == "bytes" and not text[-1].isdigit() else "%s %s" % (text, unit)


@dataclass
class FigureSpec:
    title: str
    xspec: str		# a column, or columns joined with '+'
    ycol: str
    filters: List[tuple]
    logx: bool
    logy: bool

    @property
    def xcols(self):
        return self.xspec.split("+")


def read_specs(lab_dir):
    """The figures of a lab's compare.txt (a course file, not a bundle's)."""
    specs = []
    path = os.path.join(lab_dir, "compare.txt")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = [p.strip() for p in line.rstrip("\n").split("|")] + [""] * 5
            title, xspec, ycol, rows, axes = parts[:5]
            filters = [tuple(kv.split("=", 1)) for kv in rows.split()]
            specs.append(FigureSpec(title, xspec.replace(" ", ""), ycol.replace(" ", ""), filters,
                                    "logx" in axes, "logy" in axes))
    return specs


@dataclass
class Series:
    """One machine's points on one figure, or why it has none."""
    run: object
    points: list = field(default_factory=list)	# (x as str, y)
    why: str = ""


@dataclass
class Figure:
    n: int
    spec: FigureSpec
    series: List[Series]
    categorical: bool = False
    categories: List[str] = field(default_factory=list)

    def key(self, x):
        """Where x goes on the axis: its category's number, or its value."""
        return self.categories.index(x) if self.categorical else float(x)


@dataclass
class HeadlineStat:
    name: str
    unit: str
    values: list		# (run, Headline), in machine order
    median: float
    lo: float
    hi: float
    outliers: set		# the runs outside Tukey's fences
    quick: bool		# rests on quick runs


@dataclass
class VerdictCount:
    id: str
    claim: str
    counts: Dict[str, int]

    @property
    def machines(self):
        return sum(self.counts.values())


@dataclass
class LabComparison:
    lab: str
    mode: str
    runs: list			# the LabRuns compared, in machine order
    left_out: list		# names of the runs of the other kind
    specs: Optional[list]
    figures: List[Figure] = field(default_factory=list)
    headlines: List[HeadlineStat] = field(default_factory=list)
    verdicts: List[VerdictCount] = field(default_factory=list)
    differences: List[str] = field(default_factory=list)
    out_dir: str = ""

    @property
    def problems(self):
        seen, out = set(), []
        for run in self.runs:
            for p in run.problems:
                if p not in seen:
                    seen.add(p)
                    out.append(p)
        return out

    def header_lines(self):
        n = len(self.runs)
        what = {"full": "full runs",
                "quick": "quick runs (no full run to compare: fewer points, short samples)",
                "all": "full and quick runs together, quick ones marked"}[self.mode]
        lines = ["== %s: %d machine%s, %s" % (self.lab, n, "" if n == 1 else "s", what)]
        if self.left_out:
            lines.append("   left out, %s runs (RUNS=all shows them): %s"
                         % ("quick" if self.mode == "full" else "full", " ".join(self.left_out)))
        return lines + self.differences


def select_runs(lab, machines, mode):
    """(mode, runs, left_out): full and quick runs are never mixed unless mode is all."""
    have = [(m, m.runs[lab]) for m in machines if lab in m.runs and m.runs[lab].has("data.csv")]
    if not mode:
        mode = "full" if any(not r.quick for _, r in have) else "quick"
    runs, left = [], []
    for m, r in have:
        if mode == "all" or r.quick == (mode == "quick"):
            runs.append(r)
        else:
            left.append(m.display)
    return mode, runs, left


# What a counter column means differs between CPUs (cache_misses: last-level misses on Intel, L2
# misses on AMD) and between runs (user mode only, or user+kernel); and what moves timings besides
# the CPU's name (common/machine.h: a powersave governor, page-table isolation, a slow clock
# source, battery power) differs between machines. Where the machines compared differ, the first
# lines of compare.txt say so, with who is which.
MACHINE_CONTEXT_KEYS = ("cpu_identity", "microcode", "cpu_governor", "cpufreq_driver", "cpu_boost",
                        "smt", "mitigations", "clocksource", "power_source", "virtualization")


def _is_context_key(key, value):
    if key == "counter_domain" or key in MACHINE_CONTEXT_KEYS:
        return True
    if key.startswith("counter.") and key != "counter_bytes":
        return not (value.startswith("unavailable") or ", stalled: " in value)
    return False


def context_differences(runs):
    order, values = [], {}
    for run in runs:
        for key, value in run.fields.items():
            if not _is_context_key(key, value):
                continue
            if key not in values:
                order.append(key)
                values[key] = {}
            values[key].setdefault(value, []).append(run.machine.run_name(run))
    lines = []
    for key in order:
        if len(values[key]) < 2:
            continue
        lines.append("   %s differs between these machines: %s" % (
            key, "the figures that use it are not the same quantity" if key.startswith("counter")
            else "timings may differ for that reason, not the CPU's"))
        for value, who in values[key].items():
            lines.append("     %s: %s" % (value, ", ".join(who)))
    return lines


def _series(spec, run):
    header, rows = run.data
    s = Series(run)
    if not header:
        s.why = "its data.csv is empty or unreadable"
        return s
    col = {name: i for i, name in reversed(list(enumerate(header)))}
    for name in spec.xcols + [k for k, _ in spec.filters]:
        if name not in col:
            s.why = "its data.csv has no column " + name
            return s
    if spec.ycol not in col:
        s.why = "its data.csv has no column %s (an older version of the lab?)" % spec.ycol
        return s
    matched = 0
    for line, r in rows:
        def cell(name, r=r):
            return r[col[name]].strip() if col[name] < len(r) else ""
        if any(cell(k) != v for k, v in spec.filters):
            continue
        matched += 1
        ytext = cell(spec.ycol)
        if ytext == "":
            continue	# an empty cell: not measured there (the lab contract)
        y = safe.parse_number(ytext)
        if y is None:
            run.problems.append(Problem(run.machine.name, run.lab + "/data.csv", line,
                                        "%s is %s: that point is left out"
                                        % (spec.ycol, safe.why_not_number(ytext))))
            continue
        x = "/".join(cell(c) for c in spec.xcols)
        s.points.append((x, y))
    if not matched:
        rows_desc = " ".join("%s=%s" % kv for kv in spec.filters)
        s.why = "no rows with %s (a different sweep, or the experiment was skipped there)" % rows_desc
    elif not s.points:
        s.why = "%s is empty there: not measured on that machine (its manifest says why)" % spec.ycol
    return s


def build_figure(n, spec, runs):
    fig = Figure(n, spec, [_series(spec, r) for r in runs])
    xs = [x for s in fig.series for x, _ in s.points]
    fig.categorical = any(safe.parse_number(x) is None for x in xs)
    if fig.categorical:
        for x in xs:
            if x not in fig.categories:
                fig.categories.append(x)
    for s in fig.series:
        s.points.sort(key=lambda p: fig.key(p[0]))
    return fig


def _quantile(sorted_values, p):
    n = len(sorted_values)
    h = (n - 1) * p
    lo = int(h)
    return sorted_values[-1] if lo >= n - 1 else sorted_values[lo] + (h - lo) * (sorted_values[lo + 1] - sorted_values[lo])


def headline_stats(runs):
    """Per headline figure: the class median and range, and the machines outside Tukey's fences
    (1.5 interquartile ranges beyond the quartiles, on a log scale since these are times and
    ratios; with 5 machines or more, all values positive)."""
    order, by_name = [], {}
    for run in runs:
        for h in run.headlines:
            key = (h.name, h.unit)
            if key not in by_name:
                order.append(key)
                by_name[key] = []
            by_name[key].append((run, h))
    stats = []
    for name, unit in order:
        values = by_name[(name, unit)]
        s = sorted(h.value for _, h in values)
        outliers = set()
        if len(s) >= 5 and s[0] > 0:
            logs = [math.log(v) for v in s]
            q1, q3 = _quantile(logs, 0.25), _quantile(logs, 0.75)
            lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
            outliers = {id(run) for run, h in values if not lo <= math.log(h.value) <= hi}
        stats.append(HeadlineStat(name, unit, values, _quantile(s, 0.5), s[0], s[-1],
                                  outliers, any(run.quick for run, _ in values)))
    return stats


def verdict_counts(runs):
    order, by_id = [], {}
    for run in runs:
        for v in run.verdicts:
            if v.id not in by_id:
                order.append(v.id)
                by_id[v.id] = VerdictCount(v.id, v.claim, {})
            c = by_id[v.id].counts
            c[v.status] = c.get(v.status, 0) + 1
    return [by_id[i] for i in order]


def compare_lab(lab, lab_dir, machines, mode):
    """Everything make compare says about one lab, computed once (the report uses it too)."""
    mode, runs, left = select_runs(lab, machines, mode)
    cmp = LabComparison(lab, mode, runs, left, read_specs(lab_dir))
    if not runs:
        return cmp
    cmp.differences = context_differences(runs)
    for n, spec in enumerate(cmp.specs or [], 1):
        cmp.figures.append(build_figure(n, spec, runs))
    cmp.headlines = headline_stats(runs)
    cmp.verdicts = verdict_counts(runs)
    return cmp


# ---- text -------------------------------------------------------------------------------------

def figure_lines(fig):
    spec = fig.spec
    lines = ["figure %d: %s (%s by %s)" % (fig.n, spec.title, spec.ycol, spec.xspec.replace("+", "/"))]
    for s in fig.series:
        name = s.run.machine.run_name(s.run)
        if s.why:
            lines.append("  %-28s not on this plot: %s" % (name, s.why))
        else:
            ys = [y for _, y in s.points]
            lines.append("  %-28s %3d points, %s %s .. %s" % (name, len(ys), spec.ycol, fmt(min(ys), 3),
                                                              fmt(max(ys), 3)))
    if all(s.why for s in fig.series):
        lines.append("  (no machine has this figure's data)")
    return lines


def compare_text(cmp):
    """compare.txt: the runs compared, what was left out of them and why, then every figure."""
    lines = cmp.header_lines()
    if cmp.specs is None:
        return ["%s: no compare.txt: nothing to compare" % cmp.lab]
    for fig in cmp.figures:
        lines += figure_lines(fig)
    # After the figures: reading them is what finds most bad cells.
    lines += ["   left out: " + p.line() for p in cmp.problems]
    return lines


def headline_text(cmp):
    if not cmp.headlines:
        return ["headline figures: no machine has a summary.csv for %s" % cmp.lab]
    n = len(cmp.runs)
    lines = ["headline figures across %d machine%s: class median, range and outliers (Tukey fences"
             % (n, "" if n == 1 else "s"),
             "on a log scale, 5 machines or more), then each machine (cross-check in brackets):"]
    for st in cmp.headlines:
        outl = ", ".join("%s (%s)" % (run.machine.run_name(run), fmt_value(h.value, st.unit))
                         for run, h in st.values if id(run) in st.outliers)
        k = len(st.values)
        lines.append("%s (%s): median %s, range %s .. %s, %d machine%s%s%s"
                     % (st.name, st.unit, fmt_value(st.median, st.unit), fmt_value(st.lo, st.unit),
                        fmt_value(st.hi, st.unit), k, "" if k == 1 else "s",
                        "; outliers: " + outl if outl else "",
                        " (quick runs)" if st.quick else ""))
    return lines


def headline_detail_text(cmp):
    lines = []
    for st in cmp.headlines:
        lines.append("%s (%s):" % (st.name, st.unit))
        for run, h in st.values:
            lines.append("  %-28s %s%s%s" % (run.machine.run_name(run), fmt_value(h.value, st.unit),
                                            " [%s]" % fmt_value(h.cross_check, st.unit) if h.cross_check is not None else "",
                                            "  outlier" if id(run) in st.outliers else ""))
    return lines


def verdict_text(cmp):
    lines = ["verdicts across the class (machines that saw each status):"]
    for vc in cmp.verdicts:
        c = vc.counts
        extra = "".join(", %s %d" % (label, c[s]) for s, label in (("shown", "shown"), ("not_shown", "not shown"))
                        if c.get(s))
        lines.append("  %-44s holds %d, fails %d, inconclusive %d%s"
                     % (vc.id, c.get("holds", 0), c.get("fails", 0), c.get("inconclusive", 0), extra))
    return lines


def _tsv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write("\t".join(row) + "\n")


def write_tables(cmp, out):
    cell = safe.spreadsheet_cell
    _tsv(os.path.join(out, "class-summary.tsv"),
         [("figure", "unit", "machines", "median", "min", "max", "outliers", "quick_runs")] +
         [(cell(st.name), cell(st.unit), str(len(st.values)), fmt(st.median), fmt(st.lo), fmt(st.hi),
           cell(", ".join(r.machine.run_name(r) for r, _ in st.values if id(r) in st.outliers)),
           "yes" if st.quick else "no") for st in cmp.headlines])
    rows = [("figure", "unit", "machine", "value", "cross_check", "over_median", "outlier")]
    for st in cmp.headlines:
        for run, h in st.values:
            rows.append((cell(st.name), cell(st.unit), cell(run.machine.run_name(run)), repr(h.value),
                         repr(h.cross_check) if h.cross_check is not None else "",
                         fmt(h.value / st.median, 6) if st.median else "",
                         "1" if id(run) in st.outliers else "0"))
    _tsv(os.path.join(out, "class.tsv"), rows)
    _tsv(os.path.join(out, "verdicts.tsv"),
         [("id", "claim", "holds", "fails", "inconclusive", "shown", "not_shown", "machines")] +
         [(cell(v.id), cell(v.claim)) + tuple(str(v.counts.get(s, 0)) for s in
                                              ("holds", "fails", "inconclusive", "shown", "not_shown"))
          + (str(v.machines),) for v in cmp.verdicts])


# ---- plots ------------------------------------------------------------------------------------

class Gnuplot:
    """Which gnuplot this machine has: None when it has none."""

    def __init__(self, root):
        self.style = os.path.join(root, "scripts", "style.gp")
        self.path = shutil.which("gnuplot")
        self.png = "png noenhanced"
        if self.path and subprocess.run([self.path, "-e", "set terminal pngcairo"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            self.png = "pngcairo noenhanced font ',10'"

    def preamble(self, output, title, nr_machines, width=1200, min_height=650, key=True):
        height = max(160 + 15 * nr_machines, min_height)
        q = safe.gnuplot_string
        lines = ["reset", "set terminal %s size %d,%d" % (self.png, width, height),
                 "set output " + q(output), "load " + q(self.style),
                 "set datafile separator tab", "set title " + q(title), "set grid"]
        if key:
            # Outside the data, whatever the number of machines; one column, small type.
            lines.append("set key outside right top vertical Left reverse font ',9' spacing 1 samplen 2")
        return lines


def _points_file(pts, name, rows):
    path = os.path.join(pts, name)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write("\t".join(str(c) for c in row) + "\n")
    return path


def _tic_series(path):
    """A series that draws nothing and sets the x tic labels from a data file's second column:
    labels taken from bundles never become part of a gnuplot command."""
    return "%s using 1:(NaN):xticlabels(2) notitle" % safe.gnuplot_string(path)


def figure_script(gp, cmp, fig, out, pts):
    plotted = [s for s in fig.series if not s.why]
    if not plotted:
        return []
    spec = fig.spec
    q = safe.gnuplot_string
    lines = gp.preamble(os.path.join(out, "figure-%d.png" % fig.n), "%s: %s" % (cmp.lab, spec.title), len(plotted))
    lines += ["set xlabel " + q(axis_label(spec.xspec)), "set ylabel " + q(axis_label(spec.ycol))]
    # Sizes in bytes read better as 4 KiB, 1 MiB than as 4096, 1.04858e+06.
    if spec.xspec.endswith("_bytes") and not fig.categorical:
        lines.append("set format x '%.0b %BB'")
    if spec.ycol.endswith("bytes"):
        lines.append("set format y '%.0b %BB'")
    if spec.logx and not fig.categorical:
        lines.append("set logscale x 2")
    if spec.logy:
        lines.append("set logscale y 10")
    plots = []
    if fig.categorical:
        cats = _points_file(pts, "figure-%d.cats.tsv" % fig.n,
                            [(i, safe.gnuplot_label(c)) for i, c in enumerate(fig.categories)])
        lines += ["set xtics rotate by -30", "set xrange [-0.5:%d.5]" % (len(fig.categories) - 1)]
        plots.append(_tic_series(cats))
    # Categories are not a scale: points only, no lines suggesting values between them.
    style = "points" if fig.categorical else "linespoints"
    for rank, s in enumerate(plotted):
        # On a category axis each machine sits at its own small offset, the same in every category,
        # so that thirty machines do not hide each other.
        off = rank / (len(plotted) - 1) * 0.6 - 0.3 if fig.categorical and len(plotted) > 1 else 0
        k = s.run.machine.index
        path = _points_file(pts, "figure-%d.m%d.tsv" % (fig.n, k),
                            [(repr(fig.key(x) + off), repr(y)) for x, y in s.points])
        plots.append("%s using 1:2 with %s linetype %d title %s" % (q(path), style, k, q(s.run.machine.run_name(s.run))))
    lines.append("plot " + ", ".join(plots))
    return lines


def class_script(gp, cmp, out, pts):
    """The strip plot: x = headline figure, y = each machine's value over the class median."""
    stats = [st for st in cmp.headlines if st.median > 0]
    if not stats:
        return []
    q = safe.gnuplot_string
    ylo, yhi = 0.5, 2.0	# never narrower than that
    per_run = {}
    nm = len(cmp.runs)
    for j, st in enumerate(stats):
        for run, h in st.values:
            if h.value <= 0:
                continue
            m = cmp.runs.index(run)
            off = m / (nm - 1) * 0.6 - 0.3 if nm > 1 else 0
            ratio = h.value / st.median
            per_run.setdefault(id(run), (run, []))[1].append((repr(j + off), repr(ratio), int(id(run) in st.outliers)))
            ylo, yhi = min(ylo, ratio), max(yhi, ratio)
    cats = _points_file(pts, "class.cats.tsv", [(j, safe.gnuplot_label(st.name)) for j, st in enumerate(stats)])
    # Large type: the page shows this image at its full width, and thirty machines' names in the key.
    lines = gp.preamble(os.path.join(out, "class.png"),
                        "%s: headline figures across the class, each machine over the class median "
                        "(outliers circled)" % cmp.lab, nm, width=1400, min_height=700, key=False)
    lines += ["set key outside right top vertical Left reverse font ',12' spacing 1 samplen 2",
              "set title font ',15'", "set tics font ',13'", "set ylabel font ',13'",
              "set ylabel 'value / class median (log scale)'", "set logscale y 10",
              "set yrange [%r:%r]" % (ylo / 1.25, yhi * 1.25),
              "set ytics ('1/16' 0.0625, '1/8' 0.125, '1/4' 0.25, '1/2' 0.5, '1' 1, '2' 2, '4' 4, '8' 8, "
              "'16' 16, '32' 32)",
              "set xtics rotate by 30 right", "set bmargin 11", "set lmargin 24",
              "set xrange [-0.5:%d.5]" % (len(stats) - 1),
              "set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linecolor rgb '#888888'"]
    plots = [_tic_series(cats)]
    for run in cmp.runs:	# in machine order, as in the other plots' legends
        if id(run) not in per_run:
            continue
        k = run.machine.index
        path = _points_file(pts, "class.m%d.tsv" % k, per_run[id(run)][1])
        plots.append("%s using 1:2 with points pointsize 1.5 linetype %d title %s"
                     % (q(path), k, q(run.machine.run_name(run))))
        plots.append("%s using 1:($3 == 1 ? $2 : NaN) with points pointtype 6 pointsize 3.5 "
                     "linecolor rgb 'black' notitle" % q(path))
    lines.append("plot " + ", ".join(plots))
    return lines


def plot(gp, cmp, out, keep_scripts):
    """Draws the lab's figures and strip plot with one gnuplot run. Returns a line when gnuplot
    failed, else None."""
    pts = os.path.join(out, ".points")
    os.makedirs(pts, exist_ok=True)
    script = []
    for fig in cmp.figures:
        script += figure_script(gp, cmp, fig, out, pts)
    script += class_script(gp, cmp, out, pts)
    problem = None
    if script:
        gp_file = os.path.join(pts, "plots.gp")
        with open(gp_file, "w", encoding="utf-8") as f:
            f.write("\n".join(script) + "\n")
        log = os.path.join(out, "gnuplot.log")
        with open(log, "w") as err:
            subprocess.run([gp.path, gp_file], stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        if os.path.getsize(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                problem = "  gnuplot failed on %s: %s" % (cmp.lab, safe.printable(f.readline().strip(), 200))
        else:
            os.remove(log)
    if not keep_scripts:
        shutil.rmtree(pts)
    return problem


# ---- make compare -----------------------------------------------------------------------------

def write_lab(cmp, gp, out_root, echo, keep_scripts):
    """Writes one lab's comparison under out_root/<lab>/ and echoes its text."""
    out = os.path.join(out_root, cmp.lab)
    if os.path.isdir(out) and not os.path.islink(out):
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    cmp.out_dir = out
    text = compare_text(cmp)
    with open(os.path.join(out, "compare.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(text) + "\n")
    echo(text)
    if not cmp.runs:
        return
    heads = headline_text(cmp)
    with open(os.path.join(out, "headlines.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(heads + headline_detail_text(cmp)) + "\n")
    echo(["  " + line for line in heads])
    if cmp.verdicts:
        vt = verdict_text(cmp)
        with open(os.path.join(out, "verdicts.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vt) + "\n")
        echo(vt)
    write_tables(cmp, out)
    if gp.path:
        problem = plot(gp, cmp, out, keep_scripts)
        if problem:
            echo([problem])


def compare_all(root, results, labs, machines, mode, echo):
    """Compares every lab in labs; returns their LabComparisons."""
    gp = Gnuplot(root)
    out_root = os.path.join(results, "compare")
    keep = os.environ.get("KEEP_PLOT_SCRIPTS") == "1"
    comparisons = []
    for lab in labs:
        cmp = compare_lab(lab, os.path.join(root, "labs", lab), machines, mode)
        write_lab(cmp, gp, out_root, echo, keep)
        comparisons.append(cmp)
    if len(labs) > 1:	# the whole course compared: the classic latency table across the class
        lines = numbers.class_table(machines)
        os.makedirs(out_root, exist_ok=True)
        with open(os.path.join(out_root, "numbers.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        echo(lines)
    if not gp.path:
        echo(["compare: gnuplot is not installed ('make deps' installs it): text only, no plots"])
    return comparisons
