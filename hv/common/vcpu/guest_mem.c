/* SPDX-License-Identifier: Apache-2.0 */
/* The checked guest-physical accessor; the rules are in xhv/guest_mem.h. */
#include "xhv/guest_mem.h"

#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/panic.h"
#include "xhv/string.h"

#define PAGE_BYTES 0x1000ULL
#define PAGE_MASK (~(PAGE_BYTES - 1U))

static const struct e820_map *ram_map;

void guest_mem_init(const struct e820_map *guest_map) { ram_map = guest_map; }

bool guest_mem_is_ram(uint64_t gpa, uint64_t len) {
  /* The entry that matched last: accesses come in runs inside one entry. */
  static uint32_t last;
  if (ram_map == 0 || len == 0U || gpa + len < gpa) {
    return false;
  }
  /* The map is normalized (e820_normalize): one usable entry holds all of a RAM range. */
  for (uint32_t n = 0; n < ram_map->count; n++) {
    uint32_t i = (last + n) % ram_map->count;
    const struct e820_entry *e = &ram_map->entry[i];
    if (e->type == E820_TYPE_USABLE && gpa >= e->base && gpa - e->base < e->length) {
      last = i;
      return len <= e->length - (gpa - e->base);
    }
  }
  return false;
}

/* May one piece of an access, inside one page, be made? */
static bool piece_allowed(const struct ept *view, uint64_t gpa, uint32_t len, uint32_t access) {
  const struct ept *e = view ? view : guest_ept();
  uint32_t prot = 0;
  uint64_t page = gpa & PAGE_MASK;
  if (ept_lookup(e, page, &prot, 0, 0) != page) {
    return false; /* not present, or backed by another page (a zero page, say) */
  }
  return view == 0 ? prot == EPT_RWX && guest_mem_is_ram(gpa, len) : (prot & access) == access;
}

static uint32_t piece_len(uint64_t gpa, uint64_t left) {
  uint64_t room = PAGE_BYTES - (gpa & (PAGE_BYTES - 1U));
  return (uint32_t)(left < room ? left : room);
}

/* Every piece allowed, and (the pages being gpa = hpa) reachable by the hypervisor. */
bool guest_mem_reachable(const struct ept *view, uint64_t gpa, uint64_t len, uint32_t access) {
  if (len == 0U || gpa + len < gpa) {
    return false;
  }
  while (len != 0U) {
    uint32_t n = piece_len(gpa, len);
    if (!piece_allowed(view, gpa, n, access) || !cpu_phys_reachable(gpa, n)) {
      return false;
    }
    gpa += n;
    len -= n;
  }
  return true;
}

/*
 * Copies (buf non-NULL) or fills with `value`. Every page is checked before
 * any is touched; then each is mapped, copied and unmapped in turn (above
 * the i386 image's 4 GiB there is one temporary mapping per CPU).
 */
static bool access_range(const struct ept *view, uint64_t gpa, uint8_t *buf, uint8_t value,
                         uint32_t len, bool write) {
  if (len == 0U) {
    return true;
  }
  if (!guest_mem_reachable(view, gpa, len, write ? EPT_WRITE : EPT_READ)) {
    return false;
  }
  while (len != 0U) {
    uint32_t n = piece_len(gpa, len);
    uint8_t *p = cpu_phys_map(gpa, n);
    if (p == 0) {
      /* It was reachable a moment ago, and nothing unmaps guest RAM from the hypervisor. */
      xhv_panic("guest_mem: page 0x%llx no longer reachable", (unsigned long long)gpa);
    }
    if (!write) {
      memcpy(buf, p, n);
    } else if (buf) {
      memcpy(p, buf, n);
    } else {
      memset(p, value, n);
    }
    cpu_phys_unmap(p);
    gpa += n;
    len -= n;
    if (buf) {
      buf += n;
    }
  }
  return true;
}

bool guest_mem_read(const struct ept *view, uint64_t gpa, void *buf, uint32_t len) {
  return access_range(view, gpa, buf, 0, len, false);
}

bool guest_mem_write(const struct ept *view, uint64_t gpa, const void *buf, uint32_t len) {
  return access_range(view, gpa, (uint8_t *)(uword_t)buf, 0, len, true);
}

bool guest_mem_fill(const struct ept *view, uint64_t gpa, uint8_t value, uint32_t len) {
  return access_range(view, gpa, 0, value, len, true);
}

static bool io_read(void *ctx, uint64_t gpa, void *buf, uint32_t len) {
  return guest_mem_read(ctx, gpa, buf, len);
}

static bool io_write(void *ctx, uint64_t gpa, const void *buf, uint32_t len) {
  return guest_mem_write(ctx, gpa, buf, len);
}

struct mem_io guest_mem_io(const struct ept *view) {
  /* mem_io's ctx is not const for other users; the view is only read. */
  struct mem_io io = {io_read, io_write, (void *)(uword_t)view};
  return io;
}
