#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""xhv demo: boots a matrix cell and shows the hypervisor and the guest live.

By default the x86_64 hypervisor (TrustVisor hypapp) with Debian 12 x86_64
running pal_demo, started by direct boot (PVH), in Bochs (QEMU-KVM where
the host has nested VMX). The
hypervisor's log (COM1, one colour per CPU on a terminal) and the guest's
console (COM2) stream as they come, with a progress line; the run ends with
the cell's verdict, judged exactly as the matrix judges it.

  ./bazelw run //:demo
  ./bazelw run //:demo -- --cell hv_x86_debian11_x86_pal_x86 --boot grub --emulator bochs
  ./bazelw run //:demo -- --list
"""

import argparse
import os
import re
import shutil
import sys
import tempfile

from testing import cell_test
from testing.runner import xhv_run
from tools import xhvlog

DEFAULT_CELL = "hv_x86_64_debian12_x86_64_pal_x86_64"
CELL_NAME = re.compile(r"hv_(x86|x86_64)_(debian[0-9]+)_(x86|x86_64)_pal_(x86|x86_64)_(grub|pvh)$")


def runfile(path):
    """`bazel run` starts us in the runfiles tree; the Python stub names it too."""
    if os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(os.environ.get("RUNFILES_DIR", ""), "xhv", path)


class LiveLogs:
    """Prints new COM1 (decoded) and COM2 lines as they appear, and a progress line."""

    def __init__(self, com1, com2, emulator, tty):
        self.files = [(com1, "hv", xhvlog.Decoder()), (com2, "guest", None)]
        self.offsets = {com1: 0, com2: 0}
        self.partial = {com1: b"", com2: b""}
        self.emulator, self.tty = emulator, tty
        self.lines = 0
        self.next_note = 30.0
        self.phase = "firmware and GRUB"

    def _show(self, source, text, cpu=None):
        text = cell_test.strip_ctl(text).rstrip()
        if not text:
            return
        if "XHV-GUEST: uptime_at_init" in text:
            self.phase = "guest init, running its tests"
        elif source == "hv" and text.startswith("xhv "):
            self.phase = "hypervisor up, guest booting"
        if self.tty:
            sys.stdout.write("\r\x1b[K")
        if source == "hv":
            text = xhvlog.colour(cpu, text) if self.tty else (
                "cpu%d| %s" % (cpu, text) if cpu is not None else text)
        sys.stdout.write("%s| %s\n" % ("hv   " if source == "hv" else "guest", text))
        self.lines += 1

    def poll(self, elapsed):
        for path, source, decoder in self.files:
            chunk = xhv_run.read_from(path, self.offsets[path])
            self.offsets[path] += len(chunk)
            if decoder:
                for cpu, text in decoder.feed(chunk):
                    self._show(source, text, cpu)
            else:
                data = self.partial[path] + chunk
                *done, self.partial[path] = data.split(b"\n")
                for line in done:
                    self._show(source, line.decode("utf-8", "replace"))
        progress = "[%4.0f s] %s: %s" % (elapsed, self.emulator, self.phase)
        if self.tty:
            sys.stdout.write("\r\x1b[K" + progress)
        elif elapsed >= self.next_note:
            sys.stdout.write(progress + "\n")
            self.next_note += 30.0
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--cell", default=DEFAULT_CELL, help="a cell from --list")
    ap.add_argument("--boot", choices=("pvh", "grub"), default="pvh",
                    help="how the guest starts: pvh, the direct boot (the default: no "
                         "decompression, no real mode, about 3x faster under Bochs), or grub, "
                         "the GRUB chain of the guest disk's MBR (how XMHF boots a machine's own "
                         "OS)")
    ap.add_argument("--emulator", choices=("auto",) + xhv_run.EMULATORS, default="auto")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--list", action="store_true", help="list the cells and exit")
    ap.add_argument("--keep", default=None, help="copy the run's logs to this directory")
    ap.add_argument("cells", nargs="+", help="name=hv_disk,guest_disk (from the BUILD target)")
    args = ap.parse_args()

    cells = {}
    for spec in args.cells:
        name, _, disks = spec.partition("=")
        cells[name] = disks.split(",")
    names = sorted({n.rpartition("_")[0] for n in cells})
    if args.list:
        print("\n".join(names))
        return 0
    full = "%s_%s" % (args.cell, args.boot)
    if full not in cells:
        sys.stderr.write("demo: no cell %r; choose one of: %s\n" % (args.cell, ", ".join(names)))
        return 2
    hv, debian, guest, pal, boot = CELL_NAME.match(full).groups()
    args.cell = full

    parser = argparse.ArgumentParser()
    xhv_run.add_arguments(parser)
    run_args = parser.parse_args(["--emulator=" + args.emulator, "--needs-vmx",
                                  "--timeout=%d" % args.timeout] +
                                 ["--disk=" + runfile(d) for d in cells[args.cell]])
    try:
        emulator = xhv_run.pick_emulator(args.emulator, True)
    except xhv_run.RunnerError as e:
        sys.stderr.write("demo: %s\n" % e)
        return 2
    print("=== xhv demo: %s in %s (timeout %d s) ===" % (args.cell, emulator, args.timeout),
          flush=True)
    with tempfile.TemporaryDirectory(prefix="xhv-demo-") as tmp:
        live = LiveLogs(os.path.join(tmp, "com1.log"), os.path.join(tmp, "com2.log"), emulator,
                        sys.stdout.isatty())
        try:
            result = xhv_run.execute(run_args, tmp, on_poll=live.poll)
        except xhv_run.RunnerError as e:
            sys.stderr.write("\ndemo: cannot run: %s\n" % e)
            return 2
        except KeyboardInterrupt:
            sys.stderr.write("\ndemo: interrupted; the emulator is stopped\n")
            return 130
        live.poll(result["wall_seconds"])
        result["timeout"] = args.timeout
        cell = {"cell": args.cell, "hv": hv, "debian": debian, "guest": guest, "pal": pal,
                "boot": boot}
        passed, reason, _ = cell_test.judge(cell, result)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for name in ("com1.log", "com2.log"):
                shutil.copy(os.path.join(tmp, name), args.keep)
    sys.stdout.write("\n=== %s: %s (%s, %.0f s wall) ===\n" % (
        args.cell, "PASS" if passed else "FAIL", reason, result["wall_seconds"]))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
