#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""How a cell is judged from its logs: complete evidence passes, anything less fails."""

import json
import os
import re
import tempfile
import unittest

from testing import cell_test

# A healthy run of each kind, line for line as the guest scripts print them
# (testing/cells, guests/initramfs/init.sh, guests/tools, guests/pal_demo),
# shortened to what the judge reads.
CMDLINE = ("BOOT_IMAGE=/boot/vmlinuz console=ttyS1,115200 xhv.expect_cpus=2 quiet "
           "xhv.quiesce_rounds=200 xhv.nmi_storm=20 xhv.nmi_device=40 "
           "xhv.nmi_seed=1 xhv.pal_rounds=50 xhv.pal_iters=20 xhv.fuzz_calls=10000")

BOOT = """\
XHV-GUEST: tsc_at_init=80132547211
XHV-GUEST: uptime_at_init=12.58
XHV-GUEST: tsc_calibration=tsc: Fast TSC calibration using PIT;tsc: Detected 3400.028 MHz processor;
XHV-GUEST: initramfs=x86_64
XHV-GUEST: kernel=6.1.0-57-amd64 x86_64
XHV-GUEST: kernel_version=Linux version 6.1.0-57-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1
XHV-GUEST: busybox_version=BusyBox v1.35.0 (Debian 1:1.35.0-4+b3) multi-call binary.
XHV-GUEST: cmdline=%s
XHV-GUEST: cpus_online=2
XHV-GUEST: cpus_online_list=0-1
XHV-GUEST: e820=0x0-0x9efff System RAM
XHV-GUEST: e820=0x100000-0x3edfffff System RAM
XHV-GUEST: e820=0x3ee00000-0x3fe68fff Reserved
XHV-GUEST: step=identify
""" % CMDLINE

STORM = """\
XHV-GUEST: nmi_window=open
XHV-GUEST: nmi_window=closed
[   17.832640] sysrq: Show backtrace of all active CPUs
[   18.912357] Uhhuh. NMI received for unknown reason 31 on CPU 0.
[   18.912422] Dazed and confused, but trying to continue
XHV-GUEST: nmi_device_sent=20 20
XHV-GUEST: nmi_sysrq_triggers=20
XHV-GUEST: nmi_before= 0 0
XHV-GUEST: nmi_after= 30 30
XHV-GUEST: nmi_unknown_reason=40
"""

END = """\
XHV-KMSG: [    0.412000] ACPI: _OSC evaluation for CPUs failed, trying _PDC
XHV-GUEST: kmsg_checked=812 lines, 1 shown
[   46.189909] reboot: Power down
"""

BARE = BOOT + """\
XHV-GUEST: hypervisor=none
XHV-GUEST: hypapp=none
XHV-GUEST: cell_kind=bare
XHV-GUEST: step=pal_unavailable
Error: TrustVisor not present according to CPUID
XHV-GUEST: pal_demo_unavailable=Error: TrustVisor not present according to CPUID
XHV-GUEST: step=nmi_storm
""" + STORM + """\
XHV-GUEST: cpus_alive=2
XHV-RESULT: PASS bare boot, NMI storm counted, pal_demo unavailable
""" + END

HV_PROBES = """\
XHV-GUEST: hypervisor=xhv
XHV-GUEST: hypapp=%s
XHV-GUEST: cell_kind=%s
XHV-GUEST: step=probe quiescing
XHV-GUEST: devmem_hv_image=0x3fe00000:0x00000000
XHV-GUEST: step=hvcheck quiescing
XHV-GUEST: hv_signature=XhvXhvXhvXhv
XHV-GUEST: hv_max_leaf=0x40000001
XHV-GUEST: bad_hypercall_returned=0xffffffffffffffff
"""

BENCH = """\
XHV-GUEST: step=bench quiescing
XHV-GUEST: hv_signature=XhvXhvXhvXhv
XHV-GUEST: bad_hypercall_returned=0xffffffffffffffff
XHV-GUEST: bench_vmcall_quiesce_hypercall=%s
XHV-GUEST: bench_plain_ticks=19
XHV-GUEST: bench_cpuid_ticks=604
XHV-GUEST: bench_vmcall_nop_ticks=684
XHV-GUEST: bench_vmcall_quiesce_ticks=1156
"""

HV_CORE = BOOT + HV_PROBES % ("helloworld", "hv_core") + \
    BENCH % "helloworld HELLO_HC_QUIESCE: 1" + """\
XHV-GUEST: step=stopped quiescing
XHV-GUEST: stopped_rounds=40
XHV-GUEST: stopped_moved=0
XHV-GUEST: stopped_control_min=9120 increments in 100000 ticks
XHV-GUEST: step=quiesce_stress quiescing
""" + STORM + """\
XHV-GUEST: quiesce_batches_cpu1=161
XHV-GUEST: quiesce_batches_cpu0=161
XHV-GUEST: quiesce_hypercalls=200
XHV-GUEST: quiesce_hypercalls=200
XHV-GUEST: quiesce_rounds_per_batch=200
XHV-GUEST: cpus_alive=2
XHV-GUEST: step=cpuid
XHV-RESULT: PASS hypervisor core checks
""" + END

# The red team's lines, as guests/redteam prints them: the attacks from a
# PAL's process, then the ring-0 stage that replaced the kernel.
REDTEAM_USER = """\
XHV-GUEST: step=redteam_syscall_in_pal quiescing
XHV-GUEST: redteam_syscall_in_pal=refused syscall=0x506 sysenter=0x506 int80=0x506 cs=0x33
XHV-GUEST: redteam_dr7_in_pal=not_hit armed=dr0 control_hits=1 pal_result=0x2a
XHV-GUEST: redteam_fpu_state=intact x87=kept sse=kept avx=kept after_fault=kept
XHV-GUEST: redteam_lent_page_write=revoked pal_result=0x508 writer_saw_own=1
XHV-GUEST: redteam_kcore_direct_map=zeros frame=0x3d000000 nonzero_words=0 secret_words=0
XHV-GUEST: redteam_com1_forgery=dropped writes=180 marker=XHVFORGED77 uart_lsr=0xff
"""

