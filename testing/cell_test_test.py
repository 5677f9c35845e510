#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How a cell is judged from its serial logs, and how the status table reads results."""

import os
import tempfile
import unittest

from testing import cell_test
from testing import status_table

HV_LOG = """\
xhv 0.1.0 x86_64 (64-bit hypervisor)
e820: hypervisor image [0x200000, 0x269000), heap [0x3ee00000, 0x3fe00000) hidden from the guest
e820: guest memory map (3 entries)
vmx-exits: cpu=0 reason=10 name="CPUID" count=120
vmx-exits: cpu=1 reason=10 name="CPUID" count=80
"""

GUEST_OK = """\
XHV-GUEST: uptime_at_init=3.5
XHV-GUEST: cpus_online=2
XHV-GUEST: e820=0x0-0x9fbff System RAM
XHV-GUEST: e820=0x100000-0x1fffff System RAM
XHV-GUEST: e820=0x200000-0x268fff Reserved
XHV-GUEST: e820=0x269000-0x3edfffff System RAM
XHV-GUEST: devmem_hv_image=0x200000:0x00000000
XHV-RESULT: PASS hypervisor core checks
"""


def run_result(tmp, com1, com2, timed_out=False, stopped_on=None):
    paths = {}
    for name, text in (("com1", com1), ("com2", com2)):
        paths[name] = os.path.join(tmp, name + ".log")
        with open(paths[name], "w") as f:
            f.write(text)
    return {"com1": paths["com1"], "com2": paths["com2"], "timed_out": timed_out,
            "stopped_on": stopped_on, "timeout": 600}


HV_CELL = {"cell": "c", "hv": "x86_64", "guest": "x86_64", "pal": "none"}
BARE_CELL = {"cell": "b", "hv": "none", "guest": "x86_64", "pal": "none"}


NMI_STORM = """\
XHV-GUEST: nmi_window=open
XHV-GUEST: nmi_device_sent=20 20
XHV-GUEST: nmi_window=closed
XHV-GUEST: nmi_sysrq_triggers=20
XHV-GUEST: nmi_before= 0 0
XHV-GUEST: nmi_after= 30 30
"""

HV_NMIS = """\
nmi: cpu=0 guest=30 injected=30 merged=0 owed=0 parks=10
nmi: cpu=1 guest=30 injected=30 merged=0 owed=0 parks=12
"""


class NmiAccountingTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

    def judge(self, com1, com2, runner_nmis=0):
        result = run_result(self.tmp, com1, com2)
        result["runner_nmis"] = runner_nmis
        return cell_test.judge(HV_CELL, result)

    def test_sysrq_trigger_i_runs_on_cpu_i_mod_n_and_hits_the_others(self):
        self.assertEqual(cell_test.expected_nmis(2, 20, 0), [10, 10])
        self.assertEqual(cell_test.expected_nmis(3, 3, 0), [2, 2, 2])

    def test_runner_nmis_reach_cpu0_and_device_nmis_their_target(self):
        self.assertEqual(cell_test.expected_nmis(2, 20, 6, [20, 20]), [36, 30])

    def test_exact_counts_pass(self):
        passed, reason, _ = self.judge(HV_LOG + HV_NMIS, NMI_STORM + GUEST_OK)
        self.assertTrue(passed, reason)

    def test_a_lost_guest_nmi_fails(self):
        lost = NMI_STORM.replace("nmi_after= 30 30", "nmi_after= 30 29")
        passed, reason, _ = self.judge(HV_LOG + HV_NMIS, lost + GUEST_OK)
        self.assertFalse(passed)
        self.assertIn("counted [30, 29] NMIs, but were sent [30, 30]", reason)

    def test_a_spurious_guest_nmi_fails(self):
        extra = NMI_STORM.replace("nmi_after= 30 30", "nmi_after= 31 30")
        passed, reason, _ = self.judge(HV_LOG + HV_NMIS, extra + GUEST_OK)
        self.assertFalse(passed)

    def test_hypervisor_injections_must_match_the_guest_total(self):
        skewed = HV_NMIS.replace("cpu=1 guest=30 injected=30", "cpu=1 guest=31 injected=31")
        passed, reason, _ = self.judge(HV_LOG + skewed, NMI_STORM + GUEST_OK)
        self.assertFalse(passed)
        self.assertIn("injected [30, 31]", reason)


