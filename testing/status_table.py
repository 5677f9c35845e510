#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the matrix status table from the latest cell results.

Reads each cell's result.json from Bazel's test outputs (bazel-testlogs of
the workspace `bazel run` was started from, or --testlogs) and prints the
seed's table as RST and as Markdown: one row per (hypervisor, DRT, Debian
guest, pal_demo, boot path), one column per emulator. A cell reads "good" or "bad" from
its latest run, or "-" when it has not run; the last column names the
guest kernel and busybox versions that ran.
"""

import argparse
import sys

from testing.results import load_results, testlogs_dir

EMULATORS = [("bochs", "Bochs"), ("qemu-kvm", "QEMU-KVM"), ("qemu-tcg", "QEMU-TCG")]
ARCH_NAME = {"x86": "x86", "x86_64": "x64", "none": "none"}


DEBIAN_TITLES = {"debian11": "Debian 11", "debian12": "Debian 12"}


def versions_of(r):
    """"kernel version / busybox version" that the cell's guest ran, or "?"."""
    kernel, busybox = r.get("kernel") or {}, r.get("busybox") or {}
    if not kernel or not busybox:
        return "?"
    text = "%s / %s" % (kernel["version"], busybox["version"].split(":")[-1])
    return text + (" (pins moved)" if kernel.get("drifted") or busybox.get("drifted") else "")


def rows_from(results):
    """[(key, {emulator: good|bad}, versions)] in the seed's order: Debian 11 first."""
    table, versions = {}, {}
    for r in results:
        key = (r["hv"], r.get("debian", "debian12"), r["guest"], r["pal"], r.get("boot", "grub"))
        table.setdefault(key, {})[r["emulator"]] = "good" if r["passed"] else "bad"
        seen = versions.setdefault(key, [])
        if versions_of(r) not in seen:
            seen.append(versions_of(r))
    order = {"none": 0, "x86": 1, "x86_64": 2}
    return [(key, table[key], ", ".join(versions[key])) for key in sorted(
        table, key=lambda k: (k[1], k[0] == "none", order[k[0]], order[k[2]], order[k[3]], k[4]))]


BOOT_NAMES = {"grub": "GRUB chain", "pvh": "direct (PVH)"}


def row_cells(key, status, versions):
    hv, debian, guest, pal, boot = key
    return (["xhv " + ARCH_NAME[hv] if hv != "none" else "none", "N",
             "%s %s" % (DEBIAN_TITLES.get(debian, debian), ARCH_NAME[guest]),
             "pal_demo " + ARCH_NAME[pal] if pal != "none" else "-", BOOT_NAMES[boot]] +
            [status.get(e, "-") for e, _ in EMULATORS] + [versions])


HEADER = (["hv", "DRT", "Operating System", "Application", "boot"] +
          [t for _, t in EMULATORS] + ["kernel / busybox"])


def rst(rows):
    body = [row_cells(*row) for row in rows]
    widths = [max(len(x) for x in col) + 2 for col in zip(HEADER, *body)]
    line = lambda ch: "+" + "+".join(ch * w for w in widths) + "+"
    fmt = lambda cells: "|" + "|".join(" " + c.ljust(w - 1) for c, w in zip(cells, widths)) + "|"
    out = [line("-"), fmt(HEADER), line("=")]
    for cells in body:
        out += [fmt(cells), line("-")]
    return "\n".join(out)


def markdown(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(row_cells(*row)) + " |" for row in rows]
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