REDTEAM_RING0 = """\
XHV-GUEST: redteam_kexec=loading entry=0x10010 kernel=x86_64 cpus=2 pm1a_cnt=0xb004
XHV-GUEST: redteam_ring0_stage=started from=64-bit kernel
XHV-GUEST: redteam_halts=faulted 32bit: mov_cr4_esp=#GP
XHV-GUEST: redteam_task_switch=emulated jmp=ok call=ok
XHV-GUEST: redteam_e820_unreal=refused own_buffer=landed hv_image=0x3fe00000:CF
XHV-GUEST: redteam_nmi_self=twice runs=2 sent_from_handler=10
XHV-GUEST: redteam_rf_injected=set injected_gp_rf=1 native_gp_rf=1
XHV-GUEST: nmi_after_kexec=32 30
XHV-GUEST: redteam_ring0=done
"""

PAL = BOOT + HV_PROBES % ("trustvisor", "pal") + """\
XHV-GUEST: step=test_args quiescing
XHV-GUEST: test_args_7_7_7=pass
XHV-GUEST: step=main quiescing
XHV-GUEST: main_1_2=6 lines
""" + BENCH % "trustvisor TV_HC_UNREG, nothing registered: 0x205" + """\
XHV-GUEST: step=palbench quiescing
XHV-GUEST: bench_pal_vmcall_ticks=675
XHV-GUEST: bench_pal_register_ticks=124035
XHV-GUEST: bench_pal_call_ticks=28975
XHV-GUEST: bench_pal_unregister_ticks=26805
XHV-GUEST: step=isolation quiescing
XHV-GUEST: isolation_user_read=0 secret words of 512
XHV-GUEST: isolation=ok
XHV-GUEST: step=limits quiescing
XHV-GUEST: limits_unregister_twice=0x205
XHV-GUEST: limits=ok
""" + REDTEAM_USER + """\
XHV-GUEST: step=pal_loops quiescing
""" + STORM + """\
XHV-GUEST: pal_loops=50 test calls and 20 test_args iterations per CPU
XHV-GUEST: step=hotplug quiescing
XHV-GUEST: cpus_alive=2
XHV-GUEST: hotplug=2 rounds of every AP offline and online, 14 PAL test calls beside
XHV-GUEST: step=fuzz quiescing
XHV-GUEST: hcfuzz=calls=10000 errors=9348 registered=153 seed=1
XHV-GUEST: step=test_args_after_fuzz quiescing
XHV-GUEST: test_args_after_fuzz=pass
XHV-GUEST: cpus_alive=2
XHV-RESULT: PASS pal_demo, isolation, red team, NMI storm and fuzzing
""" + END.replace("[   46.189909] reboot: Power down\n", "") + REDTEAM_RING0

FIRMWARE_MAP = """\
e820: firmware memory map (4 entries)
e820:   [0x0000000000000000, 0x000000000009f000) usable
e820:   [0x000000000009f000, 0x00000000000a0000) reserved
e820:   [0x0000000000100000, 0x000000003fff0000) usable
e820:   [0x000000003fff0000, 0x0000000040000000) ACPI
"""

HV_LOG = """\
xhv 0.1.0 x86_64 (64-bit hypervisor)
boot: image moved from 0x200000 to 0x3fe00000 (1192 addresses in it moved along)
""" + FIRMWARE_MAP + """\
e820: hypervisor image [0x3fe00000, 0x3fe69000), heap [0x3ee00000, 0x3fe00000) hidden from the guest
e820: guest memory map (3 entries)
vmx: CPU 0: guest enters ACPI sleep (PM1 control 0xb004 <- 0x2001)
quiesce: rounds=70611
nmi: cpu=0 guest=30 injected=30 merged=0 owed=0 parks=32361
vmx-exits: cpu=0 reason=10 name="CPUID" count=120
vmx-exits: cpu=0 reason=18 name="VMCALL" count=50135
nmi: cpu=1 guest=30 injected=30 merged=0 owed=0 parks=38250
vmx-exits: cpu=1 reason=10 name="CPUID" count=80
vmx-exits: cpu=1 reason=18 name="VMCALL" count=32361
"""

HOTPLUG_LOG = "".join("vmx: CPU 1: guest start-up IPI, vector 0x9a: the CPU starts again\n"
                      for _ in range(2))
TV_LOG = "trustvisor: CPU 0: shutdown: 303 registrations, 186 PAL calls, 0 PALs scrubbed, " \
         "0 revoked\nserial: guest writes to the hypervisor's UART dropped=200\n"
# The PAL cell's log: the ring-0 stage's two NMIs on CPU 0 beyond the kernel's 30.
PAL_LOG = HV_LOG.replace("nmi: cpu=0 guest=30 injected=30", "nmi: cpu=0 guest=32 injected=32") + \
    HOTPLUG_LOG + TV_LOG

BOCHS_POWER_OFF = "07744870655p[ACPI  ] >>PANIC<< ACPI control: soft power off\n"

BARE_CELL = {"cell": "b", "hv": "none", "debian": "debian12", "guest": "x86_64", "pal": "x86"}
HV_CORE_CELL = {"cell": "c", "hv": "x86_64", "debian": "debian12", "guest": "x86_64",
                "pal": "none"}
PAL_CELL = {"cell": "p", "hv": "x86_64", "debian": "debian12", "guest": "x86_64",
            "pal": "x86_64"}

HEALTHY = {
    "bare": (BARE_CELL, "", BARE),
    "hv_core": (HV_CORE_CELL, HV_LOG, HV_CORE),
    "pal": (PAL_CELL, PAL_LOG, PAL),
}


def run_result(tmp, com1, com2, emulator_log=BOCHS_POWER_OFF, timed_out=False,
               stopped_on=None):
    paths = {}
    for name, text in (("com1", com1), ("com2", com2), ("emulator", emulator_log)):
        paths[name] = os.path.join(tmp, name + ".log")
        with open(paths[name], "w") as f:
            f.write(text)
    return {"com1": paths["com1"], "com2": paths["com2"], "emulator": "bochs",
            "emulator_log": paths["emulator"], "timed_out": timed_out,
            "stopped_on": stopped_on, "timeout": 600, "wall_seconds": 200.0,
            "replay": {"smp": 2}}


def without_line(text, key):
    """text without its XHV-GUEST lines of `key`."""
    return "".join(l for l in text.splitlines(True)
                   if not l.startswith("XHV-GUEST: %s=" % key))


class JudgeCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

    def judge(self, cell, com1, com2, **kw):
        return cell_test.judge(cell, run_result(self.tmp, com1, com2, **kw))

    def evaluate(self, cell, com1, com2, **kw):
        result = run_result(self.tmp, com1, com2, **kw)
        return cell_test.evaluate(cell, result), result

    def assertFails(self, cell, com1, com2, reason_part, **kw):
        passed, reason, _ = self.judge(cell, com1, com2, **kw)
        self.assertFalse(passed, "passed, but should fail with %r" % reason_part)
        self.assertIn(reason_part, reason)


class CompleteEvidenceTest(JudgeCase):

    def test_a_healthy_run_of_every_kind_passes(self):
        for kind, (cell, com1, com2) in HEALTHY.items():
            passed, reason, guest = self.judge(cell, com1, com2)
            self.assertTrue(passed, "%s: %s" % (kind, reason))
            self.assertEqual(guest["cpus_online"], "2")

    def test_a_guest_that_skips_any_required_line_fails(self):
        # Every evidence key of every kind, one at a time.
        for kind, (cell, com1, com2) in HEALTHY.items():
            for group in cell_test.KIND_EVIDENCE[kind]:
                for key, _ in cell_test.EVIDENCE[group]:
                    key = key.format(cpu=1)
                    with self.subTest(kind=kind, key=key):
                        passed, reason, _ = self.judge(cell, com1, without_line(com2, key))
                        self.assertFalse(passed)
                        self.assertIn(key, reason)

    def test_the_old_init_fallback_pass_is_no_evidence(self):
        # init.sh once printed this when it found no /xhv/test.sh.
        com2 = BOOT + "XHV-RESULT: PASS bare boot\n" + END
        self.assertFails(HV_CORE_CELL, HV_LOG, com2, "never printed")

    def test_a_hypervisor_cell_without_its_nmi_storm_fails(self):
        com2 = without_line(without_line(HV_CORE, "nmi_after"), "nmi_before")
        self.assertFails(HV_CORE_CELL, HV_LOG, com2, "nmi_before")

    def test_a_pal_cell_that_palbench_failed_half_way_fails(self):
        # palbench printed its first figure, then failed; a filter in the
        # cell script once kept only the bench lines and the PASS went on.
        com2 = without_line(without_line(without_line(
            PAL, "bench_pal_register_ticks"), "bench_pal_call_ticks"), "bench_pal_unregister_ticks")
        self.assertFails(PAL_CELL, PAL_LOG, com2, "bench_pal_register_ticks")

    def test_a_fail_line_anywhere_fails_the_cell(self):
        com2 = PAL.replace("XHV-GUEST: bench_pal_register_ticks=124035\n",
                           "XHV-RESULT: FAIL palbench: TV_HC_REG returned 0x101\n")
        self.assertFails(PAL_CELL, PAL_LOG, com2, "palbench: TV_HC_REG returned 0x101")

    def test_two_passes_are_one_too_many(self):
        com2 = HV_CORE.replace("XHV-GUEST: step=cpuid\n",
                               "XHV-GUEST: step=cpuid\nXHV-RESULT: PASS something else\n")
        self.assertFails(HV_CORE_CELL, HV_LOG, com2, "2 XHV-RESULT: PASS lines")

    def test_no_fuzzing_is_not_a_pass(self):
        com2 = PAL.replace("xhv.fuzz_calls=10000", "xhv.fuzz_calls=0").replace(
            "hcfuzz=calls=10000", "hcfuzz=calls=0")
        self.assertFails(PAL_CELL, PAL_LOG, com2, "a PAL cell must fuzz")

    def test_fewer_fuzzed_calls_than_configured_fail(self):
        com2 = PAL.replace("hcfuzz=calls=10000", "hcfuzz=calls=9999")
        self.assertFails(PAL_CELL, PAL_LOG, com2, "made 9999 calls, xhv.fuzz_calls=10000")

    def test_fuzz_summary_needs_its_registered_count(self):
        com2 = PAL.replace(" registered=153", "")
        self.assertFails(PAL_CELL, PAL_LOG, com2, "without calls= and registered=")

    def test_isolation_and_limits_must_say_ok(self):
        self.assertFails(PAL_CELL, PAL_LOG, PAL.replace("isolation=ok", "isolation=leak"),
                         "isolation")
        self.assertFails(PAL_CELL, PAL_LOG, without_line(PAL, "limits"), "limits")

    def test_a_counter_that_moved_while_quiesced_fails(self):
        com2 = HV_CORE.replace("stopped_moved=0", "stopped_moved=17")
        self.assertFails(HV_CORE_CELL, HV_LOG, com2, "stopped_moved is '17', not 0")

    def test_a_proof_whose_counter_never_moved_proves_nothing(self):
        com2 = HV_CORE.replace("stopped_control_min=9120", "stopped_control_min=0")
        self.assertFails(HV_CORE_CELL, HV_LOG, com2, "never moved while the other CPUs ran")

    def test_a_missing_quiesce_batch_of_one_cpu_fails(self):
        self.assertFails(HV_CORE_CELL, HV_LOG, without_line(HV_CORE, "quiesce_batches_cpu0"),
                         "quiesce_batches_cpu0")

    def test_the_pal_cells_quiesce_cost_uses_a_trustvisor_hypercall(self):
        com2 = PAL.replace("trustvisor TV_HC_UNREG, nothing registered: 0x205",
                           "helloworld HELLO_HC_QUIESCE: 18446744073709551615")
        self.assertFails(PAL_CELL, PAL_LOG, com2, "not a hypercall of trustvisor")

    def test_a_guest_that_took_itself_for_another_kind_fails(self):
        com2 = BARE.replace("cell_kind=bare", "cell_kind=hv_core")
        self.assertFails(BARE_CELL, "", com2, "another kind of cell than bare")

    def test_a_bare_pal_demo_that_finds_trustvisor_fails(self):
        com2 = without_line(BARE, "pal_demo_unavailable")
        self.assertFails(BARE_CELL, "", com2, "pal_demo_unavailable")


