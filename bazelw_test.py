#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the real ./bazelw against fake dpkg-query, apt-get, sudo, id and bazel.

The fakes sit first on PATH, followed by a directory holding only the real
tools bazelw itself needs (bash, env, mktemp, ...), so a case without sudo
really has no sudo. The fake dpkg-query behaves as the real one does for the
format bazelw asks for (checked against dpkg-query 1.21 on Debian 12): one
`<status> <name>` line on stdout per package it knows, in argument order,
`dpkg-query: no packages found matching <name>` on stderr for each one it
has never heard of, and exit status 1 if there was any such package.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BAZELW = os.path.join(HERE, "bazelw")

# Real tools bazelw (and the fakes) may run; nothing else is on PATH.
REAL_TOOLS = ["bash", "sh", "env", "mktemp", "tail", "sed", "rm", "cat", "printf", "python3"]

FAKE_DPKG_QUERY = r"""#!/bin/sh
# Fake dpkg-query -W -f='${db:Status-Status} ${Package}\n' NAME...
[ "$1" = -W ] || { echo "fake dpkg-query: unexpected $*" >&2; exit 2; }
shift
case "$1" in -f=*) shift ;; esac
rc=0
for name in "$@"; do
  line=$(grep -E "^[a-z-]+ $name\$" "$FAKE/status")
  if [ -n "$line" ]; then
    echo "$line"
  else
    echo "dpkg-query: no packages found matching $name" >&2
    rc=1
  fi
done
exit $rc
"""

FAKE_APT_GET = r"""#!/bin/sh
echo "apt-get $* sudo=${FAKE_IN_SUDO:-no} frontend=${DEBIAN_FRONTEND:-unset}" >>"$FAKE/calls"
case " $* " in
*" update "*) [ -z "$FAKE_FAIL_UPDATE" ] || { echo "E: Failed to fetch index" >&2; exit 100; } ;;
*" install "*)
  [ -z "$FAKE_FAIL_INSTALL" ] || { echo "E: Unable to locate package $FAKE_FAIL_INSTALL" >&2; exit 100; }
  echo "Setting up lots of things"
  for a in "$@"; do
    case "$a" in -*|install) ;; *) echo "installed $a" >>"$FAKE/status" ;; esac
  done ;;
esac
exit 0
"""

FAKE_SUDO = r"""#!/bin/sh
echo "sudo $*" >>"$FAKE/calls"
FAKE_IN_SUDO=yes exec "$@"
"""

FAKE_ID = r"""#!/bin/sh
[ "$1" = -u ] && { echo "$FAKE_UID"; exit 0; }
echo "fake id: unexpected $*" >&2; exit 2
"""

# Records its arguments one per line, so a changed, split or merged argument shows.
FAKE_BAZEL = r"""#!/bin/sh
{ echo "bazel"; for a in "$@"; do echo "  arg[$a]"; done; } >>"$FAKE/calls"
exit 7
"""


def package_list():
    """The packages bazelw names, parsed from its array (the one place that lists them)."""
    with open(BAZELW) as f:
        text = f.read()
    body = re.search(r"^packages=\(\n(.*?)^\)", text, re.S | re.M).group(1)
    names = []
    for line in body.splitlines():
        line = line.split("#", 1)[0]
        names += line.split()
    return names


class BazelwTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.fake = os.path.join(self.tmp, "fake")
        self.tools = os.path.join(self.tmp, "tools")
        os.mkdir(self.fake)
        os.mkdir(self.tools)
        for name, body in [("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET),
                           ("sudo", FAKE_SUDO), ("id", FAKE_ID), ("bazel", FAKE_BAZEL)]:
            self.write_tool(name, body)
        for tool in REAL_TOOLS + ["grep"]:
            real = shutil.which(tool)
            if real:
                os.symlink(real, os.path.join(self.tools, tool))
        open(os.path.join(self.fake, "status"), "w").close()
        open(os.path.join(self.fake, "calls"), "w").close()
        self.packages = package_list()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write_tool(self, name, body):
        path = os.path.join(self.fake, name)
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def set_status(self, lines):
        with open(os.path.join(self.fake, "status"), "w") as f:
            f.write("".join(l + "\n" for l in lines))

    def run_bazelw(self, args, uid=0, **env):
        environ = {"PATH": self.fake + ":" + self.tools, "FAKE": self.fake,
                   "FAKE_UID": str(uid), "TMPDIR": self.tmp, "HOME": self.tmp}
        environ.update(env)
        proc = subprocess.run(["bash", BAZELW] + args, env=environ, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=60)
        with open(os.path.join(self.fake, "calls")) as f:
            calls = f.read().splitlines()
        return proc, calls

    def installed(self):
        with open(os.path.join(self.fake, "status")) as f:
            return [l.split()[1] for l in f if l.startswith("installed ")]

    def test_fake_dpkg_query_matches_the_real_contract(self):
        self.set_status(["installed clang", "config-files mtools"])
        proc = subprocess.run(
            [os.path.join(self.fake, "dpkg-query"), "-W", "-f=${db:Status-Status} ${Package}\\n",
             "clang", "spin", "mtools"],
            env={"PATH": self.tools, "FAKE": self.fake},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, "installed clang\nconfig-files mtools\n")
        self.assertEqual(proc.stderr, "dpkg-query: no packages found matching spin\n")

    def test_nothing_installed_installs_everything_then_runs_bazel(self):
        proc, calls = self.run_bazelw(["version"])
        self.assertEqual(proc.returncode, 7, proc.stderr)  # the fake bazel's status, via exec
        installs = [c for c in calls if c.startswith("apt-get ") and " install " in c]
        self.assertEqual(len(installs), 1, calls)
        self.assertEqual(sorted(self.installed()), sorted(self.packages))
        self.assertIn("frontend=noninteractive", installs[0])
        self.assertEqual(calls[0].split()[:2], ["apt-get", "update"])
        self.assertEqual(calls[-2:], ["bazel", "  arg[version]"])
        self.assertIn("bazelw: missing packages: " + " ".join(self.packages), proc.stderr)
        self.assertNotIn("Setting up", proc.stderr + proc.stdout)  # apt's noise stays in its log

    def test_some_missing_installs_exactly_those_one_line_per_step(self):
        present = [p for p in self.packages if p not in ("spin", "mtools")]
        self.set_status(["installed " + p for p in present] + ["config-files mtools"])
        proc, calls = self.run_bazelw(["build", "//:images"])
        self.assertEqual(proc.returncode, 7, proc.stderr)
        install = [c for c in calls if " install " in c]
        self.assertEqual(len(install), 1)
        args = install[0].split(" sudo=")[0].split()
        self.assertEqual([a for a in args[2:] if not a.startswith("-")], ["mtools", "spin"])
        self.assertEqual(proc.stderr.splitlines(), [
            "bazelw: missing packages: mtools spin",
            "bazelw: apt-get update",
            "bazelw: apt-get install mtools spin",
            "bazelw: packages installed",
        ])

    def test_all_present_runs_no_apt_and_passes_arguments_unchanged(self):
        self.set_status(["installed " + p for p in self.packages])
        args = ["test", "//...", "--test_arg=a b", "", "--define=x='y z'", "*"]
        proc, calls = self.run_bazelw(args)
        self.assertEqual(proc.returncode, 7)
        self.assertEqual(proc.stderr, "")
        self.assertEqual(calls, ["bazel"] + ["  arg[%s]" % a for a in args])

    def test_failing_apt_get_names_the_step_and_the_retry_command(self):
        proc, calls = self.run_bazelw(["version"], FAKE_FAIL_INSTALL="bochs")
        self.assertEqual(proc.returncode, 1)
        self.assertFalse(any(c.startswith("bazel") for c in calls), calls)
        last = proc.stderr.splitlines()[-1]
        self.assertRegex(last, r"^bazelw: error: apt-get install .* failed \(status 100; "
                               r"full output in .*\); fix the cause, then retry: "
                               r"apt-get update && apt-get install -y --no-install-recommends ")
        self.assertIn("  | E: Unable to locate package bochs", proc.stderr)

    def test_failing_apt_get_update_stops_before_installing(self):
        proc, calls = self.run_bazelw(["version"], FAKE_FAIL_UPDATE="1")
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(len(calls), 1, calls)
        self.assertIn("bazelw: error: apt-get update failed (status 100", proc.stderr)

    def test_not_root_uses_sudo_and_says_so(self):
        proc, calls = self.run_bazelw(["version"], uid=1000)
        self.assertEqual(proc.returncode, 7, proc.stderr)
        self.assertIn("bazelw: not root: using sudo for apt-get", proc.stderr)
        apt = [c for c in calls if c.startswith("apt-get ")]
        self.assertTrue(apt and all(c.endswith("sudo=yes frontend=noninteractive") or
                                    "update" in c for c in apt), calls)
        self.assertTrue(all("sudo=yes" in c for c in apt), calls)
        self.assertEqual(len([c for c in calls if c.startswith("sudo ")]), 2)

    def test_not_root_without_sudo_names_the_command_to_run(self):
        os.unlink(os.path.join(self.fake, "sudo"))
        self.set_status(["installed " + p for p in self.packages if p != "spin"])
        proc, calls = self.run_bazelw(["version"], uid=1000)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(calls, [])
        self.assertIn("bazelw: error: not root and sudo not found; as root, run: "
                      "apt-get update && apt-get install -y --no-install-recommends spin",
                      proc.stderr)

    def test_no_arguments_installs_and_exits_without_bazel(self):
        proc, calls = self.run_bazelw([])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(any(c.startswith("bazel") for c in calls))
        self.assertTrue(any(" install " in c for c in calls))
        self.assertIn("bazelw: all packages present", proc.stderr)

    def test_second_run_after_install_is_quiet(self):
        self.run_bazelw([])
        open(os.path.join(self.fake, "calls"), "w").close()
        proc, calls = self.run_bazelw(["info"])
        self.assertEqual(proc.stderr, "")
        self.assertEqual(calls, ["bazel", "  arg[info]"])


if __name__ == "__main__":
    unittest.main()
