/* SPDX-License-Identifier: Apache-2.0 */
/* E820 map editing: multiboot parsing, normalizing by a boundary sweep, hiding, free ranges. */
#include "xhv/e820.h"

#include <stddef.h>

#include "xhv/multiboot.h"

/* addr + len + type; the record's own `size` field is not counted. */
#define MB_MMAP_RECORD_MIN 20U
#define MB_MMAP_SIZE_FIELD 4U

/* Exclusive end, cut at 2^64 - 1 so that arithmetic on ends never wraps. */
static uint64_t entry_end(const struct e820_entry *e) {
  uint64_t end = e->base + e->length;
  return end < e->base ? UINT64_MAX : end;
}

static bool entry_empty(const struct e820_entry *e) { return entry_end(e) == e->base; }

/* Overlap precedence: anything beats usable, otherwise the higher type number. */
static uint64_t type_rank(uint32_t type) {
  return type == E820_TYPE_USABLE ? 0U : (uint64_t)type + 1U;
}

/* The winning type at addr; false if no entry covers it. */
static bool covering_type(const struct e820_map *m, uint64_t addr, uint32_t *type) {
  bool covered = false;
  for (uint32_t i = 0; i < m->count; i++) {
    const struct e820_entry *e = &m->entry[i];
    if (addr < e->base || addr >= entry_end(e)) {
      continue;
    }
    if (!covered || type_rank(e->type) > type_rank(*type)) {
      *type = e->type;
    }
    covered = true;
  }
  return covered;
}

/* Lowers *best to v if v is above pos; tracks whether any candidate was seen. */
static void consider_boundary(uint64_t v, uint64_t pos, uint64_t *best, bool *found) {
  if (v > pos && (!*found || v < *best)) {
    *best = v;
    *found = true;
  }
}

/*
 * A range that a rebuild lays over the map: [base, end) becomes reserved
 * where it is a hole or a type the guest could use as RAM. end == base
 * means there is none.
 */
struct hide {
  uint64_t base;
  uint64_t end;
};

/* The first address after pos where some entry (or the hidden range) starts or ends. */
static bool next_boundary(const struct e820_map *m, const struct hide *h, uint64_t pos,
                          uint64_t *next) {
  bool found = false;
  for (uint32_t i = 0; i < m->count; i++) {
    const struct e820_entry *e = &m->entry[i];
    if (!entry_empty(e)) {
      consider_boundary(e->base, pos, next, &found);
      consider_boundary(entry_end(e), pos, next, &found);
    }
  }
  if (h->end > h->base) {
    consider_boundary(h->base, pos, next, &found);
    consider_boundary(h->end, pos, next, &found);
  }
  return found;
}

static bool hide_overrides(uint32_t type) {
  return type == E820_TYPE_USABLE || type == E820_TYPE_RESERVED || type == E820_TYPE_ACPI;
}

/*
 * Sweeps the address space from boundary to boundary (every entry start or
 * end), giving each piece the winning type and merging touching pieces of
 * one type. O(n^2) for n <= 64 entries: simple beats clever here, and the
 * output goes to a scratch copy so a map that would overflow stays as it was.
 */
static int rebuild(struct e820_map *m, const struct hide *h) {
  struct e820_entry out[E820_MAX_ENTRIES];
  uint32_t n = 0;
  uint64_t pos = 0;
  bool more = false;

  /* Start at the lowest start: boundaries are searched strictly above pos. */
  for (uint32_t i = 0; i < m->count; i++) {
    if (!entry_empty(&m->entry[i]) && (!more || m->entry[i].base < pos)) {
      pos = m->entry[i].base;
      more = true;
    }
  }
  if (h->end > h->base && (!more || h->base < pos)) {
    pos = h->base;
    more = true;
  }

  while (more) {
    uint32_t type = E820_TYPE_NONE;
    bool covered = covering_type(m, pos, &type);
    if (pos >= h->base && pos < h->end && (!covered || hide_overrides(type))) {
      type = E820_TYPE_RESERVED;
      covered = true;
    }
    uint64_t next = 0;
    more = next_boundary(m, h, pos, &next);
    /* A covered pos lies below some end, so `next` exists whenever covered. */
    if (covered) {
      if (n > 0 && out[n - 1U].type == type && out[n - 1U].base + out[n - 1U].length == pos) {
        out[n - 1U].length += next - pos;
      } else {
        if (n == E820_MAX_ENTRIES) {
          return E820_ERR_FULL;
        }
        out[n].base = pos;
        out[n].length = next - pos;
        out[n].type = type;
        n++;
      }
    }
    pos = next;
  }

  for (uint32_t i = 0; i < n; i++) {
    m->entry[i] = out[i];
  }
  m->count = n;
  return E820_OK;
}

