/* SPDX-License-Identifier: Apache-2.0 */
/* The hypervisor log: formatted text to the COM1 UART. */
#include "xhv/log.h"

#include "xhv/cpu_ops.h"
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

/*
 * One CPU prints at a time, so lines from different CPUs do not mix. Never
 * print from NMI context while this exists: an NMI that lands while its own
 * CPU holds the lock would spin for ever.
 */
static volatile uint32_t log_lock;

void log_vprintf(const char *fmt, va_list ap) {
  while (__atomic_exchange_n(&log_lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
  }
  xhv_vformat(log_putc, 0, fmt, ap);
  __atomic_store_n(&log_lock, 0U, __ATOMIC_RELEASE);
}

void log_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vprintf(fmt, ap);
  va_end(ap);
}

void log_flush(void) { serial_drain(SERIAL_COM1); }
