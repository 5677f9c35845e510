# SPDX-License-Identifier: Apache-2.0
"""The matrix: ONE table of cells, each booted in an emulator as its own test.

A cell is (hypervisor arch or "none", Debian release, Debian guest arch,
pal_demo arch or "none", emulator). `matrix_cells()` turns the table into one
test target per cell plus the disks it boots, and `//testing:matrix` is
their test_suite.

One guest disk per (Debian release, guest arch, pal_demo arch) serves every
cell on it: the bare baseline boots the very disk the hypervisor cells chain
to (the guest finds out what runs beneath it, testing/cells/cell.sh), so
the boot-time ratio of the two compares the hypervisor alone.
"""

load("//guests/disk:disk_image.bzl", "disk_image")
load("//guests/disk:guest_disk.bzl", "guest_disk", "pvh_guest_disk")
load("//guests/initramfs:initramfs.bzl", "guest_initramfs")

# The seed's status table first (Debian 11, the release it ran), then the
# same cells on Debian 12, the quiesce stress cells of each hypervisor arch,
# and the bare baselines: one row per cell. A bare cell's pal_demo arch
# names the guest disk it boots (pal_demo must find no TrustVisor there);
# every guest disk has a bare Bochs cell, its boot-time baseline. `boot` is
# how the guest starts: "grub", the GRUB chain (xhv runs the guest disk's
# MBR, whose GRUB boots the bzImage: how XMHF boots a machine's own OS, and
# what the seed ran), or "pvh", the direct boot (GRUB hands xhv, or the
# bare pvhboot, the kernel ELF and the initramfs; no decompression, no real
# mode). The seed's rows keep the GRUB chain, which so covers every
# hypervisor and guest arch; every other cell boots directly. `CPUs` is the
# emulated machine's CPU count: 2, and 4 for a PAL cell of each hypervisor
# arch (xhv runs up to XHV_MAX_CPUS, hv/common/include/xhv/percpu.h).
MATRIX = [
    # hv      Debian      guest     pal       boot    emulator  CPUs
    ("x86", "debian11", "x86", "x86", "grub", "bochs", 2),
    ("x86_64", "debian11", "x86", "x86", "grub", "bochs", 2),
    ("x86_64", "debian11", "x86_64", "x86", "grub", "bochs", 2),
    ("x86_64", "debian11", "x86_64", "x86_64", "grub", "bochs", 2),
    ("none", "debian11", "x86", "x86", "grub", "bochs", 2),
    ("none", "debian11", "x86", "x86", "grub", "qemu-tcg", 2),
    ("none", "debian11", "x86_64", "x86", "grub", "bochs", 2),
    ("none", "debian11", "x86_64", "x86_64", "grub", "bochs", 2),
    ("none", "debian11", "x86_64", "x86_64", "grub", "qemu-tcg", 2),
    ("x86", "debian12", "x86", "x86", "pvh", "bochs", 2),
    ("x86_64", "debian12", "x86", "x86", "pvh", "bochs", 2),
    ("x86_64", "debian12", "x86_64", "x86", "pvh", "bochs", 2),
    ("x86_64", "debian12", "x86_64", "x86_64", "pvh", "bochs", 2),
    ("x86", "debian12", "x86", "none", "pvh", "bochs", 2),
    ("x86_64", "debian12", "x86_64", "none", "pvh", "bochs", 2),
    ("x86", "debian12", "x86", "x86", "pvh", "bochs", 4),
    ("x86_64", "debian12", "x86_64", "x86_64", "pvh", "bochs", 4),
    ("none", "debian12", "x86", "x86", "pvh", "bochs", 2),
    ("none", "debian12", "x86", "x86", "pvh", "qemu-tcg", 2),
    ("none", "debian12", "x86_64", "x86", "pvh", "bochs", 2),
    ("none", "debian12", "x86_64", "x86_64", "pvh", "bochs", 2),
    ("none", "debian12", "x86_64", "x86_64", "pvh", "qemu-tcg", 2),
]