class ExpectFailureTest(unittest.TestCase):

    def test_a_protocol_failure_after_boot_is_a_finding(self):
        summary = {"guest_uptime_at_init": 9.5}
        self.assertTrue(cell_test.failure_is_a_finding(summary, "timed out after 600 s"))
        self.assertTrue(cell_test.failure_is_a_finding(
            summary, "the guest's CPUs counted [1, 2] NMIs, but were sent [1, 3]"))

    def test_a_guest_that_never_booted_proves_nothing(self):
        self.assertFalse(cell_test.failure_is_a_finding({"guest_uptime_at_init": None},
                                                        "timed out after 600 s"))
        self.assertFalse(cell_test.failure_is_a_finding({"guest_uptime_at_init": 9.5},
                                                        "no hypervisor banner on COM1"))


class JudgeTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

    def judge(self, cell, com1, com2, **kw):
        return cell_test.judge(cell, run_result(self.tmp, com1, com2, **kw))

    def test_healthy_hypervisor_cell_passes(self):
        passed, reason, guest = self.judge(HV_CELL, HV_LOG, GUEST_OK)
        self.assertTrue(passed, reason)
        self.assertEqual(guest["cpus_online"], "2")

    def test_guest_ram_over_hypervisor_memory_fails(self):
        leaky = GUEST_OK.replace("0x269000-0x3edfffff System RAM", "0x269000-0x3effffff System RAM")
        passed, reason, _ = self.judge(HV_CELL, HV_LOG, leaky)
        self.assertFalse(passed)
        self.assertIn("over hypervisor memory", reason)

    def test_probe_outside_hypervisor_memory_fails(self):
        wrong = GUEST_OK.replace("devmem_hv_image=0x200000", "devmem_hv_image=0x100000")
        passed, reason, _ = self.judge(HV_CELL, HV_LOG, wrong)
        self.assertFalse(passed)
        self.assertIn("probe address", reason)

    def test_missing_e820_edit_fails(self):
        passed, reason, _ = self.judge(HV_CELL, HV_LOG.replace("e820: hypervisor image", "x"),
                                       GUEST_OK)
        self.assertFalse(passed)
        self.assertIn("E820 edit", reason)

    def test_hypervisor_panic_fails_even_if_the_guest_passed(self):
        passed, reason, _ = self.judge(HV_CELL, HV_LOG + "xhv: PANIC: CPU 1: boom\n", GUEST_OK)
        self.assertFalse(passed)
        self.assertIn("boom", reason)

    def test_timeout_fails_with_the_last_verdict(self):
        passed, reason, _ = self.judge(BARE_CELL, "", "XHV-GUEST: uptime_at_init=1\n",
                                       timed_out=True)
        self.assertFalse(passed)
        self.assertIn("timed out", reason)

    def test_guest_fail_line_fails(self):
        passed, reason, _ = self.judge(BARE_CELL, "", "XHV-GUEST: uptime_at_init=1\n"
                                       "XHV-RESULT: FAIL cpus_online=1, expected 2\n")
        self.assertFalse(passed)
        self.assertIn("cpus_online=1", reason)

    def test_no_verdict_fails(self):
        passed, reason, _ = self.judge(BARE_CELL, "", "XHV-GUEST: uptime_at_init=1\n")
        self.assertFalse(passed)
        self.assertIn("no XHV-RESULT", reason)

    def test_bare_cell_needs_no_hypervisor_log(self):
        passed, reason, _ = self.judge(BARE_CELL, "", "XHV-GUEST: uptime_at_init=1\n"
                                       "XHV-RESULT: PASS bare boot\n")
        self.assertTrue(passed, reason)

    def test_exit_counts_are_collected_per_reason_and_cpu(self):
        self.assertEqual(cell_test.exit_counts(HV_LOG.splitlines()), {"CPUID": {0: 120, 1: 80}})


VERSIONS = {
    "title": "Debian 11 x86_64",
    "kernel": {"package": "linux-image-5.10.0-32-amd64", "version": "5.10.223-1",
               "release": "5.10.0-32-amd64", "drifted": False},
    "busybox": {"package": "busybox-static", "version": "1:1.30.1-6+b3", "drifted": False},
}

GUEST_VERSIONS = {
    "kernel": "5.10.0-32-amd64 x86_64",
    "kernel_version": "Linux version 5.10.0-32-amd64 (debian-kernel@lists.debian.org) "
                      "(gcc-10 (Debian 10.2.1-6) 10.2.1 20210110) #1 SMP Debian 5.10.223-1 "
                      "(2024-08-10)",
    "busybox_version": "BusyBox v1.30.1 (Debian 1:1.30.1-6+b3) multi-call binary.",
}


