#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the matrix status table from the latest cell results.

Reads each cell's result.json from Bazel's test outputs (bazel-testlogs of
the workspace `bazel run` was started from, or --testlogs) and prints the
seed's table as RST and as Markdown: one row per (hypervisor, DRT, Debian
guest, pal_demo), one column per emulator. A cell reads "good" or "bad" from
its latest run, or "-" when it has not run.
"""

import argparse
import sys

from testing.results import load_results, testlogs_dir

EMULATORS = [("bochs", "Bochs"), ("qemu-kvm", "QEMU-KVM"), ("qemu-tcg", "QEMU-TCG")]
ARCH_NAME = {"x86": "x86", "x86_64": "x64", "none": "none"}


def rows_from(results):
    table = {}
    for r in results:
        key = (r["hv"], r["guest"], r["pal"])
        table.setdefault(key, {})[r["emulator"]] = "good" if r["passed"] else "bad"
    order = {"none": 0, "x86": 1, "x86_64": 2}
    return [(key, table[key]) for key in sorted(
        table, key=lambda k: (k[0] == "none", order[k[0]], order[k[1]], order[k[2]]))]


def row_cells(key, status):
    hv, guest, pal = key
    return (["xhv " + ARCH_NAME[hv] if hv != "none" else "none", "N",
             "Debian 12 " + ARCH_NAME[guest],
             "pal_demo " + ARCH_NAME[pal] if pal != "none" else "-"] +
            [status.get(e, "-") for e, _ in EMULATORS])


HEADER = ["hv", "DRT", "Operating System", "Application"] + [t for _, t in EMULATORS]


def rst(rows):
    body = [row_cells(k, s) for k, s in rows]
    widths = [max(len(x) for x in col) + 2 for col in zip(HEADER, *body)]
    line = lambda ch: "+" + "+".join(ch * w for w in widths) + "+"
    fmt = lambda cells: "|" + "|".join(" " + c.ljust(w - 1) for c, w in zip(cells, widths)) + "|"
    out = [line("-"), fmt(HEADER), line("=")]
    for cells in body:
        out += [fmt(cells), line("-")]
    return "\n".join(out)


def markdown(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(row_cells(k, s)) + " |" for k, s in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testlogs", default=None,
                    help="bazel-testlogs directory (default: the workspace's)")
    args = ap.parse_args()
    testlogs = testlogs_dir(args.testlogs)
    rows = rows_from(load_results(testlogs))
    if not rows:
        sys.stderr.write("status_table: no cell results under %s; run "
                         "`./bazelw test //testing:matrix` first\n" % testlogs)
        return 1
    print(rst(rows))
    print()
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