BOOT_PATHS = ["grub", "pvh"]

# The PAL cells `./bazelw run //:demo` can boot, each by either path.
DEMO_DEBIANS = ["debian11", "debian12"]
DEMO_ROWS = [
    # hv      guest     pal
    ("x86", "x86", "x86"),
    ("x86_64", "x86", "x86"),
    ("x86_64", "x86_64", "x86"),
    ("x86_64", "x86_64", "x86_64"),
]

# The hypapp each kind of hypervisor cell links: helloworld's hypercalls
# show that quiesced CPUs stop (the quiesce stress cells); the PAL cells run
# pal_demo under trustvisor.
HYPAPPS = {
    "hv_core": "helloworld",
    "pal": "trustvisor",
}

# The guest-side checks of each kind of cell (/xhv/cells/<kind>.sh); every
# guest disk has all of them, and /xhv/test.sh picks by what runs beneath.
CELL_SCRIPTS = {
    "bare": "cells/bare.sh",
    "hv_core": "cells/hv_core.sh",
    "pal": "cells/pal.sh",
    "reset": "cells/reset.sh",
}

# Sizes of the stress parts, set per build (defaults keep a cell under 5
# minutes in Bochs): --//testing:quiesce_rounds=N quiescing hypercalls per
# CPU, --//testing:nmi_storm=N all-CPU NMI backtraces the guest triggers,
# --//testing:nmi_device=N NMIs from the PIT through the I/O APIC, and
# --//testing:nmi_seed=N their timing (and the fuzzer's seed); in PAL cells
# --//testing:pal_rounds=N `test` calls and --//testing:pal_iters=N
# test_args iterations per CPU, --//testing:fuzz_calls=N random hypercalls,
# --//testing:hotplug_rounds=N times every AP goes offline and online.
# They reach the guest as xhv.<name>=N on its kernel command line.
STRESS_FLAGS = [
    "//testing:quiesce_rounds",
    "//testing:nmi_storm",
    "//testing:nmi_device",
    "//testing:nmi_seed",
    "//testing:pal_rounds",
    "//testing:pal_iters",
    "//testing:fuzz_calls",
    "//testing:hotplug_rounds",
]

# guests/redteam programs every PAL cell runs (testing/cells/pal.sh).
REDTEAM_PROGRAMS = [
    "syscall_in_pal",
    "dr7_in_pal",
    "fpu_state",
    "lent_page_write",
    "com1_forgery",
    "rt_kexec",
]

# How the status table names each Debian release (as the seed does).
DEBIAN_TITLES = {
    "debian11": "Debian 11",
    "debian12": "Debian 12",
}

def _cell_kind(hv, pal):
    if hv == "none":
        return "bare"
    return "hv_core" if pal == "none" else "pal"

GUEST_ARCHES = ["x86", "x86_64"]

# What every guest kernel gets: console on COM2, nothing the tests don't need.
# `lpj` skips delay-loop calibration and `tsc=reliable` the clocksource
# watchdog, both slow under emulation.
GUEST_CMDLINE = " ".join([
    "console=ttyS1,115200",
    "quiet",
    # Every kernel record starts with its time stamp: how the judge tells the
    # kernel's records from a program's line they interrupt on the console.
    "printk.time=1",
    "nokaslr",
    "mitigations=off",
    "tsc=reliable",
    "no_timer_check",
    "lpj=4000000",
    "8250.nr_uarts=2",
    "nomodeset",
    "panic=-1",
    # The crypto self-tests alone take half of the boot under Bochs.
    "cryptomgr.notests",
    # nmisrc (the device NMI source) maps the I/O APIC through /dev/mem, and
    # needs the PIT wired to IRQ 0 (an HPET in legacy mode would take it).
    "iomem=relaxed",
    "hpet=disable",
    # 32-bit processes enter the kernel with int $0x80 and leave it by IRET.
    # With the 32-bit vDSO (SYSENTER in, SYSRET out), 32-bit processes under
    # the 64-bit kernel in Bochs died now and then at the vDSO's pop after
    # a system call, faulting at SP & 0xFFFF: a 16-bit stack segment, as if
    # SYSRET had left SS's cached attributes alone (AMD's behaviour; Linux,
    # seeing an Intel CPU, expects fresh flat ones). Without the vDSO the
    # same cell passes.
    "vdso32=0",
])

