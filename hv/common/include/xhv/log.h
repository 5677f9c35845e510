/* SPDX-License-Identifier: Apache-2.0 */
/* The hypervisor log on COM1: per-CPU line buffers, multiplexed, NMI-safe. */
#ifndef XHV_LOG_H
#define XHV_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

void log_init(void);
/* printf-style output to the hypervisor log; see xhv/format.h for conversions. */
void log_printf(const char *fmt, ...) XHV_PRINTF(1, 2);
void log_vprintf(const char *fmt, va_list ap);
/* Sends this CPU's unfinished line, then waits until the UART is empty. */
void log_flush(void);

/*
 * Switches COM1 from plain text to the multiplexed stream (after printing
 * LOG_MUX_MAGIC as a plain line). Call once, on the BSP's per-CPU stack,
 * before any other CPU logs. From then on every CPU formats into its own
 * line buffers and sends whole lines, each byte tagged with its CPU, with no
 * lock: CPUs never wait for each other, in NMI context or anywhere else,
 * and tools/logdecode puts the lines back together.
 */
void log_enable_mux(void);

#define LOG_MUX_MAGIC "XHV-LOG-MUX v1"

#ifdef XHV_QUIESCE_LEGACY_ORDER
/*
 * The seed's printf line lock, in the legacy quiesce build only (build
 * setting //hv/common/smp:legacy_quiesce_order): there every line is
 * written under it, and the quiescer holds it from before it takes the
 * quiesce lock until every other CPU has parked (hv/common/smp/README.md,
 * Q1 and Q8). The log itself needs no lock.
 */
void log_line_lock(void);
void log_line_unlock(void);
#endif

/*
 * The encoding: character c from CPU n (0..7) is two bytes, 1nnn hhhh then
 * 0nnn llll (h/l the high/low nibble of c). Bytes of different CPUs may
 * interleave; each CPU's own bytes arrive in order.
 */
#define LOG_MUX_CPUS 8U /* three bits of CPU number in each byte */
XHV_STATIC_ASSERT(XHV_MAX_CPUS <= LOG_MUX_CPUS,
                  "the log's multiplexing names at most LOG_MUX_CPUS CPUs: raise both together");

static inline void log_mux_encode(uint32_t cpu, uint8_t c, uint8_t out[2]) {
  out[0] = (uint8_t)(0x80U | ((cpu & 7U) << 4) | (c >> 4));
  out[1] = (uint8_t)(((cpu & 7U) << 4) | (c & 0xFU));
}

XHV_END_DECLS

#endif /* XHV_LOG_H */
