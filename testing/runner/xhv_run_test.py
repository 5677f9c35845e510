#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The runner's contract on machines that do not power off: one that hangs is
killed at the timeout, reported as timed out, every log kept; neither it nor
one that resets counts as powered off, whatever the emulator's exit code; a
Bochs run told to stop at the reset stops there, with the pages the guest
named read as they were."""

import argparse
import os
import sys
import tempfile
import time
import unittest

from testing.runner import xhv_run

HANG_DISK = None
RESET_DISK = None


def run_args(disk=None, **overrides):
    parser = argparse.ArgumentParser()
    xhv_run.add_arguments(parser)
    args = parser.parse_args(["--emulator=qemu-tcg", "--disk=" + (disk or HANG_DISK), "--smp=1",
                              "--mem-mib=64", "--timeout=8"])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


class BochsMemoryTest(unittest.TestCase):

    def test_up_to_2_gib_is_backed_whole(self):
        self.assertEqual(xhv_run.bochs_memory(1024), "megs: 1024")

    def test_more_is_given_with_2_gib_of_host_memory_behind_it(self):
        self.assertEqual(xhv_run.bochs_memory(6144), "memory: guest=6144, host=2048")


class UntangleConsoleTest(unittest.TestCase):
    """Kernel records that land inside a program's line on the guest console."""

    def test_records_inside_a_line_come_out_and_the_line_joins_again(self):
        lines = ["XHV-GUEST: quies[   21.736993] Uhhuh. NMI received for unknown reason 21",
                 "[   21.737068] Dazed and confused, but trying to continue",
                 "ce_batches_cpu0=[   21.753551] Uhhuh. NMI received for unknown reason 31",
                 "109",
                 "XHV-GUEST: next=1"]
        self.assertEqual(xhv_run.untangle_console(lines), [
            "[   21.736993] Uhhuh. NMI received for unknown reason 21",
            "[   21.737068] Dazed and confused, but trying to continue",
            "[   21.753551] Uhhuh. NMI received for unknown reason 31",
            "XHV-GUEST: quiesce_batches_cpu0=109",
            "XHV-GUEST: next=1"])

    def test_whole_lines_stay_as_they_are(self):
        lines = ["[    1.000000] Linux version 6.1", "XHV-GUEST: a=1",
                 "XHV-KMSG: [    2.000000] a kernel line repeated by init", ""]
        self.assertEqual(xhv_run.untangle_console(lines), lines)

    def test_a_record_inside_a_repeated_kernel_line_comes_out(self):
        lines = ["XHV-KMSG: [    2.000000] some[    3.000000] Uhhuh. NMI", " text"]
        self.assertEqual(xhv_run.untangle_console(lines), [
            "[    3.000000] Uhhuh. NMI", "XHV-KMSG: [    2.000000] some text"])

    def test_a_line_cut_by_the_end_of_the_log_is_kept(self):
        self.assertEqual(xhv_run.untangle_console(["XHV-GUEST: a[    1.000000] x"]),
                         ["[    1.000000] x", "XHV-GUEST: a"])


