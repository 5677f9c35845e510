#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds small archives with mkinitramfs.py and reads them back with an
independent newc parser (and GNU cpio, when installed)."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mkinitramfs.py")

FIELDS = ("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
          "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check")


def parse_newc(blob):
    """[(name, header dict, data)] including the trailer; checks alignment."""
    entries = []
    pos = 0
    while True:
        assert pos % 4 == 0, "header at unaligned offset %d" % pos
        magic = blob[pos:pos + 6]
        assert magic == b"070701", "bad magic %r at %d" % (magic, pos)
        header = {}
        for i, field in enumerate(FIELDS):
            text = blob[pos + 6 + 8 * i:pos + 14 + 8 * i]
            assert len(text) == 8 and all(c in b"0123456789ABCDEF" for c in text), text
            header[field] = int(text, 16)
        name_start = pos + 110
        name_end = name_start + header["namesize"]
        assert blob[name_end - 1:name_end] == b"\0", "name not NUL-terminated"
        name = blob[name_start:name_end - 1].decode()
        data_start = name_end + (-name_end % 4)
        assert blob[name_end:data_start] == b"\0" * (data_start - name_end)
        assert data_start % 4 == 0
        data = blob[data_start:data_start + header["filesize"]]
        assert len(data) == header["filesize"], "truncated data of %s" % name
        pos = data_start + header["filesize"]
        pad = -pos % 4
        assert blob[pos:pos + pad] == b"\0" * pad
        pos += pad
        entries.append((name, header, data))
        if name == "TRAILER!!!":
            assert pos == len(blob), "%d bytes after the trailer" % (len(blob) - pos)
            return entries


class MkinitramfsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.init = self.write("init.sh", b"#!/bin/sh\necho hi\n", 0o644)
        self.tool = self.write("tool", b"\x7fELF odd length", 0o755)
        self.data = self.write("data.txt", b"", 0o600)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, content, mode):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, mode)
        return path

    def run_tool(self, out, *extra, check=True):
        argv = [sys.executable, SCRIPT, "--out", out,
                "--dir", "proc", "--dir", "/sys/",
                "--file", "init=%s:0755" % self.init,
                "--file", "bin/busybox=%s" % self.tool,
                "--file", "xhv/data.txt=%s" % self.data,
                "--symlink", "bin/sh=busybox",
                "--symlink", "bin/mount=/bin/busybox",
                "--node", "dev/kmsg=c:1:11:0644"] + list(extra)
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if check:
            self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def build(self, name="a.cpio"):
        out = os.path.join(self.dir, name)
        self.run_tool(out)
        with open(out, "rb") as f:
            return f.read()

    def test_round_trip(self):
        entries = parse_newc(self.build())
        by_name = {name: (h, d) for name, h, d in entries}
        names = [name for name, _, _ in entries]
        self.assertEqual(names, [
            "bin", "bin/busybox", "bin/mount", "bin/sh",
            "dev", "dev/console", "dev/kmsg", "dev/null", "dev/ttyS0", "dev/ttyS1",
            "init", "proc", "sys", "xhv", "xhv/data.txt", "TRAILER!!!",
        ])
        # Inodes in archive order, everything root-owned at mtime 0.
        self.assertEqual([h["ino"] for _, h, _ in entries[:-1]], list(range(1, len(entries))))
        for name, h, _ in entries:
            self.assertEqual((h["uid"], h["gid"], h["mtime"], h["check"]), (0, 0, 0, 0), name)

        def mode(name):
            return by_name[name][0]["mode"]

        for d in ("bin", "dev", "proc", "sys", "xhv"):
            self.assertEqual(mode(d), stat.S_IFDIR | 0o755, d)
            self.assertEqual(by_name[d][0]["nlink"], 2)
        self.assertEqual(mode("init"), stat.S_IFREG | 0o755)  # explicit :0755
        self.assertEqual(mode("bin/busybox"), stat.S_IFREG | 0o755)  # executable source
        self.assertEqual(mode("xhv/data.txt"), stat.S_IFREG | 0o644)  # not executable
        self.assertEqual(by_name["init"][1], b"#!/bin/sh\necho hi\n")
        self.assertEqual(by_name["bin/busybox"][1], b"\x7fELF odd length")
        self.assertEqual(by_name["xhv/data.txt"][1], b"")
        self.assertEqual(mode("bin/sh"), stat.S_IFLNK | 0o777)
        self.assertEqual(by_name["bin/sh"][1], b"busybox")
        self.assertEqual(by_name["bin/mount"][1], b"/bin/busybox")

        nodes = {
            "dev/console": (5, 1, 0o600),
            "dev/ttyS0": (4, 64, 0o660),
            "dev/ttyS1": (4, 65, 0o660),
            "dev/null": (1, 3, 0o666),
            "dev/kmsg": (1, 11, 0o644),
        }
        for name, (major, minor, perm) in nodes.items():
            h, data = by_name[name]
            self.assertEqual(h["mode"], stat.S_IFCHR | perm, name)
            self.assertEqual((h["rdevmajor"], h["rdevminor"]), (major, minor), name)
            self.assertEqual((h["devmajor"], h["devminor"], h["filesize"]), (0, 0, 0), name)
            self.assertEqual(data, b"")
        trailer = by_name["TRAILER!!!"][0]
        self.assertEqual((trailer["ino"], trailer["mode"], trailer["filesize"]), (0, 0, 0))

    def test_reproducible(self):
        first = self.build("first.cpio")
        # Other mtimes and another umask must not matter.
        os.utime(self.init, (1234567890, 1234567890))
        os.utime(self.tool, None)
        old = os.umask(0o077)
        try:
            second = self.build("second.cpio")
        finally:
            os.umask(old)
        self.assertEqual(first, second)

    def test_gnu_cpio_reads_it(self):
        cpio = shutil.which("cpio")
        if cpio is None:
            self.skipTest("no cpio binary")
        blob = self.build()
        proc = subprocess.run([cpio, "-t", "--quiet"], input=blob, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"dev/console", proc.stdout.split(b"\n"))
        self.assertIn(b"xhv/data.txt", proc.stdout.split(b"\n"))

    def test_errors(self):
        out = os.path.join(self.dir, "bad.cpio")
        for extra, message in [
            (["--file", "init=%s" % self.tool], "init given twice"),
            (["--file", "x=%s:0999" % self.tool], "is not a file"),
            (["--file", "y=%s:77777" % self.tool], "out of range"),
            (["--symlink", "bin/sh/x=y"], "not a directory"),
            (["--dir", "../etc"], "bad destination"),
            (["--node", "dev/x=q:1:2"], "--node expects"),
        ]:
            proc = self.run_tool(out, *extra, check=False)
            self.assertEqual(proc.returncode, 1, extra)
            self.assertIn(message, proc.stderr, extra)


if __name__ == "__main__":
    unittest.main()
