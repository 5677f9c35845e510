/* SPDX-License-Identifier: Apache-2.0 */
/* The E820 memory map: reading it from multiboot, cleaning it up, hiding the hypervisor in it. */
#ifndef XHV_E820_H
#define XHV_E820_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

#define E820_MAX_ENTRIES 64U

/* ACPI "Address Range Types"; other values are kept as they are. */
#define E820_TYPE_USABLE 1U
#define E820_TYPE_RESERVED 2U
#define E820_TYPE_ACPI 3U
#define E820_TYPE_NVS 4U
#define E820_TYPE_BAD 5U

/* e820_type_at's answer for an address no entry covers. */
#define E820_TYPE_NONE 0U

#define E820_OK 0
/* The result would need more than E820_MAX_ENTRIES entries. */
#define E820_ERR_FULL (-1)
/* Malformed input: bad multiboot map, range wrapping past 2^64, NULL map. */
#define E820_ERR_INVALID (-2)

/*
 * One range [base, base + length). The layout is ours, not the BIOS's
 * 20-byte record: an INT 15h handler copies the three fields out one by one.
 */
struct e820_entry {
  uint64_t base;
  uint64_t length;
  uint32_t type;
};

struct e820_map {
  uint32_t count;
  struct e820_entry entry[E820_MAX_ENTRIES];
};

/*
 * Copies the multiboot v1 memory map (mmap_addr/mmap_length of the info
 * block) into *out, in firmware order and not normalized. Each record's
 * `size` may exceed 20; extra bytes are skipped. Returns E820_OK, or
 * E820_ERR_INVALID (a record shorter than 20 bytes or cut off by
 * mmap_length) / E820_ERR_FULL, in which case out->count is 0.
 */
int e820_from_multiboot(struct e820_map *out, const void *mmap, uint32_t mmap_length);

/*
 * Rewrites *m as sorted, non-overlapping entries with no zero-length entry
 * and no two touching entries of one type. Where entries overlap the
 * stricter type wins: any type beats usable, else the higher number wins.
 * Entries reaching past 2^64 - 1 end there. Returns E820_OK, or
 * E820_ERR_FULL with *m unchanged.
 */
int e820_normalize(struct e820_map *m);

/*
 * Makes [base, base + length) reserved in *m, holes included, and
 * normalizes. Usable and ACPI-reclaimable bytes in the range become
 * reserved (the guest may treat both as RAM); NVS, bad and unknown types
 * stay. Returns E820_OK, E820_ERR_INVALID (range wraps) or E820_ERR_FULL;
 * on error *m is unchanged.
 */
int e820_hide_range(struct e820_map *m, uint64_t base, uint64_t length);

/*
 * Finds the highest `align`-aligned [*base, *base + size) that lies inside
 * one usable entry and ends at or below `limit`. *m must be normalized;
 * align must be a power of two. Returns false (and leaves *base) if none.
 */
bool e820_find_free(const struct e820_map *m, uint64_t size, uint64_t align, uint64_t limit,
                    uint64_t *base);

/* A range [base, base + length) that a search must keep clear of. */
struct e820_range {
  uint64_t base;
  uint64_t length;
};

/*
 * e820_find_free, but the result also overlaps none of the `n` ranges in
 * `avoid` (what the boot loader handed over, say), without adding them to
 * the map: a map near E820_MAX_ENTRIES cannot overflow.
 */
bool e820_find_free_outside(const struct e820_map *m, uint64_t size, uint64_t align,
                            uint64_t limit, const struct e820_range *avoid, uint32_t n,
                            uint64_t *base);

/* The type covering addr (the stricter one where entries overlap), or E820_TYPE_NONE. */
uint32_t e820_type_at(const struct e820_map *m, uint64_t addr);

/* One past the last usable byte (0 if there is no usable entry): the top of guest RAM. */
uint64_t e820_usable_top(const struct e820_map *m);

XHV_END_DECLS

#endif /* XHV_E820_H */
