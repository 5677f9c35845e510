#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/test.sh of hypervisor cells: what a guest can check about the
# hypervisor beneath it. init has already checked that every CPU is online;
# the cell runner checks the rest (memory map vs. the hypervisor's log).

fail() { echo "XHV-RESULT: FAIL $*"; exit 0; }

# The kernel command line names where the hypervisor image lives.
image=
for word in $(cat /proc/cmdline); do
    case $word in
    xhv.hv_image=*) image=${word#*=} ;;
    esac
done
[ -n "$image" ] || fail "no xhv.hv_image= on the kernel command line"

# The image starts with its multiboot header, magic 0x1BADB002. Reading it
# from the guest must not give the hypervisor's bytes back.
value=$(devmem "$image" 32) || fail "devmem $image failed"
echo "XHV-GUEST: devmem_hv_image=$image:$value"
case $value in
0x1BADB002 | 0x1badb002) fail "the guest read hypervisor memory at $image" ;;
esac

# A real guest program: the hypervisor's CPUID leaf carries its signature,
# and an unknown hypercall (VMCALL from user mode) returns an error, -1,
# instead of stopping the machine. hvcheck prints its own FAIL line.
/xhv/hvcheck || exit 0

# Quiesce from both CPUs at once: each hypercall stops every other CPU
# (helloworld reports how many it found parked) and lets it go again.
/xhv/hvcheck 200 >/tmp/q0 & q0=$!
/xhv/hvcheck 200 >/tmp/q1 & q1=$!
wait $q0; r0=$?
wait $q1; r1=$?
cat /tmp/q0 /tmp/q1 | grep -v -e '^XHV-GUEST: hv_' -e 'bad_hypercall'
[ "$r0" = 0 ] && [ "$r1" = 0 ] || exit 0

# CPUID as the guest sees it: a hypervisor is present, VMX and x2APIC are not.
flags=$(grep -m1 '^flags' /proc/cpuinfo)
case " $flags " in
*" hypervisor "*) ;;
*) fail "CPUID does not report a hypervisor" ;;
esac
case " $flags " in
*" vmx "*) fail "VMX is visible to the guest" ;;
esac
case " $flags " in
*" x2apic "*) fail "x2APIC is visible to the guest" ;;
esac

echo "XHV-RESULT: PASS hypervisor core checks"
