#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs one matrix cell: boots the cell's disks in an emulator and judges it.

A cell passes only on complete evidence from its own run, and fails on any
sign of trouble:
  - the emulator itself says the guest powered the machine off (Bochs' log,
    QEMU's QMP SHUTDOWN event), before the timeout;
  - the guest printed exactly one `XHV-RESULT: PASS ...` and no FAIL line
    anywhere on COM2, whatever printed it;
  - the guest kernel reported no oops, BUG, WARN, segfault, general
    protection fault or trap (KERNEL_PROBLEM; KERNEL_BENIGN lists what may
    pass, and why);
  - every evidence line its kind must print is there and says what it must
    (EVIDENCE, by group; KIND_EVIDENCE names each kind's groups: extend the
    two tables to require more, e.g. a red-team group of lines);
  - under a hypervisor, COM1 shows its banner, its E820 edit and no panic,
    and its own counts (quiesce rounds, VMCALL exits, TrustVisor's
    registrations and PAL calls, NMIs injected) cover what the guest claims.
Logs, the emulator's settings for an exact replay and a result JSON (with
what ran: input digests, Bazel invocation, commit) go to the test's
undeclared outputs; on failure the last 40 lines of each serial log are
printed.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import time
import uuid

from testing.runner import xhv_run

GUEST_KV = re.compile(r"XHV-GUEST: ([A-Za-z0-9_.]+)=(.*)$")
GUEST_RESULT = re.compile(r"XHV-RESULT: (PASS|FAIL)\b ?(.*)$")
GUEST_STEP = re.compile(r"XHV-GUEST: step=(\S+)( quiescing)?\s*$")
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

# A line the guest kernel wrote: on its console (COM2) directly, or from its
# log after the test (init.sh prefixes those with XHV-KMSG).
KERNEL_LINE = re.compile(r"^(XHV-KMSG: )?\[\s*\d+\.\d+\] ")

# What fails a cell when the guest kernel reports it, on any CPU, at any
# time: its oops and BUG reports, WARN_ON, a process killed by a segfault,
# a general protection fault or another trap (show_unhandled_signals), and
# the stall and lockup detectors.
KERNEL_PROBLEM = re.compile(
    r"\bBUG: |kernel BUG at|\bOops\b|\bWARNING: CPU: \d+ PID: \d+|\bWARNING: at |"
    r"general protection fault|\bsegfault at\b|\btraps: |\btrap (divide error|invalid opcode|"
    r"int3|overflow|bounds|invalid TSS|stack segment|alignment check|coprocessor)|"
    r"Unable to handle kernel|invalid opcode: \d+|double fault|stack segment: \d+|"
    r"Kernel panic|soft lockup|hard LOCKUP|detected stalls? on CPU|blocked for more than \d+ "
    r"seconds|Out of memory: Killed process")

# Kernel reports that match KERNEL_PROBLEM and still do not fail a cell,
# each with the reason it is harmless. Keep it short: every entry is a hole.
KERNEL_BENIGN = [
]

# An RCU stall report: how a guest that hangs ends its run (the runner stops
# at the first one) and the signature of the legacy protocol's deadlock.
RCU_STALL = re.compile(r"rcu: INFO: rcu_\w+ (self-)?detected stalls?")


def hv_ranges(com1):
    """The hypervisor's hidden ranges as its log states them: [(start, end), ...]."""
    for line in com1:
        m = HV_HIDDEN.search(line)
        if m:
            a, b, c, d = (int(x, 16) for x in m.groups())
            return [(a, b), (c, d)]
    return None


HV_MOVED = re.compile(r"^boot: image moved from (0x[0-9a-f]+) to (0x[0-9a-f]+) \((\d+) addresses")
HV_NOT_MOVED = re.compile(r"^boot: (image stays at .*|the image's relocation table .*)$")
HV_MAP_ENTRY = re.compile(r"^e820:   \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) (.*)$")
LOW_MEMORY = 1 << 30


def firmware_ram(com1):
    """The usable ranges of the firmware's memory map as the hypervisor's log
    states it: [(start, end), ...], or None if the log has none."""
    ranges = None
    for line in com1:
        if line.startswith("e820: firmware memory map"):
            ranges = []
            continue
        if ranges is not None:
            m = HV_MAP_ENTRY.match(line)
            if not m:
                break
            if m.group(3) == "usable":
                ranges.append((int(m.group(1), 16), int(m.group(2), 16)))
    return ranges


# RAM between 1 and 2 GiB (where the x86_64 image can go) that obliges the
# hypervisor to sit there, out of the guest's first GiB.
HIGH_ROOM = 64 << 20


def firmware_ram_between(firmware, lo, hi):
    return sum(max(0, min(b, hi) - max(a, lo)) for a, b in firmware)


def low_memory_hole(firmware, limit, guest_ram):
    """The first piece of the firmware's RAM below `limit` (1 GiB, or the
    hypervisor's memory if that is lower) that the guest's map does not give
    it, or None: xhv sits high, so the guest's low memory has no hole the
    firmware did not make."""
    for lo, hi in firmware:
        pos, hi = lo, min(hi, limit)
        while pos < hi:
            cover = [(a, b) for a, b in guest_ram if a <= pos < b]
            if not cover:
                end = min([a for a, _ in guest_ram if pos < a < hi] + [hi])
                return pos, end
            pos = max(b for _, b in cover)
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


def key_values(value):
    """The key=value words of a guest line's value, as a dict."""
    return dict(f.split("=", 1) for f in value.split() if "=" in f)


