# SPDX-License-Identifier: MIT
"""make numbers (scripts/classtools/numbers.py) on made-up results: each row read from the lab
that measures it, the classic figure judged within BAND on the p5-p95 range (holds, fails,
inconclusive), not_shown with why where the machine could not measure it, numbers.csv written,
and the class table's median and range."""

import csv
import os
import tempfile
import unittest

from classtools import numbers
from classtools.results import load_machines

LAB10_HEADER = ("experiment,kind,size_bytes,stride_bytes,nr_samples,iters_per_sample,ns_per_op_median,"
                "ns_per_op_p05,ns_per_op_p95,ns_per_load,cycles_per_load,gb_per_s\n")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Numbers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.results = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def lab10(self, machine, rows, l3=8 << 20, quick="no"):
        d = os.path.join(self.results, machine, "10-memory-hierarchy")
        write(os.path.join(d, "manifest.txt"), "lab: 10-memory-hierarchy\nquick: %s\nl1d_bytes: 32768\n"
              "l2_bytes: 1048576\nl3_bytes: %d\n" % (quick, l3))
        write(os.path.join(d, "data.csv"), LAB10_HEADER + "".join(
            "%s,%s,%d,64,7,1000,%g,%g,%g,,,\n" % r for r in rows))

    def machine(self, name):
        labs = ["04-syscall-batching", "06-deadlock", "09-page-faults", "10-memory-hierarchy"]
        return next(m for m in load_machines(self.results, labs) if m.name == name)

    def by_id(self, name):
        return {r.row.id: r for r in numbers.numbers_of(self.machine(name))}

    def test_rows_and_statuses(self):
        self.lab10("a", [
            ("latency", "random", 4096, 0.9, 0.8, 1.0),		# L1: 0.5 ns classic -> holds
            ("latency", "random", 262144, 80, 75, 85),		# L2 (in 64 KiB..512 KiB): 7 ns -> fails
            ("latency", "random", 64 << 20, 950, 900, 1100),	# memory: 100 ns, straddles 1000
            ("bandwidth", "read", 64 << 20, 6.4e6, 6.2e6, 6.6e6)])	# 1 MB: 100 us -> holds
        r = self.by_id("a")
        self.assertEqual(r["l1_reference"].status, "holds")
        self.assertAlmostEqual(r["l1_reference"].ratio, 1.8)
        self.assertEqual(r["l2_reference"].status, "fails")
        self.assertEqual(r["memory_reference"].status, "inconclusive")
        self.assertEqual(r["read_1mb_memory"].status, "holds")
        self.assertAlmostEqual(r["read_1mb_memory"].measured.value_ns, 6.4e6 / 64 / 1.048576)
        self.assertEqual(r["branch_mispredict"].status, "not_shown")
        self.assertIn("no branch rows", r["branch_mispredict"].why)
        self.assertIn("Lab 6 has not run", r["mutex_lock_unlock"].why)
        self.assertIn("Lab 9 has not run", r["ssd_random_4k_read"].why)
        self.assertIn("Lab 4 has not run", r["system_call"].why)

    def test_rows_of_their_own(self):
        # Lab 10's branch comparison and Lab 6's lock, each a data.csv row with its p5-p95.
        self.lab10("i", [("latency", "random", 4096, 0.9, 0.8, 1.0),
                         ("branch", "mispredict", 0, 6.1, 5.8, 6.5)])
        d6 = os.path.join(self.results, "i", "06-deadlock")
        write(os.path.join(d6, "manifest.txt"), "lab: 06-deadlock\nquick: no\n")
        write(os.path.join(d6, "data.csv"), "experiment,strategy,nr_accounts,nr_threads,ns_per_op_median,"
              "ns_per_op_p05,ns_per_op_p95\nthreads,ordered,64,1,90,80,100\n"
              "lock_cost,uncontended_lock_unlock,0,1,11.2,11.1,300\n")
        r = self.by_id("i")
        self.assertEqual(r["branch_mispredict"].status, "holds")
        self.assertAlmostEqual(r["branch_mispredict"].ratio, 6.1 / 5)
        self.assertEqual(r["branch_mispredict"].measured.lab, "10-memory-hierarchy")
        m = r["mutex_lock_unlock"]
        self.assertEqual((m.measured.value_ns, m.measured.p95_ns), (11.2, 300))
        self.assertEqual(m.status, "inconclusive")	# its p95 reaches past 250 ns

    def test_sweep_too_short_for_memory(self):
        self.lab10("b", [("latency", "random", 4096, 1, 1, 1), ("latency", "random", 4 << 20, 20, 19, 21)])
        r = self.by_id("b")["memory_reference"]
        self.assertEqual(r.status, "not_shown")
        self.assertIn("under twice the last-level cache", r.why)

    def test_bad_numbers_are_not_measurements(self):
        self.lab10("c", [("latency", "random", 4096, float("inf"), 1, 1)])
        self.assertEqual(self.by_id("c")["l1_reference"].status, "not_shown")

    def test_own_rows_are_shown_and_the_cache_read_not(self):
        write(os.path.join(self.results, "d", "04-syscall-batching", "manifest.txt"), "lab: x\n")
        write(os.path.join(self.results, "d", "04-syscall-batching", "summary.csv"),
              "lab,name,value,unit,cross_check_value\n04-syscall-batching,null_syscall,0.12,us,\n")
        d9 = os.path.join(self.results, "d", "09-page-faults")
        write(os.path.join(d9, "manifest.txt"), "lab: x\n")
        write(os.path.join(d9, "data.csv"), "experiment,mode,size_bytes,pages,nr_samples,ns_per_op_median,"
              "ns_per_op_p05,ns_per_op_p95\nlatency,random_4k_read,,,64,3000,2900,3300\n")
        r = self.by_id("d")
        self.assertEqual(r["system_call"].status, "shown")
        self.assertAlmostEqual(r["system_call"].measured.value_ns, 120)
        self.assertEqual(r["ssd_random_4k_read"].status, "not_shown")
        self.assertIn("not a device", r["ssd_random_4k_read"].why)

    def test_csv_and_table(self):
        self.lab10("e", [("latency", "random", 4096, 0.9, 0.8, 1.0)], quick="yes")
        m = self.machine("e")
        lines = []
        numbers.run(os.path.dirname(os.path.dirname(numbers.__file__)), m, lines.extend)
        with open(os.path.join(m.dir, "numbers.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual([r["id"] for r in rows], [row.id for row in numbers.ROWS])
        self.assertEqual(rows[0]["status"], "holds")
        self.assertIn("quick run", rows[0]["why"])
        self.assertTrue(all(len(line) <= 100 for line in lines), lines)

    def test_class_table(self):
        for name, l1 in (("f", 0.9), ("g", 1.1), ("h", 3.0)):
            self.lab10(name, [("latency", "random", 4096, l1, l1, l1)])
        machines = load_machines(self.results, ["10-memory-hierarchy"])
        row = next(line for line in numbers.class_table(machines) if "L1 cache reference" in line)
        self.assertIn("1.1 ns", row)		# the median of 0.9, 1.1 and 3
        self.assertIn("0.9 ns to 3 ns", row)
        self.assertIn("3 holds", row)


if __name__ == "__main__":
    unittest.main()
