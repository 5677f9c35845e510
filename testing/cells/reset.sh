#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/cells/reset.sh (xhv with TrustVisor, xhv.cell=reset on the kernel
# command line): the guest resets the machine with a PAL registered, the
# way xhv.reset_via names (cf9, kbd or port92; /xhv/reset). The emulator
# runner stops at the reset and reads the PAL's DATA page and a canary page
# as they were then; the judge wants the one scrubbed, the other intact.
. /xhv/lib.sh

# The pages must stay where their addresses were printed (as in pal.sh).
sysctl -q -w vm.compact_unevictable_allowed=0 || fail "cannot keep mlocked pages in place"
via=$(param xhv.reset_via cf9)
step reset quiescing
/xhv/reset "$via"
fail "reset via $via returned: the machine did not reset"
