#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/test.sh of bare cells (no hypervisor): the NMI accounting baseline.
# The guest counts exactly the NMIs sent to it when nothing sits between it
# and the (emulated) hardware; the hypervisor cells must match that.
. /xhv/lib.sh

with_nmi_storm sleep 1
check_cpus_alive
echo "XHV-RESULT: PASS bare boot, NMI storm counted"
