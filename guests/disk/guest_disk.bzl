# SPDX-License-Identifier: Apache-2.0
"""guest_disk: a Debian guest disk (GRUB, kernel, initramfs; console on COM2)."""

load(":disk_image.bzl", "disk_image")
load("//toolchains:flags.bzl", "IntSettingInfo")

def _grub_cfg_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".cfg")
    words = []
    for flag in ctx.attr.cmdline_flags:
        value = flag[IntSettingInfo].value
        if value < 0:
            fail("%s must not be negative (got %d)" % (flag.label, value))
        words.append("xhv.%s=%d" % (flag.label.name, value))
    ctx.actions.write(out, ctx.attr.content.replace("{xhv_flags}", " ".join(words)))
    return [DefaultInfo(files = depset([out]))]

grub_cfg = rule(
    implementation = _grub_cfg_impl,
    doc = "Writes a GRUB configuration file; `{xhv_flags}` becomes " +
          "`xhv.<name>=<value>` for each of cmdline_flags.",
    attrs = {
        "content": attr.string(mandatory = True),
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
