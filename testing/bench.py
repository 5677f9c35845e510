#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmark table of the last test run, from the cells' own results.

Every figure is a ratio of two things measured side by side:
  - boot overhead, against the bare cell that booted the very same guest
    disk (same sha256, so the same boot path) in the same emulator: the same
    kernel, initramfs and command line, so the difference is the
    hypervisor's alone. Two figures: power-on to init on the time stamp
    counter (emulated time, which xhv does not offset: its own boot and, on
    the GRUB chain, the second GRUB included), and the guest kernel's uptime
    when init starts (its own clock, only as good as its TSC calibration);
    the power-on-to-init seconds on the guest's RTC (which Bochs starts at
    its time0) stand beside them, as does each cell's wall time;
  - round trips in guest TSC ticks (medians of self-calibrated loops in the
    guest, hvcheck bench and palbench): CPUID and the core's non-quiescing
    VMCALL against ten plain register adds, a quiescing hypercall the
    cell's hypapp answers (helloworld's QUIESCE, TrustVisor's TV_HC_UNREG of
    nothing) against that VMCALL; PAL register, call and unregister against
    one VMCALL timed the same way as they are (palbench);
  - the matrix wall time: first cell started to last cell ended, against
    the sum of the cells' walls (how much the cells ran side by side).
Rows come from the last test run (testing/results.py); a row or a bare
baseline from an earlier run says so and how old it is.
Run the matrix first:
  ./bazelw test //testing:matrix && ./bazelw run //testing:bench
