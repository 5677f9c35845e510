#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Boot-path benchmark: the same guest booted through GRUB and directly, side by side.

Boots each given disk bare in Bochs at the same time (one emulator per
disk, same settings) and prints, per disk, the emulated time from power-on
to the guest's init (its RTC at init minus Bochs' time0; Bochs runs
`ips` instructions per emulated second per CPU, so this is also the
instruction count), the guest's uptime at init (the kernel's own part) and
the wall time, then the ratios against the first disk.

  ./bazelw run //testing:boot_bench
"""

import argparse
import os
import re
import sys
import tempfile
import threading

from testing.runner import xhv_run

GUEST_KV = re.compile(r"XHV-GUEST: ([A-Za-z0-9_.]+)=(.*)$")


def runfile(path):
    if os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(os.environ.get("RUNFILES_DIR", ""), "xhv", path)


def boot(name, disk, out, results):
    parser = argparse.ArgumentParser()
    xhv_run.add_arguments(parser)
    args = parser.parse_args(["--emulator=bochs", "--disk=" + disk, "--timeout=900"])
    run = xhv_run.execute(args, out)
    guest = {}
    for line in xhv_run.read_console(run["com2"]):
        m = GUEST_KV.search(line)
        if m:
            guest.setdefault(m.group(1), m.group(2).strip())
    results[name] = (run, guest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("disks", nargs="+", metavar="NAME=DISK")
    ap.add_argument("--keep", default=None, help="keep the runs' logs in this directory")
    args = ap.parse_args()
    named = [spec.partition("=")[::2] for spec in args.disks]
    results = {}
    with tempfile.TemporaryDirectory(prefix="xhv-boot-bench-") as tmp:
        out = args.keep or tmp
        threads = [threading.Thread(target=boot, args=(n, runfile(d), os.path.join(out, n),
                                                       results)) for n, d in named]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("| boot | power-on to init (emulated s) | instructions to init (per CPU) "
          "| kernel uptime at init (s) | wall (s) | to init vs %s |" % named[0][0])
    print("|---|---|---|---|---|---|")
    base = None
    for name, _ in named:
        run, guest = results[name]
        time0 = run["replay"]["time0"]
        to_init = int(guest["epoch_at_init"]) - time0 if "epoch_at_init" in guest else None
        if base is None:
            base = to_init
        print("| %s | %s | %s | %s | %.0f | %s |" % (
            name, to_init if to_init is not None else "-",
            "%.2f G" % (to_init * run["replay"]["ips"] / 1e9) if to_init is not None else "-",
            guest.get("uptime_at_init", "-"), run["wall_seconds"],
            "%.2f" % (to_init / base) if to_init is not None and base else "-"))
    failed = [n for n, _ in named if "epoch_at_init" not in results[n][1]]
    if failed:
        sys.stderr.write("boot_bench: %s never reached init\n" % ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
