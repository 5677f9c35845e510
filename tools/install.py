#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Installs xhv on a real machine: the image in /boot and a GRUB menu entry.

  ./bazelw run //:install -- [--root DIR] [--arch x86|x86_64] [--guest-disk hd0]

Copies the hypervisor image (TrustVisor hypapp) to <root>/boot/xhv-<arch>.elf
and writes <root>/etc/grub.d/41_xhv, a grub-mkconfig script that adds one menu
entry: multiboot the image, hand it the boot sector of the guest disk (the
machine's own, BIOS drive 0x80 by default) as its guest, as XMHF does. xhv
then boots that boot sector, whose GRUB boots the machine's default entry:
the machine's own OS, now as a guest. Nothing is made the default: run
update-grub, then `grub-reboot xhv-<arch>` to boot it once.
"""

import argparse
import os
import shutil
import sys

IMAGES = {
    "x86": "testing/hv_image_trustvisor_x86/xhv-x86.elf",
    "x86_64": "testing/hv_image_trustvisor_x86_64/xhv-x86_64.elf",
}

# The grub.d script. grub-mkconfig runs it with grub_probe and pkgdatadir
# set; prepare_grub_to_access_device (grub-mkconfig_lib) emits what GRUB
# needs to find /boot on this machine (partition, filesystem, search by UUID).
SNIPPET = r"""#!/bin/sh
# Written by xhv's installer (./bazelw run //:install): a GRUB entry that
# boots the xhv hypervisor, which then boots this machine's own OS from the
# boot sector of {guest_disk} as its guest. Boot it once with:
#   grub-reboot {entry_id} && reboot
set -e
prefix="/usr"
exec_prefix="/usr"
datarootdir="/usr/share"
. "${{pkgdatadir:-/usr/share/grub}}/grub-mkconfig_lib"

# XHV_INSTALL_ROOT: only to check this script against a scratch copy of a system.
image="${{XHV_INSTALL_ROOT:-}}{image}"
if [ ! -f "$image" ]; then
  echo "xhv: $image is gone; no xhv entry (re-run the installer)" >&2
  exit 0
fi
echo "Found xhv hypervisor: $image" >&2
device="$(${{grub_probe}} --target=device "$image")"
path="$(make_system_path_relative_to_its_root "$image")"
cat <<EOF
menuentry 'xhv {arch} hypervisor, then this disk as its guest' --id {entry_id} {{
EOF
prepare_grub_to_access_device "$device" | sed -e 's/^/	/'
cat <<EOF
	echo 'Loading the xhv hypervisor; its log is on COM1 (115200 8N1)...'
	multiboot $path boot_drive={boot_drive}
	module --nounzip ({guest_disk})+1 guest-mbr
	boot
}}
EOF
"""


def runfile(path):
    for base in (os.getcwd(), os.path.join(os.environ.get("RUNFILES_DIR", ""), "xhv")):
        candidate = os.path.join(base, path)
        if os.path.exists(candidate):
            return candidate
    raise SystemExit("install: %s is not in the runfiles; run ./bazelw run //:install" % path)


def boot_drive(guest_disk):
    """BIOS drive number of GRUB's (hdN): 0x80 + N."""
    if not guest_disk.startswith("hd") or not guest_disk[2:].isdigit() or int(guest_disk[2:]) > 127:
        raise SystemExit("install: --guest-disk must be a GRUB BIOS disk name hdN, got %r"
                         % guest_disk)
    return "0x%02x" % (0x80 + int(guest_disk[2:]))


def install(root, arch, guest_disk, image_src):
    drive = boot_drive(guest_disk)
    boot_dir = os.path.join(root, "boot")
    grub_d = os.path.join(root, "etc", "grub.d")
    for d in (boot_dir, grub_d):
        if not os.path.isdir(d):
            raise SystemExit("install: %s does not exist: is %s the root of a Debian system with "
                             "GRUB (grub-pc, BIOS boot)?" % (d, root))
    image = os.path.join(boot_dir, "xhv-%s.elf" % arch)
    shutil.copyfile(image_src, image + ".tmp")
    os.replace(image + ".tmp", image)
    entry_id = "xhv-" + arch
    snippet = os.path.join(grub_d, "41_xhv")
    with open(snippet + ".tmp", "w") as f:
        f.write(SNIPPET.format(image="/boot/xhv-%s.elf" % arch, arch=arch, entry_id=entry_id,
                               guest_disk=guest_disk, boot_drive=drive))
    os.chmod(snippet + ".tmp", 0o755)
    os.replace(snippet + ".tmp", snippet)
    return image, snippet, entry_id


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--root", default="/", help="the system to install into (default: /)")
    ap.add_argument("--arch", choices=sorted(IMAGES), default="x86_64",
                    help="which image (default: x86_64; the x86 one runs 32-bit guests only)")
    ap.add_argument("--guest-disk", default="hd0",
                    help="GRUB's name of the disk whose boot sector becomes the guest "
                         "(default: hd0, BIOS drive 0x80)")
    args = ap.parse_args(argv)
    root = os.path.abspath(args.root)
    if root == "/" and os.geteuid() != 0:
        raise SystemExit("install: writing /boot and /etc/grub.d needs root: sudo ./bazelw run "
                         "//:install, or --root DIR for a scratch copy")
    image, snippet, entry_id = install(root, args.arch, args.guest_disk, runfile(IMAGES[args.arch]))
    print("install: %s" % image)
    print("install: %s (menu entry id %s)" % (snippet, entry_id))
    print("""
Next steps:
  1. update-grub                      # adds the entry; the default stays your OS
  2. grub-reboot %s && reboot     # boots xhv once; the next boot is normal again
The machine needs VT-x with EPT and unrestricted guest, enabled in the
firmware, and a BIOS (or CSM/legacy) boot of GRUB from %s. xhv logs to COM1
at 115200 8N1 (a serial console or a USB adapter on another machine). If it
stops, power-cycle: GRUB boots your default entry. To remove xhv, delete
%s and the image, then run update-grub.""" % (entry_id, args.guest_disk, snippet))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
