# SPDX-License-Identifier: Apache-2.0
# Model-checks the quiesce protocol with spin: the fixed protocol must pass, the seed's fail.
"""Runs spin on quiesce.pml in several configurations and checks each verdict.

For each configuration: spin -a generates the verifier, gcc compiles it with
-DSAFETY (assertions and invalid end states; no cycle checks, none needed)
and pan searches the state space, all in a temporary directory under
TEST_TMPDIR. Every run prints its state-space figures; the runs that must find
a counterexample check that spin wrote a trail, and two of them print it.

Usage: quiesce_model_test.py [--model PATH] [--full] [-j JOBS]
  --full  also N = 3 with ROUNDS = 2 and GUEST_NMIS = 2, exhaustively with
          pan's state compression (about 7.6M states, 12 s and 0.5 GB
          alone: too slow for the test, run it by hand).
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time

# The seed runs (-DSEED: the seed's protocol as hv/common/smp/README.md
# states it) must find its bug. A seed run that finds nothing means the
# model has gone blind, and the test fails.
#
# Every run must search as deep as its state space goes: a pan that stops
# at its depth limit ("max search depth too small") has not checked
# everything, and the test fails (pan -i lowers the limit on purpose, to
# shorten a counterexample it already has; that is not this).
#
# The fixed runs check property 2 as stated ("every guest NMI is counted
# exactly once"). That holds because a CPU parked in its NMI handler has
# unblocked NMIs: the quiesce NMI that follows a guest NMI taken as the
# request is taken nested during the park and counted as the guest's, so it
# can no longer stay latched and merge with the next round's.
#
# Two runs check the model against weakenings of the fixed protocol:
#  - MERGE_WINDOW lets a quiesce NMI reach a CPU whose guest NMI is pending
#    but not yet taken, a window of about one instruction in hardware; the
#    two merge and one guest NMI is lost whatever the protocol does. There
#    only the weaker form of property 2 holds (one loss per merge), and the
#    strict one must fail;
#  - RESUMED_FIRST, the park's order of the old handler (count resumed, then
#    unmark): with NMIs unblocked during the park it deadlocks, and the run
#    must find that (its trail is printed).

PASS = "no errors"
ANY_ERROR = "an error"
ASSERTION = "assertion violated"
DEADLOCK = "invalid end state"
CUT_SHORT = "its depth limit hit"


class Run:
    def __init__(self, name, defines, expect, pan_args=(), cc="-O2", shortest=False,
                 bitstate=False, collapse=False, show_trail=False, assertion=None):
        self.name = name
        self.defines = defines
        self.expect = expect
        self.pan_args = list(pan_args)
        self.cc = cc                  # -O0 where compiling costs more than searching
        self.shortest = shortest      # pan -i: iteratively shortest counterexample
        self.bitstate = bitstate
        self.collapse = collapse      # pan's state compression (-DCOLLAPSE)
        self.show_trail = show_trail
        self.assertion = assertion    # regex the violated assertion must match


def configurations(full):
    weak = "MERGES_LOSE_NMIS"
    # The strict assertion: GUEST_TOTAL == guest_sent, no nmi_merged in it.
    strict_assertion = r"\]\)==guest_sent\)"
    n2 = ["N=2", "ROUNDS=2", "GUEST_NMIS=2"]
    runs = [
        # Properties 1, 2 (strict) and 3, exhaustively.
        Run("fixed N=2", ["FIXED"] + n2, PASS),
        # N = 3 exhaustively, in two slices of the bounds: ROUNDS=2 with
        # GUEST_NMIS=2 is ~7.6M states (--full does it).
        Run("fixed N=3 R1 G2", ["FIXED", "N=3", "ROUNDS=1", "GUEST_NMIS=2"], PASS),
        Run("fixed N=3 R2 G1", ["FIXED", "N=3", "ROUNDS=2", "GUEST_NMIS=1"], PASS),
        # The hardware's merge window opened: property 2 only in its weak form.
        Run("fixed N=2 merge window", ["FIXED"] + n2 + ["MERGE_WINDOW", weak], PASS),
        Run("fixed N=2 mw strict", ["FIXED"] + n2 + ["MERGE_WINDOW"], ASSERTION, cc="-O0",
            assertion=strict_assertion),
        # A search cut at a small depth limit must be seen as one.
        Run("fixed N=2 cut short", ["FIXED"] + n2, CUT_SHORT, pan_args=["-m40"], cc="-O0"),
        # The park counting itself resumed before it unmarks itself.
        Run("fixed N=2 resumed 1st", ["FIXED"] + n2 + ["RESUMED_FIRST"], DEADLOCK, cc="-O0",
            shortest=True, show_trail=True),
        # The seed's protocol: first with every property on, then the
        # deadlock alone (pan -A: assertions off), then the guest NMI it
        # drops (H2) or loses to blocked parking alone (MERGES_LOSE_NMIS
        # does not excuse it: nothing merged).
        Run("seed N=2", ["SEED"] + n2, ANY_ERROR, cc="-O0"),
        Run("seed N=2 deadlock", ["SEED"] + n2, DEADLOCK, pan_args=["-A"], cc="-O0",
            shortest=True, show_trail=True),
        Run("seed N=2 lost NMI", ["SEED"] + n2 + [weak], ASSERTION, pan_args=["-E"], cc="-O0",
            assertion=r"guest_sent"),
        Run("seed N=3", ["SEED", "N=3", "ROUNDS=2", "GUEST_NMIS=2"], ANY_ERROR, cc="-O0"),
        Run("seed N=3 deadlock", ["SEED", "N=3", "ROUNDS=2", "GUEST_NMIS=2"], DEADLOCK,
            pan_args=["-A"], cc="-O0"),
    ]
    if full:
        runs.append(Run("fixed N=3 R2 G2", ["FIXED", "N=3", "ROUNDS=2", "GUEST_NMIS=2"], PASS,
                        collapse=True))
    return runs


def sh(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return p.returncode, p.stdout


def figure(pattern, text, cast=str):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else None


# Bookkeeping of the model's step counters, left out of printed trails.
_NOISE = re.compile(r"^\[(\(*pc==\d+\)*(&&1\)*)?|\(*ps==\d+\)*|pc = .*|ps = .*|r = .*|"
                    r"more = .*|todo = .*|\(1\)|\(more\)|else|goto .*)\]$")


def _unwrap(expr):
    """Drops parentheses around the whole of expr, as often as they are there."""
    while expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and i < len(expr) - 1:
                return expr
        expr = expr[1:-1]
    return expr


def replay(run, work, model):
    """The counterexample: one line per atomic step, CPUs by index."""
    _, out = sh(["spin", "-t", "-p"] + ["-D" + d for d in run.defines] + [model], work)
    cpu_of_pid = {}
    steps = []       # [step, who, [statements]]
    tail = []
    in_tail = False
    for line in out.splitlines():
        m = re.match(r"Starting cpu with pid (\d+)", line)
        if m:
            cpu_of_pid[m.group(1)] = len(cpu_of_pid)
            continue
        if line.startswith("spin: trail ends"):
            in_tail = True
            continue
        m = re.match(r"\s*(\d+):\s+proc\s+(\d+) \(([^)]*)\) \S+ \(state \d+\)\s*(.*)$", line)
        if m:
            step, pid, proc, what = m.groups()
            if proc.startswith(":init:"):
                continue
            who = "CPU%d" % cpu_of_pid[pid] if pid in cpu_of_pid else proc.split(":")[0]
            if in_tail:
                tail.append("%-17s %s" % (who, what or "stuck, not at an end state"))
                continue
            if pid in cpu_of_pid:
                what = re.sub(r"\bp\b", str(cpu_of_pid[pid]), what)
            if _NOISE.match(what):
                continue
            what = _unwrap(re.sub(r"\((pc|ps)==\d+\)&&", "", what)[1:-1])
            if steps and steps[-1][0] == step and steps[-1][1] == who:
                steps[-1][2].append(what)
            else:
                steps.append([step, who, [what]])
            continue
        if in_tail and re.match(r"\s+\w+(\[\d+\])? = ", line):
            tail.append(line.strip())
    lines = ["    %4s %-17s %s" % (s, w, "; ".join(x)) for s, w, x in steps]
    lines.append("    -- trail ends; the globals, and where each process is:")
    lines += ["         " + t for t in tail]
    return "\n".join(lines)


def check(run, tmp, model_src):
    work = tempfile.mkdtemp(prefix=re.sub(r"\W+", "_", run.name) + "_", dir=tmp)
    model = "quiesce.pml"
    with open(model_src) as f, open(os.path.join(work, model), "w") as g:
        g.write(f.read())
    t0 = time.monotonic()
    spin_cmd = ["spin", "-a"] + ["-D" + d for d in run.defines] + [model]
    rc, out = sh(spin_cmd, work)
    if rc != 0:
        return False, "  FAIL: spin -a failed:\n" + out, {}
    cc_cmd = ["gcc", run.cc, "-w", "-DSAFETY"]
    cc_cmd += ["-DBITSTATE"] if run.bitstate else []
    cc_cmd += ["-DCOLLAPSE"] if run.collapse else []
    cc_cmd += ["-DREACH"] if run.shortest else []      # needed by pan -i
    rc, out = sh(cc_cmd + ["-o", "pan", "pan.c"], work)
    if rc != 0:
        return False, "  FAIL: gcc failed:\n" + out, {}
    depth = [] if any(a.startswith("-m") for a in run.pan_args) else ["-m100000"]
    pan_cmd = ["./pan"] + depth + run.pan_args + (["-i"] if run.shortest else [])
    rc, out = sh(pan_cmd, work)
    stats = {
        "errors": figure(r"errors: (\d+)", out, int),
        "stored": figure(r"(\d+) states, stored", out, int),
        "transitions": figure(r"(\d+) transitions \(= stored\+matched\)", out, int),
        "depth": figure(r"depth reached (\d+)", out, int),
        "memory": figure(r"([\d.]+)\s+total actual memory usage", out, float),
        "pan_s": figure(r"pan: elapsed time ([\d.e+-]+) seconds", out, float),
        "hash": figure(r"hash factor: ([\d.]+)", out, float),
        "wall": time.monotonic() - t0,
    }
    first = figure(r"(pan:1: [^\n]*)", out) or ""
    trail = os.path.exists(os.path.join(work, model + ".trail"))
    log = ["  " + " ".join(spin_cmd), "  " + " ".join(cc_cmd) + "; " + " ".join(pan_cmd),
           "  first error: " + (first or "none")]

    problems = []
    cut_short = "max search depth too small" in out
    if run.expect == CUT_SHORT:
        if not cut_short:
            problems.append("pan searched past a depth limit of %s without saying so" %
                            run.pan_args)
    elif cut_short:
        problems.append("pan hit its depth limit (-m): the search is incomplete")
    elif stats["errors"] is None:
        problems.append("pan printed no error count:\n" + out)
    elif run.expect == PASS:
        if stats["errors"] != 0:
            problems.append("expected errors: 0, got %d" % stats["errors"])
        for what in ("invalid end states", "assertion violations"):
            if not re.search(what + r"\s+\+", out):
                problems.append(what + " were not checked")
    elif stats["errors"] == 0:
        problems.append("expected %s, spin found none: the model cannot see the bug"
                        % run.expect)
    elif not trail:
        problems.append("spin reported an error but wrote no trail")
    elif run.expect in (ASSERTION, DEADLOCK) and run.expect not in first:
        problems.append("expected %s, got: %s" % (run.expect, first))
    elif run.assertion and not re.search(run.assertion, first):
        problems.append("expected the assertion /%s/ to fail, got: %s" % (run.assertion, first))
    if trail and run.show_trail:
        log.append("  counterexample (spin -t -p; the shortest, from pan -i):")
        log.append(replay(run, work, model))
    log += ["  FAIL: " + p for p in problems]
    return not problems, "\n".join(log), stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quiesce.pml")
    if os.environ.get("TEST_SRCDIR"):
        model = os.path.join(os.environ["TEST_SRCDIR"], os.environ.get("TEST_WORKSPACE", "xhv"),
                             "hv/common/smp/quiesce.pml")
    ap.add_argument("--model", default=model)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="quiesce_model_", dir=os.environ.get("TEST_TMPDIR"))
    runs = configurations(args.full)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda r: check(r, tmp, args.model), runs))

    ok_all = True
    for run, (ok, log, _) in zip(runs, results):
        print("=== %s: expect %s: %s" % (run.name, run.expect, "ok" if ok else "FAILED"))
        print(log)
        print()
        ok_all = ok_all and ok

    fmt = "%-24s %-18s %-10s %10s %11s %5s %7s %6s %6s  %s"
    print(fmt % ("run", "expect", "search", "states", "transitions", "depth", "mem MB", "pan s",
                 "wall s", ""))
    for run, (ok, _, st) in zip(runs, results):
        if run.expect == CUT_SHORT:
            search = "cut short"
        elif run.expect == PASS:
            search = "bitstate" if run.bitstate else "exhaustive"
        else:
            search = "shortest" if run.shortest else "1st error"
        print(fmt % (run.name, run.expect, search, st.get("stored"), st.get("transitions"),
                     st.get("depth"), st.get("memory"), st.get("pan_s"),
                     "%.1f" % st.get("wall", 0.0),
                     "hash factor %s" % st["hash"] if st.get("hash") else ""))
    print("total %.1f s wall, %d jobs: %s" % (time.monotonic() - t0, args.jobs,
                                             "PASS" if ok_all else "FAIL"))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