"""

import argparse
import sys

from testing.results import header, load_run, workspace_dir


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def ticks(r, name):
    value = (r.get("guest_report") or {}).get("bench_%s_ticks" % name)
    return int(value) if value is not None else None


def arch(a):
    return {"x86": "x86", "x86_64": "x64", "none": "-"}[a]


DEBIAN_TITLES = {"debian11": "Debian 11", "debian12": "Debian 12"}


def label(r):
    cpus = r.get("cpus") or 2
    mem_mib = (r.get("replay") or {}).get("mem_mib") or 1024
    return "xhv %s / %s %s / pal_demo %s%s%s" % (
        arch(r["hv"]), DEBIAN_TITLES.get(r.get("debian"), "Debian"), arch(r["guest"]),
        arch(r["pal"]), "" if cpus == 2 else " / %d CPUs" % cpus,
        "" if mem_mib == 1024 else " / %d GiB" % (mem_mib // 1024))


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


def boot_tsc(r):
    value = (r.get("guest_report") or {}).get("tsc_at_init")
    return int(value) if value and value.isdigit() else None


def guest_disk_sha(r):
    """sha256 of the guest disk a cell booted: its last disk."""
    disks = sorted(k for k in (r.get("inputs") or {}) if k.startswith("disk"))
    return r["inputs"][disks[-1]]["sha256"] if disks else None


def provenance(r, base):
    notes = []
    if r.get("_fresh", "ran") != "ran":
        notes.append(r["_note"])
    if base is None:
        notes.append("no passing bare run of this guest disk")
    elif base.get("_fresh", "ran") != "ran":
        notes.append("bare baseline " + base["_note"])
    return "; ".join(notes) or "this run"


def report(inv, results):
    """The bench's lines for one run's results (see the module doc), or None without a cell."""
    bare = {(guest_disk_sha(r), r["emulator"]): r for r in results
            if r["hv"] == "none" and r["passed"] and guest_disk_sha(r)}
    # A reset cell measures nothing: it registers one PAL and resets.
    cells = sorted((r for r in results if r["hv"] != "none" and r["passed"]
                    and r.get("kind") != "reset"),
                   key=lambda r: (r.get("debian", ""), r["pal"] != "none", r["hv"], r["guest"],
                                  r["pal"]))
    if not cells:
        return None
    out = header(inv, "bazel run //testing:bench") + [""]
    out.append("| cell | boot | kernel | emulator | power-on to init (TSC) hv/bare | guest uptime "
               "at init hv/bare | power-on to init (RTC, s) hv / bare | CPUID/plain | VMCALL/plain "
               "| quiesce/VMCALL | PAL register/VMCALL | PAL call/VMCALL | PAL unregister/VMCALL "
               "| cell wall (s) | from |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in cells:
        base = bare.get((guest_disk_sha(r), r["emulator"]))
        plain, vmcall = ticks(r, "plain"), ticks(r, "vmcall_nop")
        quiesce = ticks(r, "vmcall_quiesce")
        hv_init, bare_init = to_init(r), base and to_init(base)
        out.append("| %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %.0f "
                   "| %s |" % (
                       label(r), boot_name(r), kernel(r), r["emulator"],
                       ratio(boot_tsc(r), base and boot_tsc(base)),
                       ratio(r["guest_uptime_at_init"], base and base["guest_uptime_at_init"]),
                       hv_init if hv_init is not None else "-",
                       bare_init if bare_init is not None else "-",
                       ratio(ticks(r, "cpuid"), plain), ratio(vmcall, plain),
                       ratio(quiesce, vmcall),
                       ratio(ticks(r, "pal_register"), ticks(r, "pal_vmcall")),
                       ratio(ticks(r, "pal_call"), ticks(r, "pal_vmcall")),
                       ratio(ticks(r, "pal_unregister"), ticks(r, "pal_vmcall")),
                       r["wall_seconds"], provenance(r, base)))
    out += ["", "Bare baselines (power-on to init on the RTC, s; cell wall, s):"]
    for r in sorted((r for r in results if r["hv"] == "none" and r["passed"]),
                    key=lambda r: (r.get("debian", ""), r["guest"], r["pal"],
                                   r.get("boot", ""), r["emulator"])):
        out.append("  %s %s (disk of pal_demo %s), %s, %s: %s s to init, %.0f s wall" % (
            DEBIAN_TITLES.get(r.get("debian"), "Debian"), arch(r["guest"]), arch(r["pal"]),
            boot_name(r), r["emulator"], to_init(r) if to_init(r) is not None else "-",
            r["wall_seconds"]))
    out += ["", "Raw figures (guest TSC ticks per operation; uptime in s):"]
    for r in cells:
        report_ = r.get("guest_report") or {}
        base = bare.get((guest_disk_sha(r), r["emulator"]))
        figures = ", ".join("%s %s" % (k[len("bench_"):-len("_ticks")], v)
                            for k, v in sorted(report_.items())
                            if k.startswith("bench_") and k.endswith("_ticks"))
        out.append("  %s (kernel %s, busybox %s): TSC at init %s (bare %s), uptime %s (bare %s), "
                   "%s; quiescing hypercall: %s; TSC calibration: %s (bare: %s)" % (
                       label(r), kernel(r), (r.get("busybox") or {}).get("version", "?"),
                       boot_tsc(r), boot_tsc(base) if base else "-",
                       r["guest_uptime_at_init"], base["guest_uptime_at_init"] if base else "-",
                       figures or "-", report_.get("bench_vmcall_quiesce_hypercall", "?"),
                       report_.get("tsc_calibration", "?"),
                       (base.get("guest_report") or {}).get("tsc_calibration", "?")
                       if base else "-"))
    timed = [r for r in results if r.get("started_at") and r.get("_fresh") == "ran"]
    if timed:
        start = min(r["started_at"] for r in timed)
        end = max(r["started_at"] + r["wall_seconds"] for r in timed)
        total = sum(r["wall_seconds"] for r in timed)
        out += ["", "Matrix wall time of this run: %.0f s for %d cells (%.0f s of cell time, "
                    "%.2f cells at once)" % (end - start, len(timed), total,
                                            total / max(end - start, 1e-9))]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default=None)
    args = ap.parse_args()
    inv, results = load_run(workspace_dir(args.workspace))
    lines = report(inv, results)
    if lines is None:
        sys.stderr.write("bench: no passing hypervisor cell; run ./bazelw test //testing:matrix\n")
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
