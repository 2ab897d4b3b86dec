#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keeps the handouts true to the example run (results/examples/dev-vm).

A handout quotes the example in two ways, and this script checks both:

- Quoted output is generated. A marked region

      <!-- quote 04-syscall-batching/output.txt: /^  function_call/+2 ; /^buffer/+5 ; all /^verdict:/ -->
      ```text
      ...
      ```
      <!-- end quote -->

  holds the lines that its selectors pick from the example's file, groups separated by a blank line.
  A selector is /REGEX/ (the first matching line and the lines indented deeper that continue it),
  /REGEX/+N (that line and the N after it), /REGEX/../REGEX/ (from one to the other, both included)
  or all /REGEX/ (every matching line, each with its continuation).
- Figures in prose are written by hand, and each must be one the example contains, within the
  rounding it is written with (6.9 us matches 6.88 us or 6880 ns), or be a range that holds one
  ("5 to 24x"). Figures that are facts, not measurements, are listed once in the file:
  <!-- not measured: 64 B, 4 KiB, 8 MiB -->. Code spans and code blocks are not prose.

It also checks that every example manifest names the same clean revision, and that a handout
(README.md) stays under MAX_HANDOUT_WORDS.

Usage: scripts/handouts.py --check [FILE...]    one line per problem; exit 1 if any
       scripts/handouts.py --write [FILE...]    regenerate the marked regions in place
       (default FILE: every labs/*/README.md and expected.md, and COURSE.md)
"""

import glob
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "results", "examples", "dev-vm")
MAX_HANDOUT_WORDS = 1500
QUOTE_WIDTH = 100

QUOTE = re.compile(r"<!-- quote (?P<src>[^:\s]+): (?P<sel>.*?) -->\n(?P<body>.*?)<!-- end quote -->\n",
                   re.S)
NOT_MEASURED = re.compile(r"<!-- not measured: (.*?) -->", re.S)
SELECTOR = re.compile(r"\s*(?P<all>all\s+)?/(?P<re>(?:[^/\\]|\\.)+)/"
                      r"(?:\+(?P<more>\d+)|\.\./(?P<to>(?:[^/\\]|\\.)+)/)?\s*(?:;|$)")

# Each unit as a handout writes it: its dimension and its size in that dimension's base unit.
UNITS = {
    "ns": ("time", 1), "us": ("time", 1e3), "µs": ("time", 1e3), "ms": ("time", 1e6),
    "s": ("time", 1e9), "B": ("size", 1), "KiB": ("size", 1024), "MiB": ("size", 1024 ** 2),
    "GiB": ("size", 1024 ** 3), "KB": ("size", 1e3), "MB": ("size", 1e6), "GB": ("size", 1e9),
    "MB/s": ("rate", 1), "GB/s": ("rate", 1e3), "MHz": ("freq", 1), "GHz": ("freq", 1e3),
    "x": ("ratio", 1), "%": ("percent", 1),
}
UNIT = "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True))
NUMBER = r"\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?"
FIGURE = re.compile(
    r"(?<![\w.,/-])(?P<a>" + NUMBER + r")(?:(?:\s?(?:" + UNIT + r"))?\s?(?:to|-|–)\s?(?P<b>" + NUMBER + r"))?"
    r"(?:\s?(?P<unit>" + UNIT + r")(?![\w/])|(?=[^\w.]|$))")
# A number in the example's text, with its unit if one follows it.
EXAMPLE_FIGURE = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?:\s?(" + UNIT +
                            r")(?![\w/]))?")
# The files a learner sees from a run: what it printed, and the files a class compares.
PRINTED = ("output.txt", "verdict.txt", "manifest.txt", "summary.csv", "verdicts.csv")


class Problem(Exception):
    pass


def words(text):
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return len(text.split())


def parse_selectors(text):
    sels, pos = [], 0
    while pos < len(text.rstrip()):
        m = SELECTOR.match(text, pos)
        if not m:
            raise Problem("cannot read selector at %r" % text[pos:pos + 40])
        sels.append(m)
        pos = m.end()
    return sels


def indent(line):
    return len(line) - len(line.lstrip(" "))


def with_continuation(lines, i):
    end = i + 1
    while end < len(lines) and lines[end].strip() and indent(lines[end]) > indent(lines[i]):
        end += 1
    return lines[i:end]


def select(lines, sel, src):
    pattern = re.compile(sel["re"])
    hits = [i for i, line in enumerate(lines) if pattern.search(line)]
    if not hits:
        raise Problem("%s: no line matches /%s/" % (src, sel["re"]))
    if sel["all"]:
        return [line for i in hits for line in with_continuation(lines, i)]
    first = hits[0]
    if sel["more"]:
        return lines[first:first + 1 + int(sel["more"])]
    if sel["to"]:
        to = re.compile(sel["to"])
        last = next((i for i in range(first, len(lines)) if to.search(lines[i])), None)
        if last is None:
            raise Problem("%s: no line after /%s/ matches /%s/" % (src, sel["re"], sel["to"]))
        return lines[first:last + 1]
    return with_continuation(lines, first)


def render(src, selectors, example=EXAMPLE):
    path = os.path.join(example, src)
    if not os.path.isfile(path):
        raise Problem("%s: not in the example" % src)
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().rstrip("\n").split("\n")
    groups = ["\n".join(line.rstrip() for line in select(lines, sel, src))
              for sel in parse_selectors(selectors)]
    body = "\n\n".join(groups)
    for line in body.split("\n"):
        if len(line) > QUOTE_WIDTH:
            raise Problem("%s: a quoted line is %d columns (at most %d): %.50s..."
                          % (src, len(line), QUOTE_WIDTH, line))
    return "```text\n" + body + "\n```\n"


def regenerate(text, example=EXAMPLE):
    """The text with every quote region rebuilt, and the problems found doing it."""
    problems = []

    def one(m):
        try:
            body = render(m["src"], m["sel"], example)
        except Problem as e:
            problems.append(str(e))
            return m[0]
        return m[0][:m.start("body") - m.start()] + body + "<!-- end quote -->\n"

    return QUOTE.sub(one, text), problems


def prose(text):
    """The text a reader takes as prose: no quotes, code blocks, code spans, comments or links."""
    text = QUOTE.sub("\n", text)
    text = re.sub(r"```.*?```", "\n", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    return text


def to_float(s):
    return float(s.replace(",", ""))


def decimals(s):
    return len(s.split(".")[1]) if "." in s else 0


def example_figures(dirs):
    """(value, unit or None) for every number in the files a run printed."""
    found = set()
    for d in dirs:
        for name in PRINTED + ("doctor.txt", "course.txt", "numbers.csv"):
            path = os.path.join(d, name)
            if not os.path.isfile(path):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if name.endswith(".csv"):	# a row's unit is its last field
                for row in text.splitlines()[1:]:
                    fields = row.split(",")
                    unit = fields[-1].strip() if fields[-1].strip() in UNITS else None
                    for field in fields:
                        for n, _ in EXAMPLE_FIGURE.findall(field):
                            found.add((float(n), unit))
                continue
            for n, unit in EXAMPLE_FIGURE.findall(text):
                found.add((float(n), unit or None))
            # A manifest names its units in its keys: min_sample_ns, total_bytes.
            for unit, n in re.findall(r"^\w+_(ns|bytes): (\d+(?:\.\d+)?)$", text, re.M):
                found.add((float(n), "ns" if unit == "ns" else "B"))
    return [(v, u) for v, u in found if math.isfinite(v)]


def in_units_of(unit, figures, bare=True):
    """The example's numbers expressed in unit: those in the same dimension, and (bare) the ones
    printed without a unit, as a table prints them under its header, as they are."""
    dim, size = UNITS[unit] if unit else (None, 1)
    for v, u in figures:
        if u is None or unit is None:
            if bare or unit is None:
                yield abs(v)
        elif UNITS[u][0] == dim:
            yield abs(v) * UNITS[u][1] / size


def matches(written, unit, figures):
    """True if an example figure in a compatible unit rounds to the figure as written."""
    q, half = to_float(written), 0.5 * 10 ** -decimals(written)
    return any(abs(v - q) <= half * 1.0001 for v in in_units_of(unit, figures))


def in_range(a, b, unit, figures):
    """True if the range holds an example figure printed with a unit of its dimension (a bare
    number, such as a round count, would fall in almost any range)."""
    lo, hi = sorted((to_float(a), to_float(b)))
    return any(lo <= v <= hi for v in in_units_of(unit, figures, bare=False) if v)


def figures_not_in_example(text, numbers):
    exempt = set()
    for m in NOT_MEASURED.finditer(text):
        exempt |= {re.sub(r"\s+", " ", f.strip()) for f in m[1].split(",") if f.strip()}
    bad = []
    for m in FIGURE.finditer(prose(text)):
        a, b, unit = m["a"], m["b"], m["unit"]
        if unit is None and "." not in a and b is None:
            continue	# a bare integer (Lab 4, step 3) is not a figure
        written = m[0].strip()
        if written in exempt or re.sub(r"\s+", " ", written) in exempt:
            continue
        if b is not None:
            ok = (matches(a, unit, numbers) and matches(b, unit, numbers)) or in_range(a, b, unit, numbers)
        else:
            ok = matches(a, unit, numbers)
        if not ok:
            bad.append(written)
    return bad


def manifests(example=EXAMPLE):
    return sorted(glob.glob(os.path.join(example, "*", "manifest.txt")))


def example_revisions(example=EXAMPLE):
    revs = {}
    for path in manifests(example):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("git_revision:"):
                    revs.setdefault(line.split(":", 1)[1].strip(), []).append(
                        os.path.basename(os.path.dirname(path)))
    return revs


def revision_problems(example=EXAMPLE):
    revs = example_revisions(example)
    if not revs:
        return ["the example has no manifests"]
    problems = []
    if len(revs) > 1:
        problems.append("the example comes from %d revisions: %s" % (
            len(revs), "; ".join("%s (%s)" % (r, ", ".join(labs)) for r, labs in sorted(revs.items()))))
    problems += ["the example's revision %s is not a clean tree" % r for r in revs if r.endswith("-dirty")
                 or r in ("", "unknown")]
    return problems


def lab_of(path):
    m = re.search(r"labs/(\d\d-[^/]+)/", path)
    return m[1] if m else None


def check_file(path, example=EXAMPLE):
    """The problems in one handout, COURSE.md or expected.md."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rebuilt, problems = regenerate(text, example)
    if rebuilt != text:
        problems.append("a quote differs from the example: run scripts/handouts.py --write")
    lab = lab_of(path)
    dirs = [os.path.join(example, lab)] if lab else sorted(glob.glob(os.path.join(example, "[0-9]*")))
    numbers = example_figures(dirs + [example])
    problems += ["'%s' is not a figure the example shows" % f
                 for f in figures_not_in_example(text, numbers)]
    if os.path.basename(path) == "README.md" and lab:
        n = words(text)
        if n > MAX_HANDOUT_WORDS:
            problems.append("%d words (a handout is at most %d)" % (n, MAX_HANDOUT_WORDS))
    return problems


def default_files():
    return sorted(glob.glob(os.path.join(ROOT, "labs", "*", "README.md"))
                  + glob.glob(os.path.join(ROOT, "labs", "*", "expected.md"))) + [
        os.path.join(ROOT, "COURSE.md")]


def main(argv):
    if not argv or argv[0] not in ("--check", "--write"):
        print("usage: scripts/handouts.py --check|--write [FILE...]", file=sys.stderr)
        return 2
    files = [os.path.abspath(f) for f in argv[1:]] or default_files()
    bad = 0
    if argv[0] == "--write":
        for path in files:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            rebuilt, problems = regenerate(text)
            for p in problems:
                print("%s: %s" % (os.path.relpath(path, ROOT), p))
            bad += len(problems)
            if rebuilt != text:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(rebuilt)
        return 1 if bad else 0
    for p in revision_problems():
        print("results/examples/dev-vm: " + p)
        bad += 1
    for path in files:
        for p in check_file(path):
            print("%s: %s" % (os.path.relpath(path, ROOT), p))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
