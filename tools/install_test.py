#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The installer against a scratch root: files, and a menu entry GRUB accepts.

The grub.d script it writes runs as grub-mkconfig runs it, with the real
grub-mkconfig_lib and a fake grub-probe/grub-mkrelpath describing a BIOS
machine with /boot on an ext4 partition; its output must pass
grub-script-check and boot the image with the guest disk's boot sector.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import install  # noqa: E402

FAKE_PROBE = """#!/bin/sh
for a in "$@"; do case "$a" in --target=*) t=${a#--target=} ;; esac; done
case "$t" in
device) echo /dev/sda1 ;;
partmap) echo msdos ;;
abstraction) ;;
fs) echo ext2 ;;
compatibility_hint) echo hd0,msdos1 ;;
fs_uuid) echo 0f4e2c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b ;;
hints_string) echo "--hint-bios=hd0,msdos1" ;;
*) echo "fake grub-probe: unexpected $*" >&2; exit 1 ;;
esac
"""

FAKE_MKRELPATH = """#!/bin/sh
echo "${1#$XHV_INSTALL_ROOT}"
"""


class InstallTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(self.root, "boot"))
        os.makedirs(os.path.join(self.root, "etc", "grub.d"))
        self.image = os.path.join(self.tmp, "xhv.elf")
        with open(self.image, "wb") as f:
            f.write(b"\x7fELF xhv image")
        self.bin = os.path.join(self.tmp, "bin")
        os.makedirs(self.bin)
        for name, body in (("grub-probe", FAKE_PROBE), ("grub-mkrelpath", FAKE_MKRELPATH)):
            path = os.path.join(self.bin, name)
            with open(path, "w") as f:
                f.write(body)
            os.chmod(path, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def menu(self, snippet):
        env = dict(os.environ, grub_probe=os.path.join(self.bin, "grub-probe"),
                   grub_mkrelpath=os.path.join(self.bin, "grub-mkrelpath"),
                   XHV_INSTALL_ROOT=self.root, pkgdatadir="/usr/share/grub")
        proc = subprocess.run(["sh", snippet], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def test_installs_the_image_and_a_menu_entry_grub_accepts(self):
        image, snippet, entry = install.install(self.root, "x86_64", "hd0", self.image)
        self.assertEqual(image, os.path.join(self.root, "boot", "xhv-x86_64.elf"))
        with open(image, "rb") as f:
            self.assertEqual(f.read(), b"\x7fELF xhv image")
        self.assertTrue(os.access(snippet, os.X_OK))
        self.assertEqual(entry, "xhv-x86_64")
        menu = self.menu(snippet)
        self.assertIn("menuentry 'xhv x86_64 hypervisor, then this disk as its guest' "
                      "--id xhv-x86_64 {", menu)
        self.assertIn("\tmultiboot /boot/xhv-x86_64.elf boot_drive=0x80\n", menu)
        self.assertIn("\tmodule --nounzip (hd0)+1 guest-mbr\n", menu)
        self.assertIn("search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 "
                      "0f4e2c1a-5b6d-4e7f-8a9b-0c1d2e3f4a5b", menu)
        cfg = os.path.join(self.tmp, "grub.cfg")
        with open(cfg, "w") as f:
            f.write(menu)
        check = subprocess.run(["grub-script-check", cfg], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + menu)

    def test_grub_script_check_would_catch_a_broken_entry(self):
        # The check above is only worth something if grub-script-check rejects bad menus.
        cfg = os.path.join(self.tmp, "bad.cfg")
        with open(cfg, "w") as f:
            f.write("menuentry 'xhv' {\n\tmultiboot /boot/xhv.elf\n")
        self.assertNotEqual(subprocess.run(["grub-script-check", cfg],
                                           stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL).returncode, 0)

    def test_second_disk_as_guest_is_bios_drive_0x81(self):
        _, snippet, _ = install.install(self.root, "x86", "hd1", self.image)
        menu = self.menu(snippet)
        self.assertIn("multiboot /boot/xhv-x86.elf boot_drive=0x81", menu)
        self.assertIn("module --nounzip (hd1)+1 guest-mbr", menu)

    def test_a_removed_image_leaves_no_entry(self):
        image, snippet, _ = install.install(self.root, "x86_64", "hd0", self.image)
        os.unlink(image)
        self.assertEqual(self.menu(snippet), "")

    def test_bad_input_is_refused_with_a_message(self):
        with self.assertRaises(SystemExit) as caught:
            install.install(self.root, "x86_64", "sda", self.image)
        self.assertIn("hdN", str(caught.exception))
        with self.assertRaises(SystemExit) as caught:
            install.install(self.tmp, "x86_64", "hd0", self.image)
        self.assertIn("does not exist", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
