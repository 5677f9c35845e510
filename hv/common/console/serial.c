/* SPDX-License-Identifier: Apache-2.0 */
/* 16550 UART: polled output only, which is all a hypervisor log needs. */
#include "xhv/serial.h"

#include "xhv/cpu_ops.h"

enum {
  UART_DATA = 0,      /* THR/RBR, or divisor low with DLAB */
  UART_IER = 1,       /* interrupt enable, or divisor high with DLAB */
  UART_FCR = 2,       /* FIFO control */
  UART_LCR = 3,       /* line control */
  UART_MCR = 4,       /* modem control */
  UART_LSR = 5,       /* line status */
};

#define LCR_DLAB 0x80U
#define LCR_8N1 0x03U
#define FCR_ENABLE_CLEAR 0x07U
#define MCR_DTR_RTS 0x03U
#define LSR_THR_EMPTY 0x20U
#define LSR_TX_EMPTY 0x40U
#define DIVISOR_115200 1U

void serial_init(uint16_t port) {
  cpu_outb(port + UART_IER, 0);
  cpu_outb(port + UART_LCR, LCR_DLAB);
  cpu_outb(port + UART_DATA, DIVISOR_115200 & 0xFFU);
  cpu_outb(port + UART_IER, DIVISOR_115200 >> 8);
  cpu_outb(port + UART_LCR, LCR_8N1);
  cpu_outb(port + UART_FCR, FCR_ENABLE_CLEAR);
  cpu_outb(port + UART_MCR, MCR_DTR_RTS);
}

void serial_putc(uint16_t port, char c) {
  while ((cpu_inb(port + UART_LSR) & LSR_THR_EMPTY) == 0) {
    cpu_pause();
  }
  cpu_outb(port + UART_DATA, (uint8_t)c);
}

void serial_drain(uint16_t port) {
  /* Emulators drop bytes still in the UART when the machine powers off. */
  while ((cpu_inb(port + UART_LSR) & LSR_TX_EMPTY) == 0) {
    cpu_pause();
  }
}
