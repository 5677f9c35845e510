/* SPDX-License-Identifier: Apache-2.0 */
/* The hypervisor log: per-CPU line buffers, sent to COM1 multiplexed by CPU. */
#include "xhv/log.h"

#include <stdbool.h>

#include "xhv/cpu_ops.h"
#include "xhv/format.h"
#include "xhv/percpu.h"
#include "xhv/serial.h"

#define LOG_LINE_MAX 200U

/*
 * Two buffers per CPU: an NMI can arrive while its own CPU is halfway
 * through a line, and must not write into that line.
 */
struct log_line {
  uint32_t len;
  char text[LOG_LINE_MAX];
};

static struct log_line lines[XHV_MAX_CPUS][2];
static bool mux;

static void plain_putc(char c) {
  if (c == '\n') {
    serial_putc(SERIAL_COM1, '\r');
  }
  serial_putc(SERIAL_COM1, c);
}

static void send_line(uint32_t cpu, struct log_line *line) {
  for (uint32_t i = 0; i < line->len; i++) {
    uint8_t pair[2];
    log_mux_encode(cpu, (uint8_t)line->text[i], pair);
    serial_putc(SERIAL_COM1, (char)pair[0]);
    serial_putc(SERIAL_COM1, (char)pair[1]);
  }
  line->len = 0;
}

struct sink {
  uint32_t cpu;
  struct log_line *line;
};

static void mux_putc(void *ctx, char c) {
  struct sink *s = ctx;
  struct log_line *line = s->line;
  line->text[line->len++] = c;
  /* A long line is sent in pieces; the decoder joins them up to the newline. */
  if (c == '\n' || line->len == LOG_LINE_MAX) {
    send_line(s->cpu, line);
  }
}

static void plain_sink(void *ctx, char c) {
  (void)ctx;
  plain_putc(c);
}

void log_init(void) { serial_init(SERIAL_COM1); }

void log_enable_mux(void) {
  for (const char *p = LOG_MUX_MAGIC "\n"; *p; p++) {
    plain_putc(*p);
  }
  mux = true;
}

static struct sink this_sink(void) {
  struct cpu *cpu = this_cpu();
  struct sink s = {cpu->index, &lines[cpu->index][cpu->in_nmi ? 1 : 0]};
  return s;
}

#ifdef XHV_QUIESCE_LEGACY_ORDER
static uint32_t line_lock;

void log_line_lock(void) {
  while (__atomic_exchange_n(&line_lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
  }
}

void log_line_unlock(void) { __atomic_store_n(&line_lock, 0U, __ATOMIC_RELEASE); }
#endif

static void log_format(const char *fmt, va_list ap) {
  if (!mux) {
    xhv_vformat(plain_sink, 0, fmt, ap);
    return;
  }
  struct sink s = this_sink();
  xhv_vformat(mux_putc, &s, fmt, ap);
}

void log_vprintf(const char *fmt, va_list ap) {
#ifdef XHV_QUIESCE_LEGACY_ORDER
  log_line_lock();
  log_format(fmt, ap);
  log_line_unlock();
#else
  log_format(fmt, ap);
#endif
}

void log_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vprintf(fmt, ap);
  va_end(ap);
}

void log_flush(void) {
  if (mux) {
    struct sink s = this_sink();
    if (s.line->len) {
      send_line(s.cpu, s.line);
    }
  }
  serial_drain(SERIAL_COM1);
}
