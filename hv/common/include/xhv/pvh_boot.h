/* SPDX-License-Identifier: Apache-2.0 */
/* PVH direct boot from multiboot modules: what xhv and pvhboot share. */
#ifndef XHV_PVH_BOOT_H
#define XHV_PVH_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/e820.h"
#include "xhv/multiboot.h"
#include "xhv/pvh.h"

XHV_BEGIN_DECLS

struct pvh_boot {
  struct pvh_kernel kernel;
  struct pvh_modules modules;
  struct pvh_plan plan;
  uint32_t start_info; /* EBX at the kernel's entry */
};

/*
 * Reads the kernel and initramfs modules of `mbi`, loads the kernel's
 * segments and moves the initramfs within usable RAM of `place_map`, and
 * writes the start_info block with `guest_map` as the kernel's memory map
 * and `rsdp`; a 64-bit kernel only if `allow_elf64`. Every check comes before the first byte moves: on an error,
 * memory is as it was. Then the caller starts the BSP at b->kernel.entry
 * with EBX = b->start_info.
 */
enum pvh_status pvh_boot_prepare(const struct multiboot_info *mbi, const struct e820_map *place_map,
                                 const struct e820_map *guest_map, uint64_t rsdp, bool allow_elf64,
                                 struct pvh_boot *b);

XHV_END_DECLS

#endif /* XHV_PVH_BOOT_H */