class HypervisorAccountTest(JudgeCase):
    """The hypervisor's own log must cover what the guest claims it did."""

    def test_fewer_quiesce_rounds_than_claimed_hypercalls_fail(self):
        self.assertFails(HV_CORE_CELL, HV_LOG.replace("rounds=70611", "rounds=60000"), HV_CORE,
                         "ran 60000 quiesce rounds, the guest claims 64440")

    def test_fewer_vmcall_exits_than_claimed_hypercalls_fail(self):
        com1 = HV_LOG.replace('name="VMCALL" count=32361', 'name="VMCALL" count=10')
        self.assertFails(HV_CORE_CELL, com1, HV_CORE, "50145 VMCALL exits")

    def test_trustvisor_must_have_served_pals(self):
        self.assertFails(PAL_CELL, HV_LOG, PAL, "no TrustVisor shutdown summary")

    def test_guest_ram_over_hypervisor_memory_fails(self):
        leaky = HV_CORE.replace("0x100000-0x3edfffff System RAM", "0x100000-0x3effffff System RAM")
        self.assertFails(HV_CORE_CELL, HV_LOG, leaky, "over hypervisor memory")

    def test_probe_outside_hypervisor_memory_fails(self):
        wrong = HV_CORE.replace("devmem_hv_image=0x3fe00000", "devmem_hv_image=0x100000")
        self.assertFails(HV_CORE_CELL, HV_LOG, wrong, "probe address")

    def test_a_hole_in_low_memory_the_firmware_did_not_make_fails(self):
        holed = HV_CORE.replace("XHV-GUEST: e820=0x100000-0x3edfffff System RAM\n",
                                "XHV-GUEST: e820=0x100000-0x1fffff System RAM\n"
                                "XHV-GUEST: e820=0x269000-0x3edfffff System RAM\n")
        self.assertFails(HV_CORE_CELL, HV_LOG, holed,
                         "hole the firmware's has not: [0x200000, 0x269000)")

    def test_an_image_that_did_not_move_fails(self):
        for stayed in ["boot: image stays at 0x200000 (no free RAM for it higher up)",
                       "boot: the image's relocation table is missing or does not match it: a "
                       "broken build (toolchains/reloc_table.py), halting"]:
            log = HV_LOG.replace(
                "boot: image moved from 0x200000 to 0x3fe00000 (1192 addresses in it moved along)",
                stayed)
            self.assertFails(HV_CORE_CELL, log, HV_CORE, "did not move out of low memory")
        silent = "".join(l for l in HV_LOG.splitlines(True) if not l.startswith("boot: image"))
        self.assertFails(HV_CORE_CELL, silent, HV_CORE, "does not say where its image went")
        elsewhere = HV_LOG.replace("to 0x3fe00000 (", "to 0x3de00000 (")
        self.assertFails(HV_CORE_CELL, elsewhere, HV_CORE, "hides [0x3fe00000, 0x3fe69000)")

    def test_with_room_above_1gib_the_hypervisor_must_be_there(self):
        big = HV_LOG.replace("0x000000003fff0000) usable", "0x00000000bfff0000) usable")
        self.assertFails(HV_CORE_CELL, big, HV_CORE, "in the guest's first GiB")

    def test_a_hypervisor_above_1gib_leaves_the_first_gib_whole(self):
        high = HV_LOG.replace("0x000000003fff0000) usable", "0x00000000bfff0000) usable").replace(
            "hypervisor image [0x3fe00000, 0x3fe69000), heap [0x3ee00000, 0x3fe00000)",
            "hypervisor image [0x7fe00000, 0x7fe7c000), heap [0xbee00000, 0xbfe00000)").replace(
            "to 0x3fe00000 (", "to 0x7fe00000 (")
        whole = HV_CORE.replace(
            "XHV-GUEST: e820=0x100000-0x3edfffff System RAM\n"
            "XHV-GUEST: e820=0x3ee00000-0x3fe68fff Reserved\n",
            "XHV-GUEST: e820=0x100000-0x7fdfffff System RAM\n"
            "XHV-GUEST: e820=0x7fe00000-0x7fe7bfff Reserved\n").replace(
            "devmem_hv_image=0x3fe00000", "devmem_hv_image=0x7fe00000")
        passed, reason, guest = self.judge(HV_CORE_CELL, high, whole)
        self.assertTrue(passed, reason)
        self.assertEqual(guest["low_memory"], "whole below 0x40000000 (hypervisor memory from "
                         "0x7fe00000)")
        self.assertEqual(guest["image_moved"], "from 0x200000 to 0x7fe00000 (1192 addresses)")
        holed = whole.replace("0x100000-0x7fdfffff System RAM", "0x100000-0x2fffffff System RAM")
        self.assertFails(HV_CORE_CELL, high, holed, "[0x30000000, 0x40000000)")

    def test_missing_e820_edit_fails(self):
        self.assertFails(HV_CORE_CELL, HV_LOG.replace("e820: hypervisor image", "x"), HV_CORE,
                         "E820 edit")

    def test_hypervisor_panic_fails_even_if_the_guest_passed(self):
        self.assertFails(HV_CORE_CELL, HV_LOG + "xhv: PANIC: CPU 1: boom\n", HV_CORE, "boom")

    def test_exit_counts_are_collected_per_reason_and_cpu(self):
        self.assertEqual(cell_test.exit_counts(HV_LOG.splitlines())["CPUID"], {0: 120, 1: 80})


