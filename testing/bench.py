#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Boot overhead of the hypervisor, from the matrix run's own results.

For every hypervisor cell: the guest's uptime when init starts under the
hypervisor, divided by the same figure of the bare baseline cell (same
guest, same emulator, same matrix run); the wall-time ratio; and the VM
exits per reason the hypervisor counted on the way. Run the matrix first:
  ./bazelw test //testing:matrix && ./bazelw run //testing:bench
"""

import argparse
import sys

from testing.results import load_results, testlogs_dir


def ratio(a, b):
    return "%.3f" % (a / b) if a is not None and b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testlogs", default=None)
    args = ap.parse_args()
    results = list(load_results(testlogs_dir(args.testlogs)))
    bare = {(r["guest"], r["emulator"]): r for r in results if r["hv"] == "none" and r["passed"]}
    cells = [r for r in results if r["hv"] != "none"]
    if not cells:
        sys.stderr.write("bench: no hypervisor cell results; run ./bazelw test //testing:matrix\n")
        return 1

    print("Boot overhead (guest uptime at init and wall time, hypervisor / bare baseline)")
    print("| cell | emulator | uptime hv (s) | uptime bare (s) | uptime ratio | wall ratio |")
    print("|---|---|---|---|---|---|")
    for r in sorted(cells, key=lambda r: r["cell"]):
        base = bare.get((r["guest"], r["emulator"]))
        print("| %s | %s | %s | %s | %s | %s |" % (
            r["cell"], r["emulator"], r["guest_uptime_at_init"],
            base["guest_uptime_at_init"] if base else "-",
            ratio(r["guest_uptime_at_init"], base and base["guest_uptime_at_init"]),
            ratio(r["wall_seconds"], base and base["wall_seconds"])))
    print()
    print("VM exits per reason (all CPUs)")
    for r in sorted(cells, key=lambda r: r["cell"]):
        counts = r.get("exit_counts") or {}
        total = sum(sum(per_cpu.values()) for per_cpu in counts.values())
        parts = ", ".join("%s %d" % (name, sum(per_cpu.values()))
                          for name, per_cpu in sorted(counts.items(),
                                                      key=lambda kv: -sum(kv[1].values())))
        print("  %s: %d exits: %s" % (r["cell"], total, parts or "none recorded"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
