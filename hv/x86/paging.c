/* SPDX-License-Identifier: Apache-2.0 */
/* The i386 image's map of physical memory: its boot map of the low 4 GiB, all it can have. */
#include "xhv/cpu_ops.h"
#include "xhv/relocate.h"

#define FOUR_GIB 0x100000000ULL

uint64_t cpu_map_phys(uint64_t top) {
  (void)top; /* 32-bit linear addresses: nothing above 4 GiB is reachable by pointer */
  return FOUR_GIB;
}

#define BOOT_PDPTES 4U

extern uint64_t boot_pdpt[BOOT_PDPTES];

/* The copy's PDPTEs (entry.S) name the original's page directories. */
void arch_relocate_boot_tables(uword_t delta) {
  uint64_t *copy = (uint64_t *)((uword_t)boot_pdpt + delta);
  for (uint32_t i = 0; i < BOOT_PDPTES; i++) {
    copy[i] += delta;
  }
}
