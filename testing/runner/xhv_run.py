#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""xhv emulator runner: boots disk images in Bochs, QEMU+KVM or QEMU TCG.

COM1 (the hypervisor log) and COM2 (the guest console) go to files. A run
ends when the emulator exits, or at a hard wall-clock timeout, when the
emulator is killed and every log is kept. Emulator exit codes mean nothing
here (Bochs exits 1 on every path, QEMU 0 on a reset as on a power-off):
whether the machine powered off is read from the emulator's own account
(power_off_evidence), and callers judge the rest by the serial logs.

Backends:
  bochs     software VMX (EPT, unrestricted guest); deterministic with
            `clock: sync=none`, so a run replays exactly from its settings.
  qemu-kvm  QEMU with KVM, only where the host's KVM offers nested VMX.
  qemu-tcg  QEMU without acceleration: no VMX, for bare guests and smoke tests.
  auto      qemu-kvm if nested VMX is available, else bochs when VMX is
            needed, else qemu-tcg.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    from tools import xhvlog
except ImportError:  # run straight from a source tree rather than by Bazel
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    from tools import xhvlog

EMULATORS = ("bochs", "qemu-kvm", "qemu-tcg")
BOCHS_CPU_MODEL = "corei7_sandy_bridge_2600k"
BOCHS_IPS = 50000000
BOCHS_BIOS = "/usr/share/bochs/BIOS-bochs-latest"
BOCHS_VGABIOS = "/usr/share/vgabios/vgabios.bin"


