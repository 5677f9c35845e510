#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/cells/bare.sh (no hypervisor): the NMI accounting baseline, and
# pal_demo finding no TrustVisor. The guest counts exactly the NMIs sent to
# it when nothing sits between it and the (emulated) hardware; the
# hypervisor cells must match that.
. /xhv/lib.sh

# Without TrustVisor, pal_demo must say so and stop (status 1), not crash.
step pal_unavailable
/xhv/main 1 2 >/tmp/main.out 2>&1
rc=$?
cat /tmp/main.out
[ "$rc" = 1 ] && grep -qx 'Error: TrustVisor not present according to CPUID' /tmp/main.out ||
    fail "pal_demo without a hypervisor exited $rc"
guest pal_demo_unavailable "$(head -n 1 /tmp/main.out)"

step nmi_storm
wait_for_storm() { while [ ! -e /tmp/storm.done ]; do sleep 1; done; }
with_nmi_storm wait_for_storm
check_cpus_alive
echo "XHV-RESULT: PASS bare boot, NMI storm counted, pal_demo unavailable"