# Wall-clock limit of one cell, seconds: well above a healthy run, well
# below Bazel's own timeout for size "large" (900 s).
CELL_TIMEOUT = 600

# Bochs runs every CPU in one host thread: a 4-CPU cell does twice the work
# per emulated second of a 2-CPU one.
CELL_TIMEOUT_MANY_CPUS = 840

# The largest machine xhv runs (XHV_MAX_CPUS, hv/common/include/xhv/percpu.h)
# as a PAL cell of the 64-bit image: `manual` (not in //testing:matrix or
# //...), for what it costs in Bochs: ./bazelw test //testing:cell_..._smp8_bochs
LARGE_SMP_ROWS = [
    # hv      Debian      guest     pal       boot    emulator  CPUs
    ("x86_64", "debian12", "x86_64", "x86_64", "pvh", "bochs", 8),
]
CELL_TIMEOUT_LARGE_SMP = 3000

def _cell_timeout(cpus):
    if cpus <= 2:
        return CELL_TIMEOUT
    return CELL_TIMEOUT_MANY_CPUS if cpus <= 4 else CELL_TIMEOUT_LARGE_SMP

def _smp(cpus):
    """The part of a cell's or disk's name that says its CPU count: none for 2."""
    return "" if cpus == 2 else "_smp{}".format(cpus)

def cell_name(hv, debian, guest, pal, boot, emulator, cpus = 2):
    return "cell_{}_{}_{}_{}_{}{}_{}".format(
        "nohv" if hv == "none" else "hv_" + hv,
        debian,
        guest,
        "nopal" if pal == "none" else "pal_" + pal,
        boot,
        _smp(cpus),
        emulator.replace("-", "_"),
    )

def _cell_files(guest, pal):
    """What every guest disk's initramfs adds, by path inside it: the cell
    scripts of every kind, the guest tools, pal_demo of the disk's bitness
    (a 32-bit one runs in compatibility mode under a 64-bit kernel; the
    fuzzer calls from the same mode)."""
    files = {
        "cells/cell.sh": "xhv/test.sh",
        "cells/lib.sh": "xhv/lib.sh",
        "//guests/tools:nmisrc_" + guest: "xhv/nmisrc",
        "//guests/tools:hvcheck_" + guest: "xhv/hvcheck",
        "//guests/tools:hcfuzz_" + pal: "xhv/hcfuzz",
    }
    for kind, script in CELL_SCRIPTS.items():
        files[script] = "xhv/cells/{}.sh".format(kind)
    for prog in ["main", "test", "test_args", "isolation", "limits", "palbench", "reset"]:
        files["//guests/pal_demo:{}_{}".format(prog, pal)] = "xhv/" + prog
    # The red-team suite (guests/redteam): the attacks made from a PAL's
    # process, and the ring-0 stage the kexec loader boots in the kernel's place.
    for prog in REDTEAM_PROGRAMS:
        files["//guests/redteam:{}_{}".format(prog, pal)] = "xhv/" + prog
    files["//guests/redteam:ring0_stage"] = "xhv/ring0.elf"
    return files

def _disk_pal(guest, pal):
    """The pal_demo arch of the guest disk a cell boots: a cell without
    pal_demo (hv_core) boots the disk of its own guest arch."""
    return guest if pal == "none" else pal

def _guest_disk_name(debian, guest, pal, boot, cpus = 2):
    return "{}_{}_pal_{}".format(debian, guest, _disk_pal(guest, pal)) + (
        "_pvh" if boot == "pvh" else ""
    ) + _smp(cpus)

