/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image_relocate: the image moves itself to the top of RAM below
 * XHV_RELOC_LIMIT before anything else runs (xhv/relocate.h). Nothing has
 * been set up yet: no log, no heap, no IDT. It writes nothing into the
 * original but its own stack and how it went; everything it leaves for
 * later it writes into the copy.
 */
#include "xhv/relocate.h"

#include "xhv/string.h"

#define MIB (1ULL << 20)
/* The copy keeps every alignment of the link (the largest is 32 KiB). */
#define RELOC_ALIGN (2ULL * MIB)
/*
 * The x86_64 image's code holds sign-extended 32-bit addresses (the small
 * code model), so it must stay below 2 GiB; the i386 image's addresses are
 * 32 bits wide.
 */
#if XHV_BITS == 64
#define XHV_RELOC_LIMIT 0x80000000ULL
#else
#define XHV_RELOC_LIMIT 0x100000000ULL
#endif
/* How far past its end an address of the image may point (reloc.c). */
#define RELOC_ADDEND_SLACK 0x10000ULL

extern uint8_t __image_start[];
extern uint8_t __image_end[];

/*
 * Written by toolchains/reloc_table.py into the linked image; not const, so
 * that the compiler cannot take the zeros it is compiled with for its value.
 */
struct reloc_table xhv_reloc_table XHV_SECTION(".xhv_relocs") = {0};

static enum reloc_status status;
static uword_t loaded_at;
static uint32_t moved_places;

enum reloc_status image_relocation(uword_t *at, uint32_t *places) {
  *at = loaded_at;
  *places = moved_places;
  return status;
}

/* Appends [base, base + length) if there is room; counts it either way. */
static uint32_t add(struct e820_range *out, uint32_t n, uint32_t max, uint64_t base,
                    uint64_t length) {
  if (length == 0U) {
    return n;
  }
  if (n < max) {
    out[n].base = base;
    out[n].length = length;
  }
  return n + 1U;
}

uint32_t boot_ranges_in_use(const struct multiboot_info *mbi, uint64_t image_base,
                            uint64_t image_size, struct e820_range out[BOOT_RANGES_MAX]) {
  const uint32_t max = BOOT_RANGES_MAX;
  uint32_t n = add(out, 0, max, image_base, image_size);
  n = add(out, n, max, (uword_t)mbi, sizeof(*mbi));
  if (mbi->flags & MULTIBOOT_INFO_MMAP) {
    n = add(out, n, max, mbi->mmap_addr, mbi->mmap_length);
  }
  if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
    n = add(out, n, max, mbi->cmdline, strlen((const char *)(uword_t)mbi->cmdline) + 1U);
  }
  if (mbi->flags & MULTIBOOT_INFO_MODS) {
    const struct multiboot_mod *mod = (const struct multiboot_mod *)(uword_t)mbi->mods_addr;
    n = add(out, n, max, mbi->mods_addr, mbi->mods_count * (uint64_t)sizeof(*mod));
    for (uint32_t i = 0; i < mbi->mods_count; i++) {
      if (mod[i].mod_end > mod[i].mod_start) {
        n = add(out, n, max, mod[i].mod_start, mod[i].mod_end - mod[i].mod_start);
      }
      if (mod[i].string != 0U) {
        n = add(out, n, max, mod[i].string, strlen((const char *)(uword_t)mod[i].string) + 1U);
      }
    }
  }
  return n;
}

static bool table_fits_image(void) {
  const struct reloc_table *t = &xhv_reloc_table;
  return t->magic == RELOC_TABLE_MAGIC && t->link_base == (uword_t)__image_start &&
         t->image_size == (uword_t)__image_end - (uword_t)__image_start && t->count != 0U &&
         t->count <= XHV_RELOC_MAX;
}

uword_t image_relocate(uint32_t magic, uint32_t mbi_addr) {
  const struct multiboot_info *mbi = (const struct multiboot_info *)(uword_t)mbi_addr;
  if (!table_fits_image()) {
    status = RELOC_BAD_TABLE; /* xhv_main stops: the build is broken */
    return 0;
  }
  /* Without a memory map there is nowhere to go; xhv_main says what is wrong. */
  static struct e820_map map; /* values only: the copy's is never read */
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mbi->flags & MULTIBOOT_INFO_MMAP) ||
      e820_from_multiboot(&map, (const void *)(uword_t)mbi->mmap_addr, mbi->mmap_length) !=
          E820_OK ||
      e820_normalize(&map) != E820_OK) {
    status = RELOC_NO_MAP;
    return 0;
  }
  uword_t base = (uword_t)__image_start;
  uint64_t size = (uword_t)__image_end - base;
  struct e820_range avoid[BOOT_RANGES_MAX];
  uint32_t n = boot_ranges_in_use(mbi, base, size, avoid);
  if (n > BOOT_RANGES_MAX) {
    status = RELOC_TOO_MANY_MODULES;
    return 0;
  }
  /* Room for the addends past the end (reloc.c) below the limit too. */
  uint64_t target;
  if (!e820_find_free_outside(&map, size + RELOC_ADDEND_SLACK, RELOC_ALIGN, XHV_RELOC_LIMIT,
                              avoid, n, &target) ||
      target <= base) {
    status = RELOC_NO_ROOM;
    return 0;
  }
  uint8_t *copy = (uint8_t *)(uword_t)target;
  uword_t delta = (uword_t)(target - base);
  memcpy(copy, __image_start, size);
  if (!reloc_apply(copy, size, target, delta, xhv_reloc_table.entry, xhv_reloc_table.count)) {
    status = RELOC_BAD_TABLE; /* the original is untouched: it runs, and stops */
    return 0;
  }
  arch_relocate_boot_tables(delta);
  /* How it went, for the log: in the copy, which runs from now on. */
  *(enum reloc_status *)((uword_t)&status + delta) = RELOC_MOVED;
  *(uword_t *)((uword_t)&loaded_at + delta) = base;
  *(uint32_t *)((uword_t)&moved_places + delta) = xhv_reloc_table.count;
  return delta;
}

void image_release_original(const struct multiboot_info *mbi) {
  if (status != RELOC_MOVED) {
    return;
  }
  /*
   * GRUB loads the image segment by segment; what it handed over may sit in
   * a gap between two of them, inside [loaded_at, end): keep that (the
   * image's range in the list is the copy's, elsewhere).
   */
  uint64_t pos = loaded_at;
  uint64_t end = loaded_at + (uint64_t)xhv_reloc_table.image_size;
  struct e820_range keep[BOOT_RANGES_MAX];
  uint32_t n = boot_ranges_in_use(mbi, (uword_t)__image_start, xhv_reloc_table.image_size, keep);
  n = n < BOOT_RANGES_MAX ? n : BOOT_RANGES_MAX; /* more were refused before the move */
  while (pos < end) {
    uint64_t stop = end;
    uint64_t resume = end;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t lo = keep[i].base;
      uint64_t hi = keep[i].base + keep[i].length;
      if (hi > pos && lo < stop) {
        stop = lo > pos ? lo : pos;
        resume = hi;
      }
    }
    memset((void *)(uword_t)pos, 0, (size_t)(stop - pos));
    pos = resume > stop ? resume : stop;
  }
}
