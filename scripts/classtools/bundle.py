# SPDX-License-Identifier: MIT
"""make import: other machines' bundles (from make bundle) unpacked into results/<machine>/.

A bundle is a stranger's file. It is read with tarfile, one structured header at a time, and never
handed to a shell or to tar's own extraction: each member is checked (a regular file or a folder,
under one top folder, every path component a safe name, its size within the caps) before its bytes
are copied, by this code, into a private staging folder; the decompressed stream is counted, so a
gzip bomb or a huge extended header stops at the cap. Only when the whole bundle has passed does
its folder move into results/, under a name claimed atomically (mkdir): a name that other results
hold, or that the course itself uses (compare, report...), gets -2, -3... and the line says so.
Importing the same results again changes nothing. The staging folder goes on every exit, Ctrl-C
included; one left by a killed import is removed by the next.
"""

import gzip
import os
import re
import shutil
import signal
import tarfile
import tempfile

from . import safe
from .results import open_regular

MAX_ARCHIVE_BYTES = 64 << 20		# the compressed bundle
MAX_CONTENT_BYTES = 512 << 20		# all files, uncompressed: no decompression bombs
MAX_FILE_BYTES = 64 << 20		# one file (a lab writes at most a few MiB)
MAX_ENTRIES = 20000
MAX_DEPTH = 4				# machine/lab/file, and one more for what a lab may add
# Headers (512 bytes each, a pax or long-name header more) on top of the content.
MAX_STREAM_BYTES = MAX_CONTENT_BYTES + MAX_ENTRIES * 4096
MAX_META_BYTES = 64 << 10		# a pax extended header or GNU long name: a few hundred bytes

STAGING_PREFIX = ".import."


class Refused(Exception):
    """The bundle is not imported; the message says why, in one line."""


class _CountingReader:
    """The decompressed stream, refused past a number of bytes: the archive is never read
    further than what the caps allow, whatever its headers say."""

    def __init__(self, raw, limit):
        self.raw = raw
        self.limit = limit
        self.count = 0

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.limit + 1 - self.count
        data = self.raw.read(n)
        self.count += len(data)
        if self.count > self.limit:
            raise Refused("unpacks to more than %d MiB" % (MAX_CONTENT_BYTES >> 20))
        return data


class _CheckedTarInfo(tarfile.TarInfo):
    """Refuses a pax extended header or a GNU long name larger than any real one before tarfile
    reads it whole into memory (tarfile has no limit of its own). _proc_member is tarfile's own
    dispatch on the header type; it has kept that name and role since Python 3.0."""

    def _proc_member(self, tarfile_):
        meta = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
        if self.type in meta and self.size > MAX_META_BYTES:
            raise Refused("has an extended header of %d bytes: not a bundle" % self.size)
        return super()._proc_member(tarfile_)


def _member_path(member, top):
    """The member's path components after checking them; sets top[0] on the first member."""
    name = member.name
    if name.startswith("/"):
        raise Refused("contains an absolute path (%s)" % safe.printable(name, 80))
    parts = [p for p in name.split("/") if p != ""]
    if name.endswith("/") and not member.isdir():
        raise Refused("contains a file named like a folder (%s)" % safe.printable(name, 80))
    if not parts:
        raise Refused("contains an entry with no name")
    for p in parts:
        if p in (".", ".."):
            raise Refused("contains a '.' or '..' path component (%s)" % safe.printable(name, 80))
        if not safe.is_safe_name(p):
            raise Refused("contains a name that is not a safe name (%s): letters, digits, '.', "
                          "'_' and '-' only" % safe.printable(name, 80))
    if len(parts) > MAX_DEPTH:
        raise Refused("contains a path deeper than %d folders (%s)" % (MAX_DEPTH, safe.printable(name, 80)))
    if top[0] is None:
        top[0] = parts[0]
    elif parts[0] != top[0]:
        raise Refused("has more than one top folder (%s, %s)" % (top[0], parts[0]))
    if len(parts) == 1 and not member.isdir():
        raise Refused("its top entry %s is not a folder" % parts[0])
    return parts


def _check_type(member):
    what = safe.printable(member.name, 80)
    if member.issparse():
        raise Refused("contains a sparse file (%s): bundles hold plain files only" % what)
    if member.isreg() or member.isdir():
        return
    if member.issym() or member.islnk():
        raise Refused("contains a link (%s): bundles hold plain files only" % what)
    raise Refused("contains a device or special file (%s)" % what)


