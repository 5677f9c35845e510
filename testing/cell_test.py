#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs one matrix cell: boots the cell's disks in an emulator and judges it.

A cell passes only on evidence from its serial logs: the guest's init printed
`XHV-RESULT: PASS ...` on COM2 (after checking what the cell asks for), the
machine powered off by itself before the timeout, and, for hypervisor cells,
COM1 shows the hypervisor's banner and no panic. Logs, the emulator's
settings for an exact replay and a result JSON go to the test's undeclared
outputs; on failure the last 40 lines of each serial log are printed.
"""

import argparse
import json
import os
import re
import sys

from testing.runner import xhv_run

GUEST_KV = re.compile(r"XHV-GUEST: ([A-Za-z0-9_.]+)=(.*)$")
GUEST_RESULT = re.compile(r"XHV-RESULT: (PASS|FAIL)\b ?(.*)$")
HV_BANNER = re.compile(r"^xhv \d+\.\d+\.\d+ (x86|x86_64) \((32|64)-bit hypervisor\)")
HV_PANIC = re.compile(r"xhv: PANIC|unhandled exception|unexpected VM exit")
HV_HIDDEN = re.compile(r"^e820: hypervisor image \[(0x[0-9a-f]+), (0x[0-9a-f]+)\), "
                       r"heap \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) hidden from the guest")
HV_EXITS = re.compile(r'^vmx-exits: cpu=(\d+) reason=(\d+) name="([^"]*)" count=(\d+)')
HV_NMIS = re.compile(r"^nmi: cpu=(\d+) guest=(\d+) injected=(\d+) merged=(\d+) owed=(\d+) "
                     r"parks=(\d+)")
HV_QUIESCE = re.compile(r"^quiesce: rounds=(\d+)")
TV_SHUTDOWN = re.compile(r"^trustvisor: CPU \d+: shutdown: (\d+) registrations, (\d+) PAL calls, "
                         r"(\d+) PALs scrubbed, (\d+) revoked")
PVHBOOT_ENTERED = "pvhboot: entering the kernel"
HV_PVH_ENTRY = re.compile(r"^vmx: CPU 0 \(APIC ID \d+\) entering the guest kernel at its PVH entry")
GUEST_E820 = re.compile(r"^(0x[0-9a-f]+)-(0x[0-9a-f]+) (.*)$")


def hv_ranges(com1):
    """The hypervisor's hidden ranges as its log states them: [(start, end), ...]."""
    for line in com1:
        m = HV_HIDDEN.search(line)
        if m:
            a, b, c, d = (int(x, 16) for x in m.groups())
            return [(a, b), (c, d)]
    return None


def exit_counts(com1):
    counts = {}
    for line in com1:
        m = HV_EXITS.search(line)
        if m:
            cpu, reason, name, count = m.groups()
            counts.setdefault(name, {})[int(cpu)] = int(count)
    return counts


def nmi_counts(com1):
    """The hypervisor's NMI figures per CPU, as it printed them at power-off."""
    counts = {}
    for line in com1:
        m = HV_NMIS.search(line)
        if m:
            cpu, guest, injected, merged, owed, parks = (int(x) for x in m.groups())
            counts[cpu] = {"guest": guest, "injected": injected, "merged": merged,
                           "owed": owed, "parks": parks}
    return counts


def quiesce_rounds(com1):
    for line in com1:
        m = HV_QUIESCE.search(line)
        if m:
            return int(m.group(1))
    return None


def expected_nmis(cpus, sysrq_triggers, runner_nmis, device_sent=None):
    """NMIs each CPU must count (testing/cells/lib.sh explains the sources).

    Trigger i runs on CPU i mod cpus and sends one NMI to every other CPU;
    every runner NMI reaches CPU 0 (the only CPU whose LINT1 Linux unmasks);
    device_sent lists the device NMIs each CPU was sent.
    """
    expected = list(device_sent) if device_sent else [0] * cpus
    for i in range(sysrq_triggers):
        for cpu in range(cpus):
            if cpu != i % cpus:
                expected[cpu] += 1
    expected[0] += runner_nmis
    return expected


