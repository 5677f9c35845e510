/* SPDX-License-Identifier: Apache-2.0 */
/* 16550 UART driver for the hypervisor log (COM1 unless configured otherwise). */
#ifndef XHV_SERIAL_H
#define XHV_SERIAL_H

#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

#define SERIAL_COM1 0x3F8U
#define SERIAL_COM2 0x2F8U

/* Programs the UART at `port` for 115200 8n1, FIFOs on, no interrupts. */
void serial_init(uint16_t port);
/* Blocks until the transmitter holding register is free, then sends `c`. */
void serial_putc(uint16_t port, char c);
/* Blocks until the transmitter is empty: every byte has left the UART. */
void serial_drain(uint16_t port);

XHV_END_DECLS

#endif /* XHV_SERIAL_H */