class KernelTroubleTest(JudgeCase):
    """Whatever the scripts made of it, the guest kernel's reports of trouble fail a cell."""

    def test_oops_bug_warn_segfault_gp_and_traps_fail(self):
        for line in [
            "[   21.100000] BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "[   21.100000] Oops: 0002 [#1] PREEMPT SMP NOPTI",
            "XHV-KMSG: [   21.100000] WARNING: CPU: 1 PID: 88 at kernel/smp.c:912 "
            "smp_call_function_many_cond+0x3a0/0x3e0",
            "XHV-KMSG: [   30.500000] test[412]: segfault at 4 ip 0000000008049a1c sp "
            "00000000ffd3e0c0 error 4 in test[8049000+6b000]",
            "XHV-KMSG: [   30.500000] traps: test_args[413] general protection fault "
            "ip:8049b2e sp:ffd3e0bc error:0 in test_args[8049000+6b000]",
            "XHV-KMSG: [   30.500000] traps: hcfuzz[414] trap invalid opcode ip:804a000 "
            "sp:ffd3e0bc error:0 in hcfuzz[8049000+6b000]",
            "[   31.000000] general protection fault, probably for non-canonical address "
            "0xdead000000000100: 0000 [#1] SMP",
        ]:
            with self.subTest(line=line):
                com2 = PAL.replace("XHV-GUEST: kmsg_checked", line + "\nXHV-GUEST: kmsg_checked")
                self.assertFails(PAL_CELL, PAL_LOG, com2, "kernel reported trouble")

    def test_backtrace_frames_and_our_own_lines_are_no_trouble(self):
        com2 = PAL.replace("XHV-GUEST: kmsg_checked", "XHV-KMSG: [   18.1] ? asm_exc_page_fault"
                           "+0x22/0x30\nXHV-GUEST: kmsg_checked")
        com2 = com2.replace("XHV-GUEST: isolation=ok",
                            "XHV-GUEST: isolation_note=no segfault at 0\nXHV-GUEST: isolation=ok")
        passed, reason, _ = self.judge(PAL_CELL, PAL_LOG, com2)
        self.assertTrue(passed, reason)

    def test_benign_reports_are_listed_with_a_reason(self):
        for rx, why in cell_test.KERNEL_BENIGN:
            self.assertTrue(why, rx.pattern)


class PowerOffTest(JudgeCase):

    def test_without_the_emulators_power_off_the_cell_fails(self):
        for kind, (cell, com1, com2) in HEALTHY.items():
            with self.subTest(kind=kind):
                self.assertFails(cell, com1, com2, "powered the machine off",
                                 emulator_log="04949254734i[SIM   ] quit_sim called\n")

    def test_timeout_fails_with_the_last_verdict(self):
        self.assertFails(BARE_CELL, "", "XHV-GUEST: uptime_at_init=1\n", "timed out",
                         timed_out=True)

    def test_no_verdict_fails(self):
        self.assertFails(BARE_CELL, "", BOOT + END, "0 XHV-RESULT: PASS lines")


class NmiAccountingTest(JudgeCase):

    def test_sysrq_trigger_i_runs_on_cpu_i_mod_n_and_hits_the_others(self):
        self.assertEqual(cell_test.expected_nmis(2, 20, 0), [10, 10])
        self.assertEqual(cell_test.expected_nmis(3, 3, 0), [2, 2, 2])

    def test_runner_nmis_reach_cpu0_and_device_nmis_their_target(self):
        self.assertEqual(cell_test.expected_nmis(2, 20, 6, [20, 20]), [36, 30])

    def test_a_lost_guest_nmi_fails(self):
        self.assertFails(HV_CORE_CELL, HV_LOG, HV_CORE.replace("nmi_after= 30 30",
                                                               "nmi_after= 30 29"),
                         "counted [30, 29] NMIs, but were sent [30, 30]")

    def test_a_spurious_guest_nmi_fails(self):
        self.assertFails(BARE_CELL, "", BARE.replace("nmi_after= 30 30", "nmi_after= 31 30"),
                         "counted [31, 30] NMIs")

    def test_hypervisor_injections_must_match_the_guest_total(self):
        skewed = HV_LOG.replace("cpu=1 guest=30 injected=30", "cpu=1 guest=31 injected=31")
        self.assertFails(HV_CORE_CELL, skewed, HV_CORE, "injected [30, 31]")


STALL = "[   35.055507] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"


class RedTeamTest(JudgeCase):
    """A PAL cell passes only with every attack made and failed safely."""

    def test_every_attack_is_required(self):
        for line in (REDTEAM_USER + REDTEAM_RING0).splitlines():
            key = line.split(": ", 1)[1].split("=", 1)[0]
            if key.startswith("redteam_") and key not in ("redteam_kexec",):
                self.assertFails(PAL_CELL, PAL_LOG, without_line(PAL, key), key)

    def test_an_attack_that_did_not_fail_safely_fails(self):
        bad = PAL.replace("redteam_nmi_self=twice runs=2", "redteam_nmi_self=WRONG runs=3")
        self.assertFails(PAL_CELL, PAL_LOG, bad, "redteam_nmi_self")

    def test_a_forged_line_in_the_hypervisor_log_fails(self):
        self.assertFails(PAL_CELL, PAL_LOG + "xhv: PANIC: XHVFORGED77 forged by the guest\n", PAL,
                         "XHVFORGED77")

    def test_uart_writes_the_hypervisor_did_not_count_fail(self):
        self.assertFails(PAL_CELL, PAL_LOG.replace("dropped=200", "dropped=3"), PAL, "dropped")
        self.assertFails(PAL_CELL, PAL_LOG.replace("serial: guest writes", "serial: x"), PAL,
                         "dropped")

    def test_the_ring0_stages_nmis_are_balanced_against_the_hypervisors(self):
        self.assertFails(PAL_CELL, PAL_LOG, PAL.replace("nmi_after_kexec=32 30",
                                                        "nmi_after_kexec=31 30"),
                         "injected [32, 30] NMIs per CPU, the guest counted [31, 30]")
        self.assertEqual(cell_test.nmis_delivered({"nmi_after": "30 30"}, [30, 30]), [30, 30])


class HighMemoryTest(JudgeCase):
    """A cell with RAM above 4 GiB must show its PAL's pages there."""

    HIGH = dict(PAL_CELL, pal_above_4g=True)

    def test_a_pal_above_4_gib_passes(self):
        com2 = PAL.replace("XHV-GUEST: isolation=ok",
                           "XHV-GUEST: isolation_pal_data=0x7f00 gpa 0x16a3f1000\n"
                           "XHV-GUEST: isolation=ok")
        passed, reason, _ = self.judge(self.HIGH, PAL_LOG, com2)
        self.assertTrue(passed, reason)

    def test_a_pal_below_4_gib_fails(self):
        com2 = PAL.replace("XHV-GUEST: isolation=ok",
                           "XHV-GUEST: isolation_pal_data=0x7f00 gpa 0x3a3f1000\n"
                           "XHV-GUEST: isolation=ok")
        self.assertFails(self.HIGH, PAL_LOG, com2, "below 4 GiB")
        self.assertFails(self.HIGH, PAL_LOG, PAL, "isolation_pal_data")

    KCORE = "redteam_kcore_direct_map=zeros frame=0x3d000000 nonzero_words=0 secret_words=0"

    def high_frame(self, line):
        return PAL.replace("XHV-GUEST: isolation=ok",
                           "XHV-GUEST: isolation_pal_data=0xb7f00000 gpa 0x16a3f1000\n"
                           "XHV-GUEST: isolation=ok").replace(self.KCORE, line)

    def test_a_32_bit_guests_frame_above_4_gib_is_attacked_through_its_temporary_mapping(self):
        com2 = self.high_frame("redteam_kcore_direct_map=no_direct_map frame=0x16a3f1000 "
                               "kmap_read=proc_mem nonzero_words=0 secret_words=0")
        passed, reason, _ = self.judge(dict(self.HIGH, guest="x86"), PAL_LOG, com2)
        self.assertTrue(passed, reason)

    def test_no_direct_map_is_no_excuse_for_a_64_bit_guest_or_a_low_frame(self):
        com2 = self.high_frame("redteam_kcore_direct_map=no_direct_map frame=0x16a3f1000 "
                               "kmap_read=proc_mem nonzero_words=0 secret_words=0")
        self.assertFails(dict(self.HIGH, guest="x86_64"), PAL_LOG, com2, "outside the direct map")
        low = self.high_frame("redteam_kcore_direct_map=no_direct_map frame=0x3d000000 "
                              "kmap_read=proc_mem nonzero_words=0 secret_words=0")
        self.assertFails(dict(self.HIGH, guest="x86"), PAL_LOG, low, "outside the direct map")
        other = self.high_frame("redteam_kcore_direct_map=no_direct_map frame=0x16a3f2000 "
                                "kmap_read=proc_mem nonzero_words=0 secret_words=0")
        self.assertFails(dict(self.HIGH, guest="x86"), PAL_LOG, other, "not the frame of the PAL")

    def test_the_i386_image_must_have_reached_them_through_its_temporary_mappings(self):
        com2 = self.high_frame("redteam_kcore_direct_map=no_direct_map frame=0x16a3f1000 "
                               "kmap_read=proc_mem nonzero_words=0 secret_words=0")
        i386 = dict(self.HIGH, hv="x86", guest="x86")
        self.assertFails(i386, PAL_LOG, com2, "no count in its log")
        self.assertFails(i386, PAL_LOG + "paging: temporary mappings=0\n", com2, "(0)")
        passed, reason, _ = self.judge(i386, PAL_LOG + "paging: temporary mappings=4411\n", com2)
        self.assertTrue(passed, reason)

    def test_a_temporary_mapping_that_reads_more_than_zeros_fails(self):
        com2 = self.high_frame("redteam_kcore_direct_map=no_direct_map frame=0x16a3f1000 "
                               "kmap_read=proc_mem nonzero_words=3 secret_words=0")
        self.assertFails(dict(self.HIGH, guest="x86"), PAL_LOG, com2, "more than zeros")


class HotplugTest(JudgeCase):

    def test_restarts_the_hypervisor_did_not_make_fail(self):
        self.assertFails(PAL_CELL, PAL_LOG.replace(HOTPLUG_LOG, HOTPLUG_LOG.splitlines(True)[0]),
                         PAL, "the hypervisor restarted 1")

    def test_a_cell_without_its_hotplug_fails(self):
        self.assertFails(PAL_CELL, PAL_LOG, without_line(PAL, "hotplug"), "hotplug")


SECRET = 0x5E7E5E7E5E7E5E7E & ~0x80000000
RESET_CELL = dict(PAL_CELL, reset_via="cf9")
RESET = BOOT.replace("xhv.fuzz_calls=10000", "xhv.fuzz_calls=10000 xhv.cell=reset") + """\
XHV-GUEST: hypervisor=xhv
XHV-GUEST: hypapp=trustvisor
XHV-GUEST: hv_signature=XhvXhvXhvXhv
XHV-GUEST: cell_kind=reset
XHV-GUEST: step=reset quiescing
XHV-GUEST: reset_secret=0x%x, 8-byte words, word i is the secret ^ i
XHV-GUEST: dump_at_reset=pal_data 0x3a3f1000
XHV-GUEST: dump_at_reset=canary 0x3a3f2000
XHV-GUEST: reset_via=cf9
XHV-RESULT: PASS the machine is reset with a PAL registered
""" % SECRET
RESET_LOG = HV_LOG.replace("vmx: CPU 0: guest enters ACPI sleep (PM1 control 0xb004 <- 0x2001)",
                           "vmx: CPU 1: guest resets the machine (reset control register 0xcf9)") \
    + "trustvisor: CPU 1: shutdown: 1 registrations, 1 PAL calls, 1 PALs scrubbed, 0 revoked\n"
SECRET_PAGE = b"".join((SECRET ^ i).to_bytes(8, "little") for i in range(512))


class ResetCellTest(JudgeCase):
    """A reset cell passes on memory read at the reset: the PAL's DATA page
    scrubbed, the canary intact; and on the hypervisor's account of it."""

    def evaluate_reset(self, com1=RESET_LOG, com2=RESET, data=bytes(4096), canary=SECRET_PAGE,
                       reset="bochs: stopped at the reset vector (0xfffffff0) after a reset",
                       cell=RESET_CELL):
        result = run_result(self.tmp, com1, com2, emulator_log="")
        result["reset"] = reset
        result["reset_dumps"] = {
            "pal_data": {"gpa": "0x3a3f1000", "bytes": data.hex() if data is not None else None},
            "canary": {"gpa": "0x3a3f2000", "bytes": canary.hex()}}
        return cell_test.evaluate(cell, result)

    def assertResetFails(self, reason_part, **kw):
        ev = self.evaluate_reset(**kw)
        self.assertFalse(ev.passed, "passed, but should fail with %r" % reason_part)
        self.assertIn(reason_part, ev.reason)

    def test_a_scrubbed_pal_and_an_intact_canary_pass(self):
        ev = self.evaluate_reset()
        self.assertTrue(ev.passed, ev.reason)
        self.assertEqual(ev.guest["reset_memory"], "DATA page 0x3a3f1000 zero, canary "
                         "0x3a3f2000 intact")

    def test_a_secret_left_in_the_data_page_fails(self):
        self.assertResetFails("holds 512 words of its secret", data=SECRET_PAGE)
        one = bytearray(4096)
        one[8:16] = (SECRET ^ 1).to_bytes(8, "little")
        self.assertResetFails("holds 1 words of its secret", data=bytes(one))

    def test_a_canary_not_as_written_proves_nothing(self):
        self.assertResetFails("canary page", canary=bytes(4096))

    def test_a_page_the_runner_could_not_read_fails(self):
        self.assertResetFails("no memory at the reset", data=None)

    def test_without_the_emulators_reset_the_cell_fails(self):
        self.assertResetFails("did not stop at a reset", reset=None)

    def test_a_power_off_is_not_a_reset(self):
        result = run_result(self.tmp, RESET_LOG, RESET)
        self.assertIn("powered the machine off",
                      cell_test.evaluate(RESET_CELL, result).reason)

    def test_another_way_of_resetting_fails(self):
        self.assertResetFails("not once by", cell=dict(RESET_CELL, reset_via="kbd"),
                              com2=RESET.replace("reset_via=cf9", "reset_via=kbd"))

    def test_no_pal_scrubbed_fails(self):
        self.assertResetFails("did not scrub the registered PAL",
                              com1=RESET_LOG.replace("1 PALs scrubbed", "0 PALs scrubbed"))
        self.assertResetFails("did not scrub the registered PAL",
                              com1=RESET_LOG.replace("0 revoked", "1 revoked"))

    def test_a_32_bit_pal_s_page_is_read_in_4_byte_words(self):
        secret = SECRET & 0xFFFFFFFF
        page = b"".join((secret ^ i).to_bytes(4, "little") for i in range(1024))
        com2 = RESET.replace("0x%x, 8-byte" % SECRET, "0x%x, 4-byte" % secret)
        self.assertTrue(self.evaluate_reset(com2=com2, canary=page).passed)
        ev = self.evaluate_reset(com2=com2, canary=page, data=page)
        self.assertIn("holds 1024 words of its secret", ev.reason)

    def test_a_guest_that_skips_any_required_line_fails(self):
        for group in cell_test.KIND_EVIDENCE["reset"]:
            for key, _ in cell_test.EVIDENCE[group]:
                with self.subTest(key=key):
                    self.assertResetFails(key, com2=without_line(RESET, key))


class ExpectFailureTest(JudgeCase):
    """--expect-failure=quiesce_hang passes on that failure and on no other."""

    def expect(self, com1, com2, **kw):
        ev, result = self.evaluate(HV_CORE_CELL, com1, com2, **kw)
        return cell_test.expected_failure(ev, result, "quiesce_hang")

    def hang_in(self, step_line):
        cut = HV_CORE.index(step_line) + len(step_line)
        return HV_CORE[:cut] + STALL + "\n"

    def test_an_rcu_stall_in_a_quiescing_step_is_the_signature(self):
        self.assertEqual(self.expect(HV_LOG, self.hang_in("step=bench quiescing\n"),
                                     stopped_on="guest: " + STALL), 0)

    def test_a_stall_in_a_step_without_quiescing_hypercalls_is_not(self):
        self.assertEqual(self.expect(HV_LOG, self.hang_in("step=identify\n"),
                                     stopped_on="guest: " + STALL), 1)

    def test_a_timeout_is_not_the_signature(self):
        self.assertEqual(self.expect(HV_LOG, self.hang_in("step=bench quiescing\n"),
                                     timed_out=True), 1)

    def test_an_unrelated_fail_is_not_the_signature(self):
        com2 = self.hang_in("step=bench quiescing\n").replace(
            STALL, "XHV-RESULT: FAIL hvcheck bench exited 1\n" + STALL)
        self.assertEqual(self.expect(HV_LOG, com2, stopped_on="guest: " + STALL), 1)

    def test_a_guest_that_never_booted_proves_nothing(self):
        self.assertEqual(self.expect(HV_LOG, STALL + "\n", stopped_on="guest: " + STALL), 1)

    def test_a_hypervisor_panic_is_not_the_signature(self):
        self.assertEqual(self.expect(HV_LOG + "xhv: PANIC: CPU 0: boom\n",
                                     self.hang_in("step=bench quiescing\n"),
                                     stopped_on="guest: " + STALL), 1)

    def test_a_cell_that_passes_fails_the_expectation(self):
        self.assertEqual(self.expect(HV_LOG, HV_CORE), 1)


def testdata(*parts):
    base = os.path.join(os.environ["TEST_SRCDIR"], os.environ.get("TEST_WORKSPACE", "xhv"),
                        "testing") if os.environ.get("TEST_SRCDIR") else os.path.dirname(
                            os.path.abspath(__file__))
    return os.path.join(base, "testdata", *parts)


# What the recorded hv_core run's guest says of CPU 1's quiesce batches (its
# CPU 0 line came out cut in two by a kernel record, as the judge must take it).
RECORDED_BATCHES_CPU1 = "117"


class RecordedRunTest(unittest.TestCase):
    """The judge on logs of real runs (testing/testdata)."""

    def recorded(self, name, edit=None):
        with open(testdata(name, "result.json")) as f:
            saved = json.load(f)
        cell = {k: saved[k] for k in ("cell", "hv", "debian", "guest", "pal")}
        cell["versions"] = {"kernel": saved["kernel"], "busybox": saved["busybox"]}
        com2 = testdata(name, "com2.log")
        if edit:
            tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
            with open(com2) as f:
                text = edit(f.read())
            com2 = os.path.join(tmp, "com2.log")
            with open(com2, "w") as f:
                f.write(text)
        result = {"com1": testdata(name, "com1.log"), "com2": com2, "emulator": saved["emulator"],
                  "emulator_log": testdata(name, "emulator.log"), "timed_out": saved["timed_out"],
                  "stopped_on": saved["stopped_on"], "timeout": 600}
        return cell, result, cell_test.evaluate(cell, result)

    def test_a_recorded_healthy_hypervisor_cell_passes(self):
        _, _, ev = self.recorded("hv_core_x86_64_debian12")
        self.assertTrue(ev.passed, ev.reason)
        self.assertEqual(ev.steps[-1], ("cpuid", False))
        self.assertIn("soft power off", ev.power_off)

    def test_the_same_run_with_a_fail_inside_a_pipeline_fails(self):
        _, _, ev = self.recorded("hv_core_x86_64_debian12", lambda t: t.replace(
            "XHV-GUEST: bench_cpuid_ticks", "XHV-RESULT: FAIL hvcheck bench: odd\n"
                                            "XHV-GUEST: bench_cpuid_ticks"))
        self.assertFalse(ev.passed)
        self.assertIn("hvcheck bench: odd", ev.reason)

    def test_the_same_run_without_its_quiesce_proof_fails(self):
        _, _, ev = self.recorded("hv_core_x86_64_debian12",
                                 lambda t: without_line(t, "stopped_moved"))
        self.assertFalse(ev.passed)
        self.assertIn("stopped_moved", ev.reason)

    def test_the_same_run_with_an_oops_fails(self):
        _, _, ev = self.recorded("hv_core_x86_64_debian12", lambda t: t.replace(
            "XHV-GUEST: kmsg_checked", "XHV-KMSG: [   21.1] BUG: unable to handle page fault for "
                                       "address: ffffffffff5fd000\nXHV-GUEST: kmsg_checked"))
        self.assertFalse(ev.passed)
        self.assertIn("BUG: unable to handle page fault", ev.reason)

    def test_the_same_run_with_kernel_records_inside_an_evidence_line_passes(self):
        # As a CI run printed it: device NMIs' reports cut a program's line.
        split = ("XHV-GUEST: quies[   21.736993] Uhhuh. NMI received for unknown reason 21 on "
                 "CPU 1.\n[   21.737068] Dazed and confused, but trying to continue\n"
                 "ce_batches_cpu1=[   21.753551] Uhhuh. NMI received for unknown reason 21 on "
                 "CPU 1.\n%s\n")
        _, _, ev = self.recorded("hv_core_x86_64_debian12", lambda t: re.sub(
            r"XHV-GUEST: quiesce_batches_cpu1=(\d+)\n", lambda m: split % m.group(1), t, count=1))
        self.assertTrue(ev.passed, ev.reason)
        self.assertEqual(ev.guest["quiesce_batches_cpu1"], RECORDED_BATCHES_CPU1)

    def test_an_oops_inside_a_program_line_still_fails(self):
        _, _, ev = self.recorded("hv_core_x86_64_debian12", lambda t: re.sub(
            r"XHV-GUEST: quiesce_batches_cpu1=(\d+)\n", lambda m:
            "XHV-GUEST: quiesce_bat[   21.100000] BUG: kernel NULL pointer dereference, "
            "address: 0000000000000000\nches_cpu1=%s\n" % m.group(1), t, count=1))
        self.assertFalse(ev.passed)
        self.assertIn("BUG: kernel NULL pointer dereference", ev.reason)

    def test_the_recorded_seed_protocol_hang_is_the_quiesce_hang_signature(self):
        _, result, ev = self.recorded("legacy_pal_x86_64_debian12")
        self.assertFalse(ev.passed)
        self.assertEqual(cell_test.expected_failure(ev, result, "quiesce_hang"), 0)

    def test_the_same_hang_after_an_unrelated_fail_is_not(self):
        _, result, ev = self.recorded("legacy_pal_x86_64_debian12", lambda t: t.replace(
            "XHV-GUEST: step=test_args quiescing",
            "XHV-RESULT: FAIL the probe was wrong\nXHV-GUEST: step=test_args quiescing"))
        self.assertEqual(cell_test.expected_failure(ev, result, "quiesce_hang"), 1)


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


class ProvenanceTest(unittest.TestCase):
    """result.json says what ran: the inputs' digests, the invocation, the commit."""

    def test_summary_keeps_the_cell_coordinates_apart_from_the_guest_report(self):
        tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        result = run_result(tmp, HV_LOG, HV_CORE)
        ev = cell_test.evaluate(HV_CORE_CELL, result)
        summary = cell_test.summarize(HV_CORE_CELL, result, ev, {"run_id": "r"})
        self.assertEqual(summary["guest"], "x86_64")
        self.assertEqual(summary["kind"], "hv_core")
        self.assertEqual(summary["guest_uptime_at_init"], 12.58)
        self.assertEqual(summary["guest_report"]["cpus_online"], "2")
        self.assertIn("soft power off", summary["power_off"])
        self.assertEqual(summary["run_id"], "r")
        self.assertEqual(summary["steps"][-1], "cpuid")

    def test_inputs_digest_changes_with_any_disk_byte(self):
        tmp = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        disk = os.path.join(tmp, "guest.img")
        with open(disk, "wb") as f:
            f.write(b"\0" * 4096)
        digests, first = cell_test.cell_inputs([disk], None)
        self.assertEqual(digests["disk0"]["file"], "guest.img")
        with open(disk, "r+b") as f:
            f.seek(4000)
            f.write(b"\1")
        self.assertNotEqual(cell_test.cell_inputs([disk], None)[1], first)

    def test_the_running_bazels_invocation_and_commit_are_read_from_its_output_base(self):
        base = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        execroot = os.path.join(base, "execroot", "xhv")
        os.makedirs(os.path.join(execroot, "bazel-out"))
        with open(os.path.join(base, "command.log"), "w") as f:
            f.write("INFO: Invocation ID: 4883c41e-8b75-46df-8754-44d1a24d50e4\nLoading:\n")
        with open(os.path.join(execroot, "bazel-out", "volatile-status.txt"), "w") as f:
            f.write("BUILD_TIMESTAMP 1796234808\nXHV_COMMIT a914035\nXHV_TREE clean\n")
        env = {"TEST_TMPDIR": base + "/sandbox/processwrapper-sandbox/7/execroot/xhv/_tmp/x",
               "TEST_WORKSPACE": "xhv", "TEST_TARGET": "//testing:cell_x"}
        info = cell_test.bazel_run_info(env)
        self.assertEqual(info, {"invocation_id": "4883c41e-8b75-46df-8754-44d1a24d50e4",
                                "commit": "a914035", "tree": "clean",
                                "target": "//testing:cell_x"})
        self.assertEqual(cell_test.bazel_run_info({})["invocation_id"], None)


if __name__ == "__main__":
    unittest.main()