def _fuzz_seed(disk):
    """The seed hcfuzz draws its calls from on a guest disk: its own, stable
    while the disk keeps its name, so no two disks fuzz the same calls."""
    h = hash(disk)
    return (h if h >= 0 else -h) % 1000000007 + 1

def _guest_cmdline(debian, guest, cpus, highmem = False):
    """The kernel command line of a guest disk: GUEST_CMDLINE and what varies."""
    return GUEST_CMDLINE + " xhv.expect_cpus={}".format(cpus) + (
        # No highmem: every user page is then in the i386 kernel's direct
        # map, which the red team reads through /proc/kcore. The high-memory
        # cells keep it: memory above 4 GiB is highmem to an i386 kernel.
        " highmem=0" if guest == "x86" and not highmem else ""
    ) + (
        # Linux 5.10's ACPI idle driver parks a CPU taken offline with
        # interrupts on (sti; hlt), which xhv cannot tell from an idle CPU;
        # without cpuidle it halts with them off, as 6.1 does, and xhv sees
        # it parked (README: "CPUs the guest takes offline").
        " cpuidle.off=1" if debian == "debian11" else ""
    )

def debian_guest_label(debian, guest, part):
    """The checked kernel, busybox or versions.json of a Debian guest."""
    return "//guests/debian:{}_{}_{}".format(debian, guest, part)

def _disk_kernel(debian, guest, boot):
    """The kernel argument of a guest disk: the ELF for the direct boot, the bzImage for GRUB."""
    if boot == "pvh":
        return {"vmlinux": debian_guest_label(debian, guest, "vmlinux")}
    return {"kernel": debian_guest_label(debian, guest, "vmlinuz")}

def _guest_disks():
    """One initramfs per (Debian, guest arch, disk pal arch), one disk per
    boot path, in MATRIX, the demo's cells and //testing:boot_bench."""
    seen = []
    demo = [(hv, debian, guest, pal, boot, "", 2) for debian in DEMO_DEBIANS
            for boot in BOOT_PATHS for hv, guest, pal in DEMO_ROWS]
    boot_bench = [("none", "debian12", "x86_64", "none", boot, "", 2) for boot in BOOT_PATHS]
    for _, debian, guest, pal, boot, _, cpus in MATRIX + LARGE_SMP_ROWS + demo + boot_bench:
        key = (debian, guest, _disk_pal(guest, pal), boot, cpus)
        if key not in seen:
            seen.append(key)
    initramfs = []
    for volume, (debian, guest, pal, boot, cpus) in enumerate(seen):
        name = _guest_disk_name(debian, guest, pal, boot, cpus)
        cpio = "initramfs_" + _guest_disk_name(debian, guest, pal, "grub")
        if cpio not in initramfs:
            initramfs.append(cpio)
            guest_initramfs(
                name = cpio,
                arch = guest,
                busybox = debian_guest_label(debian, guest, "busybox"),
                files = _cell_files(guest, pal),
            )
        disk = pvh_guest_disk if boot == "pvh" else guest_disk
        disk(
            name = "guest_disk_" + name,
            title = "{} {}".format(DEBIAN_TITLES[debian], guest),
            cmdline = _guest_cmdline(debian, guest, cpus) +
                      " xhv.fuzz_seed=%d" % _fuzz_seed(name),
            initramfs = ":" + cpio,
            cmdline_flags = STRESS_FLAGS,
            volume_id = "4755" + ("000" + str(volume))[-4:],
            **_disk_kernel(debian, guest, boot)
        )

def _hv_disk_name(hv, kind, boot):
    return "hv_{}_disk_{}_{}".format("pvh" if boot == "pvh" else "chain", HYPAPPS[kind], hv)

# The hypervisor disk's GRUB menu per boot path (testing/hv_*_grub.cfg).
_HV_GRUB_CFG = {
    "grub": "hv_chain_grub.cfg",
    "pvh": "hv_pvh_grub.cfg",
}