def _copy_member(tar, member, dest, budget):
    """Copies one checked regular file's bytes to dest (created here, never existing before);
    returns the bytes written. budget is what the total cap leaves."""
    src = tar.extractfile(member)
    written = 0
    # O_EXCL: a name the bundle holds twice is refused, never written over.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as out:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            if written > member.size or written > budget:
                raise Refused("holds more bytes than its headers say (%s)" % safe.printable(member.name, 80))
            out.write(chunk)
    if written != member.size:
        raise Refused("is cut short (%s)" % safe.printable(member.name, 80))
    return written


def _place(tar, member, stage, parts, budget, seen_dirs):
    """Creates one checked member under stage: a folder, or a file with its bytes. Returns the bytes
    written."""
    if member.isdir():
        d = os.path.join(stage, *parts)
        if d not in seen_dirs:
            os.makedirs(d, mode=0o755, exist_ok=True)
            seen_dirs.add(d)
        return 0
    if member.size > MAX_FILE_BYTES:
        raise Refused("holds a file larger than %d MiB (%s)"
                      % (MAX_FILE_BYTES >> 20, safe.printable(member.name, 80)))
    if member.size > budget:
        raise Refused("unpacks to more than %d MiB" % (MAX_CONTENT_BYTES >> 20))
    parent = os.path.join(stage, *parts[:-1])
    os.makedirs(parent, mode=0o755, exist_ok=True)
    return _copy_member(tar, member, os.path.join(parent, parts[-1]), budget)


def _unpack(path, stage):
    """Checks and copies every member of the bundle at path into stage. Returns its top folder's
    name. Raises Refused."""
    f = open_regular(path)
    if f is None:
        raise Refused("no such file" if not os.path.lexists(path) else "not a regular file")
    with f:
        if os.fstat(f.fileno()).st_size > MAX_ARCHIVE_BYTES:
            raise Refused("larger than %d MiB" % (MAX_ARCHIVE_BYTES >> 20))
        if f.read(2) != b"\x1f\x8b":
            raise Refused("not a gzip-compressed tar archive")
        f.seek(0)
        stream = _CountingReader(gzip.GzipFile(fileobj=f, mode="rb"), MAX_STREAM_BYTES)
        top = [None]
        total = entries = 0
        seen_dirs = set()
        try:
            # "r|": a stream, read once from the start; members come one at a time, in order.
            with tarfile.open(fileobj=stream, mode="r|", tarinfo=_CheckedTarInfo) as tar:
                for member in tar:
                    entries += 1
                    if entries > MAX_ENTRIES:
                        raise Refused("has more than %d entries" % MAX_ENTRIES)
                    _check_type(member)
                    parts = _member_path(member, top)
                    try:
                        total += _place(tar, member, stage, parts, MAX_CONTENT_BYTES - total, seen_dirs)
                    except (FileExistsError, NotADirectoryError, IsADirectoryError):
                        raise Refused("holds %s twice, or as a file and a folder"
                                      % safe.printable(member.name, 80)) from None
        except (Refused, OSError):
            raise
        except Exception as e:
            # tarfile reports a malformed archive in many ways: TarError, EOFError, zlib and gzip
            # errors, and a ValueError for a cut GNU sparse map (found by tests/python's suite).
            raise Refused("not a readable gzip-compressed tar archive (%s: %s)"
                          % (type(e).__name__, safe.printable(str(e), 80))) from None
        if top[0] is None:
            raise Refused("is empty")
        return top[0]


def _same_tree(a, b):
    """True when folders a and b hold the same files with the same bytes (and nothing else)."""
    def listing(root):
        out = {}
        for d, dirs, files in os.walk(root):
            dirs.sort()
            rel = os.path.relpath(d, root)
            out[rel] = "dir"
            for name in files:
                out[os.path.join(rel, name)] = os.path.join(d, name)
        return out
    la, lb = listing(a), listing(b)
    if la.keys() != lb.keys():
        return False
    for rel, pa in la.items():
        if pa == "dir":
            if lb[rel] != "dir":
                return False
            continue
        pb = lb[rel]
        if pb == "dir" or os.path.getsize(pa) != os.path.getsize(pb):
            return False
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    break
    return True


