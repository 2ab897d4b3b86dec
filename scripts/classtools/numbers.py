# SPDX-License-Identifier: MIT
"""Latency numbers every programmer should know, as this machine measured them.

The classic table (Peter Norvig, "Teach Yourself Programming in Ten Years", 2001; Jeff Dean,
"Numbers Everyone Should Know", 2009; the SSD row from the 2012 compilations of Dean's list) gives
round figures: an L1 reference 0.5 ns, a main memory reference 100 ns, 1 MB read sequentially from
memory 250 us; Jonas Boner's 2012 compilation of Dean's list, the one most often copied, adds
"read 4K randomly from SSD" at 150 us. The labs measure most rows already; this module takes each from the lab that
measures it (never running anything) and judges the classic figure as the course judges a claim:

  "this machine's figure is within BAND of the classic one", on the figure's p5-p95 range: holds
  when the whole range lies in [classic / BAND, classic x BAND], fails when it lies wholly
  outside, inconclusive when it straddles an edge.

BAND is 10 because the table's figures are orders of magnitude, round numbers chosen to be
remembered, and the table's own later editions moved rows by 2x to 80x (Colin Scott's interactive
version, about 2020: an L2 reference 4 ns, 1 MB from memory 3 us): a tighter band would judge the
year the table was written, not the machine. Rows the table has and no lab measures are
not_shown, saying why; the course's own rows with no classic figure (a system call, a switch, a
page fault) are shown beside them.

Every figure comes from the lab's files through classtools.results, so an imported machine's
files are read as untrusted like everywhere else in the class tools.
"""

import csv
import os
import shutil
import textwrap
import subprocess
from dataclasses import dataclass
from typing import Callable, Optional

from . import safe

BAND = 10.0
NORVIG = "Norvig 2001"
DEAN = "Dean 2009"
SSD_2012 = "Boner 2012"

COLUMNS = ("id", "row", "value_ns", "p5_ns", "p95_ns", "lab", "figure", "classic_ns", "classic_source",
           "ratio", "status", "why")


@dataclass
class Measured:
    value_ns: float
    p5_ns: Optional[float]
    p95_ns: Optional[float]
    lab: str
    figure: str
    quick: bool = False


@dataclass
class NotMeasured:
    why: str


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    classic_ns: Optional[float]	# None: the course's own row, no classic figure
    source: str
    measure: Callable


@dataclass
class Result:
    row: Row
    measured: Optional[Measured]
    status: str
    why: str

    @property
    def ratio(self):
        if self.measured is None or not self.row.classic_ns:
            return None
        return self.measured.value_ns / self.row.classic_ns


# ---- where each row comes from --------------------------------------------------------------

def _run(machine, lab):
    run = machine.runs.get(lab)
    if run is None:
        return None, NotMeasured("Lab %s has not run on this machine" % lab[:2].lstrip("0"))
    return run, None


def _rows(run, experiment, kind):
    """data.csv rows of one experiment and kind, as dicts of column -> finite number or None."""
    header, rows = run.data
    if "experiment" not in header or len(header) < 2:
        return []
    out = []
    for _, r in rows:
        if len(r) >= 2 and r[0] == experiment and r[1] == kind:
            out.append({h: safe.parse_number(v) for h, v in zip(header[2:], r[2:])})
    return out


def _int_field(run, key):
    v = safe.parse_number(run.field(key).split(" ")[0]) if run.field(key) else None
    return int(v) if v is not None and v > 0 else None


def _chase(row, run, what):
    return Measured(row["ns_per_op_median"], row.get("ns_per_op_p05"), row.get("ns_per_op_p95"),
                    run.lab, "%s (%s working set)" % (what, _size(row["size_bytes"])), run.quick)


def _size(nbytes):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= size:
            return "%.3g %s" % (nbytes / size, unit)
    return "%d B" % nbytes


def _latency_sweep(machine):
    run, missing = _run(machine, "10-memory-hierarchy")
    if missing:
        return None, [], missing
    rows = sorted((r for r in _rows(run, "latency", "random")
                   if r.get("size_bytes") and r.get("ns_per_op_median")), key=lambda r: r["size_bytes"])
    if not rows:
        return run, [], NotMeasured("Lab 10's data.csv has no random-chase latency rows")
    return run, rows, None


