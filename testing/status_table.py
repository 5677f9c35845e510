#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints the matrix status table of the last test run.

Reads each cell's result.json from Bazel's test outputs and the last
`bazel test`'s build event record (testing/results.py) and prints the
seed's table as RST and as Markdown: one row per (hypervisor, DRT, Debian
guest, pal_demo, boot path), one column per emulator. A cell reads "good"
or "bad" from the last test run (or, marked "cached", from the earlier run
whose result Bazel reused for the same inputs); a result the last run did
not cover is marked OLD with its date; "-" when it never ran. The header
says which invocation and commit the table comes from; the last column
names the guest kernel and busybox versions that ran.
"""

import argparse
import re
import sys

from testing.results import header, load_run, workspace_dir

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


CELL_NAME = re.compile(r"^//testing:cell_(nohv|hv_x86|hv_x86_64)_(debian\d+)_(x86|x86_64)_"
                       r"(nopal|pal_x86|pal_x86_64)_(grub|pvh)(?:_smp(\d+))?(?:_mem\dg)?"
                       r"(?:_reset_(cf9|kbd|port92))?_(bochs|qemu_kvm|qemu_tcg)$")


def missing_results(inv, results):
    """Cells the last run covered that left no result.json (they broke before
    judging, or failed to build): each a "bad" row."""
    have = {"//testing:" + r["cell"] for r in results}
    rows = []
    for label, test in sorted((inv.tests if inv else {}).items()):
        m = CELL_NAME.match(label)
        if m and label not in have:
            hv, debian, guest, pal, boot, cpus, reset_via, emulator = m.groups()
            rows.append({"cell": label.split(":")[1], "hv": "none" if hv == "nohv" else hv[3:],
                         "debian": debian, "guest": guest,
                         "pal": "none" if pal == "nopal" else pal[4:], "boot": boot,
                         "cpus": int(cpus or 2), "reset_via": reset_via,
                         "replay": {"mem_mib": 6144 if "_mem6g_" in label else 1024},
                         "emulator": emulator.replace("_", "-"), "passed": False,
                         "_fresh": "missing", "_note": "no result: %s" % test["status"]})
    return rows


def status_of(r):
    word = "good" if r["passed"] else "bad"
    fresh = r.get("_fresh", "ran")
    if fresh == "ran":
        return word
    return "%s (%s)" % (word, r.get("_note", fresh))


def rows_from(results):
    """[(key, {emulator: status}, versions)] in the seed's order: Debian 11 first."""
    table, versions = {}, {}
    for r in results:
        key = (r["hv"], r.get("debian", "debian12"), r["guest"], r["pal"], r.get("boot", "grub"),
               r.get("cpus") or 2, (r.get("replay") or {}).get("mem_mib") or 1024,
               r.get("reset_via") or "")
        table.setdefault(key, {})[r["emulator"]] = status_of(r)
        seen = versions.setdefault(key, [])
        if versions_of(r) not in seen:
            seen.append(versions_of(r))
    order = {"none": 0, "x86": 1, "x86_64": 2}
    return [(key, table[key], ", ".join(versions[key])) for key in sorted(
        table,
        key=lambda k: (k[1], k[0] == "none", order[k[0]], order[k[2]], order[k[3]], k[4], k[5],
                       k[6], k[7]))]


BOOT_NAMES = {"grub": "GRUB chain", "pvh": "direct (PVH)"}
RESET_NAMES = {"cf9": "0xCF9", "kbd": "keyboard controller", "port92": "port 0x92"}


def row_cells(key, status, versions):
    hv, debian, guest, pal, boot, cpus, mem_mib, reset_via = key
    return (["xhv " + ARCH_NAME[hv] if hv != "none" else "none", "N",
             "%s %s%s%s" % (DEBIAN_TITLES.get(debian, debian), ARCH_NAME[guest],
                            "" if cpus == 2 else ", %d CPUs" % cpus,
                            "" if mem_mib == 1024 else ", %d GiB" % (mem_mib // 1024)),
             ("pal_demo " + ARCH_NAME[pal] if pal != "none" else "-") +
             (", reset (%s)" % RESET_NAMES[reset_via] if reset_via else ""), BOOT_NAMES[boot]] +
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
    ap.add_argument("--workspace", default=None,
                    help="the workspace whose last test run to show (default: the one "
                         "`bazel run` started from)")
    args = ap.parse_args()
    workspace = workspace_dir(args.workspace)
    inv, results = load_run(workspace)
    results += missing_results(inv, results)
    rows = rows_from(results)
    if not rows:
        sys.stderr.write("status_table: no cell results under %s; run "
                         "`./bazelw test //testing:matrix` first\n" % workspace)
        return 1
    lines = header(inv, "bazel run //testing:status_table")
    print("\n".join(lines))
    print()
    print(rst(rows))
    print()
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
