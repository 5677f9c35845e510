/* SPDX-License-Identifier: Apache-2.0 */
/* One accessor shape for memory the pure libraries read or write (guest page tables, PAL calls). */
#ifndef XHV_MEM_IO_H
#define XHV_MEM_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Reads or writes len bytes at addr; false if any byte is out of reach, and
 * then the buffer or memory may be partly touched. What addr means is the
 * user's: guest-physical for gpt's tables, guest-virtual through some page
 * tables for marshal. The library never holds on to buf after a call.
 */
struct mem_io {
  bool (*read)(void *ctx, uint64_t addr, void *buf, uint32_t len);
  bool (*write)(void *ctx, uint64_t addr, const void *buf, uint32_t len);
  void *ctx;
};

XHV_END_DECLS

#endif /* XHV_MEM_IO_H */
