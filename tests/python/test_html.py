# SPDX-License-Identifier: MIT
"""classtools.html: the page builder escapes by construction and cannot be told to do otherwise."""

import html
import unittest

from classtools.html import E, page

EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&"


class Escaping(unittest.TestCase):
    def render(self, *body):
        return page("t", "p { }", "var x = 1;", list(body))

    def test_text_is_escaped(self):
        """text is escaped wherever it goes: element text, tails, attributes"""
        out = self.render(E("p", EVIL, E("b", EVIL), EVIL, title=EVIL), E("pre", EVIL))
        self.assertEqual(out.count("<script"), 1)	# the page's own
        self.assertNotIn("<img", out)
        self.assertNotIn('" onerror', out)
        self.assertIn("&lt;script&gt;", out)

    def test_no_raw_elements(self):
        """no way to build a script, style, frame or event handler from E()"""
        for tag in ("script", "style", "iframe", "object", "embed", "link", "meta", "base"):
            with self.assertRaises(ValueError):
                E(tag, "x")
        with self.assertRaises(ValueError):
            E("img", onerror="alert(1)")

    def test_links_are_relative(self):
        """links point at files beside the page or its sections, percent-encoded"""
        for bad in ("javascript:alert(1)", "http://example.invalid/x", "//host/x", "/etc/passwd", "data:x"):
            with self.assertRaises(ValueError):
                E("a", "x", href=bad)
        out = self.render(E("a", "x", href="../m/01 lab/plot.png\"><script>"))
        self.assertIn('href="../m/01%20lab/plot.png%22%3E%3Cscript%3E"', out)

    def test_policy(self):
        """the page forbids loading anything from elsewhere and any script but its own"""
        out = html.unescape(self.render(E("p", "x")))
        self.assertIn("default-src 'none'", out)
        self.assertIn("script-src 'sha256-", out)


if __name__ == "__main__":
    unittest.main()
