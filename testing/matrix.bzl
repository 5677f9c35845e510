# SPDX-License-Identifier: Apache-2.0
"""The matrix: ONE table of cells, each booted in an emulator as its own test.

A cell is (hypervisor arch or "none", Debian guest arch, pal_demo arch or
"none", emulator). `matrix_cells()` turns the table into one test target per
cell plus the disks it boots, and `//testing:matrix` is their test_suite.
"""

load("//guests/disk:disk_image.bzl", "disk_image")
load("//guests/disk:guest_disk.bzl", "guest_disk")
load("//guests/initramfs:initramfs.bzl", "guest_initramfs")

# The status table of the seed, plus the bare baselines, one row per cell.
# Hypervisor cells are added as the hypervisor can run them.
MATRIX = [
    # hv      guest     pal      emulator
    ("none", "x86", "none", "bochs"),
    ("none", "x86", "none", "qemu-tcg"),
    ("none", "x86_64", "none", "bochs"),
    ("none", "x86_64", "none", "qemu-tcg"),
    ("x86", "x86", "none", "bochs"),
    ("x86_64", "x86", "none", "bochs"),
    ("x86_64", "x86_64", "none", "bochs"),
]

# Where both images are linked (hv/x86*/xhv.ld); hypervisor cells tell the
# guest so it can try to read it. The cell runner checks the address against
# the hypervisor's own log, so a stale value here fails loudly.
HV_IMAGE_BASE = "0x200000"

# The guest-side checks of each kind of cell (/xhv/test.sh), by cell kind.
CELL_SCRIPTS = {
    "bare": "cells/bare.sh",
    "hv_core": "cells/hv_core.sh",
}

# Sizes of the stress parts, set per build (defaults keep a cell under 5
# minutes in Bochs): --//testing:quiesce_rounds=N quiescing hypercalls per
# CPU, --//testing:nmi_storm=N all-CPU NMI backtraces the guest triggers.
# They reach the guest as xhv.<name>=N on its kernel command line.
STRESS_FLAGS = ["//testing:quiesce_rounds", "//testing:nmi_storm"]

def _cell_kind(hv, pal):
    return "bare" if hv == "none" else "hv_core"

GUEST_ARCHES = ["x86", "x86_64"]

# What every guest kernel gets: console on COM2, nothing the tests don't need.
# `lpj` skips delay-loop calibration and `tsc=reliable` the clocksource
# watchdog, both slow under emulation.
GUEST_CMDLINE = " ".join([
    "console=ttyS1,115200",
    "xhv.expect_cpus=2",
    "quiet",
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
])

# Wall-clock limit of one cell, seconds: well above a healthy run, well
# below Bazel's own timeout for size "large" (900 s).
CELL_TIMEOUT = 600

def cell_name(hv, guest, pal, emulator):
    return "cell_{}_debian_{}_{}_{}".format(
        "nohv" if hv == "none" else "hv_" + hv,
        guest,
        "nopal" if pal == "none" else "pal_" + pal,
        emulator.replace("-", "_"),
    )

def _cell_files(kind, script, arch):
    """What a cell kind adds to the guest's initramfs, by path inside it."""
    if not script:
        return {}
    files = {script: "xhv/test.sh", "cells/lib.sh": "xhv/lib.sh"}
    if kind == "hv_core":
        files["//guests/tools:hvcheck_" + arch] = "xhv/hvcheck"
    return files

def _guest_disks():
    """One initramfs and guest disk per (guest arch, cell kind)."""
    volume = 0
    if len(GUEST_ARCHES) * len(CELL_SCRIPTS) > 10:
        fail("guest disk volume ids are one hex digit per disk: widen them")
    for arch in GUEST_ARCHES:
        for kind, script in CELL_SCRIPTS.items():
            name = "{}_{}".format(kind, arch)
            guest_initramfs(
                name = "initramfs_" + name,
                arch = arch,
                busybox = "@debian_guest_packages//:busybox_" + arch,
                files = _cell_files(kind, script, arch),
            )
            cmdline = GUEST_CMDLINE
            if kind != "bare":
                cmdline += " xhv.hv_image=" + HV_IMAGE_BASE
            guest_disk(
                name = "guest_disk_" + name,
                arch = arch,
                cmdline = cmdline,
                initramfs = ":initramfs_" + name,
                cmdline_flags = STRESS_FLAGS,
                kernel = "@debian_guest_packages//:vmlinuz_" + arch,
                volume_id = "4755450" + str(volume),
            )
            volume += 1

def _hv_disks(hv_arches):
    for i, arch in enumerate(hv_arches):
        disk_image(
            name = "hv_chain_disk_" + arch,
            files = {":hv_image_" + arch: "boot/xhv.elf"},
            grub_cfg = "hv_chain_grub.cfg",
            volume_id = "4856430" + str(i),
        )

def matrix_cells(hv_arches):
    """Defines the disks, one test per MATRIX row, and //testing:matrix."""
    _guest_disks()
    _hv_disks(hv_arches)
    tests = []
    for hv, guest, pal, emulator in MATRIX:
        name = cell_name(hv, guest, pal, emulator)
        disks = [":guest_disk_{}_{}".format(_cell_kind(hv, pal), guest)]
        if hv != "none":
            disks = [":hv_chain_disk_" + hv] + disks
        native.py_test(
            name = name,
            size = "large",
            srcs = ["cell_test.py"],
            main = "cell_test.py",
            args = [
                "--cell=" + name,
                "--hv=" + hv,
                "--guest=" + guest,
                "--pal=" + pal,
                "--emulator=" + emulator,
                "--timeout=%d" % CELL_TIMEOUT,
            ] + ["--disk=$(rootpath {})".format(d) for d in disks],
            data = disks,
            python_version = "PY3",
            tags = ["matrix", "emulator"],
            deps = ["//testing/runner:xhv_run_lib"],
        )
        tests.append(":" + name)
    native.test_suite(
        name = "matrix",
        tests = tests,
    )
