/* SPDX-License-Identifier: Apache-2.0 */
/* The I/O ports the hypervisor intercepts, and what a guest access to each of them does. */
#ifndef XHV_GUEST_IO_H
#define XHV_GUEST_IO_H

#include <stdint.h>

#include "xhv/acpi.h"
#include "xhv/compiler.h"
#include "xhv/vmx.h"

XHV_BEGIN_DECLS

/*
 * Intercepted (vmx_io_intercept_port, BSP at boot), nothing else:
 *  - COM1, SERIAL_COM1 .. +7: the hypervisor's log is its own. The guest
 *    finds no UART there (reads return all ones, as an empty ISA port
 *    does); what it writes is dropped and counted, and the count is printed
 *    at power-off, so nothing the guest does shows up in that log.
 *  - both bytes of ACPI PM1a_CNT and PM1b_CNT: a write that sets SLP_EN,
 *    whatever its width or offset, asks for a sleep state. S5 (power-off)
 *    first ends the guest (guest_reset_machine's first half) and then goes
 *    to the hardware as written; any other state is refused (dropped): xhv
 *    does not survive S1-S4, and the guest would wake without it.
 *  - the reset registers: 0xCF9 (RST_CPU, byte writes), the keyboard
 *    controller (a reset pulse command at 0x64, or its output port written
 *    through 0x60 after command D1h with the reset line low), 0x92 (fast
 *    reset) and the FADT's reset register. Each byte of a wider write is
 *    checked. A write that resets the machine goes through
 *    guest_reset_machine; every other access passes through.
 * IN, OUT, INS and OUTS (with or without REP) of every width are handled;
 * a string instruction moves one element per exit through the guest's own
 * page tables (xhv/guest.h guest_linear_*), and faults as the CPU would.
 */

/* The PM1 control ports and S5's sleep types to watch (ACPI). BSP at boot. */
void guest_io_watch_sleep(const struct acpi_s5 *s5);

/* The FADT's reset register, when the machine has one. BSP at boot. */
void guest_io_watch_reset(const struct acpi_reset *reset);

/*
 * The guest resets the machine (`how`: its way, for the log), by a reset
 * register or a triple fault. With every other CPU quiesced for good, the
 * hypapp's shutdown runs (TrustVisor scrubs every PAL) and the exit summary
 * is printed; then the machine is reset (ACPI reset register, 0xCF9, the
 * keyboard controller, 0x92). RAM keeps its contents across a warm reset:
 * nothing a PAL held is left there. Never returns; if no reset happens, the
 * CPU halts with the others parked, so the guest never runs again.
 */
XHV_NORETURN void guest_reset_machine(struct cpu *cpu, const char *how);

/* The exit handler for EXIT_IO. */
enum vmexit_action guest_io_exit(struct cpu *cpu, struct cpu_regs *regs, struct vmexit_info *exit);

/* Writes the guest made to the hypervisor's UART, all dropped. */
uint32_t guest_io_uart_writes_dropped(void);

XHV_END_DECLS

#endif /* XHV_GUEST_IO_H */
