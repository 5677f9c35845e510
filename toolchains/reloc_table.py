#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the hypervisor image's own relocation table into it.

xhv is linked at 2 MiB, where GRUB loads it, and moves itself high at boot
(hv/common/boot/relocate.c) so that the guest's low memory stays whole. To
move, it adds the distance to every place in the image that holds an
absolute address of the image. The link (`--emit-relocs`) keeps the
relocations; this tool turns those that hold such an address into the
table the image reads (`xhv_reloc_table`, xhv/relocate.h), and checks that
nothing else in the image depends on where it sits:

  - absolute 32- and 64-bit relocations against a symbol of the image (any
    symbol defined in one of its sections, whatever the addend) become
    entries (32-bit, 32-bit sign-extended, 64-bit);
  - PC-relative relocations must be against a symbol of the image (they
    then hold wherever it is);
  - any other relocation against a symbol of the image stops the build.

  reloc_table.py IN.elf OUT.elf
"""

import struct
import sys

SHT_RELA = 4
SHT_REL = 9
SHF_ALLOC = 0x2

EM_386 = 3
EM_X86_64 = 62

# Entry kinds (xhv/relocate.h): bits 31:30 of each 32-bit entry.
KIND_32 = 0
KIND_64 = 1
KIND_32S = 2
OFFSET_MASK = (1 << 30) - 1
# struct reloc_table's header: magic, link base, image size, count.
TABLE_MAGIC = 0x584C4552
HEADER_WORDS = 4

# (machine, type) -> entry kind
ABSOLUTE = {
    (EM_X86_64, 1): KIND_64,    # R_X86_64_64
    (EM_X86_64, 10): KIND_32,   # R_X86_64_32
    (EM_X86_64, 11): KIND_32S,  # R_X86_64_32S
    (EM_386, 1): KIND_32,       # R_386_32
}
PC_RELATIVE = {
    (EM_X86_64, 2),   # R_X86_64_PC32
    (EM_X86_64, 4),   # R_X86_64_PLT32
    (EM_X86_64, 24),  # R_X86_64_PC64
    (EM_386, 2),      # R_386_PC32
    (EM_386, 4),      # R_386_PLT32
}
NONE = {(EM_X86_64, 0), (EM_386, 0)}


class Error(Exception):
    pass


class Elf:
    def __init__(self, data):
        if data[:4] != b"\x7fELF":
            raise Error("not an ELF file")
        self.data = data
        self.is64 = data[4] == 2
        self.e = "<"
        if self.is64:
            (self.machine,) = struct.unpack_from("<H", data, 18)
            shoff, = struct.unpack_from("<Q", data, 40)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
        else:
            (self.machine,) = struct.unpack_from("<H", data, 18)
            shoff, = struct.unpack_from("<I", data, 32)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 46)
        self.sections = []
        for i in range(shnum):
            off = shoff + i * shentsize
            if self.is64:
                name, typ, flags, addr, offset, size, link, info, _, entsize = struct.unpack_from(
                    "<IIQQQQIIQQ", data, off)
            else:
                name, typ, flags, addr, offset, size, link, info, _, entsize = struct.unpack_from(
                    "<IIIIIIIIII", data, off)
            self.sections.append(dict(name=name, type=typ, flags=flags, addr=addr, offset=offset,
                                      size=size, link=link, info=info, entsize=entsize))
        strtab = self.sections[shstrndx]
        for s in self.sections:
            end = self.data.index(b"\0", strtab["offset"] + s["name"])
            s["name"] = self.data[strtab["offset"] + s["name"]:end].decode()

    def symbols(self):
        """[(name, value, size, section index)] of .symtab, by symbol number."""
        out = []
        for s in self.sections:
            if s["name"] != ".symtab":
                continue
            strtab = self.sections[s["link"]]
            for off in range(s["offset"], s["offset"] + s["size"], s["entsize"]):
                if self.is64:
                    name, _, _, shndx, value, size = struct.unpack_from("<IBBHQQ", self.data, off)
                else:
                    name, value, size, _, _, shndx = struct.unpack_from("<IIIBBH", self.data, off)
                end = self.data.index(b"\0", strtab["offset"] + name)
                out.append((self.data[strtab["offset"] + name:end].decode(), value, size, shndx))
        return out

    def in_image(self, shndx):
        """Whether a symbol of section index shndx is part of the loaded image."""
        return 0 < shndx < len(self.sections) and bool(self.sections[shndx]["flags"] & SHF_ALLOC)

    def file_offset(self, addr, width):
        """Where the bytes at address addr sit in the file (in a loaded, non-empty section)."""
        for s in self.sections:
            if s["flags"] & SHF_ALLOC and s["type"] != 8 and \
                    s["addr"] <= addr and addr + width <= s["addr"] + s["size"]:
                return s["offset"] + addr - s["addr"]
        raise Error("address %#x is in no section with contents" % addr)

    def relocations(self):
        """(site address, type, symbol number) of every relocation in a loaded section."""
        for s in self.sections:
            if s["type"] not in (SHT_RELA, SHT_REL):
                continue
            target = self.sections[s["info"]]
            if not target["flags"] & SHF_ALLOC:
                continue
            for off in range(s["offset"], s["offset"] + s["size"], s["entsize"]):
                if self.is64:
                    r_offset, r_info = struct.unpack_from("<QQ", self.data, off)
                    yield r_offset, r_info & 0xFFFFFFFF, r_info >> 32
                else:
                    r_offset, r_info = struct.unpack_from("<II", self.data, off)
                    yield r_offset, r_info & 0xFF, r_info >> 8


WIDTH = {KIND_32: 4, KIND_64: 8, KIND_32S: 4}
# How far from the image an address may point (an addend) and still be one of it.
SLACK = 0x10000


def read_value(elf, addr, kind):
    fmt = {KIND_32: "<I", KIND_64: "<Q", KIND_32S: "<i"}[kind]
    return struct.unpack_from(fmt, elf.data, elf.file_offset(addr, WIDTH[kind]))[0]


def build_table(elf):
    """The table's entries (sorted by offset), how many relocations move by
    themselves, (address, size) of xhv_reloc_table, and the image's start
    and end."""
    symbols = elf.symbols()
    by_name = {name: (value, size) for name, value, size, _ in symbols}
    for name in ("__image_start", "__image_end", "xhv_reloc_table"):
        if name not in by_name:
            raise Error("the image has no symbol %s" % name)
    start, end = by_name["__image_start"][0], by_name["__image_end"][0]
    entries = []
    unchanged = 0
    for site, typ, sym in elf.relocations():
        key = (elf.machine, typ)
        if key in NONE:
            continue
        if sym >= len(symbols):
            raise Error("relocation at %#x names symbol %d, which does not exist" % (site, sym))
        name, _, _, shndx = symbols[sym]
        ours = elf.in_image(shndx)
        if key in ABSOLUTE:
            if ours:
                if not start <= site < end or site - start > OFFSET_MASK:
                    raise Error("address of %s at %#x, outside the image" % (name or "?", site))
                entries.append((site - start, ABSOLUTE[key]))
            elif start - SLACK <= read_value(elf, site, ABSOLUTE[key]) <= end + SLACK:
                raise Error("%#x holds an address of the image through %s, which is not a "
                            "symbol of the image: it would not move" % (site, name or "?"))
            else:
                unchanged += 1  # a constant: the same wherever the image is
            continue
        if key in PC_RELATIVE:
            if not ours:
                raise Error("PC-relative reference at %#x to %s, outside the image: it would "
                            "break when the image moves" % (site, name or "?"))
            unchanged += 1
            continue
        if ours:
            raise Error("relocation type %d at %#x against %s: the image cannot move with it "
                        "(toolchains/reloc_table.py)" % (typ, site, name or "?"))
        unchanged += 1
    entries.sort()
    for (a, ka), (b, _) in zip(entries, entries[1:]):
        if a + WIDTH[ka] > b:
            raise Error("places at %#x and %#x overlap" % (start + a, start + b))
    return ([off | (kind << 30) for off, kind in entries], unchanged, by_name["xhv_reloc_table"],
            start, end)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    with open(src, "rb") as f:
        data = bytearray(f.read())
    try:
        elf = Elf(data)
        if elf.machine not in (EM_386, EM_X86_64):
            raise Error("machine %d is neither i386 nor x86_64" % elf.machine)
        entries, unchanged, (table_addr, table_size), start, end = build_table(elf)
        capacity = table_size // 4 - HEADER_WORDS
        if len(entries) > capacity:
            raise Error("%d relocations, the table holds %d: raise XHV_RELOC_MAX in "
                        "xhv/relocate.h" % (len(entries), capacity))
        if not entries:
            raise Error("no addresses of the image in it: not a hypervisor image")
        off = elf.file_offset(table_addr, table_size)
        if any(data[off:off + table_size]):
            raise Error("xhv_reloc_table is not empty: was this image already processed?")
        struct.pack_into("<4I%dI" % len(entries), data, off, TABLE_MAGIC, start, end - start,
                         len(entries), *entries)
    except Error as e:
        sys.stderr.write("reloc_table: %s: error: %s\n" % (src, e))
        return 1
    with open(dst, "wb") as f:
        f.write(data)
    print("reloc_table: %d image addresses to move, %d relocations that move by themselves"
          % (len(entries), unchanged))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
