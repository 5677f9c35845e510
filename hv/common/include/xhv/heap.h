/* SPDX-License-Identifier: Apache-2.0 */
/* The hypervisor's page allocator, over a range reserved high in RAM at boot. */
#ifndef XHV_HEAP_H
#define XHV_HEAP_H

#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

#define PAGE_SIZE 4096U

/* Hands the range [base, base + size) (page aligned, identity mapped) to the allocator. */
void heap_init(uint64_t base, uint64_t size);

/*
 * Returns `count` zeroed, physically contiguous pages aligned to
 * `align_pages` pages, and their physical address in *pa. Panics when the
 * heap is exhausted: boot-time sizing is fixed, so that is a bug.
 */
void *heap_alloc_pages(uint32_t count, uint32_t align_pages, uint64_t *pa);

/* Bytes handed out so far and the heap's size, for the boot log. */
uint64_t heap_used(void);
uint64_t heap_size(void);

XHV_END_DECLS

#endif /* XHV_HEAP_H */
