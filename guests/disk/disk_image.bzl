# SPDX-License-Identifier: Apache-2.0
"""disk_image: a BIOS-bootable raw disk (GRUB + FAT partition), built without root."""

def _disk_image_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".img")
    args = ctx.actions.args()
    args.add("--out", out)
    args.add("--grub-cfg", ctx.file.grub_cfg)
    args.add("--volume-id", ctx.attr.volume_id)
    inputs = [ctx.file.grub_cfg]
    for target, dest in ctx.attr.files.items():
        files = target[DefaultInfo].files.to_list()
        if len(files) != 1:
            fail("disk_image {}: {} must be exactly one file, has {}".format(
                ctx.label,
                target.label,
                len(files),
            ))
        args.add("--file", "{}={}".format(dest, files[0].path))
        inputs.append(files[0])
    ctx.actions.run(
        outputs = [out],
        inputs = inputs,
        executable = ctx.executable._mkdisk,
        arguments = [args],
        mnemonic = "DiskImage",
        progress_message = "Building disk image %s" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

disk_image = rule(
    implementation = _disk_image_impl,
    doc = "A raw disk: GRUB in the MBR gap, FAT partition with grub_cfg and files.",
    attrs = {
        "grub_cfg": attr.label(allow_single_file = True, mandatory = True),
        "files": attr.label_keyed_string_dict(
            allow_files = True,
            doc = "file -> destination path inside the partition",
        ),
        "volume_id": attr.string(
            mandatory = True,
            doc = "FAT volume serial (hex); unique per disk so GRUB finds its own",
        ),
        "_mkdisk": attr.label(
            default = "//guests/disk:mkdisk",
            executable = True,
            cfg = "exec",
        ),
    },
)
