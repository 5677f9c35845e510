#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/test.sh of PAL cells: pal_demo under the TrustVisor hypapp, as the
# seed's status table runs it, with NMIs from every source while PALs run,
# the isolation check, and hypercall fuzzing; pal_demo must still pass after.
. /xhv/lib.sh

# A PAL's pages must stay where they were registered. mlock keeps them in
# memory, but compaction still migrates mlocked pages unless told not to;
# TrustVisor revokes a PAL whose page the guest reuses (its log says so).
sysctl -q -w vm.compact_unevictable_allowed=0 || fail "cannot keep mlocked pages in place"

probe_hv_image
/xhv/hvcheck || exit 0

# The CI command of the reference: every PAL function, 7 iterations, seed 7.
/xhv/test_args 7 7 7 >/tmp/ta.out 2>&1
tail -n 1 /tmp/ta.out | grep -qx 'Test pass' || { cat /tmp/ta.out; fail "test_args 7 7 7"; }
guest test_args_7_7_7 pass
/xhv/main 1 2 >/tmp/main.out 2>&1 || { cat /tmp/main.out; fail "main 1 2"; }
guest main_1_2 "$(grep -c '=' /tmp/main.out) lines"

# What hypercalls and PAL operations cost (//testing:bench).
/xhv/hvcheck bench 21 | grep '^XHV-GUEST: bench_' || fail "hvcheck bench"
/xhv/palbench 21 | grep '^XHV-GUEST: bench_' || fail "palbench"

# While a PAL is registered, nothing outside it reads its data.
/xhv/isolation || fail "isolation check"

# Bad and excessive registrations get error codes; TrustVisor works on.
/xhv/limits || fail "registration limits"

# The seed's stress loop on every CPU at once (`./test $i`, each a quiescing
# hypercall), with test_args loops beside it, all under the NMI storm.
rounds=$(param xhv.pal_rounds 50)
iters=$(param xhv.pal_iters 20)
pal_loops_on() {
    on_cpu "$1" sh -c "n=$1; while [ \$n -lt $((rounds * 2)) ]; do
        /xhv/test \$n >/dev/null || exit 1; n=\$((n + $(nproc))); done" &
    loop=$!
    on_cpu "$1" /xhv/test_args 7 "$iters" "$(($1 + 1))" >/tmp/ta"$1".out 2>&1
    args=$?
    wait "$loop" && [ "$args" = 0 ]
}
pal_loops() { on_every_cpu pal_loops_on; }
with_nmi_storm pal_loops; rc=$?
# The kernel's word on any process that died meanwhile.
dmesg | grep -i -e segfault -e 'trap ' -e 'general protection' | tail -n 5 | sed 's/^/XHV-GUEST: kernel_says=/'
for f in /tmp/ta[0-9]*.out; do
    tail -n 1 "$f" | grep -qx 'Test pass' || {
        cat "$f"
        fail "a test_args loop failed"
    }
done
[ "$rc" = 0 ] || fail "a test or test_args loop failed"
guest pal_loops "$rounds test calls and $iters test_args iterations per CPU"

# Random hypercalls, from this CPU's user mode, then pal_demo once more.
calls=$(param xhv.fuzz_calls 10000)
/xhv/hcfuzz "$calls" "$(param xhv.nmi_seed 1)" || fail "hcfuzz"
/xhv/test_args 7 7 7 >/tmp/ta.out 2>&1
tail -n 1 /tmp/ta.out | grep -qx 'Test pass' || { cat /tmp/ta.out; fail "test_args after fuzzing"; }
guest test_args_after_fuzz pass

check_cpus_alive
echo "XHV-RESULT: PASS pal_demo, isolation, NMI storm and fuzzing"
