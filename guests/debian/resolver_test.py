#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The pin resolver against a local apt repository that the test builds.

Each case makes tiny .debs with dpkg-deb (a fake kernel image holding
/boot/vmlinuz-<release>, its metapackage, busybox-static), indexes them with
apt-ftparchive into a file: repository with one suite, and runs the real
resolver (debian_apt.resolve, the machine's apt-get in its isolated
configuration) and check_pins on it.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_pins  # noqa: E402
import debian_apt  # noqa: E402

SUITE = "bookworm"


def make_deb(pool, name, version, depends=None, files=None):
    """Builds name_version_amd64.deb in pool; returns (filename, sha256)."""
    root = tempfile.mkdtemp(dir=pool)
    os.makedirs(os.path.join(root, "DEBIAN"))
    control = ["Package: " + name, "Version: " + version, "Architecture: amd64",
               "Maintainer: xhv tests <tests@example.invalid>", "Description: test package"]
    if depends:
        control.append("Depends: " + depends)
    with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
        f.write("\n".join(control) + "\n")
    for path, content in (files or {}).items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
    filename = "%s_%s_amd64.deb" % (name, version.split(":")[-1])
    out = os.path.join(pool, filename)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, out],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    return filename, debian_apt.sha256_of(out)


class Repo:
    """A file: apt repository with one suite, main, amd64."""

    def __init__(self, top):
        self.top = top
        self.pool = os.path.join(top, "pool")
        os.makedirs(self.pool)
        self.debs = {}

    def add(self, name, version, **kwargs):
        self.debs[(name, version)] = make_deb(self.pool, name, version, **kwargs)
        return self.debs[(name, version)]

    def add_kernel(self, abi, version):
        image = "linux-image-%s-amd64" % abi
        self.add(image, version, files={"boot/vmlinuz-%s-amd64" % abi: "kernel " + version})
        self.add("linux-image-amd64", version, depends="%s (= %s)" % (image, version))

    def remove(self, name, version):
        os.unlink(os.path.join(self.pool, self.debs.pop((name, version))[0]))

    def publish(self):
        dists = os.path.join(self.top, "dists", SUITE)
        binary = os.path.join(dists, "main", "binary-amd64")
        shutil.rmtree(dists, ignore_errors=True)
        os.makedirs(binary)
        packages = subprocess.run(["apt-ftparchive", "packages", "pool"], cwd=self.top,
                                  check=True, stdout=subprocess.PIPE).stdout
        with open(os.path.join(binary, "Packages"), "wb") as f:
            f.write(packages)
        release = subprocess.run(
            ["apt-ftparchive", "-o", "APT::FTPArchive::Release::Suite=" + SUITE,
             "-o", "APT::FTPArchive::Release::Codename=" + SUITE,
             "-o", "APT::FTPArchive::Release::Architectures=amd64",
             "-o", "APT::FTPArchive::Release::Components=main", "release", "."],
            cwd=dists, check=True, stdout=subprocess.PIPE).stdout
        with open(os.path.join(dists, "Release"), "wb") as f:
            f.write(release)

    def archive(self):
        return debian_apt.Archive("file:" + self.top, trusted=True)


def pin(repo, name, version, role, selected_by, sha256=None):
    filename, real_sha = repo.debs[(name, version)]
    return {"guest": "debian12", "suite": SUITE, "name": name, "arch": "amd64",
            "version": version, "filename": filename, "sha256": sha256 or real_sha,
            "role": role, "selected_by": selected_by}


class ResolverTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.repo = Repo(os.path.join(self.tmp, "repo"))
        self.repo.add_kernel("6.1.0-56", "6.1.192-2")
        self.repo.add("busybox-static", "1:1.35.0-4")
        self.pins = [
            pin(self.repo, "linux-image-6.1.0-56-amd64", "6.1.192-2", "kernel",
                "linux-image-amd64"),
            pin(self.repo, "linux-image-amd64", "6.1.192-2", "kernel-meta", "linux-image-amd64"),
            pin(self.repo, "busybox-static", "1:1.35.0-4", "busybox", "busybox-static"),
        ]
        self.dest = os.path.join(self.tmp, "debs")
        self.log = []

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def resolve(self):
        lock = os.path.join(self.tmp, "packages.lock.json")
        with open(lock, "w") as f:
            json.dump({"packages": self.pins}, f)
        self.repo.publish()
        keys = [debian_apt.pin_key(p) for p in self.pins]
        return debian_apt.resolve(lock, keys, os.path.join(self.tmp, "work"), self.dest,
                                  self.repo.archive(), log=self.log.append)

    def check(self, entries, exact):
        for e in entries:
            if e["role"] == "kernel":
                e["kernel_release"] = "6.1.0-XX-amd64"
        resolution = os.path.join(self.tmp, "resolution.json")
        with open(resolution, "w") as f:
            json.dump(entries, f)
        for name in ("vmlinuz", "busybox"):
            open(os.path.join(self.tmp, name), "w").close()
        out = os.path.join(self.tmp, "out")
        os.makedirs(out, exist_ok=True)
        argv = ["--resolution", resolution, "--guest", "debian12", "--arch", "x86_64",
                "--exact-pins", "true" if exact else "false",
                "--vmlinuz", os.path.join(self.tmp, "vmlinuz"), os.path.join(out, "vmlinuz"),
                "--busybox", os.path.join(self.tmp, "busybox"), os.path.join(out, "busybox"),
                "--out", os.path.join(out, "versions.json")]
        with tempfile.TemporaryFile("w+") as err:
            saved, sys.stderr = sys.stderr, err
            try:
                rc = check_pins.main(argv)
            finally:
                sys.stderr = saved
            err.seek(0)
            return rc, err.read(), out

    def by_name(self, entries):
        return {e["name"]: e for e in entries}

    def test_pinned_versions_present_are_used_and_checked(self):
        entries = self.resolve()
        self.assertEqual(len(entries), 3)
        for e in entries:
            self.assertFalse(e["drifted"])
            self.assertEqual(e["used"]["version"], e["version"])
            self.assertEqual(debian_apt.sha256_of(os.path.join(self.dest, e["used"]["filename"])),
                             e["sha256"])
        self.assertIsNone(debian_apt.drift_warning(entries))
        rc, err, out = self.check(entries, exact=True)
        self.assertEqual((rc, err), (0, ""))
        with open(os.path.join(out, "versions.json")) as f:
            versions = json.load(f)
        self.assertEqual(versions["kernel"]["version"], "6.1.192-2")
        self.assertEqual(versions["busybox"]["version"], "1:1.35.0-4")
        self.assertEqual(versions["title"], "Debian 12 x86_64")

    def test_pin_gone_falls_forward_with_one_warning(self):
        self.repo.remove("linux-image-6.1.0-56-amd64", "6.1.192-2")
        self.repo.remove("linux-image-amd64", "6.1.192-2")
        self.repo.add_kernel("6.1.0-56", "6.1.192-3")
        entries = self.by_name(self.resolve())
        kernel = entries["linux-image-6.1.0-56-amd64"]
        self.assertTrue(kernel["drifted"])
        self.assertEqual(kernel["used"]["version"], "6.1.192-3")
        self.assertEqual(kernel["used"]["sha256"],
                         self.repo.debs[("linux-image-6.1.0-56-amd64", "6.1.192-3")][1])
        self.assertTrue(os.path.isfile(os.path.join(self.dest, kernel["used"]["filename"])))
        self.assertTrue(entries["linux-image-amd64"]["drifted"])
        self.assertFalse(entries["busybox-static"]["drifted"])
        warning = debian_apt.drift_warning(list(entries.values()))
        self.assertEqual(len(warning.splitlines()), 1)
        self.assertIn("linux-image-6.1.0-56-amd64:amd64 6.1.192-2 -> 6.1.192-3 (bookworm)",
                      warning)
        self.assertIn("linux-image-amd64:amd64 6.1.192-2 -> 6.1.192-3", warning)
        self.assertIn("re-pin with: python3 guests/debian/refresh_pins.py", warning)
        rc, err, out = self.check(list(entries.values()), exact=False)
        self.assertEqual(rc, 0, err)
        with open(os.path.join(out, "versions.json")) as f:
            versions = json.load(f)
        self.assertEqual(versions["kernel"]["version"], "6.1.192-3")
        self.assertTrue(versions["kernel"]["drifted"])
        self.assertEqual(versions["kernel"]["pinned"], "linux-image-6.1.0-56-amd64 6.1.192-2")

    def test_pin_gone_with_exact_pins_is_an_error_naming_the_refresh_command(self):
        self.repo.remove("busybox-static", "1:1.35.0-4")
        self.repo.add("busybox-static", "1:1.35.0-5")
        entries = self.resolve()
        rc, err, out = self.check(entries, exact=True)
        self.assertEqual(rc, 1)
        self.assertIn("busybox-static:amd64=1:1.35.0-4 (suite bookworm); it now selects "
                      "busybox-static 1:1.35.0-5", err)
        self.assertIn("re-pin (and review the diff) with: python3 guests/debian/refresh_pins.py",
                      err)
        self.assertFalse(os.path.exists(os.path.join(out, "vmlinuz")))

    def test_sha256_mismatch_is_an_error_naming_the_package(self):
        self.pins[2]["sha256"] = "0" * 64
        with self.assertRaises(debian_apt.AptError) as caught:
            self.resolve()
        message = str(caught.exception)
        self.assertIn("sha256 mismatch for busybox-static:amd64=1:1.35.0-4", message)
        self.assertIn("expected (packages.lock.json): " + "0" * 64, message)
        self.assertFalse(os.path.exists(os.path.join(self.dest, self.pins[2]["filename"])))

    def test_metapackage_now_selects_a_new_abi_named_kernel(self):
        self.repo.remove("linux-image-6.1.0-56-amd64", "6.1.192-2")
        self.repo.remove("linux-image-amd64", "6.1.192-2")
        self.repo.add_kernel("6.1.0-57", "6.1.192-3")
        entries = self.by_name(self.resolve())
        kernel = entries["linux-image-6.1.0-56-amd64"]
        self.assertTrue(kernel["drifted"])
        self.assertEqual(kernel["used"]["name"], "linux-image-6.1.0-57-amd64")
        self.assertEqual(kernel["used"]["filename"], "linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb")
        self.assertIn("linux-image-6.1.0-56-amd64:amd64 6.1.192-2 -> "
                      "linux-image-6.1.0-57-amd64 6.1.192-3",
                      debian_apt.drift_warning(list(entries.values())))

    def test_metapackage_gone_from_the_suite_is_an_error(self):
        self.repo.remove("linux-image-6.1.0-56-amd64", "6.1.192-2")
        self.repo.remove("linux-image-amd64", "6.1.192-2")
        with self.assertRaises(debian_apt.AptError) as caught:
            self.resolve()
        self.assertIn("linux-image-amd64:amd64 is not in bookworm/amd64", str(caught.exception))


