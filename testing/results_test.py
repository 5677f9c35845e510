#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The status table and the bench show one run, and mark what is not from it."""

import json
import os
import tempfile
import unittest

from testing import bench
from testing import results
from testing import status_table

INVOCATION = "369824be-7ba3-44cd-a5ca-58a843a44494"
EARLIER = "4883c41e-8b75-46df-8754-44d1a24d50e4"
STARTED_MS = 1796235352441


def events(tests):
    """A build event record as Bazel 4 writes it, of the events results.py reads."""
    lines = [
        {"id": {"started": {}}, "started": {"uuid": INVOCATION, "startTimeMillis":
                                            str(STARTED_MS)}},
        {"id": {"pattern": {"pattern": ["//testing:matrix"]}}},
        {"id": {"workspaceStatus": {}}, "workspaceStatus": {"item": [
            {"key": "BUILD_TIMESTAMP", "value": "1796235353"},
            {"key": "XHV_COMMIT", "value": "3e4c1680fcd76b99e58eec2c594e56355de818dd"},
            {"key": "XHV_TREE", "value": "clean"}]}},
    ]
    for label, status, cached in tests:
        lines.append({"id": {"testSummary": {"label": label}},
                      "testSummary": {"overallStatus": status, "totalNumCached": int(cached)}})
    return "".join(json.dumps(l) + "\n" for l in lines)


def cell(name, hv, guest, pal, emulator, passed=True, invocation=INVOCATION, disk="d1",
         uptime=10.0, report=None, at=STARTED_MS / 1000.0 + 60, boot="pvh"):
    disks = {"disk0": {"file": "guest.img", "sha256": disk}} if hv == "none" else {
        "disk0": {"file": "hv.img", "sha256": "hv-" + hv},
        "disk1": {"file": "guest.img", "sha256": disk}}
    return {"cell": name, "hv": hv, "debian": "debian12", "guest": guest, "pal": pal, "boot": boot,
            "emulator": emulator, "passed": passed, "guest_uptime_at_init": uptime,
            "inputs": disks, "judged_at": at, "started_at": at - 100, "wall_seconds": 100.0,
            "bazel": {"invocation_id": invocation, "commit": "3e4c1680fc", "tree": "clean"},
            "guest_report": report or {}, "kernel": {"version": "6.1.176-1"},
            "busybox": {"version": "1:1.35.0-4+deb12u1+b1"}}


class Workspace:
    """A workspace with bazel-testlogs and a build event record."""

    def __init__(self, cells, tests):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        for c in cells:
            out = os.path.join(self.dir, "bazel-testlogs", "testing", c["cell"], "test.outputs")
            os.makedirs(out)
            with open(os.path.join(out, "result.json"), "w") as f:
                json.dump(c, f)
        if tests is not None:
            with open(os.path.join(self.dir, results.EVENTS_FILE), "w") as f:
                f.write(events(tests))


class FreshnessTest(unittest.TestCase):

    def test_a_result_from_the_last_run_is_current(self):
        ws = Workspace([cell("cell_a", "x86", "x86", "x86", "bochs")],
                       [("//testing:cell_a", "PASSED", False)])
        inv, rs = results.load_run(ws.dir)
        self.assertEqual(inv.uuid, INVOCATION)
        self.assertEqual(inv.commit, "3e4c1680fcd76b99e58eec2c594e56355de818dd")
        self.assertEqual(rs[0]["_fresh"], "ran")

    def test_a_result_that_names_no_run_is_current_if_this_run_executed_it_after_it_began(self):
        ws = Workspace([cell("cell_a", "x86", "x86", "x86", "bochs", invocation=None),
                        cell("cell_b", "x86", "x86", "x86", "bochs", invocation=None,
                             at=STARTED_MS / 1000.0 - 60)],
                       [("//testing:cell_a", "PASSED", False), ("//testing:cell_b", "PASSED", False)])
        _, rs = results.load_run(ws.dir)
        fresh = {r["cell"]: r["_fresh"] for r in rs}
        self.assertEqual(fresh["cell_a"], "ran")
        self.assertEqual(fresh["cell_b"], "old", "judged before the run began: not this run's")

    def test_a_cached_result_names_the_run_that_made_it(self):
        ws = Workspace([cell("cell_a", "x86", "x86", "x86", "bochs", invocation=EARLIER)],
                       [("//testing:cell_a", "PASSED", True)])
        _, rs = results.load_run(ws.dir)
        self.assertEqual(rs[0]["_fresh"], "cached")
        self.assertIn(EARLIER[:8], rs[0]["_note"])

    def test_a_result_the_last_run_did_not_cover_is_old(self):
        # The run was filtered to cell_a; cell_b's result is from before.
        ws = Workspace([cell("cell_a", "x86", "x86", "x86", "bochs"),
                        cell("cell_b", "x86_64", "x86", "x86", "bochs", invocation=EARLIER,
                             at=STARTED_MS / 1000.0 - 7200)],
                       [("//testing:cell_a", "PASSED", False)])
        _, rs = results.load_run(ws.dir)
        fresh = {r["cell"]: (r["_fresh"], r["_note"]) for r in rs}
        self.assertEqual(fresh["cell_a"][0], "ran")
        self.assertEqual(fresh["cell_b"][0], "old")
        self.assertIn("2.0 h before it", fresh["cell_b"][1])

    def test_without_a_record_of_the_run_everything_is_old(self):
        ws = Workspace([cell("cell_a", "x86", "x86", "x86", "bochs")], None)
        inv, rs = results.load_run(ws.dir)
        self.assertIsNone(inv)
        self.assertEqual(rs[0]["_fresh"], "old")


