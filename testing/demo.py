#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""xhv demo: boots each hypervisor image in an emulator and shows its log.

Usage: bazel run //:demo [-- --emulator bochs|qemu-tcg|qemu-kvm|auto]
"""

import argparse
import os
import re
import sys
import tempfile

from testing.runner import xhv_run


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def runfile(path):
    """`bazel run` starts us in the runfiles tree; the Python stub names it too."""
    if os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(os.environ.get("RUNFILES_DIR", ""), "xhv", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulator", choices=("auto",) + xhv_run.EMULATORS, default="auto")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("disks", nargs="+", help="arch=disk image, from the BUILD target")
    args = ap.parse_args()

    failed = 0
    with tempfile.TemporaryDirectory(prefix="xhv-demo-") as tmp:
        for spec in args.disks:
            arch, _, disk = spec.partition("=")
            run_args = argparse.Namespace(
                emulator=args.emulator, disk=[runfile(disk)], needs_vmx=False, smp=2,
                mem_mib=1024, timeout=args.timeout, bochs_cpu_model=None,
                bochs_time0=1700000000, qemu_cpu=None)
            print("=== %s hypervisor image ===" % arch, flush=True)
            result = xhv_run.execute(run_args, os.path.join(tmp, arch))
            for line in xhv_run.read_hv_log(result["com1"]):
                # GRUB's terminal control sequences precede the hypervisor's log.
                print(ANSI_ESCAPE.sub("", line).rstrip("\r"))
            print("=== %s: %s after %.1f s in %s ===\n" % (
                arch, "timed out" if result["timed_out"] else "powered off",
                result["wall_seconds"], result["emulator"]), flush=True)
            failed += result["timed_out"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
