# SPDX-License-Identifier: MIT
"""The hostile-bundle suite: a class's bundles are a stranger's files.

Builds bundles the way an attacker would (Python's tarfile writes any header a tar can hold),
imports each with make import's program into a scratch RESULTS, then runs compare and report over
all that was accepted, and checks:
  - nothing ran: every payload tries to create a file in a marker folder, which stays empty through
    import, compare, report and a real browser loading the page;
  - nothing was written outside RESULTS (the scratch folder and the repository are as they were);
  - nothing imported earlier was lost (the first machine's files keep their bytes);
  - every refusal is one line on stderr that names the bundle, exit status 2, and leaves nothing;
  - bad numbers, statuses and names are left out of the class's figures with a line naming the
    machine, the file and the row; terminal output holds no control character;
  - the page, in headless Chromium, runs no script but its own, has no element with an event
    handler, and makes no request (every injected URL points at a server here that counts requests).
"""

import csv
import hashlib
import http.server
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "results", "examples", "dev-vm")
TOOL = [sys.executable, os.path.join(REPO, "scripts", "classtools")]
LABS = ("01-stack-vs-heap", "05-false-sharing")


class _Zeros(io.RawIOBase):
    """n zero bytes, without holding them in memory."""

    def __init__(self, n):
        self.n = n

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.n)
        b[:k] = bytes(k)
        self.n -= k
        return k


def tree_digest(root):
    """path -> sha256 of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def example_files(labs=LABS):
    """relative path -> bytes of a real machine's results (the curated example)."""
    files = {}
    for name in ("doctor.txt", "topology.txt"):
        with open(os.path.join(EXAMPLE, name), "rb") as f:
            files[name] = f.read()
    for lab in labs:
        for name in os.listdir(os.path.join(EXAMPLE, lab)):
            with open(os.path.join(EXAMPLE, lab, name), "rb") as f:
                files["%s/%s" % (lab, name)] = f.read()
    return files


def write_bundle(path, top, files, members=(), uname="root", gname="root", mtime=1700000000,
                 fmt=tarfile.GNU_FORMAT, top_dir=True):
    """A bundle as make bundle writes one (top/ then its files), plus extra raw members:
    (TarInfo, data or None)."""
    with tarfile.open(path, "w:gz", format=fmt, compresslevel=1) as tf:
        def add(info, data=None):
            info.uname, info.gname, info.mtime = uname, gname, mtime
            tf.addfile(info, data)
        if top_dir:
            d = tarfile.TarInfo(top)
            d.type = tarfile.DIRTYPE
            add(d)
        dirs = set()
        for rel, data in sorted(files.items()):
            parent = rel.rsplit("/", 1)[0] if "/" in rel else None
            if parent and parent not in dirs:
                dirs.add(parent)
                d = tarfile.TarInfo("%s/%s" % (top, parent))
                d.type = tarfile.DIRTYPE
                add(d)
            info = tarfile.TarInfo("%s/%s" % (top, rel))
            info.size = len(data)
            add(info, io.BytesIO(data))
        for info, data in members:
            add(info, data)


def member(name, kind=tarfile.REGTYPE, data=b"", size=None, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data) if size is None else size
        return info, (io.BytesIO(data) if size is None else io.BufferedReader(_Zeros(size), 1 << 20))
    return info, None