def check_nmis(cell, result, guest, com1):
    """NMIs sent vs. counted, per CPU (and, under a hypervisor, injected by it)."""
    if "nmi_after" not in guest:
        return None
    if result.get("runner_nmi_error"):
        return "the runner could not inject NMIs: %s" % result["runner_nmi_error"]
    before = [int(x) for x in guest["nmi_before"].split()]
    after = [int(x) for x in guest["nmi_after"].split()]
    counted = [a - b for a, b in zip(after, before)]
    device = [int(x) for x in guest.get("nmi_device_sent", "").split()]
    if len(device) not in (0, len(after)):
        return "nmisrc reported %d CPUs, /proc/interrupts %d" % (len(device), len(after))
    expected = expected_nmis(len(after), int(guest["nmi_sysrq_triggers"]),
                             result.get("runner_nmis", 0), device)
    guest["nmi_counted"] = " ".join(str(c) for c in counted)
    guest["nmi_expected"] = " ".join(str(e) for e in expected)
    if counted != expected:
        return "the guest's CPUs counted %s NMIs, but were sent %s (%s sysrq triggers, " \
               "device NMIs %s, %d runner NMIs)" % (
                   counted, expected, guest["nmi_sysrq_triggers"],
                   guest.get("nmi_device_sent", "none"), result.get("runner_nmis", 0))
    if cell["hv"] != "none":
        nmis = nmi_counts(com1)
        if not nmis:
            return "the hypervisor printed no NMI figures at power-off"
        injected = [nmis.get(cpu, {}).get("injected", 0) for cpu in range(len(after))]
        if injected != after:
            return "the hypervisor injected %s NMIs per CPU, the guest counted %s in all" % (
                injected, after)
    return None


def check_pal(com1):
    """PAL cells: TrustVisor itself must show the registrations and PAL calls it served."""
    for line in com1:
        m = TV_SHUTDOWN.search(line)
        if m:
            registrations, calls = int(m.group(1)), int(m.group(2))
            if registrations == 0 or calls == 0:
                return "TrustVisor served %d registrations and %d PAL calls" % (
                    registrations, calls)
            return None
    return "the hypervisor log has no TrustVisor shutdown summary"


def pal_figures(com1):
    for line in com1:
        m = TV_SHUTDOWN.search(line)
        if m:
            return {"registrations": int(m.group(1)), "pal_calls": int(m.group(2)),
                    "scrubbed_at_shutdown": int(m.group(3)), "revoked": int(m.group(4))}
    return None


def check_hv(com1, guest):
    """Hypervisor-cell checks on the logs; returns a failure reason or None."""
    ranges = hv_ranges(com1)
    if ranges is None:
        return "the hypervisor log has no E820 edit (hidden ranges)"
    if not any(l.startswith("e820: guest memory map") for l in com1):
        return "the hypervisor log does not show the guest memory map"
    entries = guest.get("e820", "").split("; ") if guest.get("e820") else []
    if not entries:
        return "the guest reported no memory map"
    for entry in entries:
        m = GUEST_E820.match(entry)
        if not m:
            return "unreadable guest memory map entry %r" % entry
        start, end, kind = int(m.group(1), 16), int(m.group(2), 16) + 1, m.group(3)
        for lo, hi in ranges:
            if kind == "System RAM" and start < hi and lo < end:
                return "the guest's memory map has RAM [%#x, %#x) over hypervisor memory [%#x, %#x)" % (
                    start, end, lo, hi)
    probe = guest.get("devmem_hv_image", "")
    address = int(probe.split(":")[0], 16) if ":" in probe else None
    if address is None or not any(lo <= address < hi for lo, hi in ranges):
        return "the guest's probe address %r is not hypervisor memory per the log" % probe
    return None


