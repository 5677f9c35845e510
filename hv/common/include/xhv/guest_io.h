/* SPDX-License-Identifier: Apache-2.0 */
/* The I/O ports the hypervisor intercepts, and what a guest access to each of them does. */
#ifndef XHV_GUEST_IO_H
#define XHV_GUEST_IO_H

#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/vmx.h"

XHV_BEGIN_DECLS

/*
 * Intercepted (vmx_io_intercept_port, BSP at boot), nothing else:
 *  - COM1, SERIAL_COM1 .. +7: the hypervisor's log is its own. The guest
 *    finds no UART there (reads return all ones, as an empty ISA port
 *    does); what it writes is dropped and counted, and the count is printed
 *    at power-off, so nothing the guest does shows up in that log.
 *  - both bytes of ACPI PM1a_CNT: passed to the hardware as written, but a
 *    write that sets SLP_EN, whatever its width or offset, first runs the
 *    hypapp's shutdown (quiesced) and prints the exit summary.
 * IN, OUT, INS and OUTS (with or without REP) of every width are handled;
 * a string instruction moves one element per exit through the guest's own
 * page tables (xhv/guest.h guest_linear_*), and faults as the CPU would.
 */

/* The PM1a control port to watch, 0 if the machine has none. BSP at boot. */
void guest_io_watch_pm1(uint16_t pm1a_cnt);

/* The exit handler for EXIT_IO. */
enum vmexit_action guest_io_exit(struct cpu *cpu, struct cpu_regs *regs, struct vmexit_info *exit);

/* Writes the guest made to the hypervisor's UART, all dropped. */
uint32_t guest_io_uart_writes_dropped(void);

XHV_END_DECLS

#endif /* XHV_GUEST_IO_H */
