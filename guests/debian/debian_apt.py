#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Isolated apt for one Debian architecture, and the pinned .deb fetcher.

IsolatedApt runs the machine's apt-get/apt-cache against a private state
directory: its own package lists, cache, empty dpkg status and preferences,
and APT::Architecture(s) set to one architecture. It reuses only the machine's
source list (/etc/apt/sources.list{,.d}) and keyrings, so fetching i386
packages on an amd64 host needs neither `dpkg --add-architecture` nor any
change to the host's apt or dpkg state.

The configuration goes in through APT_CONFIG, which apt reads before anything
else; pointing Dir::Etc::parts and Dir::Etc::main at empty private paths there
keeps the host's apt.conf.d out entirely (its Post-Invoke hooks would otherwise
run on `apt-get update` and touch the host's /var/cache/apt). apt honours
http_proxy from the environment if the network needs one.

Used by debian_packages.bzl (the `fetch` command below) and refresh_pins.py.
"""

import argparse
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

LOCK_FIELDS = ("name", "arch", "version", "filename", "sha256", "role")
REFRESH_COMMAND = "python3 guests/debian/refresh_pins.py"


class AptError(Exception):
    pass


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _conf_string(value):
    if '"' in value or "\n" in value:
        raise AptError("unsupported character in apt configuration value %r" % value)
    return '"%s"' % value


class IsolatedApt:
    """apt-get/apt-cache for one architecture with state under `root`."""

    def __init__(self, arch, root):
        self.arch = arch
        self.root = os.path.abspath(root)
        self.update_errors = []
        state = os.path.join(self.root, "state")
        cache = os.path.join(self.root, "cache")
        etc = os.path.join(self.root, "etc")
        for d in (
            os.path.join(state, "lists", "partial"),
            os.path.join(cache, "archives", "partial"),
            os.path.join(etc, "apt.conf.d"),
            os.path.join(etc, "preferences.d"),
            os.path.join(self.root, "log"),
        ):
            os.makedirs(d, exist_ok=True)
        open(os.path.join(state, "status"), "a").close()
        settings = [
            # Nothing from the host's apt.conf / apt.conf.d / preferences.
            ("Dir::Etc::main", os.path.join(etc, "apt.conf")),
            ("Dir::Etc::parts", os.path.join(etc, "apt.conf.d")),
            ("Dir::Etc::preferences", os.path.join(etc, "preferences")),
            ("Dir::Etc::preferencesparts", os.path.join(etc, "preferences.d")),
            # Private state; Dir::Etc itself stays /etc/apt for the sources
            # and trusted keys.
            ("Dir::State", state),
            ("Dir::State::lists", os.path.join(state, "lists")),
            ("Dir::State::status", os.path.join(state, "status")),
            ("Dir::State::extended_states", os.path.join(state, "extended_states")),
            ("Dir::Cache", cache),
            ("Dir::Cache::archives", os.path.join(cache, "archives")),
            ("Dir::Cache::pkgcache", ""),
            ("Dir::Cache::srcpkgcache", ""),
            ("Dir::Log", os.path.join(self.root, "log")),
            ("APT::Architecture", arch),
            # Downloads go to directories owned by the caller: do not drop
            # privileges to _apt (which could not write there).
            ("APT::Sandbox::User", pwd.getpwuid(os.getuid()).pw_name),
            ("Acquire::Languages", "none"),
        ]
        lines = ["%s %s;" % (k, _conf_string(v)) for k, v in settings]
        lines.append("APT::Architectures { %s; };" % _conf_string(arch))
        self.config = os.path.join(self.root, "apt.conf")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def run(self, argv, cwd=None):
        env = dict(os.environ)
        env["APT_CONFIG"] = self.config
        env["LC_ALL"] = "C"
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return subprocess.run(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def update(self):
        """apt-get update. Index failures are recorded, not raised: a pinned
        version is still fetched exactly, or fails with its own message."""
        proc = self.run(["apt-get", "-q", "update"])
        self.update_errors = [
            line for line in (proc.stdout + proc.stderr).splitlines()
            if line.startswith(("E:", "Err:", "W:"))
        ]
        if proc.returncode != 0 and not self.update_errors:
            self.update_errors = ["apt-get update exited %d" % proc.returncode]
        lists = os.listdir(os.path.join(self.root, "state", "lists"))
        if not any("_Packages" in n for n in lists):
            raise AptError("apt-get update (%s) fetched no package index:\n%s" %
                           (self.arch, proc.stdout + proc.stderr))

    def show(self, name):
        """Fields of the candidate version of `name`, or None if unknown."""
        proc = self.run(["apt-cache", "show", "--no-all-versions", "%s:%s" % (name, self.arch)])
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        fields = {}
        key = None
        for line in proc.stdout.splitlines():
            if not line.strip():
                break
            if line[0] in " \t" and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return fields

    def available_versions(self, name):
        proc = self.run(["apt-cache", "madison", "%s:%s" % (name, self.arch)])
        versions = []
        for line in proc.stdout.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) >= 2 and parts[1] not in versions:
                versions.append(parts[1])
        return versions

    def download(self, name, version, dest_dir):
        """apt-get download name:arch=version into dest_dir; returns the path.

        Exactly that version or an AptError: never another version."""
        spec = "%s:%s=%s" % (name, self.arch, version)
        tmp = tempfile.mkdtemp(prefix="dl-", dir=self.root)
        try:
            proc = self.run(["apt-get", "-q", "download", spec], cwd=tmp)
            debs = [n for n in os.listdir(tmp) if n.endswith(".deb")]
            if proc.returncode != 0 or len(debs) != 1:
                available = self.available_versions(name)
                if version not in available:
                    msg = [
                        "pinned version %s of %s:%s is no longer available in the archive"
                        % (version, name, self.arch),
                        "  available now: %s" % (", ".join(available) or "none"),
                        "  the pins in guests/debian/packages.lock.json are out of date;",
                        "  re-pin (and review the diff) with:",
                        "    %s" % REFRESH_COMMAND,
                    ]
                    if self.update_errors:
                        msg.append("  note: apt-get update reported errors for some indexes:")
                        msg.extend("    " + e for e in self.update_errors)
                    raise AptError("\n".join(msg))
                raise AptError("apt-get download %s failed (exit %d):\n%s%s" %
                               (spec, proc.returncode, proc.stdout, proc.stderr))
            path = os.path.join(dest_dir, debs[0])
            shutil.move(os.path.join(tmp, debs[0]), path)
            return path
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def read_lock(path):
    with open(path) as f:
        lock = json.load(f)
    pins = lock.get("packages")
    if not isinstance(pins, list) or not pins:
        raise AptError("%s: no \"packages\" list" % path)
    for pin in pins:
        missing = [k for k in LOCK_FIELDS if not isinstance(pin.get(k), str) or not pin[k]]
        if missing:
            raise AptError("%s: entry %r lacks %s" % (path, pin, ", ".join(missing)))
    return pins


def fetch(lock_path, keys, workdir, dest):
    """Downloads the pinned .debs named by keys ("name:arch") into dest, each
    renamed to its pinned filename and checked against its pinned sha256."""
    pins = {"%s:%s" % (p["name"], p["arch"]): p for p in read_lock(lock_path)}
    unknown = [k for k in keys if k not in pins]
    if unknown:
        raise AptError("not in %s: %s" % (lock_path, ", ".join(unknown)))
    os.makedirs(dest, exist_ok=True)
    errors = []
    by_arch = {}
    for key in keys:
        by_arch.setdefault(pins[key]["arch"], []).append(pins[key])
    for arch in sorted(by_arch):
        apt = IsolatedApt(arch, os.path.join(workdir, arch))
        print("debian_packages: apt-get update (%s, isolated)" % arch, flush=True)
        apt.update()
        for pin in by_arch[arch]:
            label = "%s:%s=%s" % (pin["name"], arch, pin["version"])
            print("debian_packages: apt-get download %s" % label, flush=True)
            try:
                got = apt.download(pin["name"], pin["version"], dest)
            except AptError as e:
                errors.append(str(e))
                continue
            target = os.path.join(dest, pin["filename"])
            os.replace(got, target)
            actual = sha256_of(target)
            if actual != pin["sha256"]:
                os.unlink(target)
                errors.append("\n".join([
                    "sha256 mismatch for %s (%s)" % (label, pin["filename"]),
                    "  expected (packages.lock.json): %s" % pin["sha256"],
                    "  actual (downloaded .deb):      %s" % actual,
                    "  either the lock file was edited by hand or the archive changed the",
                    "  file; if the archive is right, re-pin with: %s" % REFRESH_COMMAND,
                ]))
    if errors:
        raise AptError("\n\n".join(errors))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download pinned .debs and verify their sha256")
    f.add_argument("--lock", required=True)
    f.add_argument("--workdir", required=True, help="scratch directory for apt state")
    f.add_argument("--dest", required=True)
    f.add_argument("keys", nargs="+", metavar="NAME:ARCH")
    args = parser.parse_args(argv)
    try:
        fetch(args.lock, args.keys, args.workdir, args.dest)
    except AptError as e:
        sys.stderr.write("debian_packages: error: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