def _hv_disks(hv_arches):
    """The hypervisor's boot disks per (arch, hypapp, boot path), and the legacy-ordering ones."""
    volume = 0
    for arch in hv_arches:
        for hypapp in sorted({a: 1 for a in HYPAPPS.values()}.keys()):
            for boot in BOOT_PATHS:
                disk_image(
                    name = "hv_{}_disk_{}_{}".format("pvh" if boot == "pvh" else "chain", hypapp, arch),
                    files = {":hv_image_{}_{}".format(hypapp, arch): "boot/xhv.elf"},
                    grub_cfg = _HV_GRUB_CFG[boot],
                    volume_id = "485643" + ("0" + str(volume))[-2:],
                )
                volume += 1
    for i, hypapp in enumerate(["helloworld", "trustvisor"]):
        disk_image(
            name = "hv_chain_disk_legacy_quiesce_{}_x86_64".format(hypapp),
            files = {":hv_image_legacy_quiesce_{}_x86_64".format(hypapp): "boot/xhv.elf"},
            grub_cfg = "hv_chain_grub.cfg",
            volume_id = "485643" + str(90 + i),
        )

def _cell_test(name, hv, debian, guest, pal, boot, emulator, disks, extra_args = [], tags = [],
               cpus = 2):
    versions = debian_guest_label(debian, guest, "versions")
    native.py_test(
        name = name,
        size = "large" if cpus <= 4 else "enormous",
        srcs = ["cell_test.py"],
        main = "cell_test.py",
        args = [
            "--cell=" + name,
            "--hv=" + hv,
            "--debian=" + debian,
            "--boot=" + boot,
            "--guest=" + guest,
            "--pal=" + pal,
            "--emulator=" + emulator,
            "--timeout=%d" % _cell_timeout(cpus),
            "--smp=%d" % cpus,
            "--guest-versions=$(rootpath {})".format(versions),
        ] + ["--disk=$(rootpath {})".format(d) for d in disks] + extra_args,
        data = disks + [versions],
        python_version = "PY3",
        tags = ["emulator"] + tags,
        deps = ["//testing/runner:xhv_run_lib"],
    )

# The seed's bug, shown to be seen: the quiesce stress cell on the image
# built with the seed's protocol must fail, and in the way that bug fails
# (--expect-failure=quiesce_hang: the guest hangs in a step that makes
# quiescing hypercalls, its RCU stall report ends the run; any other failure
# fails the test). Everything that decides the run
# is fixed here, so a failure replays exactly: Bochs is deterministic with
# the runner's settings, the stress sizes and the device NMIs' seed are on
# the kernel command line. A hang ends the run at the guest's first RCU stall
# report (the runner watches for it), not at the timeout.
LEGACY_STRESS = "xhv.quiesce_rounds=2000 xhv.nmi_storm=20 xhv.nmi_device=200 xhv.nmi_seed=1"

# The legacy tests' guests report an RCU stall after 5 s (the kernel's least
# is 3, Debian's default 21): the hang is all a legacy test waits for, and
# every emulated second of it costs Bochs more than a second of wall time
# (the PAL legacy test: 114 emulated s in 161 s). A CPU that
# did not hang reports the one that did from its scheduler tick, so no CPU
# may stop its tick when idle (nohz=off): a CPU idling tickless beside one
# stuck in a quiesce reported nothing, and the run ran into its timeout.
# Only these disks: a cell that must not hang keeps the kernel's defaults.
LEGACY_RCU_STALL = "rcupdate.rcu_cpu_stall_timeout=5 nohz=off"