def check_versions(versions, guest):
    """The guest must have booted the kernel and busybox its disk was built with."""
    if not versions:
        return None
    kernel, busybox = versions["kernel"], versions["busybox"]
    release = guest.get("kernel", "").split(" ")[0]
    if release != kernel["release"]:
        return "the guest runs kernel %r, but its disk holds %s %s (%s)" % (
            release, kernel["package"], kernel["version"], kernel["release"])
    if "Debian %s " % kernel["version"] not in guest.get("kernel_version", "") + " ":
        return "the guest's /proc/version %r does not name Debian %s" % (
            guest.get("kernel_version"), kernel["version"])
    if "(Debian %s)" % busybox["version"] not in guest.get("busybox_version", ""):
        return "the guest's busybox says %r, its disk holds busybox-static %s" % (
            guest.get("busybox_version"), busybox["version"])
    return None


def strip_ctl(line):
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).replace("\r", "")


def judge(cell, result):
    """Returns (passed, reason, guest key/values) from the run's logs."""
    com1 = [strip_ctl(l) for l in xhv_run.read_hv_log(result["com1"])]
    com2 = [strip_ctl(l) for l in xhv_run.read_lines(result["com2"])]
    guest = {}
    verdicts = []
    for line in com2:
        m = GUEST_KV.search(line)
        if m:
            key, value = m.group(1), m.group(2).strip()
            guest[key] = value if key not in guest else guest[key] + "; " + value
        m = GUEST_RESULT.search(line)
        if m:
            verdicts.append((m.group(1), m.group(2).strip()))

    loader_panic = next((l for l in com1 if "pvhboot: PANIC" in l), None)
    if loader_panic:
        return False, "the direct-boot loader stopped: %s" % loader_panic.strip(), guest
    if cell.get("boot") == "pvh" and cell["hv"] == "none" and not any(
            PVHBOOT_ENTERED in l for l in com1):
        return False, "pvhboot never entered the kernel (no %r on COM1)" % PVHBOOT_ENTERED, guest
    if cell.get("boot") == "pvh" and cell["hv"] != "none" and not any(
            HV_PVH_ENTRY.search(l) for l in com1):
        return False, "the hypervisor log does not show the direct boot's kernel entry", guest
    if cell["hv"] != "none":
        if not any(HV_BANNER.search(l) for l in com1):
            return False, "no hypervisor banner on COM1", guest
        panic = next((l for l in com1 if HV_PANIC.search(l)), None)
        if panic:
            return False, "hypervisor fault on COM1: %s" % panic.strip(), guest
    if result.get("stopped_on"):
        stopped = result["stopped_on"]
        if stopped.startswith("guest: "):
            return False, "the guest hung or died: %s" % stopped[len("guest: "):], guest
        return False, "the hypervisor stopped: %s" % stopped, guest
    if result["timed_out"]:
        last = verdicts[-1] if verdicts else None
        return False, "timed out after %.0f s (last guest verdict: %s)" % (
            result["timeout"], "%s %s" % last if last else "none"), guest
    if not verdicts:
        return False, "the guest printed no XHV-RESULT line", guest
    fails = [v for v in verdicts if v[0] == "FAIL"]
    if fails:
        return False, "guest: FAIL %s" % fails[0][1], guest
    if "uptime_at_init" not in guest:
        return False, "the guest never reported reaching init", guest
    problem = check_versions(cell.get("versions"), guest)
    if problem:
        return False, problem, guest
    if cell["hv"] != "none":
        problem = check_hv(com1, guest)
        if problem:
            return False, problem, guest
    if cell["pal"] != "none":
        problem = check_pal(com1)
        if problem:
            return False, problem, guest
    problem = check_nmis(cell, result, guest, com1)
    if problem:
        return False, problem, guest
    return True, "guest: PASS %s" % verdicts[-1][1], guest