class VersionsTest(unittest.TestCase):

    def test_guest_running_the_kernel_and_busybox_of_its_disk_passes(self):
        self.assertIsNone(cell_test.check_versions(VERSIONS, dict(GUEST_VERSIONS)))

    def test_another_kernel_release_fails(self):
        guest = dict(GUEST_VERSIONS, kernel="6.1.0-50-amd64 x86_64")
        self.assertIn("runs kernel '6.1.0-50-amd64'", cell_test.check_versions(VERSIONS, guest))

    def test_another_debian_kernel_version_fails(self):
        guest = dict(GUEST_VERSIONS)
        guest["kernel_version"] = guest["kernel_version"].replace("5.10.223-1", "5.10.221-1")
        self.assertIn("does not name Debian 5.10.223-1", cell_test.check_versions(VERSIONS, guest))

    def test_another_busybox_fails(self):
        guest = dict(GUEST_VERSIONS, busybox_version="BusyBox v1.35.0 (Debian 1:1.35.0-4)")
        self.assertIn("busybox-static 1:1.30.1-6+b3", cell_test.check_versions(VERSIONS, guest))

    def test_missing_report_fails(self):
        self.assertIsNotNone(cell_test.check_versions(VERSIONS, {}))


class ResultJsonTest(unittest.TestCase):

    def test_summary_keeps_the_cell_coordinates_apart_from_the_guest_report(self):
        # status_table keys rows by (hv, guest, pal): the guest's own report
        # must not overwrite the guest arch.
        tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        result = run_result(tmp, HV_LOG, GUEST_OK)
        result.update({"emulator": "bochs", "wall_seconds": 12.5, "replay": {"smp": 2}})
        passed, reason, guest = cell_test.judge(HV_CELL, result)
        summary = cell_test.summarize(HV_CELL, result, passed, reason, guest)
        self.assertEqual(summary["guest"], "x86_64")
        self.assertEqual(summary["guest_uptime_at_init"], 3.5)
        self.assertEqual(summary["guest_report"]["cpus_online"], "2")
        self.assertEqual(summary["exit_counts"], {"CPUID": {0: 120, 1: 80}})
        self.assertEqual(status_table.rows_from([summary])[0][0],
                         ("x86_64", "debian12", "x86_64", "none", "grub"))


class StatusTableTest(unittest.TestCase):

    def test_rows_follow_the_seed_layout_with_one_column_per_emulator(self):
        results = [
            {"hv": "x86_64", "guest": "x86", "pal": "none", "emulator": "bochs", "passed": True},
            {"hv": "none", "guest": "x86", "pal": "none", "emulator": "qemu-tcg", "passed": False},
        ]
        results[0].update({"debian": "debian12", "kernel": {"version": "6.1.176-1"},
                           "busybox": {"version": "1:1.35.0-4+deb12u1+b1"}})
        results[1]["debian"] = "debian12"
        results.append({"hv": "x86", "debian": "debian11", "guest": "x86", "pal": "x86",
                        "emulator": "bochs", "passed": True, "kernel": VERSIONS["kernel"],
                        "busybox": VERSIONS["busybox"]})
        results[0]["boot"] = results[1]["boot"] = "pvh"
        rows = status_table.rows_from(results)
        self.assertEqual([k for k, _, _ in rows], [("x86", "debian11", "x86", "x86", "grub"),
                                                   ("x86_64", "debian12", "x86", "none", "pvh"),
                                                   ("none", "debian12", "x86", "none", "pvh")])
        md = status_table.markdown(rows).splitlines()
        self.assertEqual(md[2], "| xhv x86 | N | Debian 11 x86 | pal_demo x86 | GRUB chain "
                                "| good | - | - | 5.10.223-1 / 1.30.1-6+b3 |")
        self.assertEqual(md[3], "| xhv x64 | N | Debian 12 x86 | - | direct (PVH) | good | - | - "
                                "| 6.1.176-1 / 1.35.0-4+deb12u1+b1 |")
        self.assertEqual(md[4], "| none | N | Debian 12 x86 | - | direct (PVH) | - | - | bad | ? |")
        rst = status_table.rst(rows).splitlines()
        self.assertTrue(rst[0].startswith("+") and rst[2].startswith("+="))


if __name__ == "__main__":
    unittest.main()
