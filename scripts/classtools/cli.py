# SPDX-License-Identifier: MIT
"""The command line: one sub-command per make target.

  python3 scripts/classtools import BUNDLE|DIRECTORY...   make import BUNDLE=...
  python3 scripts/classtools compare [LAB]                 make compare [LAB=N]
  python3 scripts/classtools report                        make report
  python3 scripts/classtools numbers [MACHINE]             make numbers (this machine by default)

RESULTS=dir reads and writes another results directory than results/; RUNS=full, quick or all
chooses which runs compare and report set side by side; KEEP_PLOT_SCRIPTS=1 keeps the gnuplot
scripts and the points they read (results/compare/<lab>/.points/).
Exit status: 0; 1 when there is nothing to compare; 2 for a bad argument or a refused bundle.
"""

import argparse
import os
import subprocess
import sys

from . import bundle, compare, numbers, report
from .results import course_labs, load_machines
from .safe import printable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line and exit status 2, as every tool of the course answers a bad argument.
        sys.stderr.write("%s: %s (see --help)\n" % (self.prog, message))
        sys.exit(2)


def _echo(lines, stream=None):
    stream = stream or sys.stdout
    for line in lines:
        stream.write(line + "\n")
    stream.flush()


def _resolve_lab(name):
    """labs/NN-name for what a user typed (5, 05, false-sharing), by the course's catalogue."""
    r = subprocess.run([os.path.join(ROOT, "scripts", "labs.sh"), "resolve", name],
                       stdout=subprocess.PIPE, universal_newlines=True)
    if r.returncode != 0:
        return None
    return os.path.basename(r.stdout.strip())


def _machines_and_labs(results, lab_filter):
    labs = course_labs(ROOT)
    if lab_filter:
        lab = _resolve_lab(lab_filter)
        if lab is None:
            sys.exit(2)
        labs = [lab]
    return labs, load_machines(results, course_labs(ROOT))


def _runs_mode(prog):
    mode = os.environ.get("RUNS", "")
    if mode not in ("",) + compare.RUN_MODES:
        sys.stderr.write("%s: RUNS must be full, quick or all, not '%s'\n" % (prog, printable(mode, 40)))
        sys.exit(2)
    return mode


def cmd_import(args, results):
    return bundle.run(args.bundles, results, sys.stdout, sys.stderr)


def cmd_compare(args, results):
    mode = _runs_mode("compare")
    labs, machines = _machines_and_labs(results, args.lab)
    if not machines:
        sys.stderr.write("compare: no results yet: run 'make course' (or make lab-N), or "
                         "'make import BUNDLE=...'\n")
        return 1
    _echo(["compare: %d machines found:" % len(machines)] + ["  " + m.label for m in machines])
    compare.compare_all(ROOT, results, labs, machines, mode, _echo)
    _echo(["compare: plots and tables in %s/" % os.path.join(results, "compare")])
    return 0


def cmd_report(args, results):
    mode = _runs_mode("report")
    labs, machines = _machines_and_labs(results, None)
    if not machines:
        sys.stderr.write("report: no results yet: run 'make course' (or make lab-N), or "
                         "'make import BUNDLE=...'\n")
        return 1
    out_dir = os.path.join(results, "report")
    os.makedirs(out_dir, exist_ok=True)
    # The comparison plots first; their text goes to a log, the page shows the plots and tables.
    with open(os.path.join(out_dir, "compare.log"), "w", encoding="utf-8") as log:
        comparisons = compare.compare_all(ROOT, results, labs, machines, mode, lambda lines: _echo(lines, log))
    path = report.write(ROOT, results, labs, machines, comparisons)
    size = os.path.getsize(path)
    _echo(["report: %s (%s, %d machines); open it in a browser"
           % (path, "%d KiB" % (size // 1024) if size >= 1024 else "%d B" % size, len(machines))])
    return 0


def _this_machine():
    """This machine's id, exactly as the labs compute it: a built lab says where it would write."""
    r = subprocess.run([os.path.join(ROOT, "scripts", "labs.sh"), "built"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, universal_newlines=True)
    build = os.environ.get("BUILD") or "build"
    for lab_dir in r.stdout.split():
        lab = os.path.basename(lab_dir)
        for src in sorted(os.listdir(lab_dir)):
            binary = os.path.join(build, "labs", lab, src[:-2])
            if src.endswith(".c") and os.access(binary, os.X_OK):
                out = subprocess.run([binary, "--print-out-dir"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
                return os.path.basename(os.path.dirname(out)) if out else None
    return None


def cmd_numbers(args, results):
    name = args.machine or os.environ.get("MACHINE") or _this_machine()
    if not name:
        sys.stderr.write("numbers: no lab is built, so this machine's name is unknown: run 'make course' "
                         "(or name one: make numbers MACHINE=name)\n")
        return 1
    machines = [m for m in load_machines(results, course_labs(ROOT)) if m.name == name]
    if not machines:
        sys.stderr.write("numbers: no results for machine '%s' in %s: run 'make course' first\n"
                         % (printable(name, 80), results))
        return 1
    return numbers.run(ROOT, machines[0], _echo)


def main(argv=None):
    parser = _Parser(prog="classtools", description="The class tools: import bundles, compare machines, "
                                                    "build the report.")
    sub = parser.add_subparsers(dest="command", metavar="{import,compare,report,numbers}")
    sub.required = True
    p = sub.add_parser("import", help="unpack other machines' bundles into results/")
    p.add_argument("bundles", nargs="*", metavar="BUNDLE", help="a bundle (.tar.gz), or a directory of them")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("compare", help="machines side by side, per lab")
    p.add_argument("lab", nargs="?", help="one lab (5, 05, false-sharing); all when left out")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("report", help="results/report/index.html: every machine, every lab")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("numbers", help="the latency numbers every programmer should know, as measured here")
    p.add_argument("machine", nargs="?", help="a machine in results/ (default: this one)")
    p.set_defaults(func=cmd_numbers)
    for p in sub.choices.values():
        p.error = parser.error
    args = parser.parse_args(argv)
    # Paths the user typed are theirs; everything else is relative to the course's folder.
    if args.command == "import":
        args.bundles = [os.path.abspath(b) for b in args.bundles]
    results = os.path.abspath(os.environ.get("RESULTS") or os.path.join(ROOT, "results"))
    os.chdir(ROOT)
    if results.startswith(ROOT + os.sep):
        results = os.path.relpath(results)	# results/alice/ in what it prints, as the labs say it
    try:
        return args.func(args, results)
    except KeyboardInterrupt:
        sys.stderr.write("%s: interrupted\n" % args.command)
        return 130
