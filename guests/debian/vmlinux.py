#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Extracts the kernel ELF a bzImage carries, for PVH direct boot.

A bzImage's setup header names its payload (payload_offset, payload_length,
boot protocol 2.08+): the compressed vmlinux (Debian's kernels: XZ, which
Python's lzma reads; gzip also works). The ELF inside must carry a PVH entry
point, the XEN_ELFNOTE_PHYS32_ENTRY note (owner "Xen", type 18); without one
the kernel cannot be booted directly and the build stops saying so.

The output is a compact ELF with the same class, machine and entry: its
PT_LOAD segments (their trailing zero bytes moved into p_memsz, which the
loader zero-fills; they are most of a 64-bit kernel's .bss) and one PT_NOTE,
no sections and no alignment padding. What the kernel sees in memory is
byte for byte what the original segments hold.
"""

import argparse
import gzip
import lzma
import struct
import sys

XEN_PHYS32_ENTRY = 18
PT_LOAD, PT_NOTE = 1, 4


class KernelError(Exception):
    pass


def payload(bzimage):
    """The compressed vmlinux of a bzImage."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        raise KernelError("not a bzImage (no HdrS setup header)")
    version = struct.unpack_from("<H", bzimage, 0x206)[0]
    if version < 0x208:
        raise KernelError("boot protocol %#x predates payload_offset (2.08)" % version)
    setup_sects = bzimage[0x1F1] or 4
    start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    data = bzimage[start + offset:start + offset + length]
    if len(data) != length:
        raise KernelError("payload [%#x, +%#x) runs past the end of the image" % (offset, length))
    return data


def decompress(data):
    if data.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if data.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=__import__("io").BytesIO(data)).read()
    raise KernelError("payload compressed with an unsupported method (magic %s); XZ and gzip "
                      "are supported" % data[:6].hex())


class Elf:
    """Just what PVH needs of an ELF: class, machine, entry, program headers."""

    def __init__(self, data):
        if data[:4] != b"\x7fELF":
            raise KernelError("the payload is not an ELF image")
        self.data = data
        self.is64 = data[4] == 2
        if data[5] != 1:
            raise KernelError("the kernel ELF is not little-endian")
        if self.is64:
            (self.type, self.machine, _, self.entry, phoff, _, _, _, phentsize,
             phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
        else:
            (self.type, self.machine, _, self.entry, phoff, _, _, _, phentsize,
             phnum) = struct.unpack_from("<HHIIIIIHHH", data, 16)
        want = 62 if self.is64 else 3
        if self.machine != want:
            raise KernelError("ELF machine %d is not x86 (%d)" % (self.machine, want))
        self.phdrs = []
        for i in range(phnum):
            o = phoff + i * phentsize
            if self.is64:
                ptype, flags, off, vaddr, paddr, filesz, memsz, align = struct.unpack_from(
                    "<IIQQQQQQ", data, o)
            else:
                ptype, off, vaddr, paddr, filesz, memsz, flags, align = struct.unpack_from(
                    "<IIIIIIII", data, o)
            if off + filesz > len(data):
                raise KernelError("segment %d runs past the end of the ELF" % i)
            self.phdrs.append(dict(type=ptype, flags=flags, offset=off, vaddr=vaddr, paddr=paddr,
                                   filesz=filesz, memsz=memsz, align=align))

    def notes(self):
        for ph in self.phdrs:
            if ph["type"] != PT_NOTE:
                continue
            blob = self.data[ph["offset"]:ph["offset"] + ph["filesz"]]
            off = 0
            while off + 12 <= len(blob):
                namesz, descsz, ntype = struct.unpack_from("<III", blob, off)
                name = blob[off + 12:off + 12 + namesz].rstrip(b"\0")
                desc_off = off + 12 + ((namesz + 3) & ~3)
                yield name, ntype, blob[desc_off:desc_off + descsz]
                off = desc_off + ((descsz + 3) & ~3)

    def pvh_entry(self):
        for name, ntype, desc in self.notes():
            if name == b"Xen" and ntype == XEN_PHYS32_ENTRY and len(desc) >= 4:
                return struct.unpack_from("<I", desc)[0]
        return None


def compact(elf):
    """The compact ELF (see the module docstring)."""
    loads = [ph for ph in elf.phdrs if ph["type"] == PT_LOAD and ph["memsz"]]
    notes = [ph for ph in elf.phdrs if ph["type"] == PT_NOTE]
    if not loads:
        raise KernelError("the kernel ELF has no loadable segment")
    ehsize, phsize = (64, 56) if elf.is64 else (52, 32)
    phdrs = loads + notes[:1]
    body = bytearray()
    out_ph = []
    data_start = ehsize + phsize * len(phdrs)
    for ph in phdrs:
        blob = elf.data[ph["offset"]:ph["offset"] + ph["filesz"]]
        if ph["type"] == PT_LOAD:
            blob = blob.rstrip(b"\0")
        offset = data_start + len(body)
        body += blob
        body += b"\0" * (-len(body) % 16)
        out_ph.append(dict(ph, offset=offset, filesz=len(blob), align=16))
    header = bytearray(elf.data[:16])
    if elf.is64:
        header += struct.pack("<HHIQQQIHHHHHH", elf.type, elf.machine, 1, elf.entry, ehsize, 0, 0,
                              ehsize, phsize, len(phdrs), 0, 0, 0)
    else:
        header += struct.pack("<HHIIIIIHHHHHH", elf.type, elf.machine, 1, elf.entry, ehsize, 0, 0,
                              ehsize, phsize, len(phdrs), 0, 0, 0)
    for ph in out_ph:
        if elf.is64:
            header += struct.pack("<IIQQQQQQ", ph["type"], ph["flags"], ph["offset"], ph["vaddr"],
                                  ph["paddr"], ph["filesz"], ph["memsz"], ph["align"])
        else:
            header += struct.pack("<IIIIIIII", ph["type"], ph["offset"], ph["vaddr"], ph["paddr"],
                                  ph["filesz"], ph["memsz"], ph["flags"], ph["align"])
    return bytes(header) + bytes(body)


def extract(bzimage, name="kernel"):
    """(compact ELF bytes, PVH entry, is64) of a bzImage; KernelError names the problem."""
    elf = Elf(decompress(payload(bzimage)))
    entry = elf.pvh_entry()
    if entry is None:
        raise KernelError("%s has no PVH entry point (no XEN_ELFNOTE_PHYS32_ENTRY note; the "
                          "kernel needs CONFIG_PVH=y) and cannot be booted directly" % name)
    out = compact(elf)
    if Elf(out).pvh_entry() != entry:
        raise KernelError("internal error: the compacted ELF lost its PVH note")
    return out, entry, elf.is64


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bzimage")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default=None, help="what to call the kernel in messages")
    args = ap.parse_args(argv)
    with open(args.bzimage, "rb") as f:
        bzimage = f.read()
    try:
        out, entry, is64 = extract(bzimage, args.name or args.bzimage)
    except (KernelError, lzma.LZMAError, OSError, struct.error) as e:
        sys.stderr.write("vmlinux: error: %s: %s\n" % (args.name or args.bzimage, e))
        return 1
    with open(args.out, "wb") as f:
        f.write(out)
    print("vmlinux: %s: ELF%d, PVH entry %#x, %d bytes" % (
        args.name or args.bzimage, 64 if is64 else 32, entry, len(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