def l1_reference(machine):
    run, rows, missing = _latency_sweep(machine)
    if missing:
        return missing
    l1 = _int_field(run, "l1d_bytes")
    if l1 and rows[0]["size_bytes"] > l1 / 2:
        return NotMeasured("the smallest working set (%s) does not fit in half the L1 (%s)"
                           % (_size(rows[0]["size_bytes"]), _size(l1)))
    return _chase(rows[0], run, "random chase")


def l2_reference(machine):
    run, rows, missing = _latency_sweep(machine)
    if missing:
        return missing
    l1, l2 = _int_field(run, "l1d_bytes"), _int_field(run, "l2_bytes")
    if not l1 or not l2:
        return NotMeasured("hwloc did not report the L1 and L2 sizes, so no point is known to be in the L2")
    inside = [r for r in rows if 2 * l1 <= r["size_bytes"] <= l2 / 2]
    if not inside:
        return NotMeasured("no working set of Lab 10's sweep lies between twice the L1 and half the L2")
    return _chase(inside[-1], run, "random chase")


def memory_reference(machine):
    run, rows, missing = _latency_sweep(machine)
    if missing:
        return missing
    last = _int_field(run, "l3_bytes") or _int_field(run, "l2_bytes")
    if last and rows[-1]["size_bytes"] < 2 * last:
        return NotMeasured("Lab 10's sweep stopped at %s, under twice the last-level cache (%s): a quick "
                           "run, or memory too small" % (_size(rows[-1]["size_bytes"]), _size(last)))
    return _chase(rows[-1], run, "random chase")


def read_1mb_from_memory(machine):
    run, missing = _run(machine, "10-memory-hierarchy")
    if missing:
        return missing
    rows = sorted((r for r in _rows(run, "bandwidth", "read")
                   if r.get("size_bytes") and r.get("ns_per_op_median")), key=lambda r: r["size_bytes"])
    if not rows:
        return NotMeasured("Lab 10's data.csv has no sequential read rows")
    r = rows[-1]
    per_mb = 1e6 / r["size_bytes"]	# one sample reads the whole buffer once
    scale = lambda v: v * per_mb if v is not None else None	# noqa: E731
    return Measured(scale(r["ns_per_op_median"]), scale(r.get("ns_per_op_p05")), scale(r.get("ns_per_op_p95")),
                    run.lab, "sequential read of %s, per MB" % _size(r["size_bytes"]), run.quick)


def ssd_random_read(machine):
    run, missing = _run(machine, "09-page-faults")
    if missing:
        return missing
    rows = [r for r in _rows(run, "latency", "random_4k_read") if r.get("ns_per_op_median")]
    if not rows:
        return NotMeasured("Lab 9 could not read its scratch file with O_DIRECT (the verdict line says why)")
    r = rows[0]
    if r["ns_per_op_median"] < 10000:
        return NotMeasured("Lab 9's reads took %.3g us: served from a cache or tmpfs, not a device"
                           % (r["ns_per_op_median"] / 1000))
    return Measured(r["ns_per_op_median"], r.get("ns_per_op_p05"), r.get("ns_per_op_p95"), run.lab,
                    "random 4 KiB O_DIRECT read of its scratch file", run.quick)


def _lab_row(lab, experiment, kind, what, why_missing):
    """A figure a lab wrote as a data.csv row of its own, ns_per_op median and p5-p95."""
    def measure(machine):
        run, missing = _run(machine, lab)
        if missing:
            return missing
        for r in _rows(run, experiment, kind):
            if r.get("ns_per_op_median") and r["ns_per_op_median"] > 0:
                return Measured(r["ns_per_op_median"], r.get("ns_per_op_p05"), r.get("ns_per_op_p95"),
                                run.lab, what, run.quick)
        return NotMeasured(why_missing)
    return measure


def _headline(lab, name, what):
    def measure(machine):
        run, missing = _run(machine, lab)
        if missing:
            return missing
        for h in run.headlines:
            if h.name == name and h.value is not None and h.value > 0:
                scale = {"ns": 1.0, "us": 1e3, "ms": 1e6}.get(h.unit)
                if scale:
                    return Measured(h.value * scale, None, None, lab, what, run.quick)
        return NotMeasured("Lab %s wrote no %s figure" % (lab[:2].lstrip("0"), name))
    return measure