class StatusTableTest(unittest.TestCase):

    def test_rows_follow_the_seed_layout_with_one_column_per_emulator(self):
        rs = [
            dict(cell("c1", "x86_64", "x86", "none", "bochs"), _fresh="ran"),
            dict(cell("c2", "none", "x86", "x86", "qemu-tcg", passed=False), _fresh="ran"),
            dict(cell("c3", "x86", "x86", "x86", "bochs", boot="grub"), debian="debian11",
                 _fresh="ran",
                 kernel={"version": "5.10.223-1"}, busybox={"version": "1:1.30.1-6+b3"}),
        ]
        rows = status_table.rows_from(rs)
        self.assertEqual([k for k, _, _ in rows], [
            ("x86", "debian11", "x86", "x86", "grub", 2, 1024, ""),
            ("x86_64", "debian12", "x86", "none", "pvh", 2, 1024, ""),
            ("none", "debian12", "x86", "x86", "pvh", 2, 1024, "")])
        md = status_table.markdown(rows).splitlines()
        self.assertEqual(md[2], "| xhv x86 | N | Debian 11 x86 | pal_demo x86 | GRUB chain | good | - | - "
                                "| 5.10.223-1 / 1.30.1-6+b3 |")
        self.assertEqual(md[3], "| xhv x64 | N | Debian 12 x86 | - | direct (PVH) | good | - | - "
                                "| 6.1.176-1 / 1.35.0-4+deb12u1+b1 |")
        self.assertEqual(md[4], "| none | N | Debian 12 x86 | pal_demo x86 | direct (PVH) | - | - | bad "
                                "| 6.1.176-1 / 1.35.0-4+deb12u1+b1 |")
        rst = status_table.rst(rows).splitlines()
        self.assertTrue(rst[0].startswith("+") and rst[2].startswith("+="))

    def test_after_a_filtered_run_older_rows_say_so(self):
        ws = Workspace([cell("cell_hv_x86_debian12_x86_pal_x86_pvh_bochs", "x86", "x86", "x86",
                             "bochs"),
                        cell("cell_hv_x86_64_debian12_x86_pal_x86_pvh_bochs", "x86_64", "x86", "x86",
                             "bochs", invocation=EARLIER, at=STARTED_MS / 1000.0 - 3600)],
                       [("//testing:cell_hv_x86_debian12_x86_pal_x86_pvh_bochs", "PASSED", False)])
        inv, rs = results.load_run(ws.dir)
        md = status_table.markdown(status_table.rows_from(rs))
        self.assertIn("| xhv x86 | N | Debian 12 x86 | pal_demo x86 | direct (PVH) | good | - | - |", md)
        self.assertIn("| xhv x64 | N | Debian 12 x86 | pal_demo x86 | direct (PVH) | good (OLD: not from this "
                      "run; ran", md)
        head = "\n".join(results.header(inv, "bazel run //testing:status_table"))
        self.assertIn("Invocation %s" % INVOCATION, head)
        self.assertIn("commit 3e4c1680fcd76b99e58eec2c594e56355de818dd (clean)", head)

    def test_a_covered_cell_that_left_no_result_is_bad(self):
        ws = Workspace([], [("//testing:cell_hv_x86_64_debian12_x86_64_nopal_pvh_bochs", "FAILED",
                             False)])
        inv, rs = results.load_run(ws.dir)
        rows = status_table.rows_from(rs + status_table.missing_results(inv, rs))
        self.assertEqual(rows[0][0], ("x86_64", "debian12", "x86_64", "none", "pvh", 2, 1024, ""))
        self.assertEqual(rows[0][1]["bochs"], "bad (no result: FAILED)")

    def test_a_cell_of_more_cpus_is_a_row_of_its_own(self):
        ws = Workspace([], [("//testing:cell_hv_x86_debian12_x86_pal_x86_pvh_smp4_bochs", "FAILED",
                             False)])
        inv, rs = results.load_run(ws.dir)
        rows = status_table.rows_from(rs + status_table.missing_results(inv, rs))
        self.assertEqual(rows[0][0], ("x86", "debian12", "x86", "x86", "pvh", 4, 1024, ""))
        self.assertIn("| Debian 12 x86, 4 CPUs |", status_table.markdown(rows))

    def test_a_reset_cell_is_a_row_of_its_own_naming_the_way(self):
        ws = Workspace([], [
            ("//testing:cell_hv_x86_debian12_x86_pal_x86_pvh_bochs", "PASSED", False),
            ("//testing:cell_hv_x86_debian12_x86_pal_x86_pvh_reset_kbd_bochs", "FAILED", False)])
        inv, rs = results.load_run(ws.dir)
        rows = status_table.rows_from(rs + status_table.missing_results(inv, rs))
        keys = [row[0] for row in rows]
        self.assertIn(("x86", "debian12", "x86", "x86", "pvh", 2, 1024, "kbd"), keys)
        self.assertIn("| pal_demo x86, reset (keyboard controller) |", status_table.markdown(rows))