def _legacy_quiesce_test():
    guest_disk(
        name = "guest_disk_legacy_quiesce_debian12_x86",
        title = "Debian 12 x86",
        cmdline = " ".join([_guest_cmdline("debian12", "x86", 2), LEGACY_STRESS, LEGACY_RCU_STALL]),
        initramfs = ":initramfs_" + _guest_disk_name("debian12", "x86", "x86", "grub"),
        kernel = debian_guest_label("debian12", "x86", "vmlinuz"),
        volume_id = "4755ffff",
    )

    # The seed's PAL cell's disk, but for the stall timeout.
    guest_disk(
        name = "guest_disk_legacy_quiesce_debian11_x86_64_pal_x86_64",
        title = "Debian 11 x86_64",
        cmdline = _guest_cmdline("debian11", "x86_64", 2) + " " + LEGACY_RCU_STALL,
        initramfs = ":initramfs_" + _guest_disk_name("debian11", "x86_64", "x86_64", "grub"),
        kernel = debian_guest_label("debian11", "x86_64", "vmlinuz"),
        cmdline_flags = STRESS_FLAGS,
        volume_id = "4755fffe",
    )
    _cell_test(
        "legacy_quiesce_order_detected_test",
        "x86_64",
        "debian12",
        "x86",
        "none",
        "grub",
        "bochs",
        [":hv_chain_disk_legacy_quiesce_helloworld_x86_64", ":guest_disk_legacy_quiesce_debian12_x86"],
        extra_args = ["--expect-failure=quiesce_hang"],
    )

    # The seed's own cell: pal_demo x86_64 on Debian x86_64 under TrustVisor.
    _cell_test(
        "legacy_quiesce_order_pal_detected_test",
        "x86_64",
        "debian11",
        "x86_64",
        "x86_64",
        "grub",
        "bochs",
        [
            ":hv_chain_disk_legacy_quiesce_trustvisor_x86_64",
            ":guest_disk_legacy_quiesce_debian11_x86_64_pal_x86_64",
        ],
        extra_args = ["--expect-failure=quiesce_hang"],
    )

# PAL cells with guest RAM above 4 GiB (Bochs backs 2 GiB of it, which the
# guest does not exceed): their PALs' pages must be there (the judge checks
# the DATA page's guest-physical address), and everything else as in any PAL
# cell. The i386 image reaches those pages through its temporary mappings
# (hv/x86/paging.c), the x86_64 image through its identity map.
HIGH_MEMORY_MIB = 6144
HIGH_MEMORY_ROWS = [
    # hv      Debian      guest     pal
    ("x86_64", "debian12", "x86_64", "x86_64"),
    ("x86", "debian12", "x86", "x86"),
]

def _pvh_pal_cell(name, hv, debian, guest, pal, disk, cmdline, volume_id, extra_args,
                  cmdline_flags = []):
    """A PAL cell of the direct boot on a guest disk of its own (the disk
    `disk`, booting with `cmdline`), in //testing:matrix; returns its label."""
    pvh_guest_disk(
        name = disk,
        title = "{} {}".format(DEBIAN_TITLES[debian], guest),
        cmdline = cmdline,
        initramfs = ":initramfs_" + _guest_disk_name(debian, guest, pal, "grub"),
        cmdline_flags = cmdline_flags,
        vmlinux = debian_guest_label(debian, guest, "vmlinux"),
        volume_id = volume_id,
    )
    _cell_test(
        name,
        hv,
        debian,
        guest,
        pal,
        "pvh",
        "bochs",
        [":" + _hv_disk_name(hv, "pal", "pvh"), ":" + disk],
        extra_args = extra_args,
        tags = ["matrix"],
    )
    return ":" + name

def _high_memory_tests():
    tests = []
    for i, (hv, debian, guest, pal) in enumerate(HIGH_MEMORY_ROWS):
        disk = "guest_disk_" + _guest_disk_name(debian, guest, pal, "pvh") + "_highmem"
        tests.append(_pvh_pal_cell(
            cell_name(hv, debian, guest, pal, "pvh", "bochs").replace("_pvh_", "_pvh_mem6g_"),
            hv,
            debian,
            guest,
            pal,
            disk,
            _guest_cmdline(debian, guest, 2, highmem = True) +
            " xhv.fuzz_seed=%d" % _fuzz_seed(disk),
            "4755fd" + ("0" + str(i))[-2:],
            ["--mem-mib=%d" % HIGH_MEMORY_MIB, "--pal-above-4g"],
            cmdline_flags = STRESS_FLAGS,
        ))
    return tests

