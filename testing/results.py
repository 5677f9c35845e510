# SPDX-License-Identifier: Apache-2.0
"""Reads the matrix cells' results, and says which run each one comes from.

Every `bazel test` writes its build event record to
bazel-xhv-test-events.json (.bazelrc): its invocation id, start time, the
commit (tools/workspace_status.sh), and each test it covered, run or taken
from the cache. Each cell's result.json names the invocation that ran it.
Together they tell, per cell, whether its result is from the last test run
("ran"), a cached result of the same inputs ("cached", from an earlier run),
or left over from a run the last one did not cover ("old": filtered out,
failed to build, renamed), and how old it is.
"""

import json
import os
import sys
import time
import zipfile

EVENTS_FILE = "bazel-xhv-test-events.json"


def workspace_dir(explicit=None):
    """The workspace `bazel run` was started from, or `explicit`."""
    if explicit:
        return explicit
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if not workspace:
        sys.stderr.write("run it with `bazel run`, or pass --workspace\n")
        sys.exit(2)
    return workspace


def _read_result(outputs):
    path = os.path.join(outputs, "result.json")
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    archive = os.path.join(outputs, "outputs.zip")
    if os.path.isfile(archive):
        with zipfile.ZipFile(archive) as z:
            if "result.json" in z.namelist():
                return json.loads(z.read("result.json"))
    return None


def load_results(testlogs):
    """Yields the result dicts of testing/cell_* (loose file or outputs.zip)."""
    base = os.path.join(testlogs, "testing")
    if not os.path.isdir(base):
        return
    for name in sorted(os.listdir(base)):
        if name.startswith("cell_"):
            result = _read_result(os.path.join(base, name, "test.outputs"))
            if result is not None:
                yield result


class Invocation:
    """The last `bazel test`, from its build event record."""

    def __init__(self, uuid, started_ms, commit, tree, patterns, tests):
        self.uuid, self.started_ms, self.commit, self.tree = uuid, started_ms, commit, tree
        self.patterns = patterns
        self.tests = tests  # label -> {"status": ..., "cached": bool}

    @property
    def started(self):
        return self.started_ms / 1000.0


def last_invocation(workspace):
    """The last test invocation's record, or None if there is none (or it is unreadable)."""
    path = os.path.join(workspace, EVENTS_FILE)
    try:
        with open(path) as f:
            events = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return None
    uuid, started, commit, tree, patterns, tests = None, 0, None, None, [], {}
    for e in events:
        kind = next(iter(e.get("id", {})), None)
        if kind == "started":
            uuid = e["started"]["uuid"]
            started = int(e["started"].get("startTimeMillis", 0))
        elif kind == "pattern":
            patterns = e["id"]["pattern"].get("pattern", [])
        elif kind == "workspaceStatus":
            items = {i["key"]: i.get("value") for i in e["workspaceStatus"].get("item", [])}
            commit, tree = items.get("XHV_COMMIT"), items.get("XHV_TREE")
        elif kind == "testSummary":
            label = e["id"]["testSummary"]["label"]
            summary = e.get("testSummary", {})
            tests[label] = {"status": summary.get("overallStatus"),
                            "cached": int(summary.get("totalNumCached", 0)) > 0}
    if uuid is None:
        return None
    return Invocation(uuid, started, commit, tree, patterns, tests)


def ran_at(result):
    return result.get("judged_at") or result.get("started_at")


def freshness(result, inv):
    """("ran" | "cached" | "old", note) for one cell's result against the last invocation."""
    bazel = result.get("bazel") or {}
    ran_in = bazel.get("invocation_id")
    when = ran_at(result)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when)) if when else "an unknown time"
    label = "//testing:" + result["cell"]
    if inv is None:
        return "old", "no record of the last test run (%s missing)" % EVENTS_FILE
    covered = inv.tests.get(label)
    if covered and ran_in == inv.uuid:
        return "ran", "ran in this run"
    if covered and not covered["cached"] and ran_in is None and when and when >= inv.started:
        # Bazel names its invocation to the test (in command.log) only when it
        # prints the id, which it does with a disk or remote cache: without
        # one, the record (this test executed in this run) and the time speak.
        return "ran", "ran in this run"
    if covered and covered["cached"]:
        return "cached", "cached: ran %s in invocation %s (commit %s), same inputs" % (
            stamp, (ran_in or "?")[:8], (bazel.get("commit") or "?")[:10])
    age = (inv.started - when) / 3600.0 if when else None
    return "old", "OLD: not from this run; ran %s%s in invocation %s" % (
        stamp, " (%.1f h before it)" % age if age is not None else "", (ran_in or "?")[:8])


def load_run(workspace, testlogs=None):
    """(Invocation or None, [result dicts, each with "_fresh" and "_note"])."""
    inv = last_invocation(workspace)
    results = list(load_results(testlogs or os.path.join(workspace, "bazel-testlogs")))
    for r in results:
        r["_fresh"], r["_note"] = freshness(r, inv)
    return inv, results


def header(inv, command):
    """The lines that say which run a table comes from."""
    if inv is None:
        return ["From: no test run on record (%s missing): every row is OLD." % EVENTS_FILE]
    return ["From: `%s` after `bazel test %s`" % (command, " ".join(inv.patterns)),
            "Invocation %s, started %s, commit %s (%s)." % (
                inv.uuid, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(inv.started)),
                inv.commit or "unknown", inv.tree or "tree state unknown")]
