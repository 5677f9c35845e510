#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The runner's contract on a machine that never powers off: killed at the
timeout, reported as timed out, every log kept."""

import argparse
import os
import sys
import tempfile
import time
import unittest

from testing.runner import xhv_run

HANG_DISK = None


def run_args(**overrides):
    parser = argparse.ArgumentParser()
    xhv_run.add_arguments(parser)
    args = parser.parse_args(["--emulator=qemu-tcg", "--disk=" + HANG_DISK, "--smp=1",
                              "--mem-mib=64", "--timeout=8"])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


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

    def test_missing_disk_is_a_setup_error_not_a_verdict(self):
        with self.assertRaises(xhv_run.RunnerError) as ctx:
            xhv_run.execute(run_args(disk=["/nonexistent/disk.img"]), tempfile.mkdtemp())
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
    unittest.main()