# Resets with a PAL registered (testing/cells/reset.sh): the guest resets the
# machine the way `via` names, Bochs stops at the reset vector, and the runner
# reads the PAL's DATA page and a canary page of the same process as they
# were then; the judge wants the DATA page scrubbed and the canary intact
# (the reset kept RAM and the right pages were read). Each hypervisor arch,
# each by another of the ways a PC resets.
RESET_CELLS = [
    # hv      Debian      guest     pal       via
    ("x86_64", "debian12", "x86_64", "x86_64", "cf9"),
    ("x86", "debian12", "x86", "x86", "kbd"),
]

def reset_cell_name(hv, debian, guest, pal, via):
    return cell_name(hv, debian, guest, pal, "pvh", "bochs").replace(
        "_pvh_",
        "_pvh_reset_{}_".format(via),
    )

def _reset_tests():
    tests = []
    for i, (hv, debian, guest, pal, via) in enumerate(RESET_CELLS):
        tests.append(_pvh_pal_cell(
            reset_cell_name(hv, debian, guest, pal, via),
            hv,
            debian,
            guest,
            pal,
            "guest_disk_{}_reset_{}".format(_guest_disk_name(debian, guest, pal, "pvh"), via),
            _guest_cmdline(debian, guest, 2) + " xhv.cell=reset xhv.reset_via=" + via,
            "4755fe" + ("0" + str(i))[-2:],
            ["--reset-via=" + via, "--stop-at-reset"],
        ))
    return tests

def matrix_cells(hv_arches):
    """Defines the disks, one test per MATRIX row, //testing:matrix, and the legacy test."""
    _guest_disks()
    _hv_disks(hv_arches)
    _legacy_quiesce_test()
    tests = []
    kvm_tests = []
    for hv, debian, guest, pal, boot, emulator, cpus in MATRIX:
        name = cell_name(hv, debian, guest, pal, boot, emulator, cpus)
        kind = _cell_kind(hv, pal)
        disks = [":guest_disk_" + _guest_disk_name(debian, guest, pal, boot, cpus)]
        if hv != "none":
            disks = [":" + _hv_disk_name(hv, kind, boot)] + disks
        _cell_test(name, hv, debian, guest, pal, boot, emulator, disks, tags = ["matrix"],
                   cpus = cpus)
        tests.append(":" + name)
        if hv != "none":
            # The same cell under QEMU with KVM's nested VMX: only on hosts
            # that have it (the runner says so and fails elsewhere), so
            # `manual`: ./bazelw test //testing:matrix_kvm
            kvm = cell_name(hv, debian, guest, pal, boot, "qemu-kvm", cpus)
            _cell_test(kvm, hv, debian, guest, pal, boot, "qemu-kvm", disks,
                       tags = ["manual", "matrix_kvm"], cpus = cpus)
            kvm_tests.append(":" + kvm)
    tests += _high_memory_tests()
    tests += _reset_tests()
    for hv, debian, guest, pal, boot, emulator, cpus in LARGE_SMP_ROWS:
        _cell_test(
            cell_name(hv, debian, guest, pal, boot, emulator, cpus),
            hv,
            debian,
            guest,
            pal,
            boot,
            emulator,
            [
                ":" + _hv_disk_name(hv, "pal", boot),
                ":guest_disk_" + _guest_disk_name(debian, guest, pal, boot, cpus),
            ],
            tags = ["manual"],
            cpus = cpus,
        )
    native.test_suite(
        name = "matrix",
        tests = tests,
    )
    # manual too: `//...` would otherwise pull the manual cells in through it.
    native.test_suite(
        name = "matrix_kvm",
        tags = ["manual"],
        tests = kvm_tests,
    )