class BenchTest(unittest.TestCase):

    REPORT = {"bench_plain_ticks": "20", "bench_cpuid_ticks": "600",
              "bench_vmcall_nop_ticks": "700", "bench_vmcall_quiesce_ticks": "1400",
              "bench_vmcall_quiesce_hypercall": "helloworld HELLO_HC_QUIESCE: 1"}

    def table(self, cells, tests):
        ws = Workspace(cells, tests)
        inv, rs = results.load_run(ws.dir)
        return bench.report(inv, rs)

    def test_boot_ratio_divides_by_the_bare_run_of_the_same_disk(self):
        lines = self.table([cell("cell_h", "x86_64", "x86_64", "none", "bochs", disk="same",
                                 uptime=12.0, report=dict(self.REPORT, tsc_at_init="1500")),
                            cell("cell_b", "none", "x86_64", "x86_64", "bochs", disk="same",
                                 uptime=10.0, report={"tsc_at_init": "1000"}),
                            cell("cell_o", "none", "x86_64", "x86", "bochs", disk="other",
                                 uptime=5.0)],
                           [("//testing:cell_h", "PASSED", False),
                            ("//testing:cell_b", "PASSED", False),
                            ("//testing:cell_o", "PASSED", False)])
        row = next(l for l in lines if l.startswith("| xhv x64"))
        self.assertIn("| direct | 6.1.176-1 | bochs | 1.50 | 1.20 | - / - | 30.00 | 35.00 | 2.00 |",
                      row)
        self.assertTrue(row.endswith("| this run |"), row)
        self.assertIn("Invocation %s" % INVOCATION, lines[1])

    def test_no_bare_run_of_the_same_disk_means_no_boot_ratio(self):
        lines = self.table([cell("cell_h", "x86_64", "x86_64", "none", "bochs", disk="mine",
                                 report=self.REPORT),
                            cell("cell_o", "none", "x86_64", "x86_64", "bochs", disk="other")],
                           [("//testing:cell_h", "PASSED", False),
                            ("//testing:cell_o", "PASSED", False)])
        row = next(l for l in lines if l.startswith("| xhv x64"))
        self.assertIn("| bochs | - | - |", row)
        self.assertIn("no passing bare run of this guest disk", row)

    def test_rows_from_another_run_say_how_old_they_are(self):
        lines = self.table([cell("cell_h", "x86_64", "x86_64", "none", "bochs",
                                 invocation=EARLIER, report=self.REPORT,
                                 at=STARTED_MS / 1000.0 - 1800)],
                           [("//testing:cell_x", "PASSED", False)])
        row = next(l for l in lines if l.startswith("| xhv x64"))
        self.assertIn("OLD: not from this run", row)
        self.assertIn("0.5 h before it", row)


if __name__ == "__main__":
    unittest.main()
