# SPDX-License-Identifier: Apache-2.0
# /xhv/lib.sh: helpers the cell scripts share (busybox sh). Sourced, not run.

fail() { echo "XHV-RESULT: FAIL $*"; exit 0; }
guest() { echo "XHV-GUEST: $1=$2"; }

# step NAME [quiescing]: says which step the cell is in, so a run that ends
# early (a hang, a stall) says where. "quiescing": the step makes hypercalls
# that quiesce every other CPU (under xhv every hypercall but XHV_HC_NOP).
step() { echo "XHV-GUEST: step=$*"; }

# run NAME PROG ARGS...: runs PROG and shows everything it printed, its own
# XHV-RESULT: FAIL lines included, whatever they say: nothing between a
# program and the judge filters. Fails the cell if PROG exits non-zero.
run() {
    local name rc
    name=$1
    shift
    "$@" >/tmp/run.out 2>&1
    rc=$?
    cat /tmp/run.out
    [ "$rc" = 0 ] || fail "$name exited $rc"
}

# param NAME DEFAULT: the value of NAME=value on the kernel command line.
param() {
    for word in $(cat /proc/cmdline); do
        case $word in
        "$1"=*) echo "${word#*=}"; return ;;
        esac
    done
    echo "$2"
}

# on_cpu CPU PROG ARGS...: runs PROG pinned to CPU. The hex-mask form of
# taskset, the only one Debian 11's busybox (1.30) has.
on_cpu() {
    local mask
    mask=$(printf %x $((1 << $1)))
    shift
    taskset "$mask" "$@"
}

# The guest kernel's NMI counts, one per CPU: the NMI row of /proc/interrupts.
nmi_per_cpu() {
    awk '$1 == "NMI:" { s = ""; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s = s " " $i; print s }' \
        /proc/interrupts
}

# Runs "$@" while NMIs come at the guest from every source the cell has, and
# reports what was sent and what each CPU counted. The sources take turns,
# each pacing its own NMIs, because NMIs do not queue: two that reach a CPU
# at the same moment are one NMI to any CPU, hypervisor or not (QEMU's
# threads showed it: a bare guest counted fewer NMIs than it was sent).
#  1. the emulator runner (QEMU's QMP inject-nmi, 0.1 s apart) while the
#     window below is open. QEMU raises it on every CPU's LINT1 pin, which
#     Linux leaves unmasked on the boot CPU only: each one reaches CPU 0.
#     Bochs has no such command: its runner sends none.
#  2. the guest itself: `echo l >/proc/sysrq-trigger` makes the kernel send
#     every other online CPU one NMI IPI (the all-CPU backtrace) and wait for
#     its answer; xhv.nmi_storm=N triggers it N times, the i-th pinned to
#     CPU i mod CPUs, so every CPU gets NMIs;
#  3. a device: /xhv/nmisrc makes the PIT's one-shot output an NMI through
#     the I/O APIC, xhv.nmi_device=N of them, alternating CPUs, at random
#     times (seed xhv.nmi_seed), whatever the target CPU is doing then.
# /tmp/storm.done appears when the storm is over, for loops that should run
# as long as it does. The cell judge checks each CPU's count.
with_nmi_storm() {
    storm=$(param xhv.nmi_storm 20)
    device=$(param xhv.nmi_device 40)
    seed=$(param xhv.nmi_seed 1)
    cpus=$(nproc)
    rm -f /tmp/storm.done
    before=$(nmi_per_cpu)
    (
        echo "XHV-GUEST: nmi_window=open"
        sleep 3
        echo "XHV-GUEST: nmi_window=closed"
        i=0
        while [ "$i" -lt "$storm" ]; do
            on_cpu $((i % cpus)) sh -c 'echo l >/proc/sysrq-trigger'
            i=$((i + 1))
        done
        /xhv/nmisrc "$device" "$seed" >/tmp/nmisrc.out
        echo $? >/tmp/nmisrc.rc
        touch /tmp/storm.done
    ) &
    storm_pid=$!
    "$@"
    status=$?
    wait "$storm_pid"
    cat /tmp/nmisrc.out
    [ "$(cat /tmp/nmisrc.rc)" = 0 ] || fail "nmisrc failed"
    # The last NMIs need a moment to land.
    sleep 1
    after=$(nmi_per_cpu)
    guest nmi_sysrq_triggers "$storm"
    guest nmi_before "$before"
    guest nmi_after "$after"
    if dmesg | grep -q 'NMI received for unknown reason'; then
        guest nmi_unknown_reason "$(dmesg | grep -c 'NMI received for unknown reason')"
    fi
    return $status
}

# Every CPU still runs guest code: a process pinned to each one gets to run there.
check_cpus_alive() {
    cpus=$(nproc)
    i=0
    while [ "$i" -lt "$cpus" ]; do
        ran_on=$(on_cpu "$i" cat /proc/self/stat | awk '{ print $39 }')
        [ "$ran_on" = "$i" ] || fail "a process pinned to CPU $i ran on CPU '$ran_on'"
        i=$((i + 1))
    done
    guest cpus_alive "$cpus"
}

# xhv says where its image lives (CPUID 0x40000001; it moves at boot). The
# image starts with its multiboot header, magic 0x1BADB002: reading it from
# the guest must not give the hypervisor's bytes back.
probe_hv_image() {
    image=$(/xhv/hvcheck image) || fail "hvcheck image: xhv did not say where its image is"
    value=$(devmem "$image" 32) || fail "devmem $image failed"
    guest devmem_hv_image "$image:$value"
    case $value in
    0x1BADB002 | 0x1badb002) fail "the guest read hypervisor memory at $image" ;;
    esac
}

# on_every_cpu FUNC: runs `FUNC CPU` in the background once per CPU (FUNC
# pins what it starts with on_cpu), waits for all of them; fails if any did.
on_every_cpu() {
    pids=
    cpu=0
    while [ "$cpu" -lt "$(nproc)" ]; do
        "$1" "$cpu" &
        pids="$pids $!"
        cpu=$((cpu + 1))
    done
    status=0
    for pid in $pids; do
        wait "$pid" || status=1
    done
    return $status
}
