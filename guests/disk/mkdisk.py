#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds a BIOS-bootable raw disk image without root.

Layout: MBR (GRUB's boot.img + one partition entry), GRUB's core.img in the
gap after the MBR (LBA 1..), and a FAT partition at 1 MiB made with mtools,
holding /boot/grub/grub.cfg and the payload files.

core.img has every module it needs built in and an embedded configuration
that finds its own partition by FAT volume serial (`search --fs-uuid`), so
the disk boots the same whether the BIOS calls it drive 0x80 or 0x81, and two
disks built by this tool never pick up each other's files: give each disk its
own --volume-id.
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SECTOR = 512
PART_START_LBA = 2048  # 1 MiB: room for core.img
GRUB_MODULES = [
    "biosdisk", "part_msdos", "fat", "search", "search_fs_uuid", "normal", "configfile",
    "echo", "test", "serial", "terminal", "multiboot", "linux", "boot",
    "gzio", "sleep", "halt", "reboot", "chain", "iorw",
]


def die(msg):
    sys.stderr.write("mkdisk: error: %s\n" % msg)
    sys.exit(1)


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        die("%s failed (exit %d):\n%s" % (" ".join(cmd), proc.returncode, proc.stdout))


def fat_serial(volume_id):
    try:
        value = int(volume_id, 16)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFFFFFF:
        die("--volume-id must be 1 to 8 hex digits, got %r" % volume_id)
    return value


def build_partition(path, size_bytes, serial, files, config):
    with open(path, "wb") as f:
        f.truncate(size_bytes)
    sectors = size_bytes // SECTOR
    run(["mformat", "-i", path, "-F", "-N", "%08x" % serial, "-v", "XHV",
         "-T", str(sectors), "-h", "64", "-s", "32", "-H", str(PART_START_LBA), "::"])
    dirs = set()
    for dest, _ in files + [("boot/grub/grub.cfg", None)]:
        parts = dest.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    for d in sorted(dirs, key=lambda d: d.count("/")):
        run(["mmd", "-i", path, "::/" + d])
    for dest, src in files:
        run(["mcopy", "-i", path, "-m", src, "::/" + dest.strip("/")])
    run(["mcopy", "-i", path, config, "::/boot/grub/grub.cfg"])


def build_core(grub_dir, serial, out):
    uuid = "%04x-%04x" % (serial >> 16, serial & 0xFFFF)
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as early:
        early.write("search --no-floppy --fs-uuid --set=root %s\n" % uuid)
        early.write("set prefix=($root)/boot/grub\n")
    try:
        run(["grub-mkimage", "-O", "i386-pc", "-d", grub_dir, "-o", out,
             "-c", early.name, "-p", "/boot/grub"] + GRUB_MODULES)
    finally:
        os.unlink(early.name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--grub-cfg", required=True, help="becomes /boot/grub/grub.cfg")
    ap.add_argument("--volume-id", required=True, help="FAT volume serial, hex")
    ap.add_argument("--file", action="append", default=[], metavar="DEST=SRC",
                    help="copy SRC to /DEST in the partition")
    ap.add_argument("--grub-dir", default="/usr/lib/grub/i386-pc")
    ap.add_argument("--min-size-mib", type=int, default=40)
    args = ap.parse_args()

    serial = fat_serial(args.volume_id)
    files = []
    for spec in args.file:
        dest, sep, src = spec.partition("=")
        if not sep or not dest or not src:
            die("--file wants DEST=SRC, got %r" % spec)
        if not os.path.isfile(src):
            die("--file %s: no such file %s" % (dest, src))
        files.append((dest, src))
    for tool in ("grub-mkimage", "mformat", "mcopy", "mmd"):
        if shutil.which(tool) is None:
            die("%s not found: run ./bazelw once to install the project's packages" % tool)
    if not os.path.isfile(os.path.join(args.grub_dir, "boot.img")):
        die("no GRUB i386-pc files in %s (package grub-pc-bin)" % args.grub_dir)

    payload = sum(os.path.getsize(src) for _, src in files)
    mib = 1 << 20
    # FAT32 needs >= 65525 clusters; 40 MiB of 512-byte clusters is enough.
    part_bytes = max(args.min_size_mib * mib, (payload * 11 // 10 + 4 * mib + mib - 1) // mib * mib)

    with tempfile.TemporaryDirectory() as tmp:
        part = os.path.join(tmp, "part.img")
        core = os.path.join(tmp, "core.img")
        build_partition(part, part_bytes, serial, files, args.grub_cfg)
        build_core(args.grub_dir, serial, core)
        core_bytes = open(core, "rb").read()
        if len(core_bytes) > (PART_START_LBA - 1) * SECTOR:
            die("core.img is %d bytes, more than fits before the partition" % len(core_bytes))

        mbr = bytearray(open(os.path.join(args.grub_dir, "boot.img"), "rb").read())
        if len(mbr) != SECTOR:
            die("boot.img is not one sector")
        # boot.img loads core.img from LBA 1 (its default kernel_sector) and
        # passes on the BIOS drive in DL (boot_drive 0xff): nothing to patch.
        mbr[440:446] = struct.pack("<IH", serial, 0)
        part_sectors = part_bytes // SECTOR
        entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0C, b"\xfe\xff\xff",
                            PART_START_LBA, part_sectors)
        mbr[446:462] = entry
        mbr[462:510] = bytes(48)
        mbr[510:512] = b"\x55\xaa"

        with open(args.out, "wb") as out:
            out.write(mbr)
            out.write(core_bytes)
            out.seek(PART_START_LBA * SECTOR)
            with open(part, "rb") as p:
                shutil.copyfileobj(p, out, 1 << 20)


if __name__ == "__main__":
    main()
