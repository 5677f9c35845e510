#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Isolated apt for one Debian suite and architecture, and the pin resolver.

IsolatedApt runs the machine's apt-get/apt-cache against a private state
directory: its own source list (one suite of one archive), package lists,
cache, empty dpkg status and preferences, and APT::Architecture(s) set to one
architecture. Fetching i386 packages of Debian 11 on an amd64 Debian 12 host
so needs neither `dpkg --add-architecture` nor a change to the host's apt or
dpkg state.

Which archive: by default the one the machine's own apt sources name (the
entry of its main Debian suite, and the one of its `-security` suite for
security suites), with that entry's keyring, so apt checks every index
against the archive's signature and every .deb against the index.
XHV_DEBIAN_ARCHIVE overrides it (see Archive.from_spec).

The configuration goes in through APT_CONFIG, which apt reads before anything
else; pointing Dir::Etc::parts and Dir::Etc::main at empty private paths there
keeps the host's apt.conf.d out entirely (its Post-Invoke hooks would otherwise
run on `apt-get update` and touch the host's /var/cache/apt). apt honours
http_proxy from the environment if the network needs one.

The resolver (`resolve` command, run by debian_packages.bzl): a pinned
version still in its suite is downloaded and must match its pinned sha256.
A pinned version that left the suite falls forward to what the pin's
metapackage (`selected_by`) selects there now, checked against the signed
index, and is reported as drifted (debian_guest.bzl makes that an error
under --//guests/debian:exact_pins=true).
"""

import argparse
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

LOCK_FIELDS = ("guest", "suite", "name", "arch", "version", "filename", "sha256", "role",
               "selected_by")
ROLES = ("kernel", "kernel-meta", "busybox")
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


def _deb822_stanzas(text):
    stanza, key = {}, None
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
        elif line[0] in " \t" and key:
            stanza[key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            stanza[key] = value.strip()


def machine_sources(etc="/etc/apt"):
    """The machine's `deb` entries: [{uri, suites, components, signed_by}]."""
    entries = []
    for path in sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.sources"))):
        with open(path) as f:
            for s in _deb822_stanzas(f.read()):
                if "deb" not in s.get("types", "").split() or s.get("enabled", "yes") == "no":
                    continue
                for uri in s.get("uris", "").split():
                    entries.append({"uri": uri, "suites": s.get("suites", "").split(),
                                    "components": s.get("components", "").split(),
                                    "signed_by": s.get("signed-by")})
    for path in [os.path.join(etc, "sources.list")] + sorted(
            glob.glob(os.path.join(etc, "sources.list.d", "*.list"))):
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
                if not m:
                    continue
                options = dict(o.split("=", 1) for o in (m.group(1) or "").split() if "=" in o)
                entries.append({"uri": m.group(2), "suites": [m.group(3)],
                                "components": m.group(4).split(),
                                "signed_by": options.get("signed-by")})
    return entries


class Archive:
    """Where a suite's packages come from."""

    def __init__(self, uri, security_uri=None, signed_by=None, trusted=False,
                 security_signed_by=None):
        self.uri = uri.rstrip("/")
        self.security_uri = security_uri.rstrip("/") if security_uri else None
        self.signed_by = signed_by
        self.security_signed_by = security_signed_by or signed_by
        self.trusted = trusted

    @classmethod
    def from_machine(cls, etc="/etc/apt"):
        """The archive of the machine's own Debian suites, as its apt sources name it."""
        main = security = None
        for entry in machine_sources(etc):
            if "main" not in entry["components"]:
                continue
            if any(s.endswith("-security") for s in entry["suites"]):
                security = security or entry
            elif any(re.fullmatch(r"[a-z]+(-updates)?", s) for s in entry["suites"]):
                main = main or entry
        if main is None:
            raise AptError("the machine's apt sources (%s) name no Debian archive with a "
                           "`main` component; set XHV_DEBIAN_ARCHIVE=URI" % etc)
        return cls(main["uri"], security and security["uri"], main["signed_by"],
                   security_signed_by=security and security["signed_by"])

    @classmethod
    def from_spec(cls, spec):
        """XHV_DEBIAN_ARCHIVE: `URI [security=URI] [signed-by=KEYRING] [trusted]`."""
        words = spec.split()
        if not words:
            raise AptError("XHV_DEBIAN_ARCHIVE is empty")
        options = {}
        trusted = False
        for word in words[1:]:
            if word == "trusted":
                trusted = True
            elif "=" in word and word.split("=", 1)[0] in ("security", "signed-by"):
                key, value = word.split("=", 1)
                options[key] = value
            else:
                raise AptError("XHV_DEBIAN_ARCHIVE: unknown option %r (want security=URI, "
                               "signed-by=KEYRING, trusted)" % word)
        return cls(words[0], options.get("security"), options.get("signed-by"), trusted)

    @classmethod
    def default(cls):
        spec = os.environ.get("XHV_DEBIAN_ARCHIVE")
        return cls.from_spec(spec) if spec else cls.from_machine()

    def source_line(self, suite):
        uri, keyring = self.uri, self.signed_by
        if suite.endswith("-security"):
            if not self.security_uri:
                raise AptError("suite %s needs a security archive, and none is configured "
                               "(the machine's apt sources have no -security entry)" % suite)
            uri, keyring = self.security_uri, self.security_signed_by
        options = []
        if keyring:
            options.append("signed-by=" + keyring)
        if self.trusted:
            options.append("trusted=yes")
        return "deb %s%s %s main\n" % ("[%s] " % " ".join(options) if options else "", uri, suite)


class IsolatedApt:
    """apt-get/apt-cache for one suite and architecture, state under `root`."""

    def __init__(self, arch, suite, root, archive):
        self.arch = arch
        self.suite = suite
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
            os.path.join(etc, "sources.list.d"),
            os.path.join(self.root, "log"),
        ):
            os.makedirs(d, exist_ok=True)
        open(os.path.join(state, "status"), "a").close()
        sources = os.path.join(etc, "sources.list")
        with open(sources, "w") as f:
            f.write(archive.source_line(suite))
        settings = [
            # Nothing from the host's apt.conf / apt.conf.d / preferences /
            # sources; its trusted keys (Dir::Etc::trusted*) stay visible
            # for sources without signed-by.
            ("Dir::Etc::main", os.path.join(etc, "apt.conf")),
            ("Dir::Etc::parts", os.path.join(etc, "apt.conf.d")),
            ("Dir::Etc::preferences", os.path.join(etc, "preferences")),
            ("Dir::Etc::preferencesparts", os.path.join(etc, "preferences.d")),
            ("Dir::Etc::sourcelist", sources),
            ("Dir::Etc::sourceparts", os.path.join(etc, "sources.list.d")),
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

    @property
    def label(self):
        return "%s/%s" % (self.suite, self.arch)

    def run(self, argv, cwd=None):
        env = dict(os.environ)
        env["APT_CONFIG"] = self.config
        env["LC_ALL"] = "C"
        env["DEBIAN_FRONTEND"] = "noninteractive"
        return subprocess.run(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def update(self):
        """apt-get update. Index errors are recorded; no index at all is an error."""
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
                           (self.label, proc.stdout + proc.stderr))

    def show(self, name, version=None):
        """Index fields of `name` (its candidate, or `version`), or None if unknown."""
        spec = "%s:%s" % (name, self.arch) + ("=" + version if version else "")
        proc = self.run(["apt-cache", "show", "--no-all-versions", spec])
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        fields = {}
        for line in proc.stdout.splitlines():
            if not line.strip():
                break
            if line[0] not in " \t" and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return fields or None

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

        apt checks the file against the index's hash, the index against the
        archive's signature. Exactly that version or an AptError."""
        spec = "%s:%s=%s" % (name, self.arch, version)
        tmp = tempfile.mkdtemp(prefix="dl-", dir=self.root)
        try:
            proc = self.run(["apt-get", "-q", "download", spec], cwd=tmp)
            debs = [n for n in os.listdir(tmp) if n.endswith(".deb")]
            if proc.returncode != 0 or len(debs) != 1:
                raise AptError("apt-get download %s (%s) failed (exit %d):\n%s%s" % (
                    spec, self.label, proc.returncode, proc.stdout, proc.stderr))
            path = os.path.join(dest_dir, debs[0])
            shutil.move(os.path.join(tmp, debs[0]), path)
            return path
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def concrete_image(meta_fields):
    """linux-image-686-pae depends on `linux-image-6.1.0-NN-686-pae (= V)`."""
    for alternative in re.split(r"[,|]", meta_fields.get("Depends", "")):
        m = re.match(r"\s*(linux-image-[0-9][^\s(]*)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?",
                     alternative)
        if m:
            return m.group(1), m.group(2)
    raise AptError("%s %s: no linux-image-<version> dependency in %r" % (
        meta_fields.get("Package"), meta_fields.get("Version"), meta_fields.get("Depends")))


def current_selection(apt, selected_by, role):
    """Index fields of what `selected_by` selects in apt's suite today: for a
    kernel, the concrete image its metapackage depends on; else the package."""
    fields = apt.show(selected_by)
    if fields is None:
        raise AptError("%s:%s is not in %s" % (selected_by, apt.arch, apt.label))
    if role != "kernel":
        return fields
    image, version = concrete_image(fields)
    image_fields = apt.show(image, version)
    if image_fields is None:
        raise AptError("%s:%s=%s (what %s %s depends on) is not in %s" % (
            image, apt.arch, version, selected_by, fields["Version"], apt.label))
    return image_fields


def read_lock(path):
    with open(path) as f:
        try:
            lock = json.load(f)
        except ValueError as e:
            raise AptError("%s: not JSON: %s" % (path, e))
    pins = lock.get("packages") if isinstance(lock, dict) else None
    if not isinstance(pins, list) or not pins:
        raise AptError("%s: no \"packages\" list" % path)
    seen = set()
    for pin in pins:
        missing = [k for k in LOCK_FIELDS if not isinstance(pin.get(k), str) or not pin[k]]
        if missing:
            raise AptError("%s: entry %r lacks %s" % (path, pin, ", ".join(missing)))
        if pin["role"] not in ROLES:
            raise AptError("%s: %s: role must be one of %s" % (path, pin["name"], ", ".join(ROLES)))
        if pin_key(pin) in seen:
            raise AptError("%s: %s is pinned twice" % (path, pin_key(pin)))
        seen.add(pin_key(pin))
    return pins


def pin_key(pin):
    return "%s/%s:%s" % (pin["guest"], pin["name"], pin["arch"])


def drift_warning(entries):
    """The one warning line naming every pin that fell forward, or None."""
    moves = []
    for e in entries:
        if e["drifted"]:
            used = e["used"]
            now = used["version"] if used["name"] == e["name"] else "%s %s" % (
                used["name"], used["version"])
            moves.append("%s:%s %s -> %s (%s)" % (e["name"], e["arch"], e["version"], now,
                                                 e["suite"]))
    if not moves:
        return None
    return ("debian_packages: warning: pinned versions left the archive, using what their "
            "metapackages select now: %s; re-pin with: %s" % ("; ".join(moves), REFRESH_COMMAND))


def resolve(lock_path, keys, workdir, dest, archive, log=print):
    """Fetches the pins named by keys into dest; returns one entry per key:
    the pin's fields plus `used` (name, version, filename, sha256 of the .deb
    now in dest) and `drifted` (whether that is not the pinned version)."""
    pins = {pin_key(p): p for p in read_lock(lock_path)}
    unknown = [k for k in keys if k not in pins]
    if unknown:
        raise AptError("not in %s: %s" % (lock_path, ", ".join(unknown)))
    os.makedirs(dest, exist_ok=True)
    errors = []
    entries = []
    groups = {}
    for key in keys:
        groups.setdefault((pins[key]["suite"], pins[key]["arch"]), []).append(pins[key])
    for suite, arch in sorted(groups):
        apt = IsolatedApt(arch, suite, os.path.join(workdir, "%s-%s" % (suite, arch)), archive)
        log("debian_packages: apt-get update (%s, isolated)" % apt.label)
        apt.update()
        for pin in groups[(suite, arch)]:
            try:
                entries.append(_resolve_one(apt, pin, dest, log))
            except AptError as e:
                errors.append(str(e))
                if apt.update_errors:
                    errors.append("  note: apt-get update reported errors for %s:\n%s" % (
                        apt.label, "\n".join("    " + x for x in apt.update_errors)))
    if errors:
        raise AptError("\n\n".join(errors))
    return entries


def _resolve_one(apt, pin, dest, log):
    label = "%s:%s=%s" % (pin["name"], pin["arch"], pin["version"])
    entry = dict(pin)
    if pin["version"] in apt.available_versions(pin["name"]):
        log("debian_packages: apt-get download %s (%s)" % (label, apt.label))
        got = apt.download(pin["name"], pin["version"], dest)
        target = os.path.join(dest, pin["filename"])
        os.replace(got, target)
        actual = sha256_of(target)
        if actual != pin["sha256"]:
            os.unlink(target)
            raise AptError("\n".join([
                "sha256 mismatch for %s (%s)" % (label, pin["filename"]),
                "  expected (packages.lock.json): %s" % pin["sha256"],
                "  actual (downloaded .deb):      %s" % actual,
                "  either the lock file was edited by hand or the archive changed the",
                "  file; if the archive is right, re-pin with: %s" % REFRESH_COMMAND,
            ]))
        entry["used"] = {k: pin[k] for k in ("name", "version", "filename", "sha256")}
        entry["drifted"] = False
        return entry

    now = current_selection(apt, pin["selected_by"], pin["role"])
    spec = "%s:%s=%s" % (now["Package"], pin["arch"], now["Version"])
    log("debian_packages: %s left %s; apt-get download %s (what %s selects now)" % (
        label, apt.label, spec, pin["selected_by"]))
    got = apt.download(now["Package"], now["Version"], dest)
    filename = os.path.basename(now["Filename"])
    target = os.path.join(dest, filename)
    os.replace(got, target)
    actual = sha256_of(target)
    if actual != now.get("SHA256"):
        os.unlink(target)
        raise AptError("sha256 mismatch for %s (%s): the signed index says %s, the file is %s" % (
            spec, filename, now.get("SHA256"), actual))
    entry["used"] = {"name": now["Package"], "version": now["Version"], "filename": filename,
                     "sha256": actual}
    entry["drifted"] = True
    return entry


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("resolve", help="download the pinned .debs (or what replaced them)")
    r.add_argument("--lock", required=True)
    r.add_argument("--workdir", required=True, help="scratch directory for apt state")
    r.add_argument("--dest", required=True, help="directory for the .debs")
    r.add_argument("--out", required=True, help="JSON file: what was fetched for each key")
    r.add_argument("keys", nargs="+", metavar="GUEST/NAME:ARCH")
    args = parser.parse_args(argv)
    try:
        archive = Archive.default()
        entries = resolve(args.lock, args.keys, args.workdir, args.dest, archive,
                          log=lambda m: print(m, flush=True))
    except AptError as e:
        sys.stderr.write("debian_packages: error: %s\n" % e)
        return 1
    with open(args.out, "w") as f:
        json.dump({"entries": entries, "warning": drift_warning(entries)}, f, indent=2,
                  sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
