#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""vmlinux.py on synthetic bzImages: extraction, the PVH note check, compaction."""

import gzip
import lzma
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlinux  # noqa: E402


def note(name, ntype, desc):
    name = name + b"\0"
    return (struct.pack("<III", len(name), len(desc), ntype) + name + b"\0" * (-len(name) % 4) +
            desc + b"\0" * (-len(desc) % 4))


def elf64(segments, notes, entry=0x1000000):
    """ELF64 x86-64: segments [(paddr, bytes, memsz)], one PT_NOTE; 4 KiB aligned data."""
    phnum = len(segments) + 1
    data = bytearray(b"\0" * 0x1000)
    phdrs = []
    for paddr, blob, memsz in segments:
        phdrs.append((1, 5, len(data), paddr + 0xffffffff80000000, paddr, len(blob), memsz,
                      0x1000))
        data += blob + b"\0" * (-len(blob) % 0x1000)
    phdrs.append((4, 4, len(data), 0, 0x2000000, len(notes), len(notes), 4))
    data += notes
    header = bytearray(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    for ph in phdrs:
        header += struct.pack("<IIQQQQQQ", *ph)
    data[:len(header)] = header
    return bytes(data)


def bzimage(payload, version=0x20F):
    """A bzImage-shaped file: 4 setup sectors, the header fields vmlinux.py reads."""
    setup = bytearray(5 * 512)
    setup[0x1F1] = 4
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<II", setup, 0x248, 0x40, len(payload))
    return bytes(setup) + b"\0" * 0x40 + payload + b"\0" * 16


PVH_NOTES = note(b"Xen", 6, b"linux\0") + note(b"Xen", 18, struct.pack("<I", 0x1000850))
TEXT = bytes(range(256)) * 8
DATA = b"data" * 100 + b"\0" * 5000  # the zeros become memsz


class VmlinuxTest(unittest.TestCase):

    def test_extracts_an_xz_kernel_and_keeps_every_byte_the_kernel_sees(self):
        kernel = elf64([(0x1000000, TEXT, len(TEXT)), (0x1400000, DATA, 0x10000)], PVH_NOTES)
        out, entry, is64 = vmlinux.extract(bzimage(lzma.compress(kernel, lzma.FORMAT_XZ)))
        self.assertTrue(is64)
        self.assertEqual(entry, 0x1000850)
        elf = vmlinux.Elf(out)
        loads = [ph for ph in elf.phdrs if ph["type"] == vmlinux.PT_LOAD]
        self.assertEqual([(ph["paddr"], ph["memsz"]) for ph in loads],
                         [(0x1000000, len(TEXT)), (0x1400000, 0x10000)])
        self.assertEqual(out[loads[0]["offset"]:][:loads[0]["filesz"]], TEXT)
        self.assertEqual(loads[1]["filesz"], 400)  # trailing zeros moved to memsz
        self.assertEqual(out[loads[1]["offset"]:][:400], DATA[:400])
        self.assertLess(len(out), len(kernel))
        self.assertEqual(elf.entry, 0x1000000)

    def test_gzip_payloads_work_too(self):
        kernel = elf64([(0x1000000, TEXT, len(TEXT))], PVH_NOTES)
        _, entry, _ = vmlinux.extract(bzimage(gzip.compress(kernel)))
        self.assertEqual(entry, 0x1000850)

    def test_a_kernel_without_the_pvh_note_is_refused_by_name(self):
        kernel = elf64([(0x1000000, TEXT, len(TEXT))], note(b"Xen", 6, b"linux\0"))
        with self.assertRaises(vmlinux.KernelError) as caught:
            vmlinux.extract(bzimage(lzma.compress(kernel)), "debian12 x86 kernel")
        self.assertIn("debian12 x86 kernel has no PVH entry point", str(caught.exception))
        self.assertIn("CONFIG_PVH", str(caught.exception))

    def test_other_images_are_refused(self):
        with self.assertRaises(vmlinux.KernelError):
            vmlinux.extract(b"\x7fELF" + b"\0" * 1000)  # not a bzImage
        with self.assertRaises(vmlinux.KernelError):
            vmlinux.extract(bzimage(lzma.compress(b"x" * 100), version=0x206))
        with self.assertRaises(vmlinux.KernelError):
            vmlinux.extract(bzimage(b"BZh91AY&SY" + b"\0" * 100))  # bzip2: unsupported

    def test_main_reports_an_error_and_writes_nothing(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "vmlinuz"), os.path.join(tmp, "vmlinux")
            with open(src, "wb") as f:
                f.write(bzimage(lzma.compress(elf64([(0x1000000, TEXT, 4096)], b""))))
            self.assertEqual(vmlinux.main([src, "--out", dst]), 1)
            self.assertFalse(os.path.exists(dst))


if __name__ == "__main__":
    unittest.main()