class PowerOffEvidenceTest(unittest.TestCase):
    """What counts as the machine powering off, from each emulator's own account."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bochs_acpi_soft_power_off_line_counts(self):
        log = self.write("emulator.log", "00000932165i[ACPI  ] new PM base address: 0xb000\n"
                         "07744870655p[ACPI  ] >>PANIC<< ACPI control: soft power off\n"
                         "07744870655i[SIM   ] quit_sim called with exit code 1\n")
        evidence = xhv_run.power_off_evidence({"emulator": "bochs", "emulator_log": log})
        self.assertIn("ACPI control: soft power off", evidence)

    def test_bochs_exit_without_it_does_not(self):
        log = self.write("emulator.log", "04949254734i[SIM   ] quit_sim called with exit code 1\n")
        self.assertIsNone(xhv_run.power_off_evidence({"emulator": "bochs", "emulator_log": log}))

    def test_a_killed_run_never_powered_off(self):
        log = self.write("emulator.log", "p[ACPI  ] >>PANIC<< ACPI control: soft power off\n")
        self.assertIsNone(xhv_run.power_off_evidence(
            {"emulator": "bochs", "emulator_log": log, "timed_out": True}))

    def test_qemu_needs_a_guest_shutdown_event(self):
        events = self.write("qmp-events.jsonl",
                            '{"event": "SHUTDOWN", "data": {"guest": true, '
                            '"reason": "guest-shutdown"}}\n')
        self.assertEqual(xhv_run.power_off_evidence({"emulator": "qemu-tcg",
                                                     "qmp_events": events}),
                         "QMP SHUTDOWN reason=guest-shutdown")
        self.assertIsNone(xhv_run.power_off_evidence({"emulator": "qemu-kvm",
                                                      "qmp_events": None}))


class ResetDumpTest(unittest.TestCase):

    TRANSCRIPT = "\n".join([
        "<bochs:1> xp /2gx 0x7c00",
        "[bochs]:",
        "0x0000000000007c00 <bogus+       0>:\t0x53001001009063eb\t0x1007000000000",
        "<bochs:2> q",
    ])

    def test_xp_words_are_read_little_endian_by_address(self):
        memory = xhv_run.parse_xp(self.TRANSCRIPT)
        self.assertEqual(memory[0x7C00], bytes.fromhex("eb63900001100053"))
        self.assertEqual(memory[0x7C08], (0x1007000000000).to_bytes(8, "little"))

    def test_a_page_with_a_word_missing_is_none(self):
        self.assertIsNone(xhv_run.page_bytes(xhv_run.parse_xp(self.TRANSCRIPT), 0x7000))

    def test_requests_name_the_page_of_each_address(self):
        self.assertEqual(xhv_run.dump_requests([
            "XHV-GUEST: dump_at_reset=pal_data 0x12345678",
            "XHV-GUEST: reset_via=cf9",
            "XHV-GUEST: dump_at_reset=canary 0x1000"]),
            {"pal_data": 0x12345000, "canary": 0x1000})


class HungGuestTest(unittest.TestCase):

    def test_hung_machine_is_killed_at_the_timeout_and_logs_are_kept(self):
        out = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        start = time.monotonic()
        result = xhv_run.execute(run_args(), out)
        wall = time.monotonic() - start
        self.assertTrue(result["timed_out"])
        self.assertGreaterEqual(wall, 8)
        self.assertLess(wall, 8 + 15, "the kill after the timeout took too long")
        com1 = xhv_run.read_lines(result["com1"])
        self.assertTrue(any("hangs on purpose" in l for l in com1), com1)
        self.assertTrue(os.path.isfile(os.path.join(out, "emulator.log")))
        self.assertIsNone(result["power_off"])

    def test_a_reset_is_not_a_power_off(self):
        out = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        result = xhv_run.execute(run_args(disk=RESET_DISK, timeout=60), out)
        self.assertFalse(result["timed_out"])
        com1 = xhv_run.read_lines(result["com1"])
        self.assertTrue(any("resets on purpose" in l for l in com1), com1)
        shutdowns = [e for e in xhv_run.read_qmp_events(result["qmp_events"])
                     if e.get("event") == "SHUTDOWN"]
        self.assertEqual([e["data"]["reason"] for e in shutdowns], ["guest-reset"])
        self.assertIsNone(result["power_off"])

    def test_bochs_stops_at_the_reset_with_the_named_page_as_it_was(self):
        out = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        result = xhv_run.execute(run_args(disk=RESET_DISK, emulator="bochs", timeout=240,
                                          stop_at_reset=True), out)
        why = "\n".join(["bochs.out:", xhv_run.tail(os.path.join(out, "bochs.out")),
                         "emulator.log:", xhv_run.tail(result["emulator_log"])])
        self.assertFalse(result["timed_out"], why)
        self.assertIsNone(result["stopped_on"], why)
        # Power-on did not stop at the breakpoint: GRUB ran and reset the machine.
        com1 = xhv_run.read_lines(result["com1"])
        self.assertTrue(any("resets on purpose" in l for l in com1), why)
        self.assertIn("reset vector", result["reset"])
        self.assertIsNone(result["power_off"])
        page = result["reset_dumps"]["boot_sector"]
        self.assertEqual(page["gpa"], "0x7000")
        data = bytes.fromhex(page["bytes"])
        # The boot sector GRUB's MBR code was loaded to, whole after the reset.
        self.assertEqual(data[0xC00:0xC02], b"\xeb\x63", data[0xC00:0xC10].hex())
        self.assertEqual(data[0xDFE:0xE00], b"\x55\xaa")

    def test_stop_at_reset_refuses_qemu(self):
        with self.assertRaises(xhv_run.RunnerError) as ctx:
            xhv_run.execute(run_args(stop_at_reset=True), tempfile.mkdtemp())
        self.assertIn("needs Bochs", str(ctx.exception))

    def test_missing_disk_is_a_setup_error_not_a_verdict(self):
        args = run_args()
        args.disk = ["/nonexistent/disk.img"]
        with self.assertRaises(xhv_run.RunnerError) as ctx:
            xhv_run.execute(args, tempfile.mkdtemp())
        self.assertIn("does not exist", str(ctx.exception))

    def test_tcg_refuses_a_hypervisor_run(self):
        with self.assertRaises(xhv_run.RunnerError) as ctx:
            xhv_run.pick_emulator("qemu-tcg", needs_vmx=True)
        self.assertIn("no VMX", str(ctx.exception))


class BochsTopologyTest(unittest.TestCase):

    def test_even_cpu_counts_are_two_thread_cores_as_bochs_cpuid_leaf_0xb_reports(self):
        self.assertEqual(xhv_run.bochs_topology(2), "1:1:2")
        self.assertEqual(xhv_run.bochs_topology(8), "1:4:2")

    def test_odd_cpu_counts_are_single_cpu_packages(self):
        self.assertEqual(xhv_run.bochs_topology(1), "1:1:1")
        self.assertEqual(xhv_run.bochs_topology(3), "3:1:1")


if __name__ == "__main__":
    HANG_DISK = os.path.abspath(sys.argv.pop(1))
    RESET_DISK = os.path.abspath(sys.argv.pop(1))
    unittest.main()
