/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The x86_64 image's map of physical memory above the low 4 GiB its boot
 * code maps (entry.S): more of the same identity map, 1 GiB at a time, in
 * the boot PDPT (PML4[0], so up to 512 GiB), with 1 GiB pages where the CPU
 * has them and 2 MiB pages from the heap otherwise. Every CPU runs on these
 * tables (the APs take the BSP's CR3).
 */
#include <stdbool.h>

#include "xhv/cpu_ops.h"
#include "xhv/relocate.h"
#include "xhv/heap.h"
#include "xhv/log.h"

#define GIB (1ULL << 30)
#define PDPT_ENTRIES 512U
#define BOOT_GIBS 4U
#define PTE_PRESENT_WRITE 0x3ULL
#define PTE_LARGE 0x80ULL
#define PD_ENTRIES 512U
#define CPUID_EXT_FEATURES 0x80000001U
#define CPUID_EXT_EDX_PAGE1GB (1U << 26)

extern uint64_t boot_pdpt[PDPT_ENTRIES];

uint64_t cpu_map_phys(uint64_t top) {
  struct cpuid_regs r;
  cpu_cpuid(CPUID_EXT_FEATURES, 0, &r);
  bool huge = (r.edx & CPUID_EXT_EDX_PAGE1GB) != 0U;
  uint64_t gibs = (top + GIB - 1U) / GIB;
  if (gibs > PDPT_ENTRIES) {
    log_printf("paging: physical memory up to 0x%llx; the hypervisor maps the first 512 GiB\n",
               (unsigned long long)top);
    gibs = PDPT_ENTRIES;
  }
  uint64_t g = BOOT_GIBS;
  for (; g < gibs; g++) {
    if (huge) {
      boot_pdpt[g] = (g * GIB) | PTE_LARGE | PTE_PRESENT_WRITE;
      continue;
    }
    uint64_t pd_pa;
    uint64_t *pd = heap_alloc_pages(1, 1, &pd_pa);
    if (pd == 0) {
      log_printf("paging: no heap for the map above 0x%llx\n", (unsigned long long)(g * GIB));
      break;
    }
    for (uint64_t i = 0; i < PD_ENTRIES; i++) {
      pd[i] = (g * GIB + (i << 21)) | PTE_LARGE | PTE_PRESENT_WRITE;
    }
    boot_pdpt[g] = pd_pa | PTE_PRESENT_WRITE;
  }
  uint64_t mapped = (g > BOOT_GIBS ? g : BOOT_GIBS) * GIB;
  cpu_write_cr3(cpu_read_cr3()); /* no stale not-present entries */
  cpu_set_phys_limit(mapped);
  return mapped;
}

/* All the x86_64 image reaches is identity-mapped: no temporary mappings. */
void *cpu_phys_map(uint64_t pa, uint32_t len) {
  if (len == 0U || len > PAGE_SIZE - (pa & (PAGE_SIZE - 1U))) {
    return 0;
  }
  return cpu_phys_ptr(pa, len);
}

bool cpu_phys_reachable(uint64_t pa, uint32_t len) { return cpu_phys_map(pa, len) != 0; }

void cpu_phys_unmap(void *p) { (void)p; }

uint64_t cpu_phys_temporary_maps(void) { return 0; }

extern uint64_t boot_pml4[PDPT_ENTRIES];

/* The copy's PML4 entry and its first PDPTEs (entry.S) name the original's tables. */
void arch_relocate_boot_tables(uword_t delta) {
  uint64_t *pml4 = (uint64_t *)((uword_t)boot_pml4 + delta);
  uint64_t *pdpt = (uint64_t *)((uword_t)boot_pdpt + delta);
  pml4[0] += delta;
  for (uint32_t g = 0; g < BOOT_GIBS; g++) {
    pdpt[g] += delta;
  }
}
