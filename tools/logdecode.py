#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Decodes the hypervisor's multiplexed COM1 log into one line per CPU line.

Usage: bazel run //tools:logdecode -- <com1.log> [--no-color]
On a terminal each CPU gets its own colour; otherwise lines are prefixed
"cpuN| " as plain text. Lines from before the log went multiplexed (GRUB,
the banner) are printed as they are.
"""

import argparse
import os
import re
import sys

from tools import xhvlog

TERMINAL_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--no-color", action="store_true")
    args = ap.parse_args()
    path = args.log
    if not os.path.isabs(path):
        path = os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), path)
    if not os.path.isfile(path):
        sys.stderr.write("logdecode: no such file: %s\n" % args.log)
        return 2
    color = sys.stdout.isatty() and not args.no_color
    for cpu, text in xhvlog.decode_file(path):
        text = TERMINAL_CONTROL.sub("", text)
        if cpu is None:
            print(text)
        elif color:
            print(xhvlog.colour(cpu, text))
        else:
            print("cpu%d| %s" % (cpu, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
