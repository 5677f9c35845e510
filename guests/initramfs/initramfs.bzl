# SPDX-License-Identifier: Apache-2.0
"""guest_initramfs: a guest's initramfs (uncompressed newc cpio), built without root."""

GUEST_ARCHES = ["x86", "x86_64"]

# Applets linked as /bin/<name> -> busybox: what init.sh uses, plus a few
# that cell test scripts commonly want.
BUSYBOX_APPLETS = [
    "cat",
    "cut",
    "date",
    "devmem",
    "dmesg",
    "echo",
    "grep",
    "head",
    "ls",
    "mkdir",
    "mount",
    "poweroff",
    "printf",
    "sed",
    "sh",
    "sleep",
    "sync",
    "tail",
    "tee",
    "test",
    "tr",
    "umount",
    "uname",
    "wc",
]

# Mount points and scratch space init.sh needs.
_DIRS = ["bin", "dev", "proc", "sys", "tmp", "xhv"]

def _single_file(ctx, target, what):
    files = target[DefaultInfo].files.to_list()
    if len(files) != 1:
        fail("guest_initramfs {}: {} {} must be exactly one file, has {}".format(
            ctx.label,
            what,
            target.label,
            len(files),
        ))
    return files[0]

def _guest_initramfs_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".cpio")
    arch_file = ctx.actions.declare_file(ctx.label.name + ".arch")
    ctx.actions.write(arch_file, ctx.attr.arch + "\n")
    busybox = _single_file(ctx, ctx.attr.busybox, "busybox")

    args = ctx.actions.args()
    args.add("--out", out)
    args.add_all(_DIRS, before_each = "--dir")
    args.add("--file", "bin/busybox={}:0755".format(busybox.path))
    args.add_all(
        ["bin/{}=busybox".format(applet) for applet in BUSYBOX_APPLETS],
        before_each = "--symlink",
    )
    args.add("--file", "init={}:0755".format(ctx.file._init.path))
    args.add("--file", "xhv/arch={}:0644".format(arch_file.path))
    inputs = [busybox, ctx.file._init, arch_file]
    for target, dest in ctx.attr.files.items():
        src = _single_file(ctx, target, "file")
        args.add("--file", "{}={}".format(dest, src.path))
        inputs.append(src)

    ctx.actions.run(
        outputs = [out],
        inputs = inputs,
        executable = ctx.executable._mkinitramfs,
        arguments = [args],
        mnemonic = "Initramfs",
        progress_message = "Building initramfs %s" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

guest_initramfs = rule(
    implementation = _guest_initramfs_impl,
    doc = """<name>.cpio: /init (init.sh), busybox at /bin/busybox with applet
symlinks, console device nodes, /xhv/arch, and `files`. A cell's test goes in
as files = {":my_test.sh": "xhv/test.sh"}.""",
    attrs = {
        "arch": attr.string(mandatory = True, values = GUEST_ARCHES),
        "busybox": attr.label(
            mandatory = True,
            allow_files = True,
            doc = "a static busybox for the guest arch",
        ),
        "files": attr.label_keyed_string_dict(
            allow_files = True,
            doc = "file -> destination path inside the initramfs (mode from the " +
                  "file's executable bit)",
        ),
        "_init": attr.label(default = "//guests/initramfs:init.sh", allow_single_file = True),
        "_mkinitramfs": attr.label(
            default = "//guests/initramfs:mkinitramfs",
            executable = True,
            cfg = "exec",
        ),
    },
)
