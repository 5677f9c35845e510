/* SPDX-License-Identifier: Apache-2.0 */
/* Multiboot (version 1) information handed over by GRUB. */
#ifndef XHV_MULTIBOOT_H
#define XHV_MULTIBOOT_H

#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002U
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002U

#define MULTIBOOT_INFO_MEMORY (1U << 0)
#define MULTIBOOT_INFO_CMDLINE (1U << 2)
#define MULTIBOOT_INFO_MODS (1U << 3)
#define MULTIBOOT_INFO_MMAP (1U << 6)

struct multiboot_info {
  uint32_t flags;
  uint32_t mem_lower;
  uint32_t mem_upper;
  uint32_t boot_device;
  uint32_t cmdline;
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
} XHV_PACKED;

struct multiboot_mod {
  uint32_t mod_start;
  uint32_t mod_end;
  uint32_t string;
  uint32_t reserved;
} XHV_PACKED;

/* One memory map entry; `size` excludes itself, so the next entry is at +size+4. */
struct multiboot_mmap_entry {
  uint32_t size;
  uint64_t addr;
  uint64_t len;
  uint32_t type;
} XHV_PACKED;

XHV_END_DECLS

#endif /* XHV_MULTIBOOT_H */