class ArchiveTest(unittest.TestCase):

    def test_machine_sources_give_main_and_security_archives(self):
        etc = tempfile.mkdtemp()
        try:
            os.makedirs(os.path.join(etc, "sources.list.d"))
            with open(os.path.join(etc, "sources.list.d", "debian.sources"), "w") as f:
                f.write("Types: deb\nURIs: http://mirror.example/debian\n"
                        "Suites: bookworm bookworm-updates\nComponents: main\n"
                        "Signed-By: /usr/share/keyrings/k.gpg\n\n"
                        "Types: deb\nURIs: http://mirror.example/debian-security\n"
                        "Suites: bookworm-security\nComponents: main\n"
                        "Signed-By: /usr/share/keyrings/s.gpg\n")
            with open(os.path.join(etc, "sources.list.d", "other.list"), "w") as f:
                f.write("deb https://vendor.example/apt stable contrib\n")
            archive = debian_apt.Archive.from_machine(etc)
            self.assertEqual(archive.source_line("bullseye"),
                             "deb [signed-by=/usr/share/keyrings/k.gpg] "
                             "http://mirror.example/debian bullseye main\n")
            self.assertEqual(archive.source_line("bookworm-security"),
                             "deb [signed-by=/usr/share/keyrings/s.gpg] "
                             "http://mirror.example/debian-security bookworm-security main\n")
        finally:
            shutil.rmtree(etc)

    def test_archive_spec_rejects_unknown_options(self):
        self.assertEqual(debian_apt.Archive.from_spec("file:/r trusted").source_line("x"),
                         "deb [trusted=yes] file:/r x main\n")
        with self.assertRaises(debian_apt.AptError):
            debian_apt.Archive.from_spec("file:/r sloppy")


if __name__ == "__main__":
    unittest.main()
