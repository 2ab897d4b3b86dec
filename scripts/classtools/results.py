# SPDX-License-Identifier: MIT
"""A results directory read once, at the edge, and checked there.

results/<machine>/<NN-lab>/ holds what a lab wrote: manifest.txt, data.csv, summary.csv,
verdicts.csv, verdict.txt, plot.png. Imported machines are strangers' (classtools.bundle), so every
file is read as untrusted: only regular files, at most a bounded number of bytes, decoded with
replacement, parsed with the csv module, names checked against what a lab writes, numbers finite and
within what a measurement can be, statuses from the known list, text made printable. What does not
pass is left out with one Problem naming the machine, the file and the row; nothing raises.
"""

import csv
import errno
import io
import os
import re
import stat
from dataclasses import dataclass
from typing import Optional

from . import safe

# The labs write a few KiB of text and at most a few hundred KiB of CSV: more is cut, and said.
MAX_TEXT_BYTES = 1 << 20
MAX_CSV_BYTES = 16 << 20
MAX_MANIFEST_LINES = 1000

# What a verdict can say (common/lab.h): judged claims hold, fail or are inconclusive; a
# demonstration that cannot come out otherwise is shown; what a machine could not measure is
# not_shown.
STATUSES = ("holds", "fails", "inconclusive", "shown", "not_shown")

VERDICT_COLUMNS = ("lab", "id", "claim", "status", "value", "ci_low", "ci_high", "unit")
# Added later (the calibration of verdicts): optional, so that older runs still read.
VERDICT_EXTRA_COLUMNS = ("rounds", "coverage", "processes", "disturbed")
SUMMARY_COLUMNS = ("lab", "name", "value", "unit", "cross_check_value")

_ID = re.compile(r"[a-z0-9_]{1,64}\Z")
_FIGURE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\Z")
_UNIT = re.compile(r"[A-Za-z0-9 /%._-]{0,24}\Z")
_MANIFEST_KEY = re.compile(r"[a-z0-9_][a-z0-9_.:-]{0,79}\Z")


@dataclass(frozen=True)
class Problem:
    """Something in a machine's files that was left out, and why: one line of compare's output."""

    machine: str
    file: str
    row: Optional[int]
    what: str

    def line(self):
        where = self.file if self.row is None else "%s row %d" % (self.file, self.row)
        return "%s: %s: %s" % (self.machine, where, self.what)


@dataclass(frozen=True)
class Headline:
    """A row of summary.csv: one headline figure of a lab on one machine."""

    name: str
    value: float
    unit: str
    cross_check: Optional[float]


@dataclass(frozen=True)
class Verdict:
    """A row of verdicts.csv."""

    id: str
    claim: str
    status: str
    value: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    unit: str
    rounds: Optional[int] = None
    coverage: Optional[float] = None
    processes: Optional[int] = None
    disturbed: Optional[int] = None


def open_regular(path):
    """A file object on path when it is a regular file (not a link, fifo or device: a results
    directory can hold what a stranger put there), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def is_regular(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def is_real_dir(path):
    """A directory, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def read_bytes(path, limit):
    """(bytes, cut) of a regular file, at most limit bytes; (None, False) when it is not one."""
    f = open_regular(path)
    if f is None:
        return None, False
    with f:
        try:
            data = f.read(limit + 1)
        except OSError:
            return None, False
    return data[:limit], len(data) > limit


