/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH direct boot: a kernel ELF with an XEN_ELFNOTE_PHYS32_ENTRY note and an
 * initramfs, handed over as multiboot modules, loaded at the kernel's
 * physical addresses and started at its 32-bit entry with a struct
 * hvm_start_info (version 1: with a memory map). Pure code: the loader and
 * xhv run it on physical memory, host tests on a buffer.
 */
#ifndef XHV_PVH_H
#define XHV_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/e820.h"

XHV_BEGIN_DECLS

/* hvm_start_info.magic (Xen public header arch-x86/hvm/start_info.h). */
#define PVH_START_MAGIC 0x336EC578U
/* ELF note type of the 32-bit physical entry point, owner "Xen". */
#define PVH_NOTE_PHYS32_ENTRY 18U

/*
 * Where the start_info block, its module list, memory map and the command
 * line go: two pages of low memory that Linux keeps reserved early (the
 * first 64 KiB) and that sit below xhv's AP trampoline (0x8000).
 */
#define PVH_INFO_BASE 0x6000U
#define PVH_INFO_SIZE 0x2000U

/* Highest end of the relocated initramfs: below a 32-bit kernel's lowmem (896 MiB). */
#define PVH_INITRD_LIMIT 0x38000000ULL

#define PVH_MAX_SEGMENTS 8U

enum pvh_status {
  PVH_OK = 0,
  PVH_ERR_NO_MODULES,     /* fewer than two multiboot modules */
  PVH_ERR_ORDER,          /* the initramfs came first, or the kernel is not module 1 */
  PVH_ERR_NOT_ELF,        /* module 1 is not an ELF image */
  PVH_ERR_ELF_CLASS,      /* not ELF32/EM_386 or ELF64/EM_X86_64, little endian */
  PVH_ERR_ELF_TRUNCATED,  /* headers or a segment reach past the module */
  PVH_ERR_NO_PVH_NOTE,    /* no XEN_ELFNOTE_PHYS32_ENTRY note */
  PVH_ERR_SEGMENTS,       /* no PT_LOAD, more than PVH_MAX_SEGMENTS, or memsz < filesz */
  PVH_ERR_NOT_RAM,        /* a segment is not all usable guest RAM */
  PVH_ERR_NO_ROOM,        /* no usable RAM left for the initramfs or the kernel's copy */
  PVH_ERR_INFO_FULL,      /* start_info, memory map and command line exceed PVH_INFO_SIZE */
  PVH_ERR_64BIT_ON_32BIT, /* a 64-bit kernel under the 32-bit hypervisor */
};

/* A short English name of a status, for the serial log. */
const char *pvh_status_name(enum pvh_status s);

struct pvh_segment {
  uint64_t paddr;  /* where it goes */
  uint64_t offset; /* where it is in the image */
  uint64_t filesz;
  uint64_t memsz; /* the rest is zero-filled */
};

struct pvh_kernel {
  bool elf64;
  uint32_t entry; /* 32-bit physical entry point */
  uint32_t segment_count;
  struct pvh_segment segment[PVH_MAX_SEGMENTS];
  uint64_t low, high; /* the segments' physical span [low, high) */
};

/* Parses a kernel image: ELF header, PT_LOAD segments, the PVH entry note. */
enum pvh_status pvh_parse_kernel(const uint8_t *image, uint64_t len, struct pvh_kernel *out);

/* What the multiboot modules say: module 1 the kernel (its string after the first word is the
 * kernel command line), module 2 the initramfs. */
struct pvh_modules {
  uint64_t kernel_pa, kernel_len;
  uint64_t initrd_pa, initrd_len;
  const char *cmdline; /* never NULL */
};

/*
 * Checks and reads the module list: at least two modules, the first named
 * "kernel" (or unnamed, starting with an ELF header), the second "initrd".
 * `strings[i]` is module i's string (NULL for none), `image[i]` its bytes.
 */
enum pvh_status pvh_read_modules(uint32_t count, const uint64_t *start, const uint64_t *end,
                                 const char *const *strings, const uint8_t *const *image,
                                 struct pvh_modules *out);

/*
 * Where everything goes, in guest RAM (`map`, normalized): the initramfs at
 * the top of RAM below PVH_INITRD_LIMIT, and, if the kernel image lies where
 * its segments must go, a copy of it below that. Nothing moved may clobber
 * what is still to be moved or the PVH_INFO block.
 */
struct pvh_plan {
  uint64_t initrd_dest;
  uint64_t kernel_src; /* where the segments are copied from (the module, or its copy) */
  bool move_kernel;
};

enum pvh_status pvh_plan_load(const struct pvh_kernel *k, const struct pvh_modules *m,
                              const struct e820_map *map, struct pvh_plan *plan);

/*
 * Physical memory as the loader sees it: address a is at host address
 * bias + a. xhv and the loader pass bias 0 (their identity map), tests the
 * address of a buffer.
 */
struct pvh_mem {
  uintptr_t bias;
};

/* Moves the modules as planned and loads the segments (zero-filling memsz). */
void pvh_load(const struct pvh_mem *mem, const struct pvh_kernel *k, const struct pvh_modules *m,
              const struct pvh_plan *plan);

/* Whether start_info, the module list, `map` and `cmdline` fit the PVH_INFO pages. */
bool pvh_start_info_fits(const struct e820_map *map, const char *cmdline);

/*
 * Writes the start_info block at PVH_INFO_BASE: version 1, one module (the
 * initramfs at its planned place), `map` as the memory map, `rsdp` (0 if
 * unknown) and the command line. Returns the start_info address (what EBX
 * holds at the kernel's entry), or 0 if it does not fit (PVH_ERR_INFO_FULL).
 */
uint32_t pvh_write_start_info(const struct pvh_mem *mem, const struct e820_map *map,
                              uint64_t rsdp, const struct pvh_modules *m,
                              const struct pvh_plan *plan);

XHV_END_DECLS

#endif /* XHV_PVH_H */