def hv_count(com1, pattern):
    """The number `pattern` captures on the first hypervisor log line it
    matches, or None if no line does."""
    for line in com1:
        m = pattern.search(line)
        if m:
            return int(m.group(1))
    return None


def quiesce_rounds(com1):
    return hv_count(com1, HV_QUIESCE)


def pal_figures(com1):
    for line in com1:
        m = TV_SHUTDOWN.search(line)
        if m:
            return {"registrations": int(m.group(1)), "pal_calls": int(m.group(2)),
                    "scrubbed_at_shutdown": int(m.group(3)), "revoked": int(m.group(4))}
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
    if "nmi_after" not in guest or "nmi_before" not in guest:
        return "the guest reported no NMI counts: its NMI storm did not run to the end"
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
        delivered = nmis_delivered(guest, after)
        if injected != delivered:
            return "the hypervisor injected %s NMIs per CPU, the guest counted %s in all" % (
                injected, delivered)
    return None


def check_pal(com1):
    """PAL cells: TrustVisor itself must show the registrations and PAL calls it served."""
    figures = pal_figures(com1)
    if figures is None:
        return "the hypervisor log has no TrustVisor shutdown summary"
    if figures["registrations"] == 0 or figures["pal_calls"] == 0:
        return "TrustVisor served %d registrations and %d PAL calls" % (
            figures["registrations"], figures["pal_calls"])
    return None


HV_RESTARTED = re.compile(r"^vmx: CPU (\d+): guest start-up IPI, vector 0x[0-9a-f]+: the CPU "
                          r"starts again")
GUEST_HOTPLUG = re.compile(r"^(\d+) rounds")


PAL_DATA_GPA = re.compile(r"gpa (0x[0-9a-f]+)")
HV_TEMPORARY_MAPS = re.compile(r"^paging: temporary mappings=(\d+)")


def check_pal_above_4g(cell, guest, com1):
    """A guest with RAM above 4 GiB shows its PAL's DATA page there
    (isolation's line); the i386 image, which has no lasting map of that
    memory, says it reached it through its temporary mappings."""
    if not cell.get("pal_above_4g"):
        return None
    m = PAL_DATA_GPA.search(guest.get("isolation_pal_data", ""))
    if not m:
        return "the guest did not say where its PAL's DATA page is (isolation_pal_data)"
    if int(m.group(1), 16) < 1 << 32:
        return "the PAL's DATA page is at %s, below 4 GiB: the cell shows nothing of memory " \
               "above it" % m.group(1)
    maps = hv_count(com1, HV_TEMPORARY_MAPS)
    if cell["hv"] == "x86" and not maps:
        return "the i386 image made no temporary mapping (%s): it never touched the PAL's " \
               "pages above 4 GiB" % ("no count in its log" if maps is None else "0")
    return None


def check_hotplug(guest, com1, cpus):
    """Every AP the guest took offline and online came back through the
    hypervisor's virtual INIT/SIPI: it counted as many restarts."""
    m = GUEST_HOTPLUG.match(guest.get("hotplug", ""))
    if not m:
        return None  # the evidence check names the missing line
    wanted = int(m.group(1)) * (cpus - 1)
    restarts = sum(1 for l in com1 if HV_RESTARTED.search(l))
    if restarts < wanted:
        return "the guest took its APs offline and online %d times, the hypervisor restarted " \
               "%d" % (wanted, restarts)
    return None


# ---- red-team evidence (PAL cells) ---------------------------------------
# The red team's attacks (guests/redteam) each print `XHV-GUEST:
# redteam_<attack>=<verdict> <details>`; the details show the attack was
# really made (the breakpoint armed, the write landed in the guest's own
# view). The verdicts are checked in EVIDENCE["redteam"]; the COM1 forgery
# also against the hypervisor's log, here.
REDTEAM_FORGERY_MARKER = re.compile(r"marker=(\S+)")
REDTEAM_FORGERY_WRITES = re.compile(r"writes=(\d+)")
HV_UART_DROPPED = re.compile(r"^serial: guest writes to the hypervisor's UART dropped=(\d+)")


def nmis_delivered(guest, after):
    """NMIs each CPU's guest got in all: the kernel's count, or, when the
    red team's ring-0 stage replaced the kernel, the count it reports (the
    kernel's at the kexec plus its own)."""
    if "nmi_after_kexec" in guest:
        return [int(x) for x in guest["nmi_after_kexec"].split()]
    return after


def check_com1_forgery(guest, com1, com1_raw):
    """The guest's forged log lines are nowhere in COM1, and the hypervisor
    counted at least the writes the guest says it made."""
    forgery = guest.get("redteam_com1_forgery", "")
    marker = REDTEAM_FORGERY_MARKER.search(forgery)
    writes = REDTEAM_FORGERY_WRITES.search(forgery)
    if not marker or not writes:
        return "red team: the COM1 forgery evidence names no marker or write count"
    if any(marker.group(1) in line for line in list(com1) + list(com1_raw)):
        return "red team: the guest's forged line %s is in the hypervisor's log" % marker.group(1)
    dropped = hv_count(com1, HV_UART_DROPPED)
    if dropped is None or dropped < int(writes.group(1)):
        return "red team: the hypervisor counted %s dropped UART writes, the guest made %s" % (
            dropped, writes.group(1))
    return None


