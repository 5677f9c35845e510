/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image_relocate: the image moves itself to the top of RAM below
 * XHV_RELOC_LIMIT before anything else runs (xhv/relocate.h). Nothing has
 * been set up yet: no log, no heap, no IDT. It writes nothing into the
 * original but its own stack; everything it leaves for later it writes
 * into the copy.
 */
#include "xhv/relocate.h"

#include "xhv/e820.h"
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

extern uint8_t __image_start[];
extern uint8_t __image_end[];

/*
 * Written by toolchains/reloc_table.py into the linked image; not const, so
 * that the compiler cannot take the zeros it is compiled with for its value.
 */
struct reloc_table xhv_reloc_table XHV_SECTION(".xhv_relocs") = {0};

static uword_t loaded_at;
static uint32_t moved_places;

uword_t image_loaded_at(void) { return loaded_at; }
uint32_t image_moved_places(void) { return moved_places; }

/* Keeps the copy off what the boot loader handed over. */
static bool hide(struct e820_map *m, uint64_t base, uint64_t length) {
  return length == 0 || e820_hide_range(m, base, length) == E820_OK;
}

static bool hide_boot_data(struct e820_map *m, const struct multiboot_info *mbi) {
  bool ok = hide(m, (uword_t)mbi, sizeof(*mbi)) && hide(m, mbi->mmap_addr, mbi->mmap_length);
  if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
    ok = ok && hide(m, mbi->cmdline, strlen((const char *)(uword_t)mbi->cmdline) + 1U);
  }
  if (mbi->flags & MULTIBOOT_INFO_MODS) {
    const struct multiboot_mod *mod = (const struct multiboot_mod *)(uword_t)mbi->mods_addr;
    ok = ok && hide(m, mbi->mods_addr, mbi->mods_count * (uint64_t)sizeof(*mod));
    for (uint32_t i = 0; ok && i < mbi->mods_count; i++) {
      ok = hide(m, mod[i].mod_start, mod[i].mod_end > mod[i].mod_start
                                         ? mod[i].mod_end - mod[i].mod_start
                                         : 0) &&
           (mod[i].string == 0 ||
            hide(m, mod[i].string, strlen((const char *)(uword_t)mod[i].string) + 1U));
    }
  }
  return ok;
}

uword_t image_relocate(uint32_t magic, const struct multiboot_info *mbi) {
  /* Without a memory map there is nowhere to go; xhv_main says what is wrong. */
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || !(mbi->flags & MULTIBOOT_INFO_MMAP)) {
    return 0;
  }
  static struct e820_map map; /* values only: the copy's is never read */
  if (e820_from_multiboot(&map, (const void *)(uword_t)mbi->mmap_addr, mbi->mmap_length) !=
          E820_OK ||
      e820_normalize(&map) != E820_OK) {
    return 0;
  }
  uword_t base = (uword_t)__image_start;
  uint64_t size = (uword_t)__image_end - base;
  uint64_t target;
  if (!hide(&map, base, size) || !hide_boot_data(&map, mbi) ||
      !e820_find_free(&map, size, RELOC_ALIGN, XHV_RELOC_LIMIT, &target) || target <= base) {
    return 0;
  }
  uint8_t *copy = (uint8_t *)(uword_t)target;
  uword_t delta = (uword_t)(target - base);
  memcpy(copy, __image_start, size);
  if (xhv_reloc_table.count > XHV_RELOC_MAX ||
      !reloc_apply(copy, size, target, delta, xhv_reloc_table.entry, xhv_reloc_table.count)) {
    return 0; /* the original is untouched: run there */
  }
  arch_relocate_boot_tables(delta);
  /* For the log, in the copy: the original's variables are left behind. */
  *(uword_t *)((uword_t)&loaded_at + delta) = base;
  *(uint32_t *)((uword_t)&moved_places + delta) = xhv_reloc_table.count;
  return delta;
}
