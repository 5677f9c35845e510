#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Boots a hypervisor disk and checks the hypervisor log (COM1) for patterns.

Usage: boot_test.py --disk IMG --expect REGEX [--expect REGEX ...] [runner flags]
Every --expect must match a line of COM1, in order. Logs and a result JSON
go to the test's undeclared outputs.
"""

import argparse
import json
import os
import re
import sys

from testing.runner import xhv_run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    xhv_run.add_arguments(ap)
    ap.add_argument("--expect", action="append", default=[], required=True)
    ap.add_argument("--expect-stop", default=None,
                    help="the run must end early on a fatal COM1 line matching this (the "
                         "runner's verdict), not at power-off or the timeout")
    ap.add_argument("--expect-power-off", action="store_true",
                    help="the machine must also power off by itself (the emulator says so)")
    args = ap.parse_args()
    out_dir = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or os.path.join(
        os.environ.get("TEST_TMPDIR", "/tmp"), "boot_test")
    result = xhv_run.execute(args, out_dir)

    lines = xhv_run.read_hv_log(result["com1"])
    missing = []
    pos = 0
    for pattern in args.expect:
        rx = re.compile(pattern)
        while pos < len(lines) and not rx.search(lines[pos]):
            pos += 1
        if pos == len(lines):
            missing.append(pattern)
            break
        pos += 1
    # A hypervisor panic ends the run early (stopped_on); that is a verdict
    # like any other, judged by the expected lines.
    stop_ok = args.expect_stop is None or bool(
        result.get("stopped_on") and re.search(args.expect_stop, result["stopped_on"]))
    unpowered = args.expect_power_off and not result["power_off"]
    result["passed"] = not missing and not result["timed_out"] and stop_ok and not unpowered
    result["missing"] = missing
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(result, f, indent=2)

    print("emulator=%s wall=%.1fs timed_out=%s" % (result["emulator"], result["wall_seconds"],
                                                     result["timed_out"]))
    if result["passed"]:
        print("PASS: every expected line found on COM1")
        return 0
    if result["timed_out"]:
        print("FAIL: killed at the %.0f s timeout (logs kept in %s)" % (args.timeout, out_dir))
    if missing:
        print("FAIL: COM1 has no line matching %r (after the earlier patterns)" % missing[0])
    if not stop_ok:
        print("FAIL: the run did not end on a fatal line matching %r (stopped on: %r)" % (
            args.expect_stop, result.get("stopped_on")))
    if unpowered:
        print("FAIL: the emulator does not report a power-off (QMP events: %s)"
              % result.get("qmp_events"))
    print("--- last 40 lines of COM1 ---\n%s" % xhv_run.tail(result["com1"], hv_log=True))
    print("--- last 40 lines of the emulator log ---\n%s" % xhv_run.tail(result["emulator_log"]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
