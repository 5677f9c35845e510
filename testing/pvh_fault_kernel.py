#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes tiny kernel ELFs for the direct-boot error tests (never run).

  pvh_fault_kernel.py nonote OUT   an ELF64 x86-64 image without a PVH entry note
  pvh_fault_kernel.py elf64 OUT    an ELF64 x86-64 image with one (for the 32-bit image)
"""

import struct
import sys


def elf64(with_note):
    notes = b""
    if with_note:
        notes = struct.pack("<III", 4, 4, 18) + b"Xen\0" + struct.pack("<I", 0x1000000)
    text = b"\xf4" * 16  # hlt
    phnum = 2 if with_note else 1
    data_off = 64 + 56 * phnum
    header = b"\x7fELF\x02\x01\x01" + b"\0" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, 64, 0, 0, 64, 56, phnum, 64, 0, 0)
    header += struct.pack("<IIQQQQQQ", 1, 5, data_off, 0xffffffff81000000, 0x1000000, len(text),
                          len(text), 16)
    if with_note:
        header += struct.pack("<IIQQQQQQ", 4, 4, data_off + len(text), 0, 0, len(notes),
                              len(notes), 4)
    return header + text + notes


def main(argv):
    kind, out = argv
    with open(out, "wb") as f:
        f.write(elf64(kind == "elf64"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
