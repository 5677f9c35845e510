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
    ctx.actions.write(out, ctx.attr.content.replace("{xhv_flags}", " ".join(words)))
    return [DefaultInfo(files = depset([out]))]

grub_cfg = rule(
    implementation = _grub_cfg_impl,
    doc = "Writes a GRUB configuration file; `{xhv_flags}` becomes " +
          "`xhv.<name>=<value>` for each of cmdline_flags.",
    attrs = {
        "content": attr.string(mandatory = True),
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

# The modules of a direct boot, sourced by the guest disk's own grub.cfg
# (bare: pvhboot) and by the hypervisor disk's (xhv, root set to the guest
# disk): both hand over the very same files and command line.
_PVH_MODULES_CFG = """\
module --nounzip /boot/vmlinux kernel {cmdline} {{xhv_flags}}
module --nounzip /boot/initrd.cpio initrd
"""

_PVH_BARE_GRUB_CFG = """\
set timeout=0
set timeout_style=hidden
menuentry "{title}, direct boot (pvhboot)" {{
    multiboot /boot/pvhboot.elf
    source /boot/pvh-modules.cfg
    boot
}}
"""

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
        content = _PVH_MODULES_CFG.format(cmdline = cmdline),
        cmdline_flags = cmdline_flags,
    )
    grub_cfg(
        name = name + "_grub",
        content = _PVH_BARE_GRUB_CFG.format(title = title),
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
