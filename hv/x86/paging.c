/* SPDX-License-Identifier: Apache-2.0 */
/* The i386 image's map of physical memory: its boot map of the low 4 GiB, all it can have. */
#include "xhv/cpu_ops.h"

#define FOUR_GIB 0x100000000ULL

uint64_t cpu_map_phys(uint64_t top) {
  (void)top; /* 32-bit linear addresses: nothing above 4 GiB is reachable by pointer */
  return FOUR_GIB;
}