int e820_from_multiboot(struct e820_map *out, const void *mmap, uint32_t mmap_length) {
  const uint8_t *bytes = (const uint8_t *)mmap;
  uint32_t off = 0;

  out->count = 0;
  while (off < mmap_length) {
    uint32_t left = mmap_length - off;
    if (left < MB_MMAP_SIZE_FIELD) {
      out->count = 0;
      return E820_ERR_INVALID;
    }
    /* Packed type: the compiler emits unaligned-safe loads for its fields. */
    const struct multiboot_mmap_entry *rec = (const struct multiboot_mmap_entry *)(bytes + off);
    uint32_t size = rec->size;
    if (size < MB_MMAP_RECORD_MIN || size > left - MB_MMAP_SIZE_FIELD) {
      out->count = 0;
      return E820_ERR_INVALID;
    }
    if (out->count == E820_MAX_ENTRIES) {
      out->count = 0;
      return E820_ERR_FULL;
    }
    struct e820_entry *e = &out->entry[out->count++];
    e->base = rec->addr;
    e->length = rec->len;
    e->type = rec->type;
    off += MB_MMAP_SIZE_FIELD + size;
  }
  return E820_OK;
}

int e820_normalize(struct e820_map *m) {
  if (m == NULL || m->count > E820_MAX_ENTRIES) {
    return E820_ERR_INVALID;
  }
  const struct hide none = {0U, 0U};
  return rebuild(m, &none);
}

int e820_hide_range(struct e820_map *m, uint64_t base, uint64_t length) {
  if (m == NULL || m->count > E820_MAX_ENTRIES || base + length < base) {
    return E820_ERR_INVALID;
  }
  const struct hide h = {base, base + length};
  return rebuild(m, &h);
}

/* The first range of `avoid` that [start, start + size) overlaps, or NULL. */
static const struct e820_range *overlap(const struct e820_range *avoid, uint32_t n, uint64_t start,
                                        uint64_t size) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t end = avoid[i].base + avoid[i].length;
    if (end < avoid[i].base) {
      end = UINT64_MAX; /* reaches past 2^64 - 1: ends there */
    }
    if (avoid[i].length != 0U && start < end && avoid[i].base < start + size) {
      return &avoid[i];
    }
  }
  return NULL;
}

bool e820_find_free_outside(const struct e820_map *m, uint64_t size, uint64_t align,
                            uint64_t limit, const struct e820_range *avoid, uint32_t n,
                            uint64_t *base) {
  if (size == 0U || align == 0U || (align & (align - 1U)) != 0U) {
    return false;
  }
  bool found = false;
  uint64_t best = 0;
  for (uint32_t i = 0; i < m->count; i++) {
    const struct e820_entry *e = &m->entry[i];
    if (e->type != E820_TYPE_USABLE) {
      continue;
    }
    uint64_t top = entry_end(e);
    if (top > limit) {
      top = limit;
    }
    /* Down from the top: below each range in the way, until one fits or the entry ends. */
    while (top >= size && top > e->base) {
      uint64_t start = (top - size) & ~(align - 1U);
      if (start < e->base) {
        break;
      }
      const struct e820_range *in_way = overlap(avoid, n, start, size);
      if (in_way == NULL) {
        if (!found || start > best) {
          best = start;
          found = true;
        }
        break;
      }
      top = in_way->base;
    }
  }
  if (found) {
    *base = best;
  }
  return found;
}

bool e820_find_free(const struct e820_map *m, uint64_t size, uint64_t align, uint64_t limit,
                    uint64_t *base) {
  return e820_find_free_outside(m, size, align, limit, NULL, 0, base);
}

uint32_t e820_type_at(const struct e820_map *m, uint64_t addr) {
  uint32_t type = E820_TYPE_NONE;
  return covering_type(m, addr, &type) ? type : E820_TYPE_NONE;
}

uint64_t e820_usable_top(const struct e820_map *m) {
  uint64_t top = 0;
  for (uint32_t i = 0; i < m->count; i++) {
    const struct e820_entry *e = &m->entry[i];
    if (e->type == E820_TYPE_USABLE && !entry_empty(e) && entry_end(e) > top) {
      top = entry_end(e);
    }
  }
  return top;
}
