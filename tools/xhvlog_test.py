#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The COM1 decoder reassembles interleaved per-CPU lines."""

import random
import unittest

from tools import xhvlog


def encode(cpu, text):
    out = bytearray()
    for c in text.encode():
        out += bytes([0x80 | (cpu << 4) | (c >> 4), (cpu << 4) | (c & 0xF)])
    return out


class DecoderTest(unittest.TestCase):

    def test_plain_text_before_the_magic_line_is_kept(self):
        data = b"GRUB\r\nxhv 0.1.0\r\n" + xhvlog.MAGIC + b"\r\n" + encode(0, "boot\n")
        self.assertEqual(xhvlog.decode(data), [(None, "GRUB"), (None, "xhv 0.1.0"), (0, "boot")])

    def test_carriage_returns_are_not_part_of_a_line(self):
        data = b"Booting\r\n\rxhv 0.1.0\r\n" + xhvlog.MAGIC + b"\r\n" + encode(1, "a\r\n")
        self.assertEqual(xhvlog.decode(data), [(None, "Booting"), (None, "xhv 0.1.0"), (1, "a")])

    def test_byte_level_interleaving_of_two_cpus_keeps_lines_whole(self):
        a, b = encode(0, "quiesce begin\n"), encode(1, "parked in NMI\n")
        rng = random.Random(7)
        merged, i, j = bytearray(), 0, 0
        while i < len(a) or j < len(b):
            if j == len(b) or (i < len(a) and rng.random() < 0.5):
                merged.append(a[i]); i += 1
            else:
                merged.append(b[j]); j += 1
        lines = xhvlog.decode(xhvlog.MAGIC + b"\n" + bytes(merged))
        self.assertCountEqual(lines, [(0, "quiesce begin"), (1, "parked in NMI")])

    def test_unfinished_line_of_a_stopped_cpu_is_still_shown(self):
        lines = xhvlog.decode(xhvlog.MAGIC + b"\n" + encode(3, "halfway"))
        self.assertEqual(lines, [(3, "halfway")])

    def test_incremental_feeding_matches_whole_decoding(self):
        data = xhvlog.MAGIC + b"\n" + encode(2, "a\nbc\n") + encode(5, "x\n")
        d = xhvlog.Decoder()
        got = []
        for k in range(0, len(data), 3):
            got += d.feed(data[k:k + 3])
        self.assertEqual(got + d.finish(), xhvlog.decode(data))


if __name__ == "__main__":
    unittest.main()