class LabRun:
    """One lab's results on one machine. Files are read when first asked for, once."""

    def __init__(self, machine, lab, path):
        self.machine = machine
        self.lab = lab
        self.dir = path
        self.problems = []
        self._headlines = None
        self._verdicts = None
        self._data = None
        self._verdict_text = None
        self.manifest_lines = []	# printable lines, for display
        self.fields = {}		# key -> printable value (the first of each key)
        self._read_manifest()
        self.quick = self.field("quick") == "yes"

    def _note(self, name, row, what):
        self.problems.append(Problem(self.machine.name, "%s/%s" % (self.lab, name), row, what))

    def _read_manifest(self):
        data, cut = read_bytes(os.path.join(self.dir, "manifest.txt"), MAX_TEXT_BYTES)
        if data is None:
            return
        lines = data.decode("utf-8", "replace").splitlines()
        if cut or len(lines) > MAX_MANIFEST_LINES:
            self._note("manifest.txt", None, "longer than a lab writes: cut")
            lines = lines[:MAX_MANIFEST_LINES]
        for line in lines:
            shown = safe.printable(line, 2000)
            self.manifest_lines.append(shown)
            key, sep, value = line.partition(": ")
            if sep and _MANIFEST_KEY.match(key) and key not in self.fields:
                self.fields[key] = safe.printable(value, 2000)

    def field(self, key, default=""):
        return self.fields.get(key, default)

    def text_lines(self, name, limit_lines=400):
        """The printable lines of a text file of this run (verdict.txt), at most limit_lines."""
        data, cut = read_bytes(os.path.join(self.dir, name), MAX_TEXT_BYTES)
        if data is None:
            return []
        lines = data.decode("utf-8", "replace").splitlines()
        if cut or len(lines) > limit_lines:
            self._note(name, None, "longer than a lab writes: cut")
            lines = lines[:limit_lines]
        return [safe.printable(line, 2000) for line in lines]

    @property
    def verdict_text(self):
        if self._verdict_text is None:
            self._verdict_text = self.text_lines("verdict.txt")
        return self._verdict_text

    def has(self, name):
        return is_regular(os.path.join(self.dir, name))

    def read_csv(self, name):
        """(header, rows) of a CSV file, each row a list of str with its line number; ([], [])
        when the file is missing; a problem when it is empty, header-only or not CSV."""
        data, cut = read_bytes(os.path.join(self.dir, name), MAX_CSV_BYTES)
        if data is None:
            return [], []
        if cut:
            self._note(name, None, "larger than %d MiB: read up to there" % (MAX_CSV_BYTES >> 20))
        text = data.decode("utf-8", "replace").replace("\0", "\ufffd")
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as e:
            self._note(name, None, "not a CSV file (%s): left out" % safe.printable(str(e), 80))
            return [], []
        rows = [(i + 1, r) for i, r in enumerate(rows) if r]
        if not rows:
            self._note(name, None, "empty: left out")
            return [], []
        header = [c.strip() for c in rows[0][1]]
        if len(rows) == 1:
            self._note(name, None, "has a header and no rows: left out")
        return header, rows[1:]

    @property
    def data(self):
        """data.csv: (header, [(line, row)])."""
        if self._data is None:
            self._data = self.read_csv("data.csv")
        return self._data

    @property
    def headlines(self):
        if self._headlines is None:
            self._headlines = self._read_headlines()
        return self._headlines

    def _read_headlines(self):
        header, rows = self.read_csv("summary.csv")
        if not header:
            return []
        if tuple(header[:len(SUMMARY_COLUMNS)]) != SUMMARY_COLUMNS:
            self._note("summary.csv", 1, "not the columns a lab writes: left out")
            return []
        out, seen = [], set()
        for line, r in rows:
            r = r + [""] * (len(SUMMARY_COLUMNS) - len(r))
            name, value, unit, xc = r[1].strip(), r[2], r[3].strip(), r[4]
            if not _FIGURE_NAME.match(name):
                self._note("summary.csv", line, "a figure name a lab does not write (%s): left out"
                           % safe.printable(name, 40))
                continue
            if not _UNIT.match(unit):
                self._note("summary.csv", line, "%s: a unit a lab does not write (%s): left out"
                           % (name, safe.printable(unit, 24)))
                continue
            v = safe.parse_number(value)
            if v is None or v < 0:
                why = safe.why_not_number(value) if v is None else "negative (%s)" % value.strip()
                self._note("summary.csv", line, "%s is %s: left out" % (name, why))
                continue
            if name in seen:
                self._note("summary.csv", line, "%s a second time: left out" % name)
                continue
            seen.add(name)
            c = safe.parse_number(xc)
            if xc.strip() and (c is None or c < 0):
                self._note("summary.csv", line, "%s's cross-check is %s: left out"
                           % (name, safe.why_not_number(xc) if c is None else "negative"))
                c = None
            out.append(Headline(name, v, unit, c))
        return out

    @property
    def verdicts(self):
        if self._verdicts is None:
            self._verdicts = self._read_verdicts()
        return self._verdicts

    def _read_verdicts(self):
        header, rows = self.read_csv("verdicts.csv")
        if not header:
            return []
        if tuple(header[:len(VERDICT_COLUMNS)]) != VERDICT_COLUMNS:
            self._note("verdicts.csv", 1, "not the columns a lab writes: left out")
            return []
        extra = [c for c in VERDICT_EXTRA_COLUMNS if c in header]
        out, seen = [], set()
        for line, r in rows:
            r = r + [""] * (len(header) - len(r))
            vid, claim, status, unit = r[1].strip(), r[2], r[3].strip(), r[7].strip()
            if not _ID.match(vid):
                self._note("verdicts.csv", line, "an id a lab does not write (%s): left out"
                           % safe.printable(vid, 40))
                continue
            if status not in STATUSES:
                self._note("verdicts.csv", line, "%s: unknown status (%s): left out"
                           % (vid, safe.printable(status, 40)))
                continue
            if vid in seen:
                self._note("verdicts.csv", line, "%s a second time: left out" % vid)
                continue
            seen.add(vid)
            nums = []
            for col in ("value", "ci_low", "ci_high"):
                cell = r[header.index(col)]
                v = safe.parse_number(cell)
                if v is None and cell.strip():
                    self._note("verdicts.csv", line, "%s's %s is %s: left out"
                               % (vid, col, safe.why_not_number(cell)))
                nums.append(v)
            more = {}
            for col in extra:
                v = safe.parse_number(r[header.index(col)])
                more[col] = (int(v) if col != "coverage" else v) if v is not None and v >= 0 else None
            out.append(Verdict(vid, safe.printable(claim, 300), status, nums[0], nums[1], nums[2],
                               safe.printable(unit, 24), **more))
        return out