def _candidates(top):
    """The names a bundle of machine top may land under, in order: top, top-2, top-3..."""
    n = 1
    while True:
        yield top if n == 1 else "%s-%d" % (top, n)
        n += 1


def _imported_as(results, top):
    """The folders where a bundle of machine top may already be: top and top-N, real folders."""
    pattern = re.compile(re.escape(top) + r"(-[0-9]+)?\Z")
    for name in sorted(os.listdir(results)):
        path = os.path.join(results, name)
        if pattern.match(name) and not safe.is_reserved(name) and os.path.isdir(path) \
                and not os.path.islink(path):
            yield path


def _sweep_stale(results):
    """Removes staging folders left by an import that was killed (its process is gone)."""
    try:
        names = os.listdir(results)
    except OSError:
        return
    for name in names:
        if not name.startswith(STAGING_PREFIX):
            continue
        pid = name[len(STAGING_PREFIX):].split(".", 1)[0]
        if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            shutil.rmtree(os.path.join(results, name), ignore_errors=True)


class _Interrupted(BaseException):
    pass


def _on_signal(signum, frame):
    raise _Interrupted(signum)


def import_one(path, results, shown):
    """Imports one bundle. Returns the line to print. Raises Refused."""
    stage = tempfile.mkdtemp(prefix="%s%d." % (STAGING_PREFIX, os.getpid()), dir=results)
    claimed = None
    try:
        top = _unpack(path, stage)
        staged = os.path.join(stage, top)
        # The same results already here (this bundle, or a copy of it, imported before).
        for existing in _imported_as(results, top):
            if _same_tree(staged, existing):
                return "import: %s: already imported as %s/ (the same results): nothing changed" \
                       % (shown, existing)
        # Claim a free name: mkdir is atomic, so two imports at once never share a folder; the
        # staged folder then replaces the empty one (rename onto an empty directory).
        for name in _candidates(top):
            if safe.is_reserved(name):
                continue
            dest = os.path.join(results, name)
            try:
                os.mkdir(dest, 0o755)
            except FileExistsError:
                continue
            claimed = dest
            break
        os.rename(staged, claimed)
        claimed = None
        nr_labs = sum(1 for e in os.scandir(dest) if e.is_dir(follow_symlinks=False))
        if name == top:
            return "import: %s/ (%d labs)" % (dest, nr_labs)
        why = ("'%s' is a folder the course writes" % top) if safe.is_reserved(top) else \
              ("%s/ already holds other results (another machine with the same name, or another run)"
               % os.path.join(results, top))
        return "import: %s: %s: imported as %s/ (%d labs)" % (shown, why, dest, nr_labs)
    finally:
        if claimed is not None:
            try:
                os.rmdir(claimed)
            except OSError:
                pass
        shutil.rmtree(stage, ignore_errors=True)


def bundles_in(arg):
    """The bundles an argument names: itself, or every *.tar.gz and *.tgz in a directory."""
    if os.path.isdir(arg):
        return sorted(os.path.join(arg, n) for n in os.listdir(arg)
                      if n.endswith((".tar.gz", ".tgz")) and os.path.isfile(os.path.join(arg, n)))
    return [arg]


def run(args, results, out, err):
    """make import BUNDLE=...: every bundle imported or refused, one line each. Returns the exit
    status: 0, or 2 when any bundle was refused or missing (the others are still imported)."""
    if not args:
        err.write("import: usage: make import BUNDLE='a.tar.gz b.tar.gz' (or a directory of bundles)\n")
        return 2
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    status = 0
    try:
        os.makedirs(results, exist_ok=True)
        _sweep_stale(results)
        for arg in args:
            found = bundles_in(arg)
            if not found:
                err.write("import: %s: no bundles (*.tar.gz, *.tgz) in this directory\n" % safe.printable(arg))
                status = 2
            for path in found:
                shown = safe.printable(path)
                try:
                    out.write(import_one(path, results, shown) + "\n")
                except Refused as e:
                    err.write("import: %s: %s\n" % (shown, e))
                    status = 2
                except Exception as e:	# a bug here must not stop the class's other bundles
                    err.write("import: %s: could not be imported (%s: %s)\n"
                              % (shown, type(e).__name__, safe.printable(str(e), 120)))
                    status = 2
                out.flush()
    except _Interrupted as e:
        err.write("import: interrupted: the bundle being imported was not imported, nothing of it is left\n")
        return 128 + e.args[0]
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return status