def replace_line(text, start, new):
    """text (bytes) with its line beginning with start replaced by new."""
    lines = text.decode().split("\n")
    return "\n".join(new if line.startswith(start) else line for line in lines).encode()


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        _Counter.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@unittest.skipUnless(os.path.isdir(EXAMPLE), "results/examples/dev-vm is missing")
class HostileBundles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp(prefix="hostile.")
        cls.results = os.path.join(cls.scratch, "results")
        cls.bundles = os.path.join(cls.scratch, "bundles")
        cls.marks = os.path.join(cls.scratch, "marks")
        for d in (cls.bundles, cls.marks, os.path.join(cls.scratch, "outside")):
            os.makedirs(d)
        cls.server = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.leak = "http://127.0.0.1:%d/leak" % cls.server.server_port
        cls.env = dict(os.environ, RESULTS=cls.results, COLUMNS="200")
        cls.git_before = cls.git_status()
        # A machine imported before the class's bundles: none of it may be lost.
        cls.run_import(cls.bundle("alice", example_files()))
        cls.alice = tree_digest(os.path.join(cls.results, "alice"))
        cls.outside_before = cls.listing_outside()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        shutil.rmtree(cls.scratch, ignore_errors=True)

    @classmethod
    def git_status(cls):
        return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                              stdout=subprocess.PIPE, universal_newlines=True).stdout

    @classmethod
    def listing_outside(cls):
        out = []
        for d, dirs, files in os.walk(cls.scratch):
            if d == cls.scratch:
                dirs[:] = [x for x in dirs if x not in ("results", "bundles")]
            out += [os.path.join(d, f) for f in files + dirs]
        return sorted(out)

    @classmethod
    def bundle(cls, name, files, **kw):
        path = os.path.join(cls.bundles, "%s.tar.gz" % name)
        write_bundle(path, kw.pop("top", name), files, **kw)
        return path

    @classmethod
    def raw_bundle(cls, name, members, mode="w:gz"):
        path = os.path.join(cls.bundles, "%s.tar.gz" % name)
        with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tf:
            for info, data in members:
                tf.addfile(info, data)
        return path

    @classmethod
    def run_import(cls, *paths, timeout=120):
        return subprocess.run(TOOL + ["import"] + list(paths), env=cls.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)

    def assertNothingRan(self):
        self.assertEqual(os.listdir(self.marks), [], "a payload ran")

    def assertRefused(self, path, why):
        """One line on stderr naming the bundle, exit 2, nothing new in RESULTS."""
        before = sorted(os.listdir(self.results))
        r = self.run_import(path)
        lines = r.stderr.splitlines()
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(os.path.basename(path), lines[0])
        self.assertRegex(lines[0], why)
        self.assertEqual(r.stdout, "")
        self.assertEqual(sorted(os.listdir(self.results)), before)

    # ---- refused ---------------------------------------------------------------------------

    def test_refused(self):
        """every kind of hostile archive is refused with one line naming it"""
        mark = self.marks
        good = {"01-stack-vs-heap/manifest.txt": b"lab: 01-stack-vs-heap\n"}
        Z = tarfile
        cases = [
            ("absolute", [member("/tmp/x", data=b"x")], "absolute path"),
            ("dotdot", [member("m/../../outside/x", data=b"x")], "'\\.' or '\\.\\.'"),
            ("dot", [member("m/./x", data=b"x")], "'\\.' or '\\.\\.'"),
            ("symlink", [member("m", Z.DIRTYPE), member("m/l", Z.SYMTYPE, linkname="/etc/passwd")], "a link"),
            ("hardlink", [member("m", Z.DIRTYPE), member("m/h", Z.LNKTYPE, linkname="/etc/passwd")], "a link"),
            ("chardev", [member("m", Z.DIRTYPE), member("m/null", Z.CHRTYPE)], "device or special"),
            ("blockdev", [member("m", Z.DIRTYPE), member("m/sda", Z.BLKTYPE)], "device or special"),
            ("fifo", [member("m", Z.DIRTYPE), member("m/fifo", Z.FIFOTYPE)], "device or special"),
            ("two-tops", [member("m", Z.DIRTYPE), member("m/a", data=b"a"), member("n", Z.DIRTYPE)],
             "more than one top folder"),
            ("top-file", [member("m", data=b"x")], "not a folder"),
            ("hidden-top", [member(".m", Z.DIRTYPE)], "not a safe name"),
            ("option-top", [member("-rf", Z.DIRTYPE)], "not a safe name"),
            ("command-in-name", [member("m", Z.DIRTYPE), member("m/$(touch %s/ran-name)" % mark, Z.DIRTYPE)],
             "not a safe name"),
            ("newline-in-lab", [member("m", Z.DIRTYPE), member("m/01-stack\nx", Z.DIRTYPE),
                                member("m/01-stack\nx/data.csv", data=b"a\n")], "not a safe name"),
            ("bidi-in-name", [member("m", Z.DIRTYPE), member("m/data\u202ecsv.exe", data=b"x")], "not a safe name"),
            ("non-ascii", [member("m", Z.DIRTYPE), member("m/caf\u00e9", data=b"x")], "not a safe name"),
            ("escape-in-name", [member("m", Z.DIRTYPE), member("m/\x1b[2Jx", data=b"x")], "not a safe name"),
            ("too-deep", [member("m", Z.DIRTYPE), member("m/a/b/c/d", data=b"x")], "deeper than"),
            ("duplicate", [member("m", Z.DIRTYPE), member("m/a", data=b"1"), member("m/a", data=b"2")], "twice"),
            ("file-and-folder", [member("m", Z.DIRTYPE), member("m/a", data=b"1"), member("m/a/b", data=b"2")],
             "under a file|file and a folder"),
            ("huge-file", [member("m", Z.DIRTYPE), member("m/01-stack-vs-heap/data.csv", size=1 << 30)],
             "larger than 64 MiB"),
            ("total-over-cap", [member("m", Z.DIRTYPE)] +
             [member("m/f%d" % i, size=60 << 20) for i in range(9)], "more than 512 MiB"),
            ("too-many-entries", [member("m", Z.DIRTYPE)] + [member("m/f%d" % i) for i in range(20001)],
             "more than 20000 entries"),
            ("empty", [], "is empty|not a readable"),
        ]
        for name, members, why in cases:
            with self.subTest(msg="import refuses the '%s' bundle" % name):
                self.assertRefused(self.raw_bundle(name, members), why)
        # Headers no tar writes by accident.
        pax = tarfile.TarInfo("m/x")
        pax.pax_headers = {"comment": "A" * (1 << 20)}
        path = os.path.join(self.bundles, "huge-pax.tar.gz")
        with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
            tf.addfile(pax, io.BytesIO(b""))
        other = [("huge-pax", path, "extended header")]
        path = os.path.join(self.bundles, "sparse.tar.gz")
        sp = tarfile.TarInfo("m/s")
        sp.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "m/s",
                          "GNU.sparse.realsize": "10"}
        with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
            tf.addfile(sp, io.BytesIO(b""))
        other.append(("sparse", path, "sparse|not a readable"))
        for name, data, why in (("not-gzip", b"not a tar at all", "not a gzip"),
                                ("bzip2", b"BZh91AY&SY", "not a gzip"),
                                ("gzip-garbage", b"\x1f\x8b\x08\x00garbage", "not a readable"),
                                ("random-over-64MiB", None, "larger than 64 MiB")):
            path = os.path.join(self.bundles, name + ".tar.gz")
            with open(path, "wb") as f:
                if data is None:
                    f.write(b"\x1f\x8b")
                    f.truncate(65 << 20)
                else:
                    f.write(data)
            other.append((name, path, why))
        # A good bundle cut short in its middle.
        cut = self.bundle("truncated-src", example_files())
        with open(cut, "rb") as f:
            data = f.read()
        path = os.path.join(self.bundles, "truncated.tar.gz")
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        os.remove(cut)
        other.append(("truncated", path, "not a readable|cut short"))
        other.append(("missing", os.path.join(self.bundles, "no-such.tar.gz"), "no such file"))
        fifo = os.path.join(self.bundles, "fifo-as-bundle.tar.gz")
        os.mkfifo(fifo)
        other.append(("fifo-as-bundle", fifo, "not a regular file"))
        for name, path, why in other:
            with self.subTest(msg="import refuses the '%s' bundle" % name):
                self.assertRefused(path, why)
        os.remove(fifo)
        del good
        self.assertNothingRan()
        self.assertEqual([n for n in os.listdir(self.results) if n.startswith(".")], [])

    # ---- accepted, then shown safely -----------------------------------------------------

    def test_class(self):
        """bundles that import, then compare and report over them"""
        leak, mark = self.leak, self.marks
        files = example_files()
        # 1. The owner name that ran a command in the shell importer, with an absurd mtime.
        p = self.bundle("carol", files, uname="x total[$(id>%s/ran-owner)0]*0" % mark, gname="1",
                        mtime=10 ** 11)
        r = self.run_import(p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("carol/ (2 labs)", r.stdout)
        # 2. Markup, script, formulas and bidi controls in every text field a lab writes.
        xss = "<script>document.body.setAttribute('data-'+'pwned','yes')</script>"
        img = "<img src=%s-img onerror=\"document.body.setAttribute('data-'+'pwned','yes')\">" % leak
        f = dict(files)
        rows = list(csv.reader(io.StringIO(f["01-stack-vs-heap/verdicts.csv"].decode())))
        rows[1][3] = "holds" + xss
        rows[2][2] = "\u202eevil claim " + img
        rows.append(["01-stack-vs-heap", "dave_only", '=HYPERLINK("%s-sheet","x")' % leak, "holds", "1", "", "",
                     "x"])
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        f["01-stack-vs-heap/verdicts.csv"] = text.getvalue().encode()
        f["01-stack-vs-heap/verdict.txt"] += ("\n%s\n%s\n<iframe src=%s-frame></iframe>\n" % (xss, img, leak)).encode()
        m = f["01-stack-vs-heap/manifest.txt"]
        m = replace_line(m, "cpu_model: ", "cpu_model: \x1b]0;pwned\x07\x1b[2J<b>x</b>" + img)
        m = replace_line(m, "cpu: ", "cpu: " + img + "\u202e")
        f["01-stack-vs-heap/manifest.txt"] = m + ("counter.cycles: %s\n" % xss).encode()
        f["01-stack-vs-heap/plot.png"] = ("<html><script>document.title='pwned'</script>"
                                          "<img src=%s-png></html>" % leak).encode()
        f["05-false-sharing/plot.png"] = ('<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("%s-svg")'
                                          '</script></svg>' % leak).encode()
        # 3. Gnuplot: a category (x tic label) that tries to end the string and run a command.
        d5 = f["05-false-sharing/data.csv"].decode().split("\n")
        d5 = [line.replace(",shared-l3,", ",x' ; system('touch %s/ran-gnuplot') ; print '`touch %s/ran-bq`,"
                           % (mark, mark)) if line.startswith("layout,alignas_line,") else line for line in d5]
        # ... and markup as a core-to-core pair's placement, which the report's map table shows.
        rows5 = list(csv.reader(io.StringIO("\n".join(d5))))
        for r5 in rows5:
            if r5[:2] == ["core_to_core", "cas_ping_pong"]:
                r5[2] = img
        text5 = io.StringIO()
        csv.writer(text5, lineterminator="\n").writerows(rows5)
        f["05-false-sharing/data.csv"] = text5.getvalue().encode()
        # 4. Numbers that are not numbers, names that are not names.
        f["01-stack-vs-heap/summary.csv"] = "\n".join([
            "lab,name,value,unit,cross_check_value",
            "01-stack-vs-heap,malloc_free_over_stack_at_64B,inf,x,",
            "01-stack-vs-heap,mmap_switch_size,nan,bytes,",
            "01-stack-vs-heap,faults_per_op_at_switch,1e308,faults,",
            "01-stack-vs-heap,scattered_list_over_array,-5,x,",
            "01-stack-vs-heap,evil',hello,x,",
            "01-stack-vs-heap,=cmd|' /C calc'!A0,1,x,",
            "01-stack-vs-heap,with_bad_unit,1,<b>,",
        ]).encode()
        p = self.bundle("dave", f)
        r = self.run_import(p)
        self.assertEqual(r.returncode, 0, r.stderr)
        # 5. Empty and header-only files.
        g = dict(files)
        g["01-stack-vs-heap/data.csv"] = b""
        g["01-stack-vs-heap/summary.csv"] = b"lab,name,value,unit,cross_check_value\n"
        g["05-false-sharing/verdicts.csv"] = b"\x00\x00\x00"
        self.assertEqual(self.run_import(self.bundle("erin", g)).returncode, 0)
        # 6. Machines named like the course's own folders.
        for name in ("compare", "report", "cluster", "examples", "Report"):
            r = self.run_import(self.bundle("as-" + name, files, top=name))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, "'%s' is a folder the course writes: imported as .*/%s-2/" % (name, name))
        # 7. The same name from two machines, imported at the same time.
        h = dict(files)
        h["doctor.txt"] = b"another machine\n"
        a, b = self.bundle("judy-a", files, top="judy"), self.bundle("judy-b", h, top="judy")
        procs = [subprocess.Popen(TOOL + ["import", x], env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for x in (a, b)]
        for proc in procs:
            proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 0)
        self.assertTrue(os.path.isdir(os.path.join(self.results, "judy", "01-stack-vs-heap")))
        self.assertTrue(os.path.isdir(os.path.join(self.results, "judy-2", "01-stack-vs-heap")))
        self.assertFalse(os.path.exists(os.path.join(self.results, "judy", "judy")))
        self.assertFalse(os.path.exists(os.path.join(self.results, "judy-2", "judy")))

        # compare, with everything above in RESULTS.
        r = subprocess.run(TOOL + ["compare"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout + r.stderr
        with self.subTest(msg="compare prints no control character"):
            self.assertIsNone(re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", out))
        cmp1 = os.path.join(self.results, "compare", "01-stack-vs-heap")
        with open(os.path.join(cmp1, "compare.txt")) as fh:
            ctext = fh.read()
        for row, what in ((2, "malloc_free_over_stack_at_64B is not finite"), (3, "mmap_switch_size is not finite"),
                          (4, "faults_per_op_at_switch is beyond any measurement"),
                          (5, "scattered_list_over_array is negative"), (6, "a figure name a lab does not write"),
                          (7, "a figure name a lab does not write"), (8, "with_bad_unit: a unit a lab does not write")):
            with self.subTest(msg="a bad summary.csv row is named: dave row %d, %s" % (row, what)):
                self.assertIn("left out: dave: 01-stack-vs-heap/summary.csv row %d: %s" % (row, what), ctext)
        with self.subTest(msg="an unknown status is named and left out"):
            self.assertIn("dave: 01-stack-vs-heap/verdicts.csv row 2: stack_10x_faster_per_call: unknown status", ctext)
        with self.subTest(msg="an empty data.csv and a header-only summary.csv are named"):
            self.assertIn("erin: 01-stack-vs-heap/data.csv: empty: left out", ctext)
            self.assertIn("erin: 01-stack-vs-heap/summary.csv: has a header and no rows", ctext)
        with open(os.path.join(cmp1, "headlines.txt")) as fh:
            heads = fh.read()
        with self.subTest(msg="only finite numbers enter the class's statistics"):
            self.assertRegex(heads, r"mmap_switch_size \(bytes\): median 256 KiB, range 256 KiB \.\. 256 KiB")
            self.assertNotRegex(heads, r"(?i)\binf\b|\bnan\b|1e\+308")
        with open(os.path.join(cmp1, "verdicts.tsv")) as fh:
            tsv = fh.read()
        with self.subTest(msg="a formula from a bundle is neutralised in the TSV for spreadsheets"):
            self.assertIn("\t'=HYPERLINK(", tsv)
            self.assertNotRegex(tsv, r"(^|\t)[=+@]")
        with self.subTest(msg="the course's results/compare was not taken for a machine"):
            self.assertTrue(os.path.isdir(os.path.join(self.results, "compare-2", "01-stack-vs-heap")))
        cmp5 = os.path.join(self.results, "compare", "05-false-sharing", "compare.txt")
        with open(cmp5) as fh:
            self.assertIn("dave ", fh.read())

        # report
        r = subprocess.run(TOOL + ["report"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        page = os.path.join(self.results, "report", "index.html")
        with open(page, encoding="utf-8") as fh:
            html = fh.read()
        with self.subTest(msg="the page holds one script, its own, and no injected element"):
            self.assertEqual(html.count("<script"), 1)
            self.assertNotRegex(html, r"<(img|iframe|b|svg)[^>]*(onerror|127\.0\.0\.1)")
            self.assertNotIn("<b>x</b>", html)
        with self.subTest(msg="a placement from a bundle is shown as text in the core-to-core table"):
            self.assertIn("<th>&lt;img src=", html)
        with self.subTest(msg="the page names the folder it was built from"):
            self.assertIn(os.path.abspath(self.results), html)
        with self.subTest(msg="a plot.png that is not a PNG image is not shown"):
            self.assertNotIn("dave/01-stack-vs-heap/plot.png", html)
            self.assertNotIn("dave/05-false-sharing/plot.png", html)
        with self.subTest(msg="an imported machine called compare kept its lab data through the report"):
            self.assertTrue(os.path.isfile(os.path.join(self.results, "compare-2", "01-stack-vs-heap", "data.csv")))
        self.check_in_browser(page)

        with self.subTest(msg="nothing ran through import, compare, report and the browser"):
            self.assertNothingRan()
        with self.subTest(msg="the page made no request: the server here saw none"):
            self.assertEqual(_Counter.hits, [])
        with self.subTest(msg="nothing was written outside RESULTS"):
            self.assertEqual(self.listing_outside(), self.outside_before)
            self.assertEqual(self.git_status(), self.git_before)
        with self.subTest(msg="the machine imported first is untouched"):
            self.assertEqual(tree_digest(os.path.join(self.results, "alice")), self.alice)

    def check_in_browser(self, page):
        browser = shutil.which("chromium") or shutil.which("chromium-browser")
        if not browser:
            self.skipTest("chromium is not installed ('make deps test' installs it)")
        profile = os.path.join(self.scratch, "chromium")
        r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--no-first-run", "--disable-background-networking", "--disable-extensions",
                            "--user-data-dir=" + profile, "--virtual-time-budget=3000", "--dump-dom",
                            "file://" + page], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True, timeout=120)
        shutil.rmtree(profile, ignore_errors=True)
        dom = r.stdout
        with self.subTest(msg="chromium loads the page, and the page's own script ran"):
            self.assertRegex(dom, r"self-check: \d+ of \d+ images loaded")
        with self.subTest(msg="no injected script ran in the browser"):
            self.assertNotIn('data-pwned="yes"', dom)
            self.assertEqual(dom.count("<script"), 1)
            self.assertIsNone(re.search(r"<[a-z]+\s[^<>]*\bon[a-z]+=", dom))

    # ---- interrupted ---------------------------------------------------------------------

    def test_interrupted(self):
        """an import stopped midway leaves nothing: Ctrl-C cleans up, a killed one is swept"""
        big = dict(example_files(("01-stack-vs-heap",)))
        path = os.path.join(self.bundles, "big.tar.gz")
        write_bundle(path, "kim", big, members=[member("kim/f%d" % i, size=60 << 20) for i in range(6)])
        for sig in (signal.SIGINT, signal.SIGKILL):
            with self.subTest(msg="an import ended by %s midway" % signal.Signals(sig).name):
                proc = subprocess.Popen(TOOL + ["import", path], env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
                deadline = time.time() + 60
                while time.time() < deadline and not [n for n in os.listdir(self.results)
                                                      if n.startswith(".import.")]:
                    time.sleep(0.01)
                proc.send_signal(sig)
                proc.communicate(timeout=60)
                if sig == signal.SIGKILL:
                    # Its staging folder outlives it; the next import removes it.
                    self.run_import(os.path.join(self.bundles, "no-such.tar.gz"))
                self.assertEqual([n for n in os.listdir(self.results) if n.startswith(".import.")], [])
                self.assertFalse(os.path.exists(os.path.join(self.results, "kim")))
        os.remove(path)


if __name__ == "__main__":
    unittest.main()
