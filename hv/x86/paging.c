/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The i386 image's map of physical memory. Its boot map (entry.S) is the low
 * 4 GiB, identity-mapped with 2 MiB pages in four page directories: every
 * 32-bit linear address is taken, so nothing above 4 GiB can have a lasting
 * mapping. Guest memory up there (a PAL's pages, the guest's page tables) is
 * reached one page at a time through a per-CPU temporary mapping, the
 * window: one 4 KiB PTE per CPU.
 *
 * The window's linear addresses are those of a few heap pages that the
 * hypervisor takes for this and never touches through the identity map
 * again, so no one loses a mapping they use. The 2 MiB page around them is
 * split into 4 KiB pages, which map the rest of it as before.
 */
#include <stdbool.h>

#include "xhv/cpu_ops.h"
#include "xhv/heap.h"
#include "xhv/log.h"
#include "xhv/mtrr.h"
#include "xhv/panic.h"
#include "xhv/percpu.h"
#include "xhv/relocate.h"

#define FOUR_GIB 0x100000000ULL
#define LARGE_PAGE 0x200000U
#define PAGE_OFFSET_MASK 0xFFFU
#define PTES_PER_TABLE 512U
#define PTE_PRESENT_WRITE 0x3U
#define MAX_PHYS_ADDR_BITS 52U /* as far as a PAE PTE reaches */
#define BOOT_PDPTES 4U

extern uint64_t boot_pdpt[BOOT_PDPTES];
extern uint64_t boot_pd[BOOT_PDPTES * PTES_PER_TABLE];

/*
 * CPU i's window: linear address window_base + i * PAGE_SIZE, its PTE's low
 * half (with the present bit; 0: unmapped) window_pte[2i], its high half
 * window_pte[2i + 1]: the i386 image writes a PTE 32 bits at a time.
 */
static volatile uint32_t *window_pte;
static uword_t window_base;
static uint64_t phys_end; /* 2^MAXPHYADDR: a PTE names nothing at or above it */
static uint64_t window_maps[XHV_MAX_CPUS]; /* each CPU counts its own */

static uint64_t cpu_phys_end(void) {
  uint32_t bits = cpu_phys_addr_bits();
  return 1ULL << (bits < MAX_PHYS_ADDR_BITS ? bits : MAX_PHYS_ADDR_BITS);
}

uint64_t cpu_map_phys(uint64_t top) {
  uint64_t pages_pa;
  uint64_t table_pa;
  /* Aligned to their own size, the window's pages share one 2 MiB page. */
  (void)heap_alloc_pages(XHV_MAX_CPUS, XHV_MAX_CPUS, &pages_pa);
  uint64_t *table = heap_alloc_pages(1, 1, &table_pa);
  uint64_t region = pages_pa & ~(uint64_t)(LARGE_PAGE - 1U);
  uint32_t first = (uint32_t)((pages_pa - region) / PAGE_SIZE);
  for (uint32_t i = 0; i < PTES_PER_TABLE; i++) {
    bool window = i >= first && i < first + XHV_MAX_CPUS;
    table[i] = window ? 0 : (region + (uint64_t)i * PAGE_SIZE) | PTE_PRESENT_WRITE;
  }
  window_pte = (volatile uint32_t *)&table[first];
  window_base = (uword_t)pages_pa;
  phys_end = cpu_phys_end();
  /* The APs are not started yet; they load this CR3 (xhv/smp.h). */
  boot_pd[region / LARGE_PAGE] = table_pa | PTE_PRESENT_WRITE;
  cpu_write_cr3(cpu_read_cr3());
  if (top > FOUR_GIB) {
    log_printf("paging: memory above 4 GiB (up to 0x%llx) is reached one page at a time, "
               "through a window per CPU at 0x%lx\n",
               (unsigned long long)top, (unsigned long)window_base);
  }
  return FOUR_GIB;
}

bool cpu_phys_reachable(uint64_t pa, uint32_t len) {
  uint32_t offset = (uint32_t)pa & PAGE_OFFSET_MASK;
  if (len == 0U || len > PAGE_SIZE - offset) {
    return false;
  }
  return pa < FOUR_GIB || (window_pte != 0 && pa < phys_end);
}

void *cpu_phys_map(uint64_t pa, uint32_t len) {
  if (!cpu_phys_reachable(pa, len)) {
    return 0;
  }
  if (pa < FOUR_GIB) {
    return (void *)(uword_t)pa; /* the identity map: a page below 4 GiB ends by 4 GiB */
  }
  uint32_t offset = (uint32_t)pa & PAGE_OFFSET_MASK;
  uint32_t i = this_cpu()->index;
  volatile uint32_t *pte = &window_pte[2U * i];
  if ((pte[0] & PTE_PRESENT_WRITE) != 0U) {
    xhv_panic("paging: CPU %u maps 0x%llx while its window still holds 0x%x%08x", i,
              (unsigned long long)pa, pte[1], pte[0] & ~PAGE_OFFSET_MASK);
  }
  /*
   * High half first: the entry turns present only with the low half. It was
   * not present, so no TLB holds it (cpu_phys_unmap flushed the last one).
   */
  pte[1] = (uint32_t)(pa >> 32);
  __asm__ volatile("" ::: "memory");
  pte[0] = ((uint32_t)pa & ~PAGE_OFFSET_MASK) | PTE_PRESENT_WRITE;
  __asm__ volatile("" ::: "memory");
  window_maps[i]++;
  return (void *)(window_base + i * PAGE_SIZE + offset);
}

void cpu_phys_unmap(void *p) {
  uword_t va = (uword_t)p;
  if (window_pte == 0 || va < window_base || va - window_base >= XHV_MAX_CPUS * PAGE_SIZE) {
    return; /* an identity-mapped pointer: nothing to end */
  }
  uword_t page = va & ~(uword_t)PAGE_OFFSET_MASK;
  uint32_t i = this_cpu()->index;
  volatile uint32_t *pte = &window_pte[2U * i];
  if (page != window_base + i * PAGE_SIZE || (pte[0] & PTE_PRESENT_WRITE) == 0U) {
    xhv_panic("paging: CPU %u unmaps 0x%lx, which is not its live window", i,
              (unsigned long)va);
  }
  pte[0] = 0;
  __asm__ volatile("" ::: "memory");
  pte[1] = 0;
  __asm__ volatile("invlpg (%0)" : : "r"(page) : "memory");
}

uint64_t cpu_phys_temporary_maps(void) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < XHV_MAX_CPUS; i++) {
    n += window_maps[i];
  }
  return n;
}

/* The copy's PDPTEs (entry.S) name the original's page directories. */
void arch_relocate_boot_tables(uword_t delta) {
  uint64_t *copy = (uint64_t *)((uword_t)boot_pdpt + delta);
  for (uint32_t i = 0; i < BOOT_PDPTES; i++) {
    copy[i] += delta;
  }
}