def bochs_topology(cpus):
    """Bochs' `count=` (packages:cores:threads) for `cpus` CPUs.

    Bochs' CPU models report a fixed CPUID leaf 0xB of two threads per core,
    whatever `count=` says. With one-CPU packages (`count=2`), Linux 5.10
    then takes CPU 1 for the second thread of a core on a machine without
    SMT and refuses to bring it online (bringup_cpu: -ECANCELED). Packages of
    two-thread cores agree with that leaf: Linux 5.10 and 6.1 bring every
    CPU up. An odd count cannot agree; it gets one-CPU packages.
    """
    if cpus > 1 and cpus % 2 == 0:
        return "1:%d:2" % (cpus // 2)
    return "%d:1:1" % cpus


# Bochs 2.7 backs at most 2048 MiB of guest RAM with host memory; more is
# given to the guest (the BIOS reports it, above 4 GiB too) and works while
# the guest touches no more than that.
BOCHS_HOST_MIB = 2048


def bochs_memory(mib):
    """The bochsrc line that gives the guest `mib` MiB of RAM."""
    if mib <= BOCHS_HOST_MIB:
        return "megs: %d" % mib
    return "memory: guest=%d, host=%d" % (mib, BOCHS_HOST_MIB)


class RunnerError(Exception):
    """A run could not be set up (bad input, missing emulator): not a test verdict."""


def kvm_nested_vmx():
    """True when /dev/kvm is usable and the host's KVM exposes nested VMX."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            if " vmx" not in f.read():
                return False
        with open("/sys/module/kvm_intel/parameters/nested") as f:
            return f.read().strip() in ("Y", "1")
    except OSError:
        return False


def pick_emulator(requested, needs_vmx):
    if requested == "auto":
        if kvm_nested_vmx():
            return "qemu-kvm"
        return "bochs" if needs_vmx else "qemu-tcg"
    if requested == "qemu-kvm" and not kvm_nested_vmx():
        raise RunnerError("qemu-kvm requested, but this host's KVM has no nested VMX "
                          "(/dev/kvm, vmx in /proc/cpuinfo, kvm_intel nested=Y)")
    if requested == "qemu-tcg" and needs_vmx:
        raise RunnerError("qemu-tcg cannot run a hypervisor cell: QEMU's TCG has no VMX")
    return requested


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    """One emulator run; fields end up in the result JSON."""

    def __init__(self, args, emulator, out_dir):
        self.args = args
        self.emulator = emulator
        self.out_dir = out_dir
        self.com1 = os.path.join(out_dir, "com1.log")
        self.com2 = os.path.join(out_dir, "com2.log")
        self.emulator_log = os.path.join(out_dir, "emulator.log")
        self.qmp_events = os.path.join(out_dir, "qmp-events.jsonl")
        self.qmp_port = None
        self.replay = {}

    def command(self, work):
        if self.emulator == "bochs":
            return self._bochs_command(work)
        return self._qemu_command()

    def _qemu_command(self):
        a = self.args
        cmd = ["qemu-system-x86_64", "-m", "%dM" % a.mem_mib, "-smp", str(a.smp),
               "-display", "none", "-no-reboot", "-monitor", "none",
               "-serial", "file:" + self.com1, "-serial", "file:" + self.com2]
        for index, disk in enumerate(a.disk):
            cmd += ["-drive", "file=%s,format=raw,index=%d,media=disk,snapshot=on" % (disk, index)]
        if self.emulator == "qemu-kvm":
            cmd += ["-enable-kvm", "-cpu", a.qemu_cpu or "host,+vmx"]
        else:
            cmd += ["-accel", "tcg", "-cpu", a.qemu_cpu or "max"]
        # QMP: the runner injects NMIs through it (inject-nmi) during a storm.
        self.qmp_port = free_tcp_port()
        cmd += ["-qmp", "tcp:127.0.0.1:%d,server=on,wait=off" % self.qmp_port]
        self.replay = {"emulator": self.emulator, "cpu": cmd[cmd.index("-cpu") + 1],
                       "smp": a.smp, "mem_mib": a.mem_mib}
        return cmd

    def _bochs_command(self, work):
        a = self.args
        model = a.bochs_cpu_model or BOCHS_CPU_MODEL
        lines = [
            bochs_memory(a.mem_mib),
            # fastboot: no "Press F12 for boot menu" wait (3 emulated seconds).
            "romimage: file=%s, options=fastboot" % BOCHS_BIOS,
            "vgaromimage: file=%s" % BOCHS_VGABIOS,
            # Headless: rfb never waits for a viewer (Debian's build lacks nogui).
            'display_library: rfb, options="timeout=0"',
            "cpu: model=%s, count=%s, quantum=%d, ips=%d, reset_on_triple_fault=0, "
            "ignore_bad_msrs=1" % (model, bochs_topology(a.smp), a.bochs_quantum, BOCHS_IPS),
            "clock: sync=none, time0=%d" % a.bochs_time0,
            "boot: disk",
            "com1: enabled=1, mode=file, dev=%s" % self.com1,
            "com2: enabled=1, mode=file, dev=%s" % self.com2,
            "log: %s" % self.emulator_log,
            "panic: action=fatal",
            "error: action=report",
            "info: action=report",
            "debug: action=ignore",
            "mouse: enabled=0",
            # No sound: the host's audio library would be loaded for nothing
            # (and crashed Bochs inside a test sandbox).
            "sound: driver=dummy",
            "speaker: enabled=0",
            "port_e9_hack: enabled=1",
        ]
        for index, disk in enumerate(a.disk):
            copy = os.path.join(work, "disk%d.img" % index)
            shutil.copyfile(disk, copy)  # Bochs writes to its disks
            channel, role = ("ata0", "master") if index == 0 else ("ata0", "slave") if index == 1 \
                else ("ata1", "master")
            if index == 2:
                lines.append("ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15")
            lines.append("%s-%s: type=disk, path=%s, mode=flat" % (channel, role, copy))
        rc = os.path.join(work, "bochsrc")
        with open(rc, "w") as f:
            f.write("\n".join(lines) + "\n")
        shutil.copyfile(rc, os.path.join(self.out_dir, "bochsrc"))
        cont = os.path.join(work, "continue.rc")
        with open(cont, "w") as f:
            if getattr(a, "stop_at_reset", False):
                f.write("pb 0x%x\n" % RESET_VECTOR)
            f.write("c\n")
        self.replay = {"emulator": "bochs", "cpu_model": model, "smp": a.smp,
                       "topology": bochs_topology(a.smp),
                       "quantum": a.bochs_quantum,
                       "mem_mib": a.mem_mib, "ips": BOCHS_IPS, "clock": "sync=none",
                       "time0": a.bochs_time0}
        # The internal debugger always stops first; -rc continues, and EOF on
        # stdin makes it quit when something (SIGINT, the reset breakpoint)
        # stops it again.
        return ["bochs", "-q", "-f", rc, "-rc", cont]


# --stop-at-reset (Bochs): a physical breakpoint at the reset vector, where
# the boot CPU fetches first after every reset. Power-on does not stop there:
# Bochs checks no breakpoint on the first instruction a `c` runs. At the stop
# the runner reads the pages the guest named on its console, each in a line
# "XHV-GUEST: dump_at_reset=NAME 0xGPA", with the debugger's xp, and quits.
RESET_VECTOR = 0xFFFFFFF0
BOCHS_RESET_STOP = re.compile(r"^\(\d+\) Breakpoint \d+, 0x0*fffffff0 ", re.MULTILINE)
DUMP_REQUEST = re.compile(r"XHV-GUEST: dump_at_reset=(\w+) 0x([0-9a-fA-F]+)\s*$")
# xp's output: "0x<address> <bogus+ offset>:<TAB>0x<value><TAB>0x<value>".
# The guest can write to the same transcript (port 0xE9), so the stop
# counts only with Bochs' own log line of the reset (BOCHS_RESET).
XP_LINE = re.compile(r"^0x([0-9a-f]+) <[^>]*>:\s*((?:0x[0-9a-f]+\s*)+)$")
DUMP_BYTES = 4096
BOCHS_RESET = re.compile(r"i\[SYS\s*\] bx_pc_system_c::Reset\(")


def dump_requests(com2_lines):
    """{name: guest-physical address} of the pages a guest asked to see at its reset."""
    pages = {}
    for line in com2_lines:
        m = DUMP_REQUEST.search(line)
        if m:
            pages[m.group(1)] = int(m.group(2), 16) & ~(DUMP_BYTES - 1)
    return pages


def parse_xp(text):
    """The bytes of every xp /Ngx in a Bochs debugger transcript, by address."""
    memory = {}
    for line in text.splitlines():
        m = XP_LINE.match(line.strip())
        if m:
            address = int(m.group(1), 16)
            for i, word in enumerate(m.group(2).split()):
                memory[address + 8 * i] = int(word, 16).to_bytes(8, "little")
    return memory


def page_bytes(memory, gpa):
    """The DUMP_BYTES at gpa from parse_xp's words, or None if any is missing."""
    words = [memory.get(gpa + off) for off in range(0, DUMP_BYTES, 8)]
    return None if None in words else b"".join(words)


def read_lines(path):
    """The lines of a serial or emulator log; none if the emulator never made it."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


# The guest kernel prints each console record whole ("[    1.234567] text"),
# straight to the UART and at any moment, so a record can land in the middle
# of a line a guest program is writing to the same port: "XHV-GUEST: quies",
# a record or several, then "ce_batches_cpu0=109". PRINTK_TIME is on in both
# Debian kernels and the cells pass printk.time=1, so every record starts with
# its time stamp.
KERNEL_RECORD = re.compile(r"\[\s*\d+\.\d{6}\] ")
# init.sh repeats the kernel's log after the test behind this prefix.
KMSG_PREFIX = "XHV-KMSG: "


def untangle_console(lines):
    """A guest console's lines with each kernel record that interrupted a
    program's line moved out of it onto its own line, and the program's
    pieces joined again (after the records that came between them)."""
    out, pending = [], ""
    for line in lines:
        start = 0
        if not pending and line.startswith(KMSG_PREFIX):
            m = KERNEL_RECORD.match(line, len(KMSG_PREFIX))
            start = m.end() if m else len(KMSG_PREFIX)
        m = KERNEL_RECORD.search(line, start)
        if m is None:
            out.append(pending + line)
            pending = ""
        elif m.start() == 0:
            out.append(line)
        else:
            pending += line[:m.start()]
            out.append(line[m.start():])
    if pending:
        out.append(pending)
    return out


def read_console(path):
    """A guest console log (COM2), untangled (untangle_console)."""
    return untangle_console(read_lines(path))


def read_hv_log(path):
    """The hypervisor log (COM1) decoded: one text per line, CPU tags dropped."""
    return [text for _, text in xhvlog.decode_file(path)]


def tail(path, n=40, hv_log=False):
    """The last n lines of a log; the hypervisor log decoded, each line with its CPU."""
    if hv_log:
        lines = ["cpu%d| %s" % (cpu, text) if cpu is not None else text
                 for cpu, text in xhvlog.decode_file(path)]
    else:
        lines = read_lines(path)
    return "\n".join(lines[-n:]) if lines else "(%s is empty or missing)" % os.path.basename(path)


# A hypervisor that prints one of these has stopped for good: end the run now
# rather than at the timeout.
FATAL_COM1 = re.compile(r"xhv: PANIC|pvhboot: PANIC")
# Nor does a guest kernel recover from these: a CPU stuck for 21 s of guest
# time (emulated time under Bochs, so never the host's slowness), a panic.
FATAL_COM2 = re.compile(r"rcu: INFO: rcu_\w+ detected stalls|Kernel panic - not syncing|"
                        r"watchdog: BUG: soft lockup")

# The guest's NMI window (testing/cells/lib.sh): the runner may inject NMIs
# between these two lines on COM2.
NMI_WINDOW_OPEN = b"XHV-GUEST: nmi_window=open"
NMI_WINDOW_CLOSED = b"XHV-GUEST: nmi_window=closed"


def read_from(path, offset):
    """The bytes of a growing log file from offset on (none if it is not there yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return b""


class Qmp:
    """A minimal QMP client: the greeting, qmp_capabilities, then commands.

    QEMU serves one QMP client per socket, so one connection does both jobs:
    commands (the NMI injector's) and the events QEMU sends, kept in
    `events` in arrival order (SHUTDOWN says why the machine stopped).
    """

    def __init__(self, port, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buf = b""
        self.events = []
        self.closed = False
        self._reply()  # greeting
        self.command("qmp_capabilities")

    def _message(self, line):
        message = json.loads(line)
        if "event" in message:
            self.events.append(message)
            return None
        return message

    def _reply(self):
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    self.closed = True
                    raise OSError("QMP connection closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            message = self._message(line)
            if message is not None:
                return message

    def command(self, name):
        self.sock.sendall(json.dumps({"execute": name}).encode() + b"\n")
        reply = self._reply()
        if "error" in reply:
            raise OSError("QMP %s: %s" % (name, reply["error"]))
        return reply

    def drain(self, wait=0.0):
        """Collects the events that have arrived, waiting up to `wait` s for
        the first byte; reads to the end once QEMU has closed the socket."""
        if self.closed:
            return
        self.sock.settimeout(wait if wait > 0 else 0.0001)
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    self.closed = True
                    break
                self.buf += chunk
                self.sock.settimeout(0.0001)
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            self.closed = True
        finally:
            if not self.closed:
                self.sock.settimeout(10)
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self._message(line)

    def close(self):
        self.sock.close()


class NmiInjector:
    """Injects up to `limit` NMIs by QMP while the guest's NMI window is open.

    One inject-nmi reaches every CPU of the machine. `sent` counts the
    commands QEMU acknowledged; the guest's count is checked against it.
    """

    def __init__(self, qmp, com2, limit, interval):
        self.qmp, self.com2, self.limit, self.interval = qmp, com2, limit, interval
        self.offset = 0
        self.tail = b""
        self.state = "waiting"
        self.sent = 0
        self.next_at = 0.0
        self.error = None

    def poll(self):
        if self.state == "done" or self.limit <= 0:
            return
        chunk = read_from(self.com2, self.offset)
        self.offset += len(chunk)
        text = self.tail + chunk
        self.tail = text[-64:]
        if self.state == "waiting" and NMI_WINDOW_OPEN in text:
            self.state = "open"
        if NMI_WINDOW_CLOSED in text:
            self.state = "done"
            return
        if self.state != "open" or self.sent >= self.limit or time.monotonic() < self.next_at:
            return
        try:
            self.qmp.command("inject-nmi")
            self.sent += 1
        except (OSError, ValueError) as e:
            self.error = str(e)
            self.state = "done"
        self.next_at = time.monotonic() + self.interval


class ResetStop:
    """--stop-at-reset under Bochs: sees its debugger stop at the reset
    vector, asks it for the pages the guest named, and makes it quit."""

    def __init__(self, proc, transcript, com2):
        self.proc, self.transcript, self.com2 = proc, transcript, com2
        self.offset = 0
        self.tail = b""
        self.pages = None  # {name: gpa} once stopped

    def poll(self):
        """True once Bochs has stopped at the reset vector and been told what to dump."""
        chunk = read_from(self.transcript, self.offset)
        self.offset += len(chunk)
        text = self.tail + chunk
        self.tail = text[-256:]
        if not BOCHS_RESET_STOP.search(text.decode("utf-8", "replace")):
            return False
        self.pages = dump_requests(read_console(self.com2))
        commands = "".join("xp /%dgx 0x%x\n" % (DUMP_BYTES // 8, gpa)
                           for gpa in self.pages.values())
        try:
            self.proc.stdin.write((commands + "q\n").encode())
            self.proc.stdin.close()
        except OSError:
            pass  # Bochs is gone already: the run ends as it ended
        return True

    def dumps(self):
        """{name: {"gpa", "bytes" (hex, or None if the transcript lacks a word)}}."""
        memory = parse_xp(read_from(self.transcript, 0).decode("utf-8", "replace"))
        out = {}
        for name, gpa in sorted((self.pages or {}).items()):
            data = page_bytes(memory, gpa)
            out[name] = {"gpa": "0x%x" % gpa, "bytes": data.hex() if data is not None else None}
        return out


def watch(proc, com1, start, args, injector=None, on_poll=None, com2=None, qmp=None,
          reset_stop=None):
    """Waits for the emulator to exit. Returns (timed_out, fatal COM1/COM2 line or None)."""
    offset = 0
    decoder = xhvlog.Decoder()
    com2_offset, com2_tail = 0, b""
    while True:
        if injector:
            injector.poll()
        if qmp:
            qmp.drain()
        if on_poll:
            on_poll(time.monotonic() - start)
        try:
            proc.wait(timeout=0.05 if injector and injector.state == "open" else 0.5)
            return False, None
        except subprocess.TimeoutExpired:
            pass
        if reset_stop and reset_stop.pages is None and reset_stop.poll():
            try:
                proc.wait(timeout=60)  # xp of a few pages, then q
                return False, None
            except subprocess.TimeoutExpired:
                return False, "runner: Bochs did not quit after the memory dumps at its reset"
        chunk = read_from(com1, offset)
        offset += len(chunk)
        for _, text in decoder.feed(chunk):
            if FATAL_COM1.search(text):
                # Let the rest of the dump reach the log before stopping.
                time.sleep(2)
                return False, text.strip()
        if com2:
            chunk = read_from(com2, com2_offset)
            com2_offset += len(chunk)
            lines = (com2_tail + chunk).split(b"\n")
            com2_tail = lines.pop()
            for line in lines:
                text = line.decode("utf-8", "replace")
                if FATAL_COM2.search(text):
                    time.sleep(5)  # the stall report names the stuck CPUs: keep it
                    return False, "guest: " + text.strip()
        if time.monotonic() - start > args.timeout:
            return True, None


# Bochs' own line when the guest enters ACPI S5 (its PM1 control register),
# the only way a machine powers off; a reset, a triple fault, a kill or a
# panic of the emulator logs something else.
BOCHS_POWER_OFF = re.compile(r"\[ACPI\s*\] >>PANIC<< ACPI control: soft power off")


def power_off_evidence(result):
    """The emulator's own word that the guest powered the machine off, or None.

    Bochs: its log's ACPI soft power off line. QEMU: the QMP SHUTDOWN event
    with reason guest-shutdown (a reset says guest-reset, a kill
    host-signal, and -no-reboot turns a reset into an exit too).
    """
    if result.get("timed_out") or result.get("stopped_on"):
        return None
    if result["emulator"] == "bochs":
        for line in read_lines(result["emulator_log"]):
            if BOCHS_POWER_OFF.search(line):
                return "bochs log: " + line.strip()
        return None
    for event in read_qmp_events(result.get("qmp_events")):
        if event.get("event") == "SHUTDOWN":
            reason = (event.get("data") or {}).get("reason")
            return "QMP SHUTDOWN reason=guest-shutdown" if reason == "guest-shutdown" else None
    return None


def read_qmp_events(path):
    """The QMP events a QEMU run recorded (one JSON object a line), or none."""
    events = []
    for line in read_lines(path) if path else []:
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def execute(args, out_dir, on_poll=None):
    """Runs the emulator to power-off or timeout. Returns the result dict.

    on_poll(elapsed seconds), if given, is called about twice a second while
    the emulator runs (the demo shows the serial logs live from it).
    """
    for disk in args.disk:
        if not os.path.isfile(disk):
            raise RunnerError("disk image %s does not exist" % disk)
    args.disk = [os.path.abspath(d) for d in args.disk]
    out_dir = os.path.abspath(out_dir)
    emulator = pick_emulator(args.emulator, args.needs_vmx)
    if getattr(args, "stop_at_reset", False) and emulator != "bochs":
        raise RunnerError("--stop-at-reset needs Bochs (its debugger stops at the reset vector "
                          "and reads guest memory); %s was picked" % emulator)
    os.makedirs(out_dir, exist_ok=True)
    run = Run(args, emulator, out_dir)
    with tempfile.TemporaryDirectory(prefix="xhv-run-") as work:
        cmd = run.command(work)
        binary = shutil.which(cmd[0])
        if binary is None:
            raise RunnerError("%s not found: run ./bazelw once to install the project's packages"
                              % cmd[0])
        replay_line = " ".join("%s=%s" % kv for kv in sorted(run.replay.items()))
        sys.stderr.write("xhv-run: %s\nxhv-run: replay settings: %s\n"
                         % (" ".join(shlex.quote(c) for c in cmd), replay_line))
        env = dict(os.environ)
        started_at = time.time()
        start = time.monotonic()
        with open(run.emulator_log if emulator != "bochs" else os.path.join(out_dir, "bochs.out"),
                  "wb") as log:
            # --stop-at-reset: the debugger reads its commands at the reset
            # stop from a pipe (ResetStop); otherwise stdin is empty.
            stop_at_reset = emulator == "bochs" and getattr(args, "stop_at_reset", False)
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stop_at_reset else
                                    subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, cwd=work,
                                    start_new_session=True)
            reset_stop = ResetStop(proc, log.name, run.com2) if stop_at_reset else None
            injector = qmp = None
            qmp_error = None
            try:
                if run.qmp_port:
                    # From the start, so no event is missed: QEMU keeps none
                    # for a client that connects later.
                    try:
                        qmp = Qmp(run.qmp_port)
                    except (OSError, ValueError) as e:
                        qmp_error = str(e)
                if qmp and args.runner_nmis > 0:
                    injector = NmiInjector(qmp, run.com2, args.runner_nmis,
                                           args.runner_nmi_interval)
                timed_out, stopped_on = watch(proc, run.com1, start, args, injector, on_poll,
                                              run.com2, qmp, reset_stop)
            except BaseException:
                # Interrupted (Ctrl-C in the demo): the emulator has its own
                # session, so take it down with us.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            if qmp:
                # QEMU sends SHUTDOWN before it exits; read up to the close.
                qmp.drain(wait=2)
                qmp.close()
                with open(run.qmp_events, "w") as f:
                    for event in qmp.events:
                        f.write(json.dumps(event, sort_keys=True) + "\n")
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()  # EOF: the debugger quits at its next stop
            if timed_out or stopped_on:
                # SIGINT lets Bochs' debugger dump the CPU state into its log
                # before it quits on EOF; then make sure it is gone.
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        wall = time.monotonic() - start
    result = {
        "emulator": emulator,
        "timed_out": timed_out,
        "stopped_on": stopped_on,
        "exit_code": proc.returncode,
        "wall_seconds": round(wall, 2),
        "started_at": round(started_at, 1),
        "replay": run.replay,
        "command": cmd,
        "com1": run.com1,
        "com2": run.com2,
        "emulator_log": run.emulator_log,
        "qmp_port": run.qmp_port,
        "qmp_events": run.qmp_events if qmp else None,
        "qmp_error": qmp_error,
        "runner_nmis": injector.sent if injector else 0,
        "runner_nmi_error": (injector.error if injector else
                             qmp_error if run.qmp_port and args.runner_nmis > 0 else None),
    }
    result["power_off"] = power_off_evidence(result)
    # The reset stop: the emulator's own word that the machine reset, and
    # the guest's pages as they were at that moment.
    # Bochs logs one reset at power-on, and one for each reset after it.
    stopped_at_reset = (reset_stop is not None and reset_stop.pages is not None and
                        sum(1 for line in read_lines(run.emulator_log)
                            if BOCHS_RESET.search(line)) >= 2)
    result["reset"] = ("bochs: stopped at the reset vector (0x%x) after a reset" % RESET_VECTOR
                       if stopped_at_reset else None)
    result["reset_dumps"] = reset_stop.dumps() if stopped_at_reset else None
    return result


def add_arguments(ap, disks_required=True):
    ap.add_argument("--emulator", choices=("auto",) + EMULATORS, default="auto")
    ap.add_argument("--disk", action="append", required=disks_required,
                    help="raw disk image; the first is BIOS drive 0x80, the next 0x81")
    ap.add_argument("--needs-vmx", action="store_true",
                    help="the run boots the hypervisor (rules out qemu-tcg)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem-mib", type=int, default=1024)
    ap.add_argument("--timeout", type=float, default=300, help="wall-clock seconds")
    ap.add_argument("--bochs-cpu-model", default=None)
    ap.add_argument("--bochs-quantum", type=int, default=16,
                    help="instructions each emulated CPU runs before the next one's turn "
                         "(Bochs' default 16; 1 interleaves CPUs most finely)")
    ap.add_argument("--bochs-time0", type=int, default=1700000000,
                    help="Bochs' emulated wall clock at power-on (part of the replay settings)")
    ap.add_argument("--stop-at-reset", action="store_true",
                    help="Bochs: end the run when the machine resets, and read the pages the "
                         "guest named (XHV-GUEST: dump_at_reset=NAME 0xGPA) as they were then")
    ap.add_argument("--qemu-cpu", default=None)
    ap.add_argument("--runner-nmis", type=int, default=30,
                    help="QEMU: at most this many QMP inject-nmi while the guest's "
                         "NMI window is open (0: none)")
    ap.add_argument("--runner-nmi-interval", type=float, default=0.1,
                    help="QEMU: seconds between two injected NMIs")


# What a direct boot of any kernel needs, by path in the runfiles of
# //testing/runner:xhv_run (its `data`).
DIRECT_BOOT_FILES = {
    "hv_x86": "testing/hv_image_trustvisor_x86/xhv-x86.elf",
    "hv_x86_64": "testing/hv_image_trustvisor_x86_64/xhv-x86_64.elf",
    "pvhboot": "guests/disk/pvhboot/pvhboot-x86.elf",
    "mkdisk": "guests/disk/mkdisk.py",
    "modules_cfg": "guests/disk/pvh_modules.cfg.in",
    "bare_grub_cfg": "guests/disk/pvh_bare_grub.cfg.in",
    "hv_grub_cfg": "testing/hv_pvh_grub.cfg",
}


def runfile(path):
    """A file of this program's runfiles (`bazel run` starts it in its runfiles tree)."""
    for base in (os.getcwd(), os.path.join(os.environ.get("RUNFILES_DIR", ""), "xhv")):
        candidate = os.path.join(base, path)
        if os.path.exists(candidate):
            return candidate
    raise RunnerError("%s is not in this program's runfiles: run it with "
                      "`./bazelw run //testing/runner:xhv_run -- ...`" % path)


def direct_boot_disks(kernel, initrd, append, hv, work):
    """The disks that boot `kernel` (a bzImage or an ELF with a PVH note) and
    `initrd` directly: [hypervisor disk, guest disk], or the guest disk alone
    for hv "none" (it boots through pvhboot, the bare loader)."""
    from guests.debian import vmlinux  # only this command needs it
    for path in (kernel, initrd):
        if not os.path.isfile(path):
            raise RunnerError("%s does not exist" % path)
    with open(kernel, "rb") as f:
        image = f.read()
    try:
        if image[:4] != b"\x7fELF":
            image, _, is64 = vmlinux.extract(image, kernel)
        else:
            elf = vmlinux.Elf(image)
            if elf.pvh_entry() is None:
                raise vmlinux.KernelError("%s has no PVH entry point (no XEN_ELFNOTE_PHYS32_ENTRY "
                                          "note; the kernel needs CONFIG_PVH=y)" % kernel)
            is64 = elf.is64
    except vmlinux.KernelError as e:
        raise RunnerError(str(e))
    if is64 and hv == "x86":
        raise RunnerError("a 64-bit kernel cannot run under the 32-bit hypervisor: use --hv x86_64")
    files = {name: runfile(path) for name, path in DIRECT_BOOT_FILES.items()}

    def template(name, **subst):
        with open(files[name]) as f:
            text = f.read()
        for key, value in subst.items():
            text = text.replace("{%s}" % key, value)
        out = os.path.join(work, name.replace("_cfg", ".cfg"))
        with open(out, "w") as f:
            f.write(text)
        return out

    elf = os.path.join(work, "vmlinux")
    with open(elf, "wb") as f:
        f.write(image)

    def mkdisk(out, grub_cfg, volume, payload):
        cmd = [sys.executable, files["mkdisk"], "--out", out, "--grub-cfg", grub_cfg,
               "--volume-id", volume]
        for dest, src in payload.items():
            cmd += ["--file", "%s=%s" % (dest, src)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            raise RunnerError("building %s failed:\n%s" % (out, proc.stdout))
        return out

    guest = mkdisk(os.path.join(work, "guest.img"), template("bare_grub_cfg", title=kernel),
                   "47554553", {
                       "boot/vmlinux": elf,
                       "boot/initrd.cpio": initrd,
                       "boot/pvh-modules.cfg": template("modules_cfg", cmdline=append, xhv_flags=""),
                       "boot/pvhboot.elf": files["pvhboot"],
                   })
    if hv == "none":
        return [guest]
    hv_disk = mkdisk(os.path.join(work, "hv.img"), files["hv_grub_cfg"], "48564844",
                     {"boot/xhv.elf": files["hv_" + hv]})
    return [hv_disk, guest]


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Direct boot of any kernel: --kernel BZIMAGE_OR_VMLINUX --initrd CPIO "
               "[--append 'console=ttyS1,115200 ...'] --hv x86|x86_64|none builds the disks "
               "(xhv with the TrustVisor hypapp, and for --hv none the bare loader pvhboot) "
               "instead of --disk. The kernel needs a PVH entry point (CONFIG_PVH=y); "
               "the hypervisor's log is COM1, the kernel's console=ttyS1 is COM2. Example: "
               "./bazelw run //testing/runner:xhv_run -- --emulator bochs --hv x86_64 "
               "--kernel /boot/vmlinuz-$(uname -r) --initrd my.cpio "
               "--append 'console=ttyS1,115200' --out-dir /tmp/run")
    add_arguments(ap, disks_required=False)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--kernel", help="boot this kernel directly (bzImage, or its vmlinux ELF)")
    ap.add_argument("--initrd", help="the initramfs of --kernel")
    ap.add_argument("--append", default="console=ttyS1,115200",
                    help="the kernel command line of --kernel (default: %(default)s)")
    ap.add_argument("--hv", choices=("x86", "x86_64", "none"), default="x86_64",
                    help="with --kernel: under which hypervisor image, or none (default: "
                         "%(default)s)")
    args = ap.parse_args()
    try:
        if args.kernel or args.initrd:
            if not (args.kernel and args.initrd) or args.disk:
                raise RunnerError("a direct boot takes --kernel and --initrd, and no --disk")
            work = os.path.join(os.path.abspath(args.out_dir), "disks")
            os.makedirs(work, exist_ok=True)
            args.disk = direct_boot_disks(args.kernel, args.initrd, args.append, args.hv, work)
            args.needs_vmx = args.needs_vmx or args.hv != "none"
        elif not args.disk:
            raise RunnerError("give --disk, or --kernel and --initrd")
        result = execute(args, args.out_dir)
    except RunnerError as e:
        sys.stderr.write("xhv-run: error: %s\n" % e)
        return 2
    with open(os.path.join(args.out_dir, "run.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return 1 if result["timed_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
