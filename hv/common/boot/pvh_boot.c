/* SPDX-License-Identifier: Apache-2.0 */
/* PVH direct boot from multiboot modules, on physical memory (the identity map). */
#include "xhv/pvh_boot.h"

#include "xhv/arch.h"
#include "xhv/string.h"

#define MAX_MODULES 8U

/* The command line outlives the module strings, which the loading may overwrite. */
static char cmdline[PVH_INFO_SIZE];

enum pvh_status pvh_boot_prepare(const struct multiboot_info *mbi, const struct e820_map *place_map,
                                 const struct e820_map *guest_map, uint64_t rsdp, bool allow_elf64,
                                 struct pvh_boot *b) {
  uint32_t count = (mbi->flags & MULTIBOOT_INFO_MODS) ? mbi->mods_count : 0U;
  count = count < MAX_MODULES ? count : MAX_MODULES;
  const struct multiboot_mod *mods = (const struct multiboot_mod *)(uword_t)mbi->mods_addr;
  uint64_t start[MAX_MODULES], end[MAX_MODULES];
  const char *strings[MAX_MODULES];
  const uint8_t *image[MAX_MODULES];
  for (uint32_t i = 0; i < count; i++) {
    start[i] = mods[i].mod_start;
    end[i] = mods[i].mod_end;
    strings[i] = mods[i].string ? (const char *)(uword_t)mods[i].string : 0;
    image[i] = (const uint8_t *)(uword_t)mods[i].mod_start;
  }
  enum pvh_status st = pvh_read_modules(count, start, end, strings, image, &b->modules);
  if (st != PVH_OK) {
    return st;
  }
  if (strlen(b->modules.cmdline) >= sizeof(cmdline)) {
    return PVH_ERR_INFO_FULL;
  }
  memcpy(cmdline, b->modules.cmdline, strlen(b->modules.cmdline) + 1U);
  b->modules.cmdline = cmdline;
  st = pvh_parse_kernel(image[0], b->modules.kernel_len, &b->kernel);
  if (st == PVH_OK && b->kernel.elf64 && !allow_elf64) {
    st = PVH_ERR_64BIT_ON_32BIT;
  }
  if (st == PVH_OK) {
    st = pvh_plan_load(&b->kernel, &b->modules, place_map, &b->plan);
  }
  if (st == PVH_OK && !pvh_start_info_fits(guest_map, cmdline)) {
    st = PVH_ERR_INFO_FULL;
  }
  if (st != PVH_OK) {
    return st;
  }
  /* Everything is checked before the first byte moves. */
  const struct pvh_mem identity = {0};
  pvh_load(&identity, &b->kernel, &b->modules, &b->plan);
  b->start_info = pvh_write_start_info(&identity, guest_map, rsdp, &b->modules, &b->plan);
  return PVH_OK;
}
