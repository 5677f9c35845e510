#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/test.sh of bare cells (no hypervisor): the NMI accounting baseline.
# The guest counts exactly the NMIs sent to it when nothing sits between it
# and the (emulated) hardware; the hypervisor cells must match that.
. /xhv/lib.sh

wait_for_storm() { while [ ! -e /tmp/storm.done ]; do sleep 1; done; }
with_nmi_storm wait_for_storm
check_cpus_alive
echo "XHV-RESULT: PASS bare boot, NMI storm counted"
