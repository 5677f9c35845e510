/* SPDX-License-Identifier: Apache-2.0 */
/* A bump allocator of pages: the hypervisor allocates at boot and never frees. */
#include "xhv/heap.h"

#include <stdbool.h>

#include "xhv/arch.h"
#include "xhv/panic.h"
#include "xhv/string.h"

static uint64_t heap_base;
static uint64_t heap_end;
static uint64_t heap_next;
static volatile uint32_t heap_lock;

void heap_init(uint64_t base, uint64_t size) {
  heap_base = base;
  heap_next = base;
  heap_end = base + size;
}

void *heap_alloc_pages(uint32_t count, uint32_t align_pages, uint64_t *pa) {
  uint64_t align = (uint64_t)(align_pages ? align_pages : 1U) * PAGE_SIZE;
  while (__atomic_exchange_n(&heap_lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
  }
  uint64_t start = (heap_next + align - 1U) & ~(align - 1U);
  uint64_t end = start + (uint64_t)count * PAGE_SIZE;
  bool fits = end <= heap_end;
  if (fits) {
    heap_next = end;
  }
  __atomic_store_n(&heap_lock, 0U, __ATOMIC_RELEASE);
  if (!fits) {
    xhv_panic("heap exhausted: %u pages wanted, %llu KiB of %llu KiB used", count,
              (unsigned long long)((heap_next - heap_base) >> 10),
              (unsigned long long)((heap_end - heap_base) >> 10));
  }
  void *va = (void *)(uword_t)start;
  memset(va, 0, (size_t)count * PAGE_SIZE);
  if (pa) {
    *pa = start;
  }
  return va;
}

uint64_t heap_used(void) { return heap_next - heap_base; }
uint64_t heap_size(void) { return heap_end - heap_base; }
