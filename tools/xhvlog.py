# SPDX-License-Identifier: Apache-2.0
"""Decoder of the hypervisor's COM1 log.

The log starts as plain text (GRUB, the banner), then the line
LOG_MUX_MAGIC switches it to the multiplexed stream of hv/common/console/
log.c: character c of CPU n is the byte pair 1nnn hhhh, 0nnn llll. Bytes of
different CPUs may interleave; each CPU's own bytes are in order. The
decoder gives back whole lines, each with its CPU, in the order they ended.
"""

MAGIC = b"XHV-LOG-MUX v1"


class Decoder:
    """Feed it bytes as they arrive; it returns the lines they complete."""

    def __init__(self):
        self.mux = False
        self.plain = b""
        self.high = {}      # cpu -> pending high nibble
        self.partial = {}   # cpu -> bytes of its unfinished line

    def feed(self, data):
        """Returns [(cpu or None, text)] for every line `data` completes."""
        out = []
        for b in data:
            if not self.mux:
                if b == 0x0A:
                    line = self.plain.replace(b"\r", b"")
                    self.plain = b""
                    if line == MAGIC:
                        self.mux = True
                    else:
                        out.append((None, line.decode("utf-8", "replace")))
                else:
                    self.plain += bytes([b])
                continue
            cpu = (b >> 4) & 7
            if b & 0x80:
                self.high[cpu] = b & 0xF
                continue
            if cpu not in self.high:
                continue  # a low half without its high half: lost byte
            c = (self.high.pop(cpu) << 4) | (b & 0xF)
            if c == 0x0A:
                line = self.partial.pop(cpu, b"")
                out.append((cpu, line.replace(b"\r", b"").decode("utf-8", "replace")))
            else:
                self.partial[cpu] = self.partial.get(cpu, b"") + bytes([c])
        return out

    def finish(self):
        """Unfinished lines at the end of the log (a CPU that stopped mid-line)."""
        out = []
        if self.plain:
            out.append((None, self.plain.replace(b"\r", b"").decode("utf-8", "replace")))
            self.plain = b""
        for cpu in sorted(self.partial):
            out.append((cpu, self.partial[cpu].decode("utf-8", "replace")))
        self.partial = {}
        return out


def decode(data):
    """All lines of a complete log: [(cpu or None, text)]."""
    d = Decoder()
    return d.feed(data) + d.finish()


def decode_file(path):
    try:
        with open(path, "rb") as f:
            return decode(f.read())
    except OSError:
        return []


# One colour per CPU on a terminal (logdecode, the demo).
COLOURS = ["\x1b[32m", "\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[34m", "\x1b[31m",
           "\x1b[92m", "\x1b[96m"]
RESET = "\x1b[0m"


def colour(cpu, text):
    """`cpuN| text` in CPU N's colour; text as it is for lines of no CPU."""
    if cpu is None:
        return text
    return "%scpu%d| %s%s" % (COLOURS[cpu % len(COLOURS)], cpu, text, RESET)
