#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Names the directories that can be the running Bazel command's repository cache.

Why this exists: Bazel 4.2.3 gives a repository rule no way to learn the
repository cache's location, and the only ways to put a file into it are
ctx.download of a URL (refused under --experimental_repository_disable_download,
file:// URLs included) or a --distdir. debian_packages.bzl therefore writes a
verified .deb into the cache itself (Bazel's on-disk layout:
<cache>/content_addressable/sha256/<sha256>/file) and then proves the entry
with a cache-only ctx.download. This script supplies the candidates, best
first, one per line:

  1. --repository_cache of the current command as the Bazel server logged it
     in <output_base>/java.log (the last explicit one, else those from rc
     files, last first). An empty value means the cache is disabled: nothing
     is printed at all.
  2. Bazel's default, <output_user_root>/cache/repos/v1, the output user root
     being the parent of the output base.

A wrong guess costs nothing but one extra content-addressed copy: the caller
keeps only a candidate that a cache-only ctx.download then finds.
"""

import argparse
import os
import sys

FLAGS = ("--repository_cache", "--experimental_repository_cache")


def last_command(java_log):
    """The argument list of the newest command the server logged."""
    marker = "GrpcServerImpl.executeCommand] ["
    line = None
    try:
        with open(java_log, errors="replace") as f:
            for candidate in f:
                if marker in candidate:
                    line = candidate
    except OSError:
        return []
    if line is None:
        return []
    body = line.split(marker, 1)[1].rstrip().rstrip("]")
    return body.split(", ")


def flag_values(args):
    """(explicit values, rc-file values) of the repository cache flag."""
    explicit, from_rc = [], []
    for i, arg in enumerate(args):
        target = explicit
        if arg.startswith("--default_override="):
            # --default_override=<rc index>:<command>=<option>
            _, _, arg = arg.partition("=")
            _, _, arg = arg.partition("=")
            target = from_rc
        for flag in FLAGS:
            if arg.startswith(flag + "="):
                target.append(arg[len(flag) + 1:])
            elif arg == flag and target is explicit and i + 1 < len(args):
                target.append(args[i + 1])
    return explicit, from_rc


def resolve(value, workspace):
    if value == "~" or value.startswith("~/"):
        value = os.path.expanduser(value)
    return os.path.normpath(os.path.join(workspace, value))


def candidates(output_base, workspace):
    explicit, from_rc = flag_values(last_command(os.path.join(output_base, "java.log")))
    ordered = explicit[::-1] + from_rc[::-1]
    if ordered and ordered[0] == "":
        return []  # --repository_cache= : the cache is disabled
    out = [resolve(v, workspace) for v in ordered if v]
    out.append(os.path.join(os.path.dirname(os.path.normpath(output_base)), "cache", "repos", "v1"))
    seen = []
    for path in out:
        if path not in seen:
            seen.append(path)
    return seen


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output-base", required=True)
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args(argv)
    for path in candidates(args.output_base, args.workspace):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
