# SPDX-License-Identifier: MIT
"""Runs the class tools' unittest modules (tests/python/test_*.py) and prints one TAP-like line per
test, as tests/run.sh counts them: "ok N - name", "not ok N - name" with the failure below as
"# " lines, "ok N # SKIP name: reason".
Usage: python3 tests/python/tap.py [MODULE...]     (tests/e2e/classtools.sh runs it)
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts"))
sys.path.insert(0, HERE)


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, text):
        self.n += 1
        print(text % self.n, flush=True)

    @staticmethod
    def _name(test):
        msg = getattr(test, "_message", None)	# a subTest(msg=...)
        name = msg if isinstance(msg, str) else test.shortDescription() or test.id().split(".", 1)[-1]
        return name.replace("#", "").replace("\n", " ")

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line("ok %%d - %s" % self._name(test))

    def _failed(self, test, err):
        self._line("not ok %%d - %s" % self._name(test))
        for line in self._exc_info_to_string(err, test).splitlines()[-15:]:
            print("# " + line)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._failed(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._failed(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line("ok %%d # SKIP %s: %s" % (self._name(test), reason))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is None:
            self._line("ok %%d - %s" % self._name(subtest))
        else:
            self._failed(subtest, err)


def main(names):
    loader = unittest.TestLoader()
    if names:
        suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
