# SPDX-License-Identifier: Apache-2.0
"""guest_disk and pvh_guest_disk: Debian guest disks (kernel, initramfs; console on COM2).

guest_disk boots the bzImage through the disk's own GRUB (the machine's own
OS, as the GRUB chain of a hypervisor cell boots it); pvh_guest_disk holds
the kernel ELF for a direct boot (PVH) and pvhboot, the bare-metal loader:
booted alone it starts the kernel through pvhboot, and a hypervisor disk
hands the same modules, with the same command line, to xhv.
"""

load(":disk_image.bzl", "disk_image")
load("//toolchains:flags.bzl", "IntSettingInfo")

def _grub_cfg_impl(ctx):
    out = ctx.actions.declare_file(ctx.attr.out or ctx.label.name + ".cfg")
    words = []
    for flag in ctx.attr.cmdline_flags:
        value = flag[IntSettingInfo].value
        if value < 0:
            fail("%s must not be negative (got %d)" % (flag.label, value))
        words.append("xhv.%s=%d" % (flag.label.name, value))
    substitutions = dict(ctx.attr.substitutions)
    substitutions["{xhv_flags}"] = " ".join(words)
    if ctx.file.template:
        ctx.actions.expand_template(template = ctx.file.template, output = out, substitutions = substitutions)
    else:
        content = ctx.attr.content
        for key, value in substitutions.items():
            content = content.replace(key, value)
        ctx.actions.write(out, content)
    return [DefaultInfo(files = depset([out]))]

grub_cfg = rule(
    implementation = _grub_cfg_impl,
    doc = "Writes a GRUB configuration file from `content` or `template`, replacing each key " +
          "of `substitutions` by its value and `{xhv_flags}` by `xhv.<name>=<value>` for each " +
          "of cmdline_flags.",
    attrs = {
        "content": attr.string(),
        "template": attr.label(allow_single_file = True),
        "substitutions": attr.string_dict(),
        "out": attr.string(doc = "file name (default: <name>.cfg)"),
        "cmdline_flags": attr.label_list(providers = [IntSettingInfo]),
    },
)

# GRUB keeps to the (headless) VGA console: its serial driver polls the
# UART with a CPUID before every RDTSC, about 200000 CPUID exits per boot
# under a hypervisor. COM2 carries the guest kernel's console alone, COM1
# the hypervisor's log.
_GUEST_GRUB_CFG = """\
set timeout=0
set timeout_style=hidden
menuentry "{title}" {{
    linux /boot/vmlinuz {cmdline} {{xhv_flags}}
    initrd /boot/initrd.cpio
    boot
}}
"""

def guest_disk(name, title, kernel, initramfs, cmdline, volume_id, cmdline_flags = [], **kwargs):
    """A bootable guest disk.

    Args:
      name: target name; the image is <name>.img.
      title: the GRUB menu entry, e.g. "Debian 12 x86".
      kernel: label of the kernel image (bzImage).
      initramfs: label of the uncompressed cpio initramfs.
      cmdline: kernel command line.
      cmdline_flags: int_flag build settings appended to the command line as
        xhv.<flag name>=<value>, so a test's size can be set per build.
      volume_id: FAT volume serial, unique among the disks of one run.
      **kwargs: passed to disk_image (visibility, tags, ...).
    """
    grub_cfg(
        name = name + "_grub",
        content = _GUEST_GRUB_CFG.format(title = title, cmdline = cmdline),
        cmdline_flags = cmdline_flags,
    )
    disk_image(
        name = name,
        files = {
            kernel: "boot/vmlinuz",
            initramfs: "boot/initrd.cpio",
        },
        grub_cfg = ":" + name + "_grub",
        volume_id = volume_id,
        **kwargs
    )

# A direct boot's modules (guests/disk/pvh_modules.cfg.in) are sourced by
# the guest disk's own grub.cfg (bare: pvh_bare_grub.cfg.in, pvhboot) and by
# the hypervisor disk's (xhv, root set to the guest disk): both hand over the
# very same files and command line. The runner's direct boot of any kernel
# uses the same two templates.

def pvh_guest_disk(name, title, vmlinux, initramfs, cmdline, volume_id, cmdline_flags = [], **kwargs):
    """A guest disk for direct (PVH) boot: vmlinux, initramfs, pvhboot.

    Args:
      name: target name; the image is <name>.img.
      title: the GRUB menu entry, e.g. "Debian 12 x86".
      vmlinux: label of the kernel ELF with a PVH note (//guests/debian:<guest>_<arch>_vmlinux).
      initramfs: label of the uncompressed cpio initramfs.
      cmdline: kernel command line.
      cmdline_flags: int_flag build settings appended as xhv.<flag name>=<value>.
      volume_id: FAT volume serial, unique among the disks of one run.
      **kwargs: passed to disk_image (visibility, tags, ...).
    """
    grub_cfg(
        name = name + "_modules",
        out = name + "_modules/pvh-modules.cfg",
        template = "//guests/disk:pvh_modules.cfg.in",
        substitutions = {"{cmdline}": cmdline},
        cmdline_flags = cmdline_flags,
    )
    grub_cfg(
        name = name + "_grub",
        template = "//guests/disk:pvh_bare_grub.cfg.in",
        substitutions = {"{title}": title},
    )
    disk_image(
        name = name,
        files = {
            vmlinux: "boot/vmlinux",
            initramfs: "boot/initrd.cpio",
            ":" + name + "_modules": "boot/pvh-modules.cfg",
            "//guests/disk:pvhboot": "boot/pvhboot.elf",
        },
        grub_cfg = ":" + name + "_grub",
        volume_id = volume_id,
        **kwargs
    )
