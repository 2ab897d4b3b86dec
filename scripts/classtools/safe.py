# SPDX-License-Identifier: MIT
"""Untrusted text made harmless where it is shown, and the names and numbers a bundle may hold.

Every string that comes from a results directory (an imported bundle is a stranger's) passes
through one of these on its way out: printable() for the terminal and for text files, gnuplot_string()
for a gnuplot script, spreadsheet_cell() for the TSV files that compare writes. HTML has its own
single path, classtools.html, which escapes every text node and attribute by construction.
"""

import math
import re
import unicodedata

# A machine or lab folder name, a file name in a bundle: the characters common/report.c keeps in a
# machine id ([A-Za-z0-9._-]), not starting with '.' or '-' (no hidden names, no "..", nothing that
# reads as an option), at most 63 characters (REPORT_MACHINE_ID_MAX - 1).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,62}\Z")

# Folders the course itself writes in a results directory: no machine may be called so. The C side
# (report_sanitise_id) refuses the same names for MACHINE=.
RESERVED_NAMES = frozenset({"examples", "compare", "report", "cluster"})

# A decimal number as the labs write it. Not float() alone: it also takes "inf", "nan", "1_000"
# and surrounding blanks.
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")

# No figure a lab writes comes near this (1e15 ns is eleven days; 1e15 bytes a petabyte): a larger
# one is a fabrication or a corrupt file, and it would flatten every other machine on a shared axis.
MAX_MAGNITUDE = 1e15


def is_safe_name(name):
    """True when name can be a folder or file name in a results directory."""
    return isinstance(name, str) and bool(_SAFE_NAME.match(name))


def is_reserved(name):
    """True when name is a folder the course writes (case-insensitively: a copy onto a
    case-insensitive disk must not merge them)."""
    return name.lower() in RESERVED_NAMES


def _visible(ch):
    code = ord(ch)
    if code < 0x100:
        return "\\x%02x" % code
    return "\\u%04x" % code if code <= 0xFFFF else "\\U%08x" % code


def printable(text, limit=None):
    """text with every character that could move the cursor, recolour the terminal, reorder the
    line (bidi controls) or hide itself (format characters) written as a visible escape (\\x1b).
    Tabs become one space, so one field stays one field. Cut to limit characters with an ellipsis."""
    out = []
    for ch in text:
        if ch == "\t":
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        # Cc: C0, DEL and C1 controls (ESC, CSI, newlines); Cf: format characters, the bidi
        # overrides and isolates among them; Zl/Zp: line and paragraph separators; Cs: lone
        # surrogates (undecodable bytes); Co/Cn: private use and unassigned.
        out.append(_visible(ch) if cat in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") else ch)
    s = "".join(out)
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "\u2026"
    return s


def gnuplot_string(text):
    """A gnuplot single-quoted string: gnuplot expands neither backquotes (commands) nor @macros
    inside single quotes (gnuplot's manual, "substitution"); a quote is doubled; the text is made
    printable so that no newline can end the command."""
    return "'" + printable(text).replace("'", "''") + "'"


def gnuplot_label(text):
    """A text cell in a data file gnuplot reads (tic labels): one field, no quotes to confuse its
    column parser, printable."""
    return printable(text, 60).replace('"', "'")


def spreadsheet_cell(text):
    """A TSV cell a spreadsheet may open: text starting with = + - @ (or a tab or carriage return)
    is a formula there, so it gets a leading apostrophe (OWASP's advice on CSV injection)."""
    s = printable(text)
    return "'" + s if s[:1] in ("=", "+", "-", "@") else s


def parse_number(text):
    """The finite number in a CSV cell, or None: empty, text, inf, nan, or beyond MAX_MAGNITUDE.
    Raises nothing."""
    s = text.strip() if isinstance(text, str) else ""
    if not _DECIMAL.match(s):
        return None
    v = float(s)
    if not math.isfinite(v) or abs(v) > MAX_MAGNITUDE:
        return None
    return v


def why_not_number(text):
    """Why parse_number(text) is None, in a few words, for the line that names the cell."""
    s = text.strip() if isinstance(text, str) else ""
    if s == "":
        return "empty"
    try:
        v = float(s)
    except ValueError:
        v = None
    if v is not None and not math.isfinite(v):
        return "not finite (%s)" % printable(s, 24)
    if not _DECIMAL.match(s):
        return "not a number (%s)" % printable(s, 24)
    return "beyond any measurement (%s)" % printable(s, 24)
