# SPDX-License-Identifier: MIT
"""classtools.safe: names, numbers and the three ways untrusted text is made harmless."""

import unittest

from classtools import safe


class Names(unittest.TestCase):
    def test_safe_names(self):
        """safe names: what the labs write passes, nothing that can escape or hide does"""
        for ok in ("alice", "pc07-2", "01-stack-vs-heap", "data.csv", "a_b.c-d", "x" * 63):
            self.assertTrue(safe.is_safe_name(ok), ok)
        for bad in ("", ".", "..", ".hidden", "-rf", "a/b", "a b", "a\nb", "$(id)", "x" * 64,
                    "caf\u00e9", "a\u202eb", "a\x00b", "../x", "a;b"):
            self.assertFalse(safe.is_safe_name(bad), repr(bad))

    def test_reserved(self):
        """the course's own folders are reserved, in any case"""
        for name in ("compare", "report", "cluster", "examples", "Report", "COMPARE"):
            self.assertTrue(safe.is_reserved(name), name)
        self.assertFalse(safe.is_reserved("compare-2"))


class Numbers(unittest.TestCase):
    def test_finite_numbers_only(self):
        """only finite decimal numbers within what a measurement can be are numbers"""
        self.assertEqual(safe.parse_number("3.25"), 3.25)
        self.assertEqual(safe.parse_number("-1e3"), -1000.0)
        self.assertEqual(safe.parse_number(".5"), 0.5)
        for bad in ("", "inf", "-inf", "nan", "NaN", "1e308", "1_000", "0x10", "12abc", " ", "1e",
                    "=1+1", "\u0661"):
            self.assertIsNone(safe.parse_number(bad), repr(bad))

    def test_why_not(self):
        """the reason names what was wrong"""
        self.assertIn("not finite", safe.why_not_number("inf"))
        self.assertIn("beyond any measurement", safe.why_not_number("1e308"))
        self.assertIn("not a number", safe.why_not_number("abc"))
        self.assertEqual(safe.why_not_number(""), "empty")


class Text(unittest.TestCase):
    def test_printable(self):
        """terminal text: escapes, bidi controls, newlines and C1 controls are shown, not obeyed"""
        for evil in ("\x1b[2J", "\x9b31m", "a\nb", "a\rb", "\u202eevil", "\u2066x\u2069", "\u200b",
                     "\x07", "\x7f", "\u2028", "\udcff"):
            out = safe.printable(evil)
            self.assertTrue(all(ch.isprintable() for ch in out), repr(out))
            self.assertIn("\\", out)
        self.assertEqual(safe.printable("caf\u00e9 \u00b5s"), "caf\u00e9 \u00b5s")
        self.assertEqual(safe.printable("a\tb"), "a b")
        self.assertEqual(len(safe.printable("x" * 100, 10)), 10)

    def test_gnuplot_string(self):
        """gnuplot: single-quoted, quotes doubled, no newline to end the command"""
        self.assertEqual(safe.gnuplot_string("it's"), "'it''s'")
        s = safe.gnuplot_string("a'\n system('id')\n`id`")
        self.assertNotIn("\n", s)
        self.assertEqual(s.count("'") % 2, 0)
        inner = s[1:-1].replace("''", "")
        self.assertNotIn("'", inner)

    def test_spreadsheet_cells(self):
        """spreadsheets: a cell that would be a formula starts with an apostrophe"""
        for formula in ("=HYPERLINK(\"http://x\")", "+1", "-1+2", "@SUM(A1)"):
            self.assertEqual(safe.spreadsheet_cell(formula)[0], "'")
        self.assertEqual(safe.spreadsheet_cell("holds"), "holds")
        self.assertNotIn("\t", safe.spreadsheet_cell("a\tb"))


if __name__ == "__main__":
    unittest.main()
