#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the xhv guest initramfs (busybox sh). Kept tiny: under Bochs every
# command costs. It reports what the guest sees as `XHV-GUEST: key=value`
# lines on the console, checks the CPU count against xhv.expect_cpus=N, then
# runs /xhv/test.sh (the test prints its own `XHV-RESULT: PASS|FAIL ...`;
# init itself only ever prints FAIL), shows the kernel's own reports of
# anything that went wrong, runs the cell's last stage if it left one, and
# powers off whatever happens.
# No `set -e`: init must reach the poweroff.

mount -t proc proc /proc
read -r uptime_at_init _ </proc/uptime
# The emulated clock since power-on, beside the kernel's own: a kernel that
# calibrated its TSC wrongly counts its uptime wrongly, this counter does not.
[ -x /xhv/hvcheck ] && /xhv/hvcheck tsc
export PATH=/bin
# The wall clock starts from the RTC, which an emulator sets at power-on (Bochs:
# its replay setting time0), so this minus time0 is the boot from power-on.
epoch_at_init=$(date +%s)
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Console loglevel: errors and worse only, so late kernel messages do not
# land inside our lines (dmesg still has everything).
dmesg -n 4

guest() { echo "XHV-GUEST: $1=$2"; }

guest uptime_at_init "$uptime_at_init"
guest epoch_at_init "$epoch_at_init"
guest tsc_calibration "$(dmesg | grep -E 'tsc: (Detected|Refined|Fast|Using)|clocksource: Switched' | sed 's/^\[[^]]*\] //' | tr '\n' ';')"
read -r initramfs_arch </xhv/arch
guest initramfs "$initramfs_arch"
guest kernel "$(uname -r -m)"
read -r kernel_version </proc/version
guest kernel_version "$kernel_version"
guest busybox_version "$(busybox 2>&1 | head -n 1)"
read -r cmdline </proc/cmdline
guest cmdline "$cmdline"

# /sys/devices/system/cpu/online is a list of ranges, e.g. 0-3,6.
read -r cpus </sys/devices/system/cpu/online
count=0
IFS=,
for range in $cpus; do
    case $range in
    *-*) count=$((count + ${range#*-} - ${range%-*} + 1)) ;;
    ?*) count=$((count + 1)) ;;
    esac
done
unset IFS
guest cpus_online "$count"
guest cpus_online_list "$cpus"

# Firmware memory map as the kernel got it (E820 on x86), in entry order.
i=0
while [ -d /sys/firmware/memmap/$i ]; do
    read -r start </sys/firmware/memmap/$i/start
    read -r end </sys/firmware/memmap/$i/end
    read -r type </sys/firmware/memmap/$i/type
    guest e820 "$start-$end $type"
    i=$((i + 1))
done
dmesg | sed -n 's/^\[[^]]*\] BIOS-e820: /XHV-GUEST: bios_e820=/p'

expect=
for word in $cmdline; do
    case $word in
    xhv.expect_cpus=*) expect=${word#*=} ;;
    esac
done

# Every cell needs all CPUs online; a cell's own checks come after that.
if [ -z "$expect" ]; then
    echo "XHV-RESULT: FAIL no xhv.expect_cpus=N on the kernel command line"
elif [ "$count" != "$expect" ]; then
    echo "XHV-RESULT: FAIL cpus_online=$count, expected $expect"
elif [ -f /xhv/test.sh ]; then
    # Stream the test's output and keep a copy to see whether it gave a result.
    { sh /xhv/test.sh; echo $? >/tmp/test.rc; } 2>&1 | tee /tmp/test.out
    read -r rc </tmp/test.rc
    if ! grep -q '^XHV-RESULT: ' /tmp/test.out; then
        if [ "$rc" != 0 ]; then
            echo "XHV-RESULT: FAIL test script exited $rc"
        else
            echo "XHV-RESULT: FAIL test script printed no XHV-RESULT"
        fi
    fi
else
    echo "XHV-RESULT: FAIL no /xhv/test.sh in this initramfs: nothing to test"
fi

# The kernel's reports of trouble, whatever the test made of it: oopses,
# BUGs, WARNs, faults and traps of any process, stalls. The console shows
# only errors and worse (dmesg -n 4 above), and a WARN or a segfault is
# quieter than that. A wide net of lines (every header such a report
# starts with), for the judge to read precisely (testing/cell_test.py:
# KERNEL_PROBLEM); the storm's own NMI reports and backtraces stay out,
# they are expected by the hundred.
dmesg >/tmp/kmsg
grep -E 'BUG:|BUG at|Oops|WARNING:|segfault|general protection|traps:|trap |Unable to handle|invalid opcode|double fault|stack segment|Kernel panic|lockup|LOCKUP|stall|blocked for more than|Out of memory' /tmp/kmsg |
    sed 's/^/XHV-KMSG: /' >/tmp/kmsg.net
cat /tmp/kmsg.net
guest kmsg_checked "$(wc -l </tmp/kmsg) lines, $(wc -l </tmp/kmsg.net) shown"

sync
# A cell may end the run itself: /tmp/xhv.last_stage names a program that
# replaces this kernel and powers the machine off (the red team's ring-0
# stage). It returns only if it could not start.
if [ -s /tmp/xhv.last_stage ]; then
    read -r last_stage </tmp/xhv.last_stage
    $last_stage
    echo "XHV-RESULT: FAIL the last stage ($last_stage) did not start"
fi
poweroff -f
echo "XHV-GUEST: poweroff_failed=1"
