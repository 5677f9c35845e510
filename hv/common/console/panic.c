/* SPDX-License-Identifier: Apache-2.0 */
/* xhv_panic for the hypervisor image: loud on COM1, then halt. */
#include "xhv/panic.h"

#include "xhv/cpu_ops.h"
#include "xhv/log.h"

void xhv_panic(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_printf("xhv: PANIC: ");
  log_vprintf(fmt, ap);
  log_printf("\n");
  va_end(ap);
  log_flush();
  cpu_halt_forever();
}
