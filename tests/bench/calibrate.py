#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Calibration of the verdicts: do their intervals cover as often as they claim, and does a verdict
stay put from run to run? A benchmark, not a test: it takes minutes, and its figures are for a
closing note or a handout, not for make test.

Runs a lab N times (quiet, or beside busy loops on every CPU or on one), reads each run's
verdicts.csv, and prints per verdict id: how often each status came out, whether it said holds in
one run and fails in another (a flip), the intervals' nominal coverage, and how often a run's
interval held the median of all runs' values (what the intervals do cover, run to run).

Usage: python3 tests/bench/calibrate.py LAB [LAB...] [--runs N] [--quick] [--hog none|all|one]
       [--tsv FILE]      (LAB: 1, 05, false-sharing; the labs must be built: make all)
Environment: BUILD (default build) picks the build.
"""

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATUSES = ("holds", "fails", "inconclusive", "shown", "not_shown")


def lab_binary(name):
    r = subprocess.run([os.path.join(ROOT, "scripts", "labs.sh"), "resolve", name],
                       stdout=subprocess.PIPE, universal_newlines=True, cwd=ROOT)
    if r.returncode:
        sys.exit(2)
    lab_dir = r.stdout.strip()
    src = sorted(f for f in os.listdir(os.path.join(ROOT, lab_dir)) if f.endswith(".c"))[0]
    binary = os.path.join(ROOT, os.environ.get("BUILD", "build"), lab_dir, src[:-2])
    if not os.access(binary, os.X_OK):
        sys.exit("calibrate: %s is not built (make all)" % binary)
    return os.path.basename(lab_dir), binary


def start_hogs(kind):
    """Busy loops: one per CPU (all), or one on CPU 0 (one). Returns their processes."""
    if kind == "none":
        return []
    cpus = sorted(os.sched_getaffinity(0))
    if kind == "one":
        cpus = cpus[:1]
    return [subprocess.Popen(["taskset", "-c", str(c), "sh", "-c", "while :; do :; done"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for c in cpus]


def stop(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def number(cell):
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


def run_lab(binary, out, quick):
    args = [binary, "--out", out] + (["--quick"] if quick else [])
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    path = os.path.join(out, "verdicts.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summarise(runs):
    """Per verdict id: its statuses, values and intervals over the runs."""
    by_id = {}
    for rows in runs:
        for r in rows:
            v = by_id.setdefault(r["id"], {"statuses": [], "values": [], "intervals": [],
                                           "coverage": []})
            v["statuses"].append(r["status"])
            value = number(r["value"])
            if value is not None:
                v["values"].append(value)
            lo, hi, cov = number(r["ci_low"]), number(r["ci_high"]), number(r.get("coverage"))
            if lo is not None and hi is not None and cov is not None and r["status"] != "shown":
                v["intervals"].append((lo, hi))
                v["coverage"].append(cov)
    table = []
    for vid, v in by_id.items():
        counts = {s: v["statuses"].count(s) for s in STATUSES}
        held = ""
        if v["intervals"] and v["values"]:
            centre = statistics.median(v["values"])
            held = sum(1 for lo, hi in v["intervals"] if lo <= centre <= hi) / len(v["intervals"])
        table.append({
            "id": vid, "runs": len(v["statuses"]), **counts,
            "lo": min(v["values"]) if v["values"] else "", "hi": max(v["values"]) if v["values"] else "",
            "flip": counts["holds"] > 0 and counts["fails"] > 0,
            "nominal": statistics.mean(v["coverage"]) if v["coverage"] else "",
            "covered": held,
        })
    return table


def fmt(x):
    return "%.0f%%" % (100 * x) if isinstance(x, float) else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("labs", nargs="+")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--hog", choices=("none", "all", "one"), default="none")
    ap.add_argument("--tsv")
    a = ap.parse_args()
    rows = []
    scratch = tempfile.mkdtemp(prefix="calibrate.")
    try:
        for name in a.labs:
            lab, binary = lab_binary(name)
            runs = []
            for i in range(a.runs):
                hogs = start_hogs(a.hog)
                try:
                    runs.append(run_lab(binary, os.path.join(scratch, "%s-%d" % (lab, i)), a.quick))
                finally:
                    stop(hogs)
            for r in summarise(runs):
                rows.append(dict(r, lab=lab, mode="quick" if a.quick else "default", hog=a.hog))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    head = "%-20s %-44s %4s %5s %5s %5s %5s %5s %4s %8s %8s  %s" % (
        "lab", "id", "runs", "holds", "fails", "inc", "shown", "n/s", "flip", "nominal", "covered",
        "values")
    print("mode %s, hog %s, %d runs each" % ("quick" if a.quick else "default", a.hog, a.runs))
    print(head)
    for r in rows:
        print("%-20s %-44s %4d %5d %5d %5d %5d %5d %4s %8s %8s  %s" % (
            r["lab"], r["id"], r["runs"], r["holds"], r["fails"], r["inconclusive"], r["shown"],
            r["not_shown"], "YES" if r["flip"] else "", fmt(r["nominal"]), fmt(r["covered"]),
            "%.4g-%.4g" % (r["lo"], r["hi"]) if r["lo"] != "" else "-"))
    if a.tsv:
        with open(a.tsv, "a") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            if f.tell() == 0:
                w.writerow(["lab", "mode", "hog", "id", "runs"] + list(STATUSES) +
                           ["flip", "nominal_coverage", "covered"])
            for r in rows:
                w.writerow([r["lab"], r["mode"], r["hog"], r["id"], r["runs"]] +
                           [r[s] for s in STATUSES] + [int(r["flip"]), r["nominal"], r["covered"]])
    return 1 if any(r["flip"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
