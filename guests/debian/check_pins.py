#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks one guest's resolved .debs and states its versions (debian_guest.bzl).

Reads the repository's resolution.json, takes the entries of one guest
(Debian release) and arch, and writes versions.json: the kernel package,
version and release (`uname -r`) and the busybox version that the guest
boots, each with the pinned version and whether the archive had moved on.
Under exact pins, a pin that fell forward is an error naming the refresh
command. The guest's kernel and busybox are copied out only after the check,
so nothing boots what the check refused.
"""

import argparse
import json
import shutil
import sys

REFRESH_COMMAND = "python3 guests/debian/refresh_pins.py"
DEBIAN_ARCH = {"x86": "i386", "x86_64": "amd64"}
TITLES = {"debian11": "Debian 11", "debian12": "Debian 12"}


def guest_entries(resolution, guest, arch):
    entries = [e for e in resolution if e["guest"] == guest and e["arch"] == DEBIAN_ARCH[arch]]
    roles = sorted(e["role"] for e in entries)
    if roles != ["busybox", "kernel", "kernel-meta"]:
        raise ValueError("resolution for %s %s has roles %s, want busybox, kernel, kernel-meta"
                         % (guest, arch, roles))
    return {e["role"]: e for e in entries}


def exact_pins_error(entries):
    drifted = [e for e in entries if e["drifted"]]
    lines = ["error: exact pins requested (--//guests/debian:exact_pins=true), but %d pinned "
             "version(s) are no longer in the archive:" % len(drifted)]
    for e in drifted:
        lines.append("  %s:%s=%s (suite %s); it now selects %s %s" % (
            e["name"], e["arch"], e["version"], e["suite"], e["used"]["name"],
            e["used"]["version"]))
    lines.append("re-pin (and review the diff) with: " + REFRESH_COMMAND)
    return "\n".join(lines)


def versions(by_role, guest, arch):
    def describe(e):
        return {"package": e["used"]["name"], "version": e["used"]["version"],
                "sha256": e["used"]["sha256"], "pinned": "%s %s" % (e["name"], e["version"]),
                "drifted": e["drifted"]}
    kernel = describe(by_role["kernel"])
    kernel["release"] = by_role["kernel"]["kernel_release"]
    return {"guest": guest, "title": "%s %s" % (TITLES.get(guest, guest), arch), "arch": arch,
            "suite": by_role["kernel"]["suite"], "kernel": kernel,
            "busybox": describe(by_role["busybox"])}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--arch", required=True, choices=sorted(DEBIAN_ARCH))
    ap.add_argument("--exact-pins", choices=("true", "false"), required=True)
    ap.add_argument("--vmlinuz", nargs=2, metavar=("FROM", "TO"), required=True)
    ap.add_argument("--busybox", nargs=2, metavar=("FROM", "TO"), required=True)
    ap.add_argument("--out", required=True, help="versions.json")
    args = ap.parse_args(argv)
    with open(args.resolution) as f:
        resolution = json.load(f)
    try:
        by_role = guest_entries(resolution, args.guest, args.arch)
    except ValueError as e:
        sys.stderr.write("check_pins: %s\n" % e)
        return 1
    if args.exact_pins == "true" and any(e["drifted"] for e in by_role.values()):
        sys.stderr.write("check_pins: %s %s: %s\n" % (
            args.guest, args.arch, exact_pins_error(list(by_role.values()))))
        return 1
    with open(args.out, "w") as f:
        json.dump(versions(by_role, args.guest, args.arch), f, indent=2, sort_keys=True)
    for src, dst in (args.vmlinuz, args.busybox):
        shutil.copyfile(src, dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
