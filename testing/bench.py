#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark table, from one matrix run's own results.

Every figure is a ratio of two things measured side by side in the same run:
  - boot overhead: each hypervisor cell's emulated time from power-on to
    the guest's init (its RTC at init minus Bochs' time0), over the bare
    baseline's on the same guest, boot path and emulator;
  - round trips in guest TSC ticks (medians of self-calibrated loops in the
    guest, hvcheck bench and palbench): CPUID and the core's non-quiescing
    VMCALL against ten plain register adds, a quiescing hypercall against
    that VMCALL (hvcheck bench); PAL register, call and unregister against
    one VMCALL timed the same way as they are (palbench);
  - the matrix wall time: first cell started to last cell ended, against
    the sum of the cells' walls (how much the cells ran side by side).
Run the matrix first:
  ./bazelw test //testing:matrix && ./bazelw run //testing:bench
"""

import argparse
import sys

from testing.results import load_results, testlogs_dir


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def ticks(r, name):
    value = (r.get("guest_report") or {}).get("bench_%s_ticks" % name)
    return int(value) if value is not None else None


def arch(a):
    return {"x86": "x86", "x86_64": "x64", "none": "-"}[a]


DEBIAN_TITLES = {"debian11": "Debian 11", "debian12": "Debian 12"}


def label(r):
    return "xhv %s / %s %s / pal_demo %s" % (
        arch(r["hv"]), DEBIAN_TITLES.get(r.get("debian"), "Debian"), arch(r["guest"]),
        arch(r["pal"]))


def to_init(r):
    """Emulated seconds from power-on to the guest's init (Bochs: the RTC starts at time0)."""
    epoch = (r.get("guest_report") or {}).get("epoch_at_init")
    time0 = (r.get("replay") or {}).get("time0")
    if epoch is None or time0 is None:
        return None
    return int(epoch) - int(time0)


def boot_name(r):
    return {"grub": "GRUB chain", "pvh": "direct"}.get(r.get("boot"), "?")


def kernel(r):
    k = r.get("kernel") or {}
    return k.get("version", "?")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testlogs", default=None)
    args = ap.parse_args()
    results = list(load_results(testlogs_dir(args.testlogs)))
    bare = {(r.get("debian"), r["guest"], r.get("boot"), r["emulator"]): r for r in results
            if r["hv"] == "none" and r["passed"]}
    cells = sorted((r for r in results if r["hv"] != "none" and r["passed"]),
                   key=lambda r: (r.get("debian", ""), r["pal"] != "none", r["hv"], r["guest"],
                                  r["pal"]))
    if not cells:
        sys.stderr.write("bench: no passing hypervisor cell; run ./bazelw test //testing:matrix\n")
        return 1

    print("| cell | boot | kernel | emulator | power-on to init hv/bare (s) "
          "| boot hv/bare | CPUID/plain | VMCALL/plain | quiesce/VMCALL | PAL register/VMCALL "
          "| PAL call/VMCALL | PAL unregister/VMCALL | cell wall (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in cells:
        base = bare.get((r.get("debian"), r["guest"], r.get("boot"), r["emulator"]))
        plain, vmcall = ticks(r, "plain"), ticks(r, "vmcall_nop")
        quiesce = ticks(r, "vmcall_quiesce")
        hv_init, bare_init = to_init(r), base and to_init(base)
        print("| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %.0f |" % (
            label(r), boot_name(r), kernel(r), r["emulator"],
            hv_init if hv_init is not None else "-",
            bare_init if bare_init is not None else "-",
            ratio(hv_init, bare_init),
            ratio(ticks(r, "cpuid"), plain), ratio(vmcall, plain), ratio(quiesce, vmcall),
            ratio(ticks(r, "pal_register"), ticks(r, "pal_vmcall")),
            ratio(ticks(r, "pal_call"), ticks(r, "pal_vmcall")),
            ratio(ticks(r, "pal_unregister"), ticks(r, "pal_vmcall")), r["wall_seconds"]))
    print()
    print("Bare baselines (power-on to init, s; cell wall, s):")
    for key, r in sorted(bare.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        print("  %s %s, %s, %s: %s s to init, %.0f s wall" % (
            DEBIAN_TITLES.get(r.get("debian"), "Debian"), arch(r["guest"]), boot_name(r),
            r["emulator"], to_init(r) if to_init(r) is not None else "-", r["wall_seconds"]))
    print()
    print("Raw figures (guest TSC ticks per operation; uptime in s):")
    for r in cells:
        report = r.get("guest_report") or {}
        figures = ", ".join("%s %s" % (k[len("bench_"):-len("_ticks")], v)
                            for k, v in sorted(report.items())
                            if k.startswith("bench_") and k.endswith("_ticks"))
        print("  %s (kernel %s, busybox %s): uptime %s, %s" % (
            label(r), kernel(r), (r.get("busybox") or {}).get("version", "?"),
            r["guest_uptime_at_init"], figures or "-"))
    timed = [r for r in results if r.get("started_at")]
    if timed:
        start = min(r["started_at"] for r in timed)
        end = max(r["started_at"] + r["wall_seconds"] for r in timed)
        total = sum(r["wall_seconds"] for r in timed)
        print()
        print("Matrix wall time: %.0f s for %d cells (%.0f s of cell time, %.2f cells at once)"
              % (end - start, len(timed), total, total / (end - start)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
