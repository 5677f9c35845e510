# SPDX-License-Identifier: Apache-2.0
"""Reads the matrix cells' result.json files from Bazel's test outputs."""

import json
import os
import sys
import zipfile


def testlogs_dir(explicit=None):
    """bazel-testlogs of the workspace `bazel run` was started from, or `explicit`."""
    if explicit:
        return explicit
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if not workspace:
        sys.stderr.write("run it with `bazel run`, or pass --testlogs\n")
        sys.exit(2)
    return os.path.join(workspace, "bazel-testlogs")


def load_results(testlogs):
    """Yields the result dicts of testing/cell_* (loose file or outputs.zip)."""
    base = os.path.join(testlogs, "testing")
    if not os.path.isdir(base):
        return
    for name in sorted(os.listdir(base)):
        if not name.startswith("cell_"):
            continue
        outputs = os.path.join(base, name, "test.outputs")
        path = os.path.join(outputs, "result.json")
        if os.path.isfile(path):
            with open(path) as f:
                yield json.load(f)
            continue
        archive = os.path.join(outputs, "outputs.zip")
        if os.path.isfile(archive):
            with zipfile.ZipFile(archive) as z:
                if "result.json" in z.namelist():
                    yield json.loads(z.read("result.json"))