# How the hypervisor names each way the guest resets (hv/common/vcpu/guest_io.c).
RESET_HOW = {
    "cf9": "reset control register 0xcf9",
    "kbd": "keyboard controller reset pulse",
    "port92": "fast reset, port 0x92",
}
HV_GUEST_RESET = re.compile(r"^vmx: CPU \d+: guest resets the machine \((.*)\)$")
RESET_SECRET = re.compile(r"^0x([0-9a-f]+), ([48])-byte words")


def secret_page(secret, word_bytes):
    """The page the reset program fills: word i is secret ^ i."""
    return b"".join(((secret ^ i) & ((1 << (8 * word_bytes)) - 1)).to_bytes(word_bytes, "little")
                    for i in range(4096 // word_bytes))


def check_reset(cell, result, guest, com1):
    """Reset cells: the machine reset by the guest's own way, TrustVisor
    scrubbed the PAL first, and memory at the reset shows it: the PAL's DATA
    page holds none of the secret, the canary page (same words, an ordinary
    page) holds all of it."""
    if not result.get("reset"):
        return "the emulator did not stop at a reset"
    how = [m.group(1) for m in (HV_GUEST_RESET.match(l) for l in com1) if m]
    if how != [RESET_HOW[cell["reset_via"]]]:
        return "the hypervisor log says the guest reset the machine by %s, not once by %r" % (
            how or "no way", RESET_HOW[cell["reset_via"]])
    figures = pal_figures(com1)
    if not figures or figures["scrubbed_at_shutdown"] < 1 or figures["revoked"]:
        return "TrustVisor did not scrub the registered PAL at the reset (%s)" % (
            figures or "no shutdown summary")
    m = RESET_SECRET.match(guest.get("reset_secret", ""))
    dumps = result.get("reset_dumps") or {}
    pages = {name: bytes.fromhex(dumps[name]["bytes"]) for name in ("pal_data", "canary")
             if dumps.get(name, {}).get("bytes")}
    if not m or len(pages) != 2:
        return "no memory at the reset to check: the runner read %s" % sorted(pages)
    word_bytes = int(m.group(2))
    pattern = secret_page(int(m.group(1), 16), word_bytes)
    if pages["canary"] != pattern:
        return "the canary page at the reset is not what the guest wrote (%s...): the " \
               "check would not see a secret left behind" % pages["canary"][:16].hex()
    data = pages["pal_data"]
    left = sum(data[i:i + word_bytes] == pattern[i:i + word_bytes]
               for i in range(0, len(data), word_bytes))
    if left or any(data):
        return "the PAL's DATA page at the reset holds %d words of its secret and %d non-zero " \
               "bytes: not scrubbed" % (left, sum(1 for b in data if b))
    guest["reset_memory"] = "DATA page %s zero, canary %s intact" % (
        dumps["pal_data"]["gpa"], dumps["canary"]["gpa"])
    return None


def check_hv(com1, guest):
    """Hypervisor-cell checks on the logs; returns a failure reason or None."""
    ranges = hv_ranges(com1)
    if ranges is None:
        return "the hypervisor log has no E820 edit (hidden ranges)"
    if not any(l.startswith("e820: guest memory map") for l in com1):
        return "the hypervisor log does not show the guest memory map"
    moved = [m for m in map(HV_MOVED.match, com1) if m]
    stayed = [m for m in map(HV_NOT_MOVED.match, com1) if m]
    if stayed:
        return "the hypervisor's image did not move out of low memory: %s" % stayed[0].group(1)
    if not moved:
        return "the hypervisor log does not say where its image went (boot: image moved ...)"
    if int(moved[0].group(2), 16) != ranges[0][0]:
        return "the image moved to %s, but the hypervisor hides [%#x, %#x) as its image" % (
            moved[0].group(2), ranges[0][0], ranges[0][1])
    guest["image_moved"] = "from %s to %s (%s addresses)" % moved[0].groups()
    entries = guest.get("e820", "").split("; ") if guest.get("e820") else []
    if not entries:
        return "the guest reported no memory map"
    guest_ram = []
    for entry in entries:
        m = GUEST_E820.match(entry)
        if not m:
            return "unreadable guest memory map entry %r" % entry
        start, end, kind = int(m.group(1), 16), int(m.group(2), 16) + 1, m.group(3)
        if kind == "System RAM":
            guest_ram.append((start, end))
        for lo, hi in ranges:
            if kind == "System RAM" and start < hi and lo < end:
                return "the guest's memory map has RAM [%#x, %#x) over hypervisor memory [%#x, %#x)" % (
                    start, end, lo, hi)
    firmware = firmware_ram(com1)
    if not firmware:
        return "the hypervisor log does not show the firmware's memory map"
    lowest = min(lo for lo, _ in ranges)
    if lowest < LOW_MEMORY and firmware_ram_between(firmware, LOW_MEMORY, 2 * LOW_MEMORY) >= \
            HIGH_ROOM:
        return "the hypervisor's memory starts at %#x, in the guest's first GiB, with %d MiB " \
               "of RAM free for it above" % (lowest, HIGH_ROOM >> 20)
    limit = min(LOW_MEMORY, lowest)
    hole = low_memory_hole(firmware, limit, guest_ram)
    if hole:
        return "the guest's low memory has a hole the firmware's has not: [%#x, %#x) " \
               "(the hypervisor's memory is at %s)" % (
                   hole[0], hole[1], ", ".join("[%#x, %#x)" % r for r in ranges))
    guest["low_memory"] = "whole below %#x (hypervisor memory from %#x)" % (limit, lowest)
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


# ---- evidence each kind of cell must print ---------------------------------

class Context:
    """What an evidence check may consult: the cell, the guest's lines, the
    hypervisor's log, the stress sizes on the guest's kernel command line."""

    def __init__(self, cell, guest, values, com1):
        self.cell, self.guest, self.values, self.com1 = cell, guest, values, com1
        self.kind = cell_kind(cell)
        self.cpus = int(guest["cpus_online"]) if guest.get("cpus_online", "").isdigit() else 0

    def param(self, name):
        """xhv.<name>=N from the kernel command line the guest ran with, or None."""
        for word in self.guest.get("cmdline", "").split():
            if word.startswith("xhv.%s=" % name):
                value = word.split("=", 1)[1]
                return int(value) if value.isdigit() else None
        return None


def cell_kind(cell):
    """bare (no hypervisor), hv_core (helloworld, no pal_demo), pal (TrustVisor)
    or reset (TrustVisor, the guest resets the machine with a PAL registered)."""
    if cell["hv"] == "none":
        return "bare"
    if cell["pal"] == "none":
        return "hv_core"
    return "reset" if cell.get("reset_via") else "pal"


def _number(value):
    return int(value) if re.fullmatch(r"\d+", value or "") else None


def is_(expected):
    return lambda v, ctx: None if v == expected else "is %r, not %r" % (v, expected)


def matches(pattern):
    rx = re.compile(pattern)
    return lambda v, ctx: None if rx.fullmatch(v) else "is %r, not /%s/" % (v, pattern)


def positive(v, ctx):
    n = _number(v)
    return None if n is not None and n > 0 else "is %r, not a positive number" % v


def present(v, ctx):
    return None if v else "is empty"


def cpu_count(v, ctx):
    expected = ctx.param("expect_cpus")
    return None if _number(v) == expected else "is %r, not xhv.expect_cpus=%s" % (v, expected)


def kind_seen(v, ctx):
    return None if v == ctx.kind else "is %r: the guest took this for another kind of cell " \
                                      "than %s" % (v, ctx.kind)


def hypapp_named(v, ctx):
    hypapp = {"hv_core": "helloworld", "pal": "trustvisor", "reset": "trustvisor"}[ctx.kind]
    return None if v.startswith(hypapp + " ") else "is %r, not a hypercall of %s" % (v, hypapp)


def rounds_per_batch(v, ctx):
    configured = ctx.param("quiesce_rounds")
    if not configured:
        return "xhv.quiesce_rounds on the kernel command line is %r, not a positive number" % (
            configured,)
    return None if _number(v) == configured else "is %r, not xhv.quiesce_rounds=%d" % (
        v, configured)


def fuzz_summary(v, ctx):
    configured = ctx.param("fuzz_calls")
    if not configured:
        return "xhv.fuzz_calls on the kernel command line is %r: a PAL cell must fuzz" % (
            configured,)
    fields = key_values(v)
    calls, registered = _number(fields.get("calls")), _number(fields.get("registered"))
    if calls is None or registered is None:
        return "is %r, without calls= and registered= counts" % v
    if calls < configured:
        return "made %d calls, xhv.fuzz_calls=%d" % (calls, configured)
    return None


def verdict(expected):
    """A red-team line whose first word is `expected`: made, and failed safely."""
    def check(v, ctx):
        return None if v.split()[:1] == [expected] else "is %r, not %s" % (v, expected)
    return check


def kcore_direct_map(v, ctx):
    """isolation's kcore attack on a PAL frame: "zeros" through the kernel's
    direct map; or, for a frame no 32-bit kernel has in its direct map (at or
    above 4 GiB), "no_direct_map", with the kernel's temporary mapping of it
    (the /proc/self/mem read) finding nothing but zeros."""
    word = v.split()[:1]
    if word == ["zeros"]:
        return None
    if word != ["no_direct_map"]:
        return "is %r, not zeros" % v
    fields = key_values(v)
    frame = int(fields["frame"], 16) if re.fullmatch(r"0x[0-9a-f]+", fields.get("frame", "")) \
        else None
    if ctx.cell.get("guest") != "x86" or frame is None or frame < 1 << 32:
        return "is %r: only a 32-bit guest's frame above 4 GiB is outside the direct map" % v
    data = PAL_DATA_GPA.search(ctx.guest.get("isolation_pal_data", ""))
    if not data or int(data.group(1), 16) != frame:
        return "is %r: not the frame of the PAL's DATA page (isolation_pal_data)" % v
    if fields.get("nonzero_words") != "0":
        return "is %r: the kernel's temporary mapping of the frame read more than zeros" % v
    return None


def joined(check):
    """A check of all a key's values at once, "; "-joined in print order."""
    check.joined = True
    return check


def zero(v, ctx):
    return None if v == "0" else "is %r, not 0" % v


def control_moved(v, ctx):
    n = _number((v or "").split(" ")[0])
    return None if n else "is %r: the counter never moved while the other CPUs ran" % v


# Evidence groups: (key, check) pairs; a key with {cpu} is required once per
# online CPU. Each check gets the value (or each value, for a key printed
# more than once) and the Context, and returns a problem or None.
_INIT_EVIDENCE = [
    ("uptime_at_init", matches(r"\d+(\.\d+)?")),
    ("tsc_at_init", positive),
    ("kernel", present),
    ("kernel_version", present),
    ("busybox_version", present),
    ("cmdline", present),
    ("cpus_online", cpu_count),
    ("cell_kind", kind_seen),
]

EVIDENCE = {
    # init.sh and the cell script around every kind that ends in a power-off
    "boot": _INIT_EVIDENCE + [
        ("cpus_alive", cpu_count),
        ("kmsg_checked", matches(r"\d+ lines, \d+ shown")),
    ],
    # init.sh up to the cell script, for a cell that ends in its reset
    "init": _INIT_EVIDENCE,
    # reset.sh: the PAL and the canary written, the reset made
    "reset": [
        ("hypervisor", is_("xhv")),
        ("hypapp", is_("trustvisor")),
        ("reset_secret", matches(r"0x[0-9a-f]+, [48]-byte words, word i is the secret \^ i")),
        ("dump_at_reset", joined(matches(r"pal_data 0x[0-9a-f]+; canary 0x[0-9a-f]+"))),
        ("reset_via", lambda v, ctx: is_(ctx.cell["reset_via"])(v, ctx)),
    ],
    # lib.sh with_nmi_storm: what was sent and what each CPU counted
    "nmi_storm": [
        ("nmi_window", joined(is_("open; closed"))),
        ("nmi_sysrq_triggers", matches(r"\d+")),
        ("nmi_device_sent", matches(r"\d+( \d+)*")),
        ("nmi_before", matches(r"\s*\d+( \d+)*")),
        ("nmi_after", matches(r"\s*\d+( \d+)*")),
    ],
    # bare.sh: nothing beneath, and pal_demo says so
    "no_hypervisor": [
        ("hypervisor", is_("none")),
        ("hypapp", is_("none")),
        ("pal_demo_unavailable", is_("Error: TrustVisor not present according to CPUID")),
    ],
    # hvcheck and the probes of every hypervisor cell
    "hypervisor": [
        ("hypervisor", is_("xhv")),
        ("hv_signature", is_("XhvXhvXhvXhv")),
        ("bad_hypercall_returned", matches(r"0x(ffffffff|ffffffffffffffff)")),
        ("devmem_hv_image", present),
        ("e820", present),
    ],
    # hvcheck bench: every figure, the quiescing one from the running hypapp
    "bench": [
        ("bench_plain_ticks", positive),
        ("bench_cpuid_ticks", positive),
        ("bench_vmcall_nop_ticks", positive),
        ("bench_vmcall_quiesce_ticks", positive),
        ("bench_vmcall_quiesce_hypercall", hypapp_named),
    ],
    # hvcheck stopped: the other CPUs did stop while quiesced
    "quiesce_proof": [
        ("hypapp", is_("helloworld")),
        ("stopped_rounds", positive),
        ("stopped_moved", zero),
        ("stopped_control_min", control_moved),
    ],
    # hv_core.sh's quiesce loops on every CPU
    "quiesce_stress": [
        ("quiesce_batches_cpu{cpu}", positive),
        ("quiesce_rounds_per_batch", rounds_per_batch),
        ("quiesce_hypercalls", rounds_per_batch),
    ],
    # pal.sh: pal_demo, its costs, isolation, limits, loops, fuzzing
    "pal": [
        ("hypapp", is_("trustvisor")),
        ("test_args_7_7_7", is_("pass")),
        ("main_1_2", matches(r"[1-9]\d* lines")),
        ("bench_pal_vmcall_ticks", positive),
        ("bench_pal_register_ticks", positive),
        ("bench_pal_call_ticks", positive),
        ("bench_pal_unregister_ticks", positive),
        ("isolation", is_("ok")),
        ("limits", is_("ok")),
        ("pal_loops", present),
        ("hotplug", matches(r"\d+ rounds of every AP offline and online, [1-9]\d* PAL test calls "
                            r"beside")),
        ("hcfuzz", fuzz_summary),
        ("test_args_after_fuzz", is_("pass")),
    ],
    # guests/redteam: the hostile guest's attacks, each made and failed safely
    "redteam": [
        ("redteam_syscall_in_pal", verdict("refused")),    # SYSCALL/SYSENTER/INT 0x80 in a PAL
        ("redteam_dr7_in_pal", verdict("not_hit")),        # the OS's breakpoints in PAL code
        ("redteam_fpu_state", verdict("intact")),          # x87/SSE/AVX across PALs
        ("redteam_lent_page_write", verdict("revoked")),   # another CPU writes a running PAL's page
        ("redteam_kcore_direct_map", kcore_direct_map),    # the kernel's direct map of a PAL frame
        ("redteam_com1_forgery", verdict("dropped")),      # forged hypervisor log lines on COM1
        # the ring-0 stage, booted in the kernel's place (rt_kexec)
        ("redteam_ring0_stage", verdict("started")),
        ("redteam_halts", verdict("faulted")),             # the core's guest-triggerable halts
        ("redteam_task_switch", verdict("emulated")),      # hardware task switches
        ("redteam_e820_unreal", verdict("refused")),       # the E820 hook from unreal mode
        ("redteam_nmi_self", verdict("twice")),            # an NMI handler NMIs itself ten times
        ("redteam_rf_injected", verdict("set")),           # RF in an injected fault's frame
        ("nmi_after_kexec", matches(r"\d+( \d+)*")),
        ("redteam_ring0", verdict("done")),
    ],
}

# The evidence groups each kind of cell must print, all of them.
KIND_EVIDENCE = {
    "bare": ["boot", "nmi_storm", "no_hypervisor"],
    "hv_core": ["boot", "hypervisor", "bench", "quiesce_proof", "quiesce_stress", "nmi_storm"],
    "pal": ["boot", "hypervisor", "bench", "pal", "redteam", "nmi_storm"],
    "reset": ["init", "reset"],
}


def check_evidence(ctx):
    """The first evidence line the cell's kind needs that is missing or wrong, or None."""
    for group in KIND_EVIDENCE[ctx.kind]:
        for key, check in EVIDENCE[group]:
            keys = [key.format(cpu=c) for c in range(max(ctx.cpus, 1))] if "{cpu}" in key \
                else [key]
            for k in keys:
                values = ctx.values.get(k)
                if not values:
                    return "the guest never printed %s (%s evidence of a %s cell)" % (
                        k, group, ctx.kind)
                for v in ["; ".join(values)] if getattr(check, "joined", False) else values:
                    problem = check(v, ctx)
                    if problem:
                        return "the guest's %s %s" % (k, problem)
    return None


def hv_covers_guest(ctx):
    """The hypervisor's own counts must cover the hypercalls the guest says it made."""
    if ctx.kind == "bare":
        return None
    quiescing = 0
    if ctx.kind == "hv_core":
        rounds = ctx.param("quiesce_rounds") or 0
        batches = sum(_number(ctx.guest.get("quiesce_batches_cpu%d" % c)) or 0
                      for c in range(ctx.cpus))
        quiescing = batches * rounds + (_number(ctx.guest.get("stopped_rounds")) or 0)
    else:
        fields = key_values(ctx.guest.get("hcfuzz", ""))
        quiescing = _number(fields.get("calls")) or 0
    hv_rounds = quiesce_rounds(ctx.com1)
    if hv_rounds is None:
        return "the hypervisor log has no quiesce round count"
    if hv_rounds < quiescing:
        return "the hypervisor ran %d quiesce rounds, the guest claims %d quiescing hypercalls" % (
            hv_rounds, quiescing)
    vmcalls = sum(exit_counts(ctx.com1).get("VMCALL", {}).values())
    if vmcalls < quiescing:
        return "the hypervisor saw %d VMCALL exits, the guest claims %d hypercalls" % (
            vmcalls, quiescing)
    return None


def kernel_problems(com2):
    """The guest kernel's reports of trouble that KERNEL_BENIGN does not excuse."""
    found = []
    for line in com2:
        if KERNEL_LINE.match(line) and KERNEL_PROBLEM.search(line):
            if not any(rx.search(line) for rx, _ in KERNEL_BENIGN):
                found.append(line.strip())
    return found


# ---- the verdict -------------------------------------------------------------

def strip_ctl(line):
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).replace("\r", "")


class Evaluation:
    """A judged run: the verdict, and what the judge read on the way there."""

    def __init__(self):
        self.passed = False
        self.reason = ""
        self.guest = {}        # key -> value ("; "-joined when printed more than once)
        self.values = {}       # key -> [value, ...]
        self.verdicts = []     # [(PASS|FAIL, text)]
        self.steps = []        # [(name, quiescing)]
        self.kernel_problems = []
        self.banner = False
        self.hv_panic = None
        self.power_off = None


def read_guest(com2, ev):
    for line in com2:
        m = GUEST_KV.search(line)
        if m:
            key, value = m.group(1), m.group(2).strip()
            ev.values.setdefault(key, []).append(value)
            ev.guest[key] = value if key not in ev.guest else ev.guest[key] + "; " + value
        m = GUEST_STEP.search(line)
        if m:
            ev.steps.append((m.group(1), bool(m.group(2))))
        m = GUEST_RESULT.search(line)
        if m:
            ev.verdicts.append((m.group(1), m.group(2).strip()))


def evaluate(cell, result):
    """Judges a run from its logs; returns an Evaluation."""
    ev = Evaluation()
    com1 = [strip_ctl(l) for l in xhv_run.read_hv_log(result["com1"])]
    com2 = [strip_ctl(l) for l in xhv_run.read_console(result["com2"])]
    read_guest(com2, ev)
    ev.kernel_problems = kernel_problems(com2)
    ev.banner = any(HV_BANNER.search(l) for l in com1)
    ev.hv_panic = next((l.strip() for l in com1 if HV_PANIC.search(l)), None)
    ev.power_off = xhv_run.power_off_evidence(result)
    ev.reason = _first_problem(cell, result, ev, com1)
    ev.passed = ev.reason is None
    if ev.passed:
        ev.reason = "guest: PASS %s" % ev.verdicts[0][1]
    return ev


def _first_problem(cell, result, ev, com1):
    guest = ev.guest
    loader_panic = next((l for l in com1 if "pvhboot: PANIC" in l), None)
    if loader_panic:
        return "the direct-boot loader stopped: %s" % loader_panic.strip()
    if cell.get("boot") == "pvh" and cell["hv"] == "none" and not any(
            PVHBOOT_ENTERED in l for l in com1):
        return "pvhboot never entered the kernel (no %r on COM1)" % PVHBOOT_ENTERED
    if cell.get("boot") == "pvh" and cell["hv"] != "none" and not any(
            HV_PVH_ENTRY.search(l) for l in com1):
        return "the hypervisor log does not show the direct boot's kernel entry"
    if cell["hv"] != "none":
        if not ev.banner:
            return "no hypervisor banner on COM1"
        if ev.hv_panic:
            return "hypervisor fault on COM1: %s" % ev.hv_panic
    if result.get("stopped_on"):
        stopped = result["stopped_on"]
        if stopped.startswith("guest: "):
            return "the guest hung or died: %s" % stopped[len("guest: "):]
        return "the hypervisor stopped: %s" % stopped
    if result["timed_out"]:
        last = ev.verdicts[-1] if ev.verdicts else None
        return "timed out after %.0f s (last guest verdict: %s)" % (
            result["timeout"], "%s %s" % last if last else "none")
    fails = [v for v in ev.verdicts if v[0] == "FAIL"]
    if fails:
        return "guest: FAIL %s" % fails[0][1]
    if ev.kernel_problems:
        return "the guest kernel reported trouble: %s" % ev.kernel_problems[0]
    kind = cell_kind(cell)
    if kind == "reset" and ev.power_off:
        return "the guest powered the machine off instead of resetting it"
    if kind != "reset" and not ev.power_off:
        return "the emulator does not report that the guest powered the machine off"
    passes = [v for v in ev.verdicts if v[0] == "PASS"]
    if len(passes) != 1:
        return "the guest printed %d XHV-RESULT: PASS lines, not one" % len(passes)
    ctx = Context(cell, guest, ev.values, com1)
    for problem in (check_evidence(ctx), check_versions(cell.get("versions"), guest)):
        if problem:
            return problem
    if kind == "reset":
        return check_reset(cell, result, guest, com1)
    if cell["hv"] != "none":
        problem = check_hv(com1, guest) or hv_covers_guest(ctx)
        if problem:
            return problem
    if cell["pal"] != "none" and cell["hv"] != "none":
        problem = check_pal(com1) or check_pal_above_4g(cell, guest, com1) or check_hotplug(
            guest, com1, int(guest.get("cpus_online", "0") or 0)) or check_com1_forgery(
            guest, com1, xhv_run.read_lines(result["com1"]))
        if problem:
            return problem
    return check_nmis(cell, result, guest, com1)


def judge(cell, result):
    """Returns (passed, reason, guest key/values) from the run's logs."""
    ev = evaluate(cell, result)
    return ev.passed, ev.reason, ev.guest


# ---- expected failures (a bug planted on purpose must be seen) ---------------

def _quiesce_hang(ev, result):
    """The guest hangs in a step that makes quiescing hypercalls: the run
    ends at its RCU stall report there, and nothing else went wrong first."""
    stopped = result.get("stopped_on") or ""
    if not (stopped.startswith("guest: ") and RCU_STALL.search(stopped)):
        how = stopped or ("it timed out" if result.get("timed_out") else "it ran to the end")
        return "the run did not end at a guest RCU stall (%s)" % how
    if not ev.banner or ev.hv_panic:
        return "the hypervisor did not come up cleanly (%s)" % (ev.hv_panic or "no banner")
    if "uptime_at_init" not in ev.guest:
        return "the guest never reached init"
    if any(v[0] == "FAIL" for v in ev.verdicts):
        return "the guest failed a check before it hung: %s" % next(
            v[1] for v in ev.verdicts if v[0] == "FAIL")
    others = [l for l in ev.kernel_problems if not RCU_STALL.search(l)
              and "detected stall" not in l]
    if others:
        return "the guest kernel reported other trouble first: %s" % others[0]
    if not ev.steps:
        return "the guest never said which step it was in"
    name, quiescing = ev.steps[-1]
    if not quiescing:
        return "the guest hung in step %s, which makes no quiescing hypercalls" % name
    return None


# --expect-failure=NAME: the failure a planted bug must show, and nothing else.
EXPECTED_FAILURES = {
    "quiesce_hang": _quiesce_hang,
}


def expected_failure(ev, result, signature):
    """--expect-failure: the planted bug must show as exactly its failure."""
    if ev.passed:
        print("FAIL: the cell passed, but this build carries a planted bug it must catch")
        return 1
    problem = EXPECTED_FAILURES[signature](ev, result)
    if problem:
        print("FAIL: the cell failed, but not as %s: %s" % (signature, problem))
        print("--- its failure: %s" % ev.reason)
        print("--- last 40 lines of COM2 ---\n%s" % xhv_run.tail(result["com2"]))
        return 1
    print("PASS: the planted bug was detected as %s, in step %s: %s" % (
        signature, ev.steps[-1][0], ev.reason))
    return 0


# ---- what ran ------------------------------------------------------------------

def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cell_inputs(disks, versions_path):
    """sha256 of everything a run depends on: the disks it booted, the guest's
    versions.json, and the judge's and runner's own sources; and one digest
    of them all."""
    files = {"disk%d" % i: d for i, d in enumerate(disks)}
    if versions_path:
        files["guest_versions"] = versions_path
    for module in (sys.modules[__name__], xhv_run, xhv_run.xhvlog):
        files[os.path.basename(module.__file__)] = module.__file__
    digests = {name: {"file": os.path.basename(path), "sha256": sha256_of(path)}
               for name, path in sorted(files.items())}
    total = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    return digests, total


def bazel_run_info(env=None):
    """Which Bazel invocation and commit this test runs in, read from what the
    running Bazel wrote: the invocation id at the top of the output base's
    command.log, the commit in bazel-out/volatile-status.txt (from
    tools/workspace_status.sh). Bazel gives a test neither in its
    environment (passing them in would make every run a cache miss); both
    files are visible to tests run locally, as this project runs them.
    None for what cannot be read (not under Bazel, remote execution)."""
    env = os.environ if env is None else env
    info = {"invocation_id": None, "commit": None, "tree": None,
            "target": env.get("TEST_TARGET")}
    # TEST_TMPDIR is <output base>[/sandbox/<strategy>/<n>]/execroot/<workspace>/_tmp/...
    m = re.match(r"^(.*)/execroot/[^/]+/_tmp(/|$)", env.get("TEST_TMPDIR", ""))
    if not m:
        return info
    base = re.sub(r"/sandbox/[^/]+/\d+$", "", m.group(1))
    try:
        with open(os.path.join(base, "command.log"), errors="replace") as f:
            m = re.search(r"Invocation ID: ([0-9a-f-]{36})", f.read(4096))
            info["invocation_id"] = m.group(1) if m else None
    except OSError:
        pass
    status = os.path.join(base, "execroot", env.get("TEST_WORKSPACE", "xhv"), "bazel-out",
                          "volatile-status.txt")
    try:
        with open(status) as f:
            for line in f:
                key, _, value = line.strip().partition(" ")
                if key == "XHV_COMMIT":
                    info["commit"] = value
                elif key == "XHV_TREE":
                    info["tree"] = value
    except OSError:
        pass
    return info


def summarize(cell, result, ev, provenance=None):
    """The result.json of a cell: its coordinates, verdict, figures, evidence, what ran."""
    com1 = [strip_ctl(l) for l in xhv_run.read_hv_log(result["com1"])]
    guest = ev.guest
    summary = {k: v for k, v in cell.items() if k != "versions"}
    versions = cell.get("versions") or {}
    summary.update({
        "kind": cell_kind(cell),
        "guest_title": versions.get("title"),
        "suite": versions.get("suite"),
        "kernel": versions.get("kernel"),
        "busybox": versions.get("busybox"),
        "emulator": result["emulator"],
        "passed": ev.passed,
        "reason": ev.reason,
        "guest_uptime_at_init": float(guest["uptime_at_init"])
        if re.fullmatch(r"\d+(\.\d+)?", guest.get("uptime_at_init", "")) else None,
        "cpus": result["replay"].get("smp"),
        "cpus_online": guest.get("cpus_online"),
        "wall_seconds": result["wall_seconds"],
        "started_at": result.get("started_at"),
        "timed_out": result["timed_out"],
        "power_off": ev.power_off,
        "steps": [name for name, _ in ev.steps],
        "kernel_problems": ev.kernel_problems,
        "replay": result["replay"],
        "guest_report": guest,
        "exit_counts": exit_counts(com1),
        "nmis": nmi_counts(com1),
        "quiesce_rounds": quiesce_rounds(com1),
        "trustvisor": pal_figures(com1),
        "runner_nmis": result.get("runner_nmis", 0),
        "reset": result.get("reset"),
        "reset_dumps": result.get("reset_dumps"),
    })
    summary.update(provenance or {})
    return summary


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
    ap.add_argument("--pal-above-4g", action="store_true",
                    help="the guest has RAM above 4 GiB: its PALs' pages must be there")
    ap.add_argument("--reset-via", default=None, choices=sorted(RESET_HOW),
                    help="a reset cell: the guest resets the machine this way with a PAL "
                         "registered (needs --stop-at-reset)")
    ap.add_argument("--expect-failure", default=None, choices=sorted(EXPECTED_FAILURES),
                    help="pass only if the cell fails exactly this way: proves the checks see "
                         "a bug planted in this build")
    args = ap.parse_args()
    cell = {"cell": args.cell, "hv": args.hv, "debian": args.debian, "guest": args.guest,
            "pal": args.pal, "boot": args.boot, "pal_above_4g": args.pal_above_4g,
            "reset_via": args.reset_via}
    if args.reset_via and not args.stop_at_reset:
        ap.error("--reset-via needs --stop-at-reset: the judge reads memory at the reset")
    if args.guest_versions:
        with open(args.guest_versions) as f:
            cell["versions"] = json.load(f)
    args.needs_vmx = args.hv != "none"

    out_dir = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or os.path.join(
        os.environ.get("TEST_TMPDIR", "/tmp"), args.cell)
    inputs, inputs_digest = cell_inputs(args.disk, args.guest_versions)
    provenance = {"run_id": str(uuid.uuid4()), "inputs": inputs, "inputs_digest": inputs_digest,
                  "bazel": bazel_run_info(), "judged_at": None}
    try:
        result = xhv_run.execute(args, out_dir)
    except xhv_run.RunnerError as e:
        print("FAIL %s: cannot run: %s" % (args.cell, e))
        return 1
    result["timeout"] = args.timeout
    ev = evaluate(cell, result)
    provenance["judged_at"] = round(time.time(), 1)

    summary = summarize(cell, result, ev, provenance)
    if args.expect_failure:
        summary["expect_failure"] = args.expect_failure
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)

    print("%s %s: %s (emulator %s, guest uptime at init %s s, wall %.1f s)" % (
        "PASS" if ev.passed else "FAIL", args.cell, ev.reason, result["emulator"],
        summary["guest_uptime_at_init"], result["wall_seconds"]))
    print("replay: %s" % " ".join("%s=%s" % kv for kv in sorted(result["replay"].items())))
    print("ran: invocation %s, commit %s (%s), inputs %s" % (
        provenance["bazel"]["invocation_id"], provenance["bazel"]["commit"],
        provenance["bazel"]["tree"], inputs_digest[:16]))
    if args.expect_failure:
        return expected_failure(ev, result, args.expect_failure)
    if not ev.passed:
        print("--- last 40 lines of COM1 ---\n%s" % xhv_run.tail(result["com1"], hv_log=True))
        print("--- last 40 lines of COM2 ---\n%s" % xhv_run.tail(result["com2"]))
    return 0 if ev.passed else 1


if __name__ == "__main__":
    sys.exit(main())