class Machine:
    """A folder of results/ (or results/examples/) holding at least one lab's manifest."""

    def __init__(self, name, path, example, index, labs):
        self.name = name
        self.dir = path
        self.example = example
        self.index = index	# 1-based: its line style in every plot of every lab
        self.runs = {}
        for lab in labs:
            d = os.path.join(path, lab)
            if is_real_dir(d) and is_regular(os.path.join(d, "manifest.txt")):
                self.runs[lab] = LabRun(self, lab, d)

    @property
    def display(self):
        """Its name in legends and lines."""
        return self.name + (" (example)" if self.example else "")

    def run_name(self, run):
        return self.display + (" [quick run]" if run.quick else "")

    @property
    def label(self):
        """Its name and CPU, as compare lists the machines."""
        first = next(iter(self.runs.values()))
        desc = "%s, %s PUs%s" % (first.field("cpu_model") or "unknown CPU", first.field("nr_pus") or "?",
                                 ", VM" if first.field("virtual_machine") == "yes" else "")
        return "%s: %s" % (self.display, desc)

    @property
    def problems(self):
        return [p for run in self.runs.values() for p in run.problems]


def course_labs(root):
    """The labs of the course, in order: labs/NN-name directories with a program."""
    labs_dir = os.path.join(root, "labs")
    out = []
    for name in sorted(os.listdir(labs_dir)):
        d = os.path.join(labs_dir, name)
        if re.match(r"[0-9][0-9]-[a-z0-9-]+\Z", name) and os.path.isdir(d) and \
                any(f.endswith(".c") for f in os.listdir(d)):
            out.append(name)
    return out


def load_machines(results, labs):
    """Every machine in results/ and results/examples/ with at least one lab, in a stable order
    (results/ first, then the examples; each by name). Folders the course writes, unsafe names and
    links are not machines."""
    machines = []
    for base, example in ((results, False), (os.path.join(results, "examples"), True)):
        try:
            names = sorted(os.listdir(base))
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            raise
        for name in names:
            if not safe.is_safe_name(name) or safe.is_reserved(name):
                continue
            path = os.path.join(base, name)
            if not is_real_dir(path):
                continue
            m = Machine(name, path, example, len(machines) + 1, labs)
            if m.runs:
                machines.append(m)
    return machines
