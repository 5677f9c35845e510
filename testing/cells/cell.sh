#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/test.sh: one guest disk serves the bare baseline and the hypervisor
# cells that boot it, so the boot-time ratio compares the very same disk.
# What runs beneath decides which checks run: no hypervisor -> bare.sh,
# xhv with helloworld -> hv_core.sh, with TrustVisor -> pal.sh (or reset.sh
# with xhv.cell=reset on the kernel command line). The judge
# knows which kind the cell is and fails it if the guest saw another.
. /xhv/lib.sh

step identify
/xhv/hvcheck identify >/tmp/identify.out 2>&1 || { cat /tmp/identify.out; fail "hvcheck identify"; }
cat /tmp/identify.out
case "$(cat /tmp/identify.out)" in
*"hypervisor=none"*) kind=bare ;;
*"hypapp=helloworld"*) kind=hv_core ;;
*"hypapp=trustvisor"*) kind=pal ;;
*) fail "no cell kind for what runs beneath: $(cat /tmp/identify.out)" ;;
esac
# A PAL cell may be asked to end in a reset instead (xhv.cell=reset).
[ "$kind" = pal ] && [ "$(param xhv.cell pal)" = reset ] && kind=reset
guest cell_kind "$kind"
. /xhv/cells/"$kind".sh
