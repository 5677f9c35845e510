/* SPDX-License-Identifier: Apache-2.0 */
/* The hypervisor log on COM1. */
#ifndef XHV_LOG_H
#define XHV_LOG_H

#include <stdarg.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

void log_init(void);
/* printf-style output to the hypervisor log; see xhv/format.h for conversions. */
void log_printf(const char *fmt, ...) XHV_PRINTF(1, 2);
void log_vprintf(const char *fmt, va_list ap);
/* Waits until everything logged so far has left the UART. */
void log_flush(void);

XHV_END_DECLS

#endif /* XHV_LOG_H */
