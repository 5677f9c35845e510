# SPDX-License-Identifier: Apache-2.0
"""debian_guest: one Debian guest's kernel and busybox, checked against its pins.

`debian_guest(name = "debian12_x86", guest = "debian12", arch = "x86")`
defines :debian12_x86 (a DebianGuestInfo and its files),
:debian12_x86_vmlinuz (the bzImage), :debian12_x86_vmlinux (the kernel ELF
inside it, compacted, for PVH direct boot: vmlinux.py), :debian12_x86_busybox
and :debian12_x86_versions (versions.json: the kernel and busybox that the
guest boots). With --//guests/debian:exact_pins=true, a pin that fell
forward fails the build; a kernel without a PVH entry point fails the
build of its vmlinux.
"""

load("//toolchains:flags.bzl", "BoolSettingInfo")

# The Debian releases the guests come from, as named in packages.lock.json
# (refresh_pins.py maps each to its suite).
DEBIAN_GUESTS = ["debian11", "debian12"]

DebianGuestInfo = provider(fields = ["vmlinuz", "vmlinux", "busybox", "versions"])

def _debian_guest_impl(ctx):
    vmlinuz = ctx.actions.declare_file(ctx.label.name + "/vmlinuz")
    busybox = ctx.actions.declare_file(ctx.label.name + "/busybox")
    versions = ctx.actions.declare_file(ctx.label.name + "/versions.json")
    exact = ctx.attr._exact_pins[BoolSettingInfo].value
    ctx.actions.run(
        outputs = [vmlinuz, busybox, versions],
        inputs = [ctx.file.resolution, ctx.file.vmlinuz, ctx.file.busybox],
        executable = ctx.executable._check,
        arguments = [
            "--resolution",
            ctx.file.resolution.path,
            "--guest",
            ctx.attr.guest,
            "--arch",
            ctx.attr.arch,
            "--exact-pins",
            "true" if exact else "false",
            "--vmlinuz",
            ctx.file.vmlinuz.path,
            vmlinuz.path,
            "--busybox",
            ctx.file.busybox.path,
            busybox.path,
            "--out",
            versions.path,
        ],
        mnemonic = "CheckPins",
        progress_message = "Checking the pins of %s %s" % (ctx.attr.guest, ctx.attr.arch),
    )
    vmlinux = ctx.actions.declare_file(ctx.label.name + "/vmlinux")
    ctx.actions.run(
        outputs = [vmlinux],
        inputs = [vmlinuz],
        executable = ctx.executable._vmlinux,
        arguments = [vmlinuz.path, "--out", vmlinux.path, "--name", "%s %s kernel" % (ctx.attr.guest, ctx.attr.arch)],
        mnemonic = "Vmlinux",
        progress_message = "Extracting the PVH kernel of %s %s" % (ctx.attr.guest, ctx.attr.arch),
    )
    return [
        DefaultInfo(files = depset([vmlinuz, vmlinux, busybox, versions])),
        DebianGuestInfo(vmlinuz = vmlinuz, vmlinux = vmlinux, busybox = busybox, versions = versions),
        OutputGroupInfo(
            vmlinuz = depset([vmlinuz]),
            vmlinux = depset([vmlinux]),
            busybox = depset([busybox]),
            versions = depset([versions]),
        ),
    ]

_debian_guest = rule(
    implementation = _debian_guest_impl,
    attrs = {
        "guest": attr.string(mandatory = True),
        "arch": attr.string(mandatory = True, values = ["x86", "x86_64"]),
        "vmlinuz": attr.label(mandatory = True, allow_single_file = True),
        "busybox": attr.label(mandatory = True, allow_single_file = True),
        "resolution": attr.label(mandatory = True, allow_single_file = True),
        "_exact_pins": attr.label(default = "//guests/debian:exact_pins"),
        "_check": attr.label(default = "//guests/debian:check_pins", executable = True, cfg = "exec"),
        "_vmlinux": attr.label(default = "//guests/debian:vmlinux", executable = True, cfg = "exec"),
    },
)

def debian_guest(name, guest, arch, repo = "@debian_guest_packages"):
    prefix = "{}//:{}_{}".format(repo, guest, arch)
    _debian_guest(
        name = name,
        guest = guest,
        arch = arch,
        vmlinuz = prefix + "_vmlinuz",
        busybox = prefix + "_busybox",
        resolution = repo + "//:resolution",
        visibility = ["//visibility:public"],
    )
    for part in ["vmlinuz", "vmlinux", "busybox", "versions"]:
        native.filegroup(
            name = "{}_{}".format(name, part),
            srcs = [":" + name],
            output_group = part,
            visibility = ["//visibility:public"],
        )