ROWS = (
    Row("l1_reference", "L1 cache reference", 0.5, NORVIG, l1_reference),
    Row("branch_mispredict", "Branch mispredict", 5, NORVIG,
        _lab_row("10-memory-hierarchy", "branch", "mispredict",
                 "twice a random branch's extra time over an alternating one",
                 "Lab 10 wrote no branch rows (a run from before it timed branches)")),
    Row("l2_reference", "L2 cache reference", 7, NORVIG, l2_reference),
    Row("mutex_lock_unlock", "Mutex lock/unlock", 25, NORVIG,
        _lab_row("06-deadlock", "lock_cost", "uncontended_lock_unlock",
                 "pthread_mutex_lock + unlock, one thread, net of the loop",
                 "Lab 6 wrote no lock_cost rows (a run from before it timed one lock)")),
    Row("memory_reference", "Main memory reference", 100, NORVIG, memory_reference),
    Row("ssd_random_4k_read", "Read 4 KiB randomly from SSD", 150e3, SSD_2012, ssd_random_read),
    Row("read_1mb_memory", "Read 1 MB sequentially from memory", 250e3, NORVIG, read_1mb_from_memory),
    Row("system_call", "System call (getppid)", None, "",
        _headline("04-syscall-batching", "null_syscall", "syscall(SYS_getppid), median")),
    Row("context_switch", "Context switch (threads, one CPU)", None, "",
        _headline("08-context-switch", "same_cpu_switch_threads_pipe", "pipe ping-pong, per switch")),
    Row("page_fault", "Page fault (first write)", None, "",
        _headline("09-page-faults", "first_write_fault", "first write to a fresh page")),
)


def judge(row, measured):
    if isinstance(measured, NotMeasured):
        return Result(row, None, "not_shown", measured.why)
    if row.classic_ns is None:
        return Result(row, measured, "shown", "the course's own row: the classic table has none")
    lo = measured.p5_ns if measured.p5_ns is not None else measured.value_ns
    hi = measured.p95_ns if measured.p95_ns is not None else measured.value_ns
    low, high = row.classic_ns / BAND, row.classic_ns * BAND
    if low <= lo and hi <= high:
        status = "holds"
    elif hi < low or lo > high:
        status = "fails"
    else:
        status = "inconclusive"
    why = "within %gx of %s: %s to %s" % (BAND, fmt_ns(row.classic_ns), fmt_ns(low), fmt_ns(high))
    if measured.quick:
        why += "; from a quick run"
    return Result(row, measured, status, why)


def numbers_of(machine):
    return [judge(row, row.measure(machine)) for row in ROWS]


# ---- output ---------------------------------------------------------------------------------

def fmt_ns(ns):
    if ns is None:
        return ""
    for unit, size in (("ms", 1e6), ("us", 1e3)):
        if ns >= size:
            return "%.3g %s" % (ns / size, unit)
    return "%.3g ns" % ns


def table(machine_name, results):
    lines = ["Latency numbers every programmer should know, measured on %s" % machine_name,
             "  %-34s %-25s %-20s %6s %s" % ("row", "this machine (p5-p95)", "classic", "ratio", "verdict")]
    for r in results:
        m = r.measured
        if m is None:
            mine = "-"
        elif m.p5_ns is not None and m.p95_ns is not None:
            mine = "%s (%s-%s)" % (fmt_ns(m.value_ns), fmt_ns(m.p5_ns).split(" ")[0], fmt_ns(m.p95_ns))
        else:
            mine = fmt_ns(m.value_ns)
        classic = "%s (%s)" % (fmt_ns(r.row.classic_ns), r.row.source) if r.row.classic_ns else "-"
        ratio = "%.3gx" % r.ratio if r.ratio is not None else ""
        lines.append("  %-34s %-25s %-20s %6s %s" % (r.row.name, mine, classic, ratio, r.status))
    not_shown = any(r.status == "not_shown" for r in results)
    lines.append("  (a classic figure holds when this machine's p5-p95 lies within %gx of it: the table's"
                 % BAND)
    lines.append("   figures are orders of magnitude%s)"
                 % ("; not_shown rows say why below and in numbers.csv" if not_shown else ""))
    for r in results:
        if r.status == "not_shown":
            lines += textwrap.wrap("not shown: %s: %s" % (r.row.name, r.why), 98,
                                   initial_indent="  ", subsequent_indent="    ")
    return lines


