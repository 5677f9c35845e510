#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /xhv/cells/hv_core.sh (xhv with helloworld): what a guest can check about
# the hypervisor beneath it, the proof that quiesced CPUs stop, then the
# quiesce stress under an NMI storm. init has already checked that every CPU
# is online; the judge checks the rest (memory map vs. the hypervisor's log,
# NMIs sent vs. counted, hypercalls claimed vs. the hypervisor's counts).
. /xhv/lib.sh

# Reading the hypervisor's memory: it reads as zeros from then on, which the
# hypervisor sets up in its EPT with every other CPU quiesced.
step probe quiescing
probe_hv_image

# A real guest program: the hypervisor's CPUID leaf carries its signature,
# and an unknown hypercall (VMCALL from user mode) returns an error, -1,
# instead of stopping the machine.
step hvcheck quiescing
run hvcheck /xhv/hvcheck

# What a hypercall costs: TSC ticks of CPUID, the core's non-quiescing
# VMCALL and helloworld's quiescing one, against plain instructions.
step bench quiescing
run "hvcheck bench" /xhv/hvcheck bench 21

# The quiesce's proof that the other CPUs stopped: a counter they increment
# in guest mode stands still while helloworld watches it, quiesced.
step stopped quiescing
run "hvcheck stopped" on_cpu 0 /xhv/hvcheck stopped 40

# Quiesce from every CPU at once, each loop pinned to its CPU: each hypercall
# stops every other CPU (helloworld reports how many it found parked) and
# lets it go again. Meanwhile the guest gets an NMI storm; every NMI must
# reach it exactly once.
step quiesce_stress quiescing
rounds=$(param xhv.quiesce_rounds 200)
# Each CPU runs batches of $rounds until the storm is over, at least one.
quiesce_on() {
    batches=0
    while :; do
        on_cpu "$1" /xhv/hvcheck quiesce "$rounds" >/tmp/q"$1" 2>&1 || return 1
        batches=$((batches + 1))
        [ -e /tmp/storm.done ] && break
    done
    echo "XHV-GUEST: quiesce_batches_cpu$1=$batches"
}
quiesce_all() { on_every_cpu quiesce_on; }
with_nmi_storm quiesce_all; rc=$?
# The last batch of each CPU, in full (a failed one ends its loop).
cat /tmp/q*
[ "$rc" = 0 ] || fail "a quiesce loop failed"
guest quiesce_rounds_per_batch "$rounds"
check_cpus_alive

# CPUID as the guest sees it: a hypervisor is present, VMX and x2APIC are not.
step cpuid
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
