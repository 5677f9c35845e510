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
#include "xhv/multiboot.h"

XHV_BEGIN_DECLS

#define XHV_RELOC_MAX 8191U
#define RELOC_OFFSET_MASK ((1U << 30) - 1U)
#define RELOC_KIND_SHIFT 30U
#define RELOC_KIND_32 0U  /* a 32-bit address */
#define RELOC_KIND_64 1U  /* a 64-bit address */
#define RELOC_KIND_32S 2U /* a 32-bit field the CPU sign-extends to 64 bits */

struct reloc_table {
  uint32_t count;
  uint32_t entry[XHV_RELOC_MAX];
};

/*
 * Adds delta to every place `entries` names in the copy of the image at
 * `image` (image_size bytes), where that copy will run at `new_base`.
 * Checks every entry first and changes nothing if one lies outside the
 * image, has an unknown kind, holds no address of the image (within 64 KiB,
 * for addends), or would no longer hold its new address (a 32-bit one at
 * or above 4 GiB, a sign-extended one at or above 2 GiB).
 */
bool reloc_apply(uint8_t *image, uint64_t image_size, uint64_t new_base, uint64_t delta,
                 const uint32_t *entries, uint32_t count);

/*
 * The boot stub's call, on the boot stack, paging on, nothing else set up:
 * moves the image when there is room for it and returns the distance
 * (0: it stays). The stub then jumps into the copy, loads its GDT, page
 * tables (arch_relocate_boot_tables) and stack, and calls xhv_main.
 */
uword_t image_relocate(uint32_t magic, const struct multiboot_info *mbi);

/* Where the image was loaded and how many places moved (both 0: not moved). */
uword_t image_loaded_at(void);
uint32_t image_moved_places(void);

/* Per arch: points the copy's boot page tables at themselves (they point at the original). */
void arch_relocate_boot_tables(uword_t delta);

XHV_END_DECLS

#endif /* XHV_RELOCATE_H */
