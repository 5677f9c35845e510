/* SPDX-License-Identifier: Apache-2.0 */
/* Fatal errors: print what went wrong, then stop this CPU for good. */
#ifndef XHV_PANIC_H
#define XHV_PANIC_H

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Logs "xhv: PANIC: <message>" and halts this CPU. Never returns. In the
 * hypervisor it is loud on COM1; host tests link a fake that aborts, so a
 * test pins a panic with EXPECT_DEATH.
 */
XHV_NORETURN void xhv_panic(const char *fmt, ...) XHV_PRINTF(1, 2);

#define XHV_ASSERT(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      xhv_panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);     \
    }                                                                           \
  } while (0)

XHV_END_DECLS

#endif /* XHV_PANIC_H */
