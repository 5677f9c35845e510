#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes an uncompressed newc ("070701") cpio archive for a Linux initramfs.

No root and no cpio binary: every header is written here, so the archive can
hold device nodes and root-owned files whatever user builds it. The output is
bit-for-bit reproducible: every entry is owned by 0:0 with mtime 0, entries
are sorted by path, inode numbers are assigned in that order, and a file's
mode comes from the command line (or its executable bit), never from umask.

Entries:
  --file DEST=SRC[:MODE]   regular file (MODE octal; default 0755 if SRC is
                           executable, else 0644)
  --symlink DEST=TARGET    symbolic link
  --dir DEST               directory (0755); parents of every entry are
                           added as 0755 directories anyway
  --node DEST=c|b:MAJOR:MINOR[:MODE]
                           device node (default MODE 0600)
The standard console nodes below are always present (the kernel opens
/dev/console before /init runs, so devtmpfs is too late for it); a --node with
the same DEST overrides one.
"""

import argparse
import os
import stat
import sys

STANDARD_NODES = {
    "dev/console": ("c", 5, 1, 0o600),
    "dev/ttyS0": ("c", 4, 64, 0o660),
    "dev/ttyS1": ("c", 4, 65, 0o660),
    "dev/null": ("c", 1, 3, 0o666),
}

MAGIC = b"070701"
TRAILER = "TRAILER!!!"


class UsageError(Exception):
    pass


def _pad4(n):
    return (4 - n % 4) % 4


def newc_entry(name, ino, mode, nlink, data=b"", rdev=(0, 0)):
    """One newc header + name + data, each padded to 4 bytes."""
    encoded = name.encode() + b"\0"
    fields = [
        ino, mode, 0, 0, nlink, 0,  # ino mode uid gid nlink mtime
        len(data), 0, 0,  # filesize devmajor devminor
        rdev[0], rdev[1], len(encoded), 0,  # rdevmajor rdevminor namesize check
    ]
    for value in fields:
        if not 0 <= value <= 0xFFFFFFFF:
            raise UsageError("%s: header field %d out of range" % (name, value))
    header = MAGIC + b"".join(b"%08X" % v for v in fields)
    out = header + encoded + b"\0" * _pad4(len(header) + len(encoded))
    return out + data + b"\0" * _pad4(len(data))


def normalize(dest):
    parts = [p for p in dest.strip().split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise UsageError("bad destination path %r" % dest)
    return "/".join(parts)


def parse_mode(text, what):
    try:
        mode = int(text, 8)
    except ValueError:
        raise UsageError("%s: mode %r is not octal" % (what, text))
    if not 0 <= mode <= 0o7777:
        raise UsageError("%s: mode %r out of range" % (what, text))
    return mode


def split_assignment(arg, option):
    dest, sep, value = arg.partition("=")
    if not sep or not value:
        raise UsageError("%s expects DEST=VALUE, got %r" % (option, arg))
    return normalize(dest), value


class Archive:

    def __init__(self):
        self.entries = {}  # path -> (kind, payload)

    def add(self, path, kind, payload, replace=False):
        if path in self.entries and not replace:
            old_kind, old_payload = self.entries[path]
            if (old_kind, old_payload) != (kind, payload):
                raise UsageError("%s given twice" % path)
        self.entries[path] = (kind, payload)

    def add_parents(self):
        for path in list(self.entries):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                parent = "/".join(parts[:i])
                kind = self.entries.get(parent, ("dir", 0o755))[0]
                if kind != "dir":
                    raise UsageError("%s is inside %s, which is not a directory" % (path, parent))
                self.entries.setdefault(parent, ("dir", 0o755))

    def write(self, out):
        self.add_parents()
        ino = 0
        for path in sorted(self.entries, key=lambda p: p.split("/")):
            kind, payload = self.entries[path]
            ino += 1
            if kind == "dir":
                out.write(newc_entry(path, ino, stat.S_IFDIR | payload, 2))
            elif kind == "file":
                src, mode = payload
                with open(src, "rb") as f:
                    data = f.read()
                out.write(newc_entry(path, ino, stat.S_IFREG | mode, 1, data))
            elif kind == "symlink":
                out.write(newc_entry(path, ino, stat.S_IFLNK | 0o777, 1, payload.encode()))
            elif kind == "node":
                dev_type, major, minor, mode = payload
                fmt = stat.S_IFCHR if dev_type == "c" else stat.S_IFBLK
                out.write(newc_entry(path, ino, fmt | mode, 1, rdev=(major, minor)))
        out.write(newc_entry(TRAILER, 0, 0, 1))


def build(args):
    archive = Archive()
    for path, (dev_type, major, minor, mode) in STANDARD_NODES.items():
        archive.add(path, "node", (dev_type, major, minor, mode))
    for arg in args.node:
        dest, value = split_assignment(arg, "--node")
        parts = value.split(":")
        if len(parts) not in (3, 4) or parts[0] not in ("c", "b"):
            raise UsageError("--node expects DEST=c|b:MAJOR:MINOR[:MODE], got %r" % arg)
        try:
            major, minor = int(parts[1]), int(parts[2])
        except ValueError:
            raise UsageError("--node %r: MAJOR and MINOR must be numbers" % arg)
        mode = parse_mode(parts[3], arg) if len(parts) == 4 else 0o600
        archive.add(dest, "node", (parts[0], major, minor, mode), replace=dest in STANDARD_NODES)
    for arg in args.dir:
        archive.add(normalize(arg), "dir", 0o755)
    for arg in args.symlink:
        dest, target = split_assignment(arg, "--symlink")
        archive.add(dest, "symlink", target)
    for arg in args.file:
        dest, value = split_assignment(arg, "--file")
        src, sep, mode_text = value.rpartition(":")
        if sep and mode_text and all(c in "01234567" for c in mode_text):
            mode = parse_mode(mode_text, arg)
        else:
            src, mode = value, None
        if not os.path.isfile(src):
            raise UsageError("--file %r: %s is not a file" % (arg, src))
        if mode is None:
            mode = 0o755 if os.access(src, os.X_OK) else 0o644
        archive.add(dest, "file", (src, mode))
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as out:
        archive.write(out)
    os.replace(tmp, args.out)


def main(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--file", action="append", default=[], metavar="DEST=SRC[:MODE]")
    parser.add_argument("--symlink", action="append", default=[], metavar="DEST=TARGET")
    parser.add_argument("--dir", action="append", default=[], metavar="DEST")
    parser.add_argument("--node", action="append", default=[], metavar="DEST=c|b:MAJ:MIN[:MODE]")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        build(args)
    except (UsageError, OSError) as e:
        sys.stderr.write("mkinitramfs: error: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
