/* SPDX-License-Identifier: Apache-2.0 */
/* reloc_apply: the image's own relocation, pure (host-tested in reloc_test.cc). */
#include "xhv/relocate.h"

#define FOUR_GIB 0x100000000ULL
#define TWO_GIB 0x80000000ULL
#define RELOC_ADDEND_SLACK 0x10000ULL

static uint32_t kind_of(uint32_t entry) { return entry >> RELOC_KIND_SHIFT; }
static uint32_t offset_of(uint32_t entry) { return entry & RELOC_OFFSET_MASK; }
static uint32_t width_of(uint32_t entry) { return kind_of(entry) == RELOC_KIND_64 ? 8U : 4U; }

static uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(uint8_t *p, uint32_t v) {
  for (unsigned i = 0; i < 4U; i++) {
    p[i] = (uint8_t)(v >> (8U * i));
  }
}

static uint64_t load64(const uint8_t *p) {
  return (uint64_t)load32(p) | (uint64_t)load32(p + 4) << 32;
}

static void store64(uint8_t *p, uint64_t v) {
  store32(p, (uint32_t)v);
  store32(p + 4, (uint32_t)(v >> 32));
}

/* The place's new contents, or false if it cannot hold them. */
static bool moved(const uint8_t *image, uint64_t image_size, uint64_t new_base, uint64_t delta,
                  uint32_t entry, uint64_t *value) {
  uint64_t off = offset_of(entry);
  uint32_t kind = kind_of(entry);
  if (kind > RELOC_KIND_32S || off + width_of(entry) > image_size) {
    return false;
  }
  uint64_t old = kind == RELOC_KIND_64 ? load64(image + off) : load32(image + off);
  *value = old + delta;
  /*
   * Every place holds an address of the image, now at new_base, give or
   * take the addend the compiler folded into it (`end + PAGE_SIZE - 1`).
   */
  if (*value + RELOC_ADDEND_SLACK < new_base ||
      *value > new_base + image_size + RELOC_ADDEND_SLACK) {
    return false;
  }
  if (kind == RELOC_KIND_32) {
    return *value < FOUR_GIB;
  }
  if (kind == RELOC_KIND_32S) {
    return *value < TWO_GIB;
  }
  return true;
}

bool reloc_apply(uint8_t *image, uint64_t image_size, uint64_t new_base, uint64_t delta,
                 const uint32_t *entries, uint32_t count) {
  uint64_t value;
  uint64_t next_free = 0;
  if (count == 0U) {
    return false; /* every image holds addresses of itself: a table without any is wrong */
  }
  for (uint32_t i = 0; i < count; i++) {
    if (offset_of(entries[i]) < next_free ||
        !moved(image, image_size, new_base, delta, entries[i], &value)) {
      return false;
    }
    next_free = (uint64_t)offset_of(entries[i]) + width_of(entries[i]);
  }
  /* No two places overlap, so this pass reads what the first one checked. */
  for (uint32_t i = 0; i < count; i++) {
    (void)moved(image, image_size, new_base, delta, entries[i], &value);
    uint8_t *place = image + offset_of(entries[i]);
    if (kind_of(entries[i]) == RELOC_KIND_64) {
      store64(place, value);
    } else {
      store32(place, (uint32_t)value);
    }
  }
  return true;
}
