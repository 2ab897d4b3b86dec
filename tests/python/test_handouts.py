# SPDX-License-Identifier: MIT
"""scripts/handouts.py, on a made-up example: it finds a stale quote, a figure the example does
not show, a handout too long and an example from two revisions, and it passes a true handout."""

import os
import tempfile
import unittest

import handouts

OUTPUT = """== Lab 4: syscall batching ==
  function_call          1.22 ns  (p5 1.18 ns, p95 1.35 ns)
  raw_syscall_getppid    115 ns  (p5 114 ns, p95 117 ns)

verdict: 'clock_gettime is answered in user space' holds: 5.62x (5.57-5.65x, 98%, 7 rounds);
         syscall 115 ns against clock_gettime 20.5 ns
verdict: shown: a 64 KiB buffer added 60 KiB
"""
QUOTE = """<!-- quote 04-lab/output.txt: /^  function_call/+1 ; all /^verdict:/ -->
```text
  function_call          1.22 ns  (p5 1.18 ns, p95 1.35 ns)
  raw_syscall_getppid    115 ns  (p5 114 ns, p95 117 ns)

verdict: 'clock_gettime is answered in user space' holds: 5.62x (5.57-5.65x, 98%, 7 rounds);
         syscall 115 ns against clock_gettime 20.5 ns
verdict: shown: a 64 KiB buffer added 60 KiB
```
<!-- end quote -->
"""


class Handouts(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.example = os.path.join(self.tmp.name, "example")
        lab = os.path.join(self.example, "04-lab")
        os.makedirs(lab)
        with open(os.path.join(lab, "output.txt"), "w") as f:
            f.write(OUTPUT)
        self.manifest("04-lab", "abc1234")
        self.labs = os.path.join(self.tmp.name, "labs", "04-lab")
        os.makedirs(self.labs)

    def tearDown(self):
        self.tmp.cleanup()

    def manifest(self, lab, revision):
        os.makedirs(os.path.join(self.example, lab), exist_ok=True)
        with open(os.path.join(self.example, lab, "manifest.txt"), "w") as f:
            f.write("lab: %s\ngit_revision: %s\nmin_sample_ns: 10000000\n" % (lab, revision))

    def problems(self, text, name="README.md"):
        path = os.path.join(self.labs, name)
        with open(path, "w") as f:
            f.write(text)
        return handouts.check_file(path, self.example)

    def test_true_handout_passes(self):
        text = ("A system call costs 115 ns here, about 94 function calls (1.22 ns each); the ratio\n"
                "is 5.6x, between 5 and 6x, and a sample lasts 10 ms.\n\n" + QUOTE)
        self.assertEqual(self.problems(text), [])

    def test_quote_regenerates_from_empty(self):
        empty = QUOTE.split("```text")[0] + "<!-- end quote -->\n"
        rebuilt, problems = handouts.regenerate(empty, self.example)
        self.assertEqual(problems, [])
        self.assertEqual(rebuilt, QUOTE)

    def test_stale_quote(self):
        self.assertIn("a quote differs from the example: run scripts/handouts.py --write",
                      self.problems(QUOTE.replace("115 ns  (p5", "278 ns  (p5")))

    def test_selector_without_match(self):
        problems = self.problems(QUOTE.replace("/^  function_call/", "/^  no_such_row/"))
        self.assertTrue(any("no line matches" in p for p in problems), problems)

    def test_invented_figures(self):
        problems = self.problems("It costs 278 ns, 7.0x to 10.8x more, at 118 ms a run; 0.786 of it.\n")
        for figure in ("278 ns", "7.0x to 10.8x", "118 ms", "0.786"):
            self.assertIn("'%s' is not a figure the example shows" % figure, problems)

    def test_figures_in_other_units_and_rounding(self):
        self.assertEqual(self.problems("About 0.12 us, or 115 ns; 5.6x; 98%; 0.06 MiB.\n"), [])

    def test_range_holding_a_figure(self):
        self.assertEqual(self.problems("From 100 to 200 ns.\n"), [])
        self.assertEqual(self.problems("From 300 to 400 ns.\n"),
                         ["'300 to 400 ns' is not a figure the example shows"])

    def test_facts_listed_as_not_measured(self):
        text = "A line is 64 B and a page 16 KiB.\n<!-- not measured: 64 B, 16 KiB -->\n"
        self.assertEqual(self.problems(text), [])
        self.assertEqual(len(self.problems("A line is 64 B and a page 16 KiB.\n")), 2)

    def test_code_is_not_prose(self):
        self.assertEqual(self.problems("Run `make lab-4 ARGS=\"--total 16M\"` for a few minutes.\n"
                                       "```\nmake lab-4   # about 999 s\n```\n"), [])

    def test_handout_length(self):
        long = ("word " * (handouts.MAX_HANDOUT_WORDS + 1)) + "\n"
        self.assertIn("%d words (a handout is at most %d)" % (handouts.MAX_HANDOUT_WORDS + 1,
                                                             handouts.MAX_HANDOUT_WORDS),
                      self.problems(long))
        self.assertEqual(self.problems(long, "expected.md"), [])

    def test_revisions(self):
        self.assertEqual(handouts.revision_problems(self.example), [])
        self.manifest("05-lab", "def5678-dirty")
        problems = handouts.revision_problems(self.example)
        self.assertEqual(len(problems), 2)
        self.assertIn("2 revisions", problems[0])
        self.assertIn("not a clean tree", problems[1])


if __name__ == "__main__":
    unittest.main()
