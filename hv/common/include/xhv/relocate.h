/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image moves itself high at boot. GRUB loads xhv at its link address,
 * 2 MiB, which would leave a hole in the guest's low memory; before
 * anything else runs, the boot stub calls image_relocate(), which copies
 * the image to the top of RAM below XHV_RELOC_LIMIT and adds the distance
 * to every place in the copy that holds an absolute address of the image.
 * Those places come from the link's own relocations: the build
 * (toolchains/reloc_table.py) writes them into xhv_reloc_table, one 32-bit
 * entry each, the offset from the image's start in bits 29:0 and the kind
 * of place in bits 31:30.
 */
#ifndef XHV_RELOCATE_H
#define XHV_RELOCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"
#include "xhv/e820.h"
#include "xhv/multiboot.h"

XHV_BEGIN_DECLS

#define XHV_RELOC_MAX 8188U
#define RELOC_TABLE_MAGIC 0x584C4552U /* "RELX" */
#define RELOC_OFFSET_MASK ((1U << 30) - 1U)
#define RELOC_KIND_SHIFT 30U
#define RELOC_KIND_32 0U  /* a 32-bit address */
#define RELOC_KIND_64 1U  /* a 64-bit address */
#define RELOC_KIND_32S 2U /* a 32-bit field the CPU sign-extends to 64 bits */

/* Filled in by the build; an image without it (all zeros) must not move. */
struct reloc_table {
  uint32_t magic;      /* RELOC_TABLE_MAGIC */
  uint32_t link_base;  /* __image_start as linked */
  uint32_t image_size; /* __image_end - __image_start as linked */
  uint32_t count;      /* entries, sorted by offset */
  uint32_t entry[XHV_RELOC_MAX];
};

/*
 * Adds delta to every place `entries` names in the copy of the image at
 * `image` (image_size bytes), where that copy will run at `new_base`.
 * Checks every entry first and changes nothing if there are none, if one
 * lies outside the image or overlaps the one before (entries come sorted
 * by offset), has an unknown kind, holds no address of the image (within
 * 64 KiB, for addends), or would no longer hold its new address (a 32-bit
 * one at or above 4 GiB, a sign-extended one at or above 2 GiB).
 */
bool reloc_apply(uint8_t *image, uint64_t image_size, uint64_t new_base, uint64_t delta,
                 const uint32_t *entries, uint32_t count);

/* How image_relocate ended (image_relocation()). */
enum reloc_status {
  RELOC_NOT_RUN = 0,
  RELOC_MOVED,
  RELOC_NO_MAP,       /* no usable multiboot memory map: it stays (the boot stops later) */
  RELOC_NO_ROOM,      /* no free RAM for the image higher up: it stays */
  RELOC_TOO_MANY_MODULES, /* more boot modules than it can keep clear of: it stays */
  RELOC_BAD_TABLE,    /* the image's relocation table is missing or wrong: a build bug */
};

/*
 * The boot stub's call, on the boot stack, paging on, nothing else set up:
 * moves the image when there is room for it and returns the distance
 * (0: it stays). The stub then jumps into the copy, loads its GDT, page
 * tables (arch_relocate_boot_tables) and stack, and calls xhv_main.
 */
uword_t image_relocate(uint32_t magic, uint32_t mbi_addr);

/* How it went, where the image was loaded and how many places moved. */
enum reloc_status image_relocation(uword_t *loaded_at, uint32_t *places);

/*
 * After the jump: zeroes what is left of the original, which the guest
 * gets as RAM (nothing may point there: a stale pointer reads zeros and
 * fails loudly rather than reading what the guest wrote).
 */
void image_release_original(const struct multiboot_info *mbi);

/* The most ranges boot_ranges_in_use writes: the image, and room for 30 modules. */
#define BOOT_RANGES_MAX 66U

/*
 * What must survive the boot: [image_base, image_base + image_size) and
 * what the boot loader handed over (the multiboot information, memory map,
 * command line, module list, modules and their strings). Writes at most
 * BOOT_RANGES_MAX ranges to out and returns how many there are (more than
 * BOOT_RANGES_MAX: the rest did not fit).
 */
uint32_t boot_ranges_in_use(const struct multiboot_info *mbi, uint64_t image_base,
                            uint64_t image_size, struct e820_range out[BOOT_RANGES_MAX]);

/* Per arch: points the copy's boot page tables at themselves (they point at the original). */
void arch_relocate_boot_tables(uword_t delta);

XHV_END_DECLS

#endif /* XHV_RELOCATE_H */
