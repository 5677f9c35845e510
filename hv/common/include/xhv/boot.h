/* SPDX-License-Identifier: Apache-2.0 */
/* Entry points between the per-arch boot stubs and hv/common. */
#ifndef XHV_BOOT_H
#define XHV_BOOT_H

#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Called by the arch boot stub on the BSP with paging set up for the
 * image's bitness, a stack, and the multiboot handover registers.
 */
XHV_NORETURN void xhv_main(uint32_t magic, uint32_t mbi_addr);

XHV_END_DECLS

#endif /* XHV_BOOT_H */