def summarize(cell, result, passed, reason, guest):
    """The result.json of a cell: its coordinates, verdict, figures and evidence."""
    com1 = [strip_ctl(l) for l in xhv_run.read_hv_log(result["com1"])]
    summary = {k: v for k, v in cell.items() if k != "versions"}
    versions = cell.get("versions") or {}
    summary.update({
        "guest_title": versions.get("title"),
        "suite": versions.get("suite"),
        "kernel": versions.get("kernel"),
        "busybox": versions.get("busybox"),
        "emulator": result["emulator"],
        "passed": passed,
        "reason": reason,
        "guest_uptime_at_init": float(guest["uptime_at_init"]) if "uptime_at_init" in guest
        else None,
        "cpus_online": guest.get("cpus_online"),
        "wall_seconds": result["wall_seconds"],
        "started_at": result.get("started_at"),
        "timed_out": result["timed_out"],
        "replay": result["replay"],
        "guest_report": guest,
        "exit_counts": exit_counts(com1),
        "nmis": nmi_counts(com1),
        "quiesce_rounds": quiesce_rounds(com1),
        "trustvisor": pal_figures(com1),
        "runner_nmis": result.get("runner_nmis", 0),
    })
    return summary


def failure_is_a_finding(summary, reason):
    """Whether a failed run failed in the protocol, not before it: the guest
    reached init (and, under a hypervisor, its banner was there)."""
    if summary["guest_uptime_at_init"] is None:
        return False
    return not reason.startswith(("no hypervisor banner", "the guest never reported"))


def expected_failure(passed, reason, summary, result):
    """--expect-failure: the planted bug must show as a failed cell."""
    if passed:
        print("FAIL: the cell passed, but this build carries a planted bug it must catch")
        return 1
    if not failure_is_a_finding(summary, reason):
        print("FAIL: the cell failed before its checks could see the planted bug: %s" % reason)
        print("--- last 40 lines of COM2 ---\n%s" % xhv_run.tail(result["com2"]))
        return 1
    print("PASS: the planted bug was detected: %s" % reason)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    xhv_run.add_arguments(ap)
    ap.add_argument("--cell", required=True, help="cell name from testing/matrix.bzl")
    ap.add_argument("--hv", required=True, help="x86, x86_64 or none")
    ap.add_argument("--debian", required=True, help="the guest's Debian release, e.g. debian12")
    ap.add_argument("--guest", required=True)
    ap.add_argument("--boot", choices=("grub", "pvh"), required=True,
                    help="how the guest starts: the GRUB chain or the direct boot (PVH)")
    ap.add_argument("--guest-versions", default=None,
                    help="versions.json of the guest's kernel and busybox (//guests/debian)")
    ap.add_argument("--pal", required=True)
    ap.add_argument("--expect-failure", action="store_true",
                    help="pass only if the guest booted and the cell then failed: proves the "
                         "checks see a bug planted in this build")
    args = ap.parse_args()
    cell = {"cell": args.cell, "hv": args.hv, "debian": args.debian, "guest": args.guest,
            "pal": args.pal, "boot": args.boot}
    if args.guest_versions:
        with open(args.guest_versions) as f:
            cell["versions"] = json.load(f)
    args.needs_vmx = args.hv != "none"

    out_dir = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or os.path.join(
        os.environ.get("TEST_TMPDIR", "/tmp"), args.cell)
    try:
        result = xhv_run.execute(args, out_dir)
    except xhv_run.RunnerError as e:
        print("FAIL %s: cannot run: %s" % (args.cell, e))
        return 1
    result["timeout"] = args.timeout
    passed, reason, guest = judge(cell, result)

    summary = summarize(cell, result, passed, reason, guest)
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)

    print("%s %s: %s (emulator %s, guest uptime at init %s s, wall %.1f s)" % (
        "PASS" if passed else "FAIL", args.cell, reason, result["emulator"],
        summary["guest_uptime_at_init"], result["wall_seconds"]))
    print("replay: %s" % " ".join("%s=%s" % kv for kv in sorted(result["replay"].items())))
    if args.expect_failure:
        return expected_failure(passed, reason, summary, result)
    if not passed:
        print("--- last 40 lines of COM1 ---\n%s" % xhv_run.tail(result["com1"], hv_log=True))
        print("--- last 40 lines of COM2 ---\n%s" % xhv_run.tail(result["com2"]))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
