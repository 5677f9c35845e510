#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Tests repository_cache.py's reading of the server log (a made-up one)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import repository_cache  # noqa: E402

PREFIX = "200101 00:00:00.000:I 20 [com.example.GrpcServerImpl.executeCommand] ["


def write_log(output_base, *commands):
    with open(os.path.join(output_base, "java.log"), "w") as f:
        f.write("200101 00:00:00.000:I 1 [Something.else] [--repository_cache=/not/a/command]\n")
        for args in commands:
            f.write(PREFIX + ", ".join(args) + "]\n")


class CandidatesTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.user_root = self.tmp.name
        self.output_base = os.path.join(self.user_root, "0123abcd")
        os.mkdir(self.output_base)
        self.default = os.path.join(self.user_root, "cache", "repos", "v1")

    def tearDown(self):
        self.tmp.cleanup()

    def candidates(self):
        return repository_cache.candidates(self.output_base, "/ws")

    def test_no_log_gives_default(self):
        self.assertEqual(self.candidates(), [self.default])

    def test_explicit_flag_of_last_command_first(self):
        write_log(self.output_base,
                  ["build", "--repository_cache=/old", "//:a"],
                  ["build", "--default_override=2:build=--repository_cache=/from/rc",
                   "--client_env=X=--repository_cache=/env", "--repository_cache=/rc1",
                   "--repository_cache=/rc2", "//:a"])
        self.assertEqual(self.candidates(), ["/rc2", "/rc1", "/from/rc", self.default])

    def test_rc_flag_and_relative_path(self):
        write_log(self.output_base,
                  ["fetch", "--default_override=1:common=--repository_cache=cachedir", "//..."])
        self.assertEqual(self.candidates(), ["/ws/cachedir", self.default])

    def test_separate_value(self):
        write_log(self.output_base, ["build", "--repository_cache", "/sep", "//..."])
        self.assertEqual(self.candidates()[0], "/sep")

    def test_disabled_cache_gives_nothing(self):
        write_log(self.output_base, ["build", "--repository_cache=", "//..."])
        self.assertEqual(self.candidates(), [])


if __name__ == "__main__":
    unittest.main()
