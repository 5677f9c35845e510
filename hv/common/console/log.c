/* SPDX-License-Identifier: Apache-2.0 */
/* The hypervisor log: formatted text to the COM1 UART. */
#include "xhv/log.h"

#include "xhv/format.h"
#include "xhv/serial.h"

static void log_putc(void *ctx, char c) {
  (void)ctx;
  if (c == '\n') {
    serial_putc(SERIAL_COM1, '\r');
  }
  serial_putc(SERIAL_COM1, c);
}

void log_init(void) { serial_init(SERIAL_COM1); }

void log_vprintf(const char *fmt, va_list ap) { xhv_vformat(log_putc, 0, fmt, ap); }

void log_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vprintf(fmt, ap);
  va_end(ap);
}

void log_flush(void) { serial_drain(SERIAL_COM1); }