def write_csv(path, results):
    def cell(v):
        return "" if v is None else ("%.6g" % v if isinstance(v, float) else str(v))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in results:
            m = r.measured
            w.writerow([cell(v) for v in (
                r.row.id, r.row.name, m and m.value_ns, m and m.p5_ns, m and m.p95_ns, m and m.lab,
                m and m.figure, r.row.classic_ns and float(r.row.classic_ns), r.row.source, r.ratio,
                r.status, r.why)])
    os.replace(tmp, path)


def plot(root, path, machine_name, results):
    """numbers.png: one line per row, log scale, the classic figure (open square) beside this
    machine's (filled circle, p5-p95 bar). Returns a line when it could not, else None."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return "numbers: gnuplot is not installed ('make deps' installs it): no numbers.png"
    pts = path + ".points.tsv"
    with open(pts, "w", encoding="utf-8") as f:
        for i, r in enumerate(results):
            m = r.measured
            nan = "NaN"
            f.write("\t".join([str(i), safe.gnuplot_label("%s [%s]" % (r.row.name, r.status)),
                               "%g" % r.row.classic_ns if r.row.classic_ns else nan,
                               "%g" % m.value_ns if m else nan,
                               "%g" % (m.p5_ns if m and m.p5_ns is not None else m.value_ns) if m else nan,
                               "%g" % (m.p95_ns if m and m.p95_ns is not None else m.value_ns) if m else nan])
                    + "\n")
    q = safe.gnuplot_string
    script = ["set terminal pngcairo noenhanced size 1000,520 font ',10'",
              "set output " + q(path), "load " + q(os.path.join(root, "scripts", "style.gp")),
              "set datafile separator tab",
              "set title " + q("Latency numbers every programmer should know, on %s" % machine_name),
              "set logscale x", "set xlabel 'nanoseconds (log scale)'", "set grid xtics mxtics",
              "set yrange [%d:-1]" % len(results), "set key bottom right",
              "set format x '%g'", "set lmargin 44",
              "plot %s using 3:1:ytic(2) with points pt 4 ps 1.6 lc rgb '#555555' title 'classic figure', "
              "'' using 4:1:5:6 with xerrorbars lt 1 pt 7 title 'this machine (p5-p95)'" % q(pts)]
    r = subprocess.run([gnuplot], input="\n".join(script) + "\n", universal_newlines=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.remove(pts)
    if r.returncode != 0 or r.stdout.strip():
        return "numbers: gnuplot failed: %s" % safe.printable(r.stdout.strip().splitlines()[0] if r.stdout.strip()
                                                             else "status %d" % r.returncode, 200)
    return None


def run(root, machine, echo):
    """make numbers: the table for one machine, numbers.csv and numbers.png in its folder."""
    results = numbers_of(machine)
    echo(table(machine.display, results))
    write_csv(os.path.join(machine.dir, "numbers.csv"), results)
    problem = plot(root, os.path.join(machine.dir, "numbers.png"), machine.display, results)
    echo([problem] if problem else [])
    echo(["numbers: %s and numbers.png" % os.path.join(machine.dir, "numbers.csv")])
    return 0


# ---- across a class -------------------------------------------------------------------------

def class_table(machines):
    """Per row: the class median and range of the measured figures, and the statuses counted."""
    per_machine = [(m, numbers_of(m)) for m in machines]
    lines = ["Latency numbers across the class (%d machines): median and range of the measured figures"
             % len(machines),
             "  %-34s %-10s %-22s %-20s %s" % ("row", "median", "range", "classic", "verdicts")]
    for i, row in enumerate(ROWS):
        values = sorted(res[i].measured.value_ns for _, res in per_machine if res[i].measured)
        counts = {}
        for _, res in per_machine:
            counts[res[i].status] = counts.get(res[i].status, 0) + 1
        median = None
        if values:
            mid = len(values) // 2
            median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        rng = "%s to %s" % (fmt_ns(values[0]), fmt_ns(values[-1])) if values else "-"
        classic = "%s (%s)" % (fmt_ns(row.classic_ns), row.source) if row.classic_ns else "-"
        lines.append("  %-34s %-10s %-22s %-20s %s" % (
            row.name, fmt_ns(median) or "-", rng, classic,
            ", ".join("%d %s" % (n, s) for s, n in sorted(counts.items()))))
    return lines
