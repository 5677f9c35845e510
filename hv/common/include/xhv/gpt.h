/* SPDX-License-Identifier: Apache-2.0 */
/* Guest page tables: walk them the way the CPU does, and build 4 KiB mappings in them. */
#ifndef XHV_GPT_H
#define XHV_GPT_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/mem_io.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * The guest's paging mode ("Paging Modes and Control Bits"). GPT_MODE_LONG4
 * also covers a 32-bit compatibility-mode process under a 64-bit kernel: its
 * addresses are simply below 4 GiB.
 */
enum gpt_mode {
  GPT_MODE_NONE,  /* CR0.PG = 0: gva == gpa, below 4 GiB */
  GPT_MODE_32,    /* 2 levels of 4-byte entries; 4 MiB pages when CR4.PSE */
  GPT_MODE_PAE,   /* PDPTEs + 2 levels of 8-byte entries; 2 MiB pages */
  GPT_MODE_LONG4, /* 4 levels; 2 MiB and 1 GiB pages */
};

/* What an access is; a plain supervisor read is 0 (GPT_ACC_READ is only for clarity). */
#define GPT_ACC_READ 0x1U
#define GPT_ACC_WRITE 0x2U
#define GPT_ACC_EXEC 0x4U
#define GPT_ACC_USER 0x8U /* made at CPL 3 */

enum gpt_status {
  GPT_OK = 0,
  GPT_ERR_NOT_PRESENT, /* an entry on the way has P = 0 */
  GPT_ERR_PROT_USER,   /* user access, some level has U/S = 0 */
  GPT_ERR_PROT_WRITE,  /* write, some level has R/W = 0 (supervisor: only with CR0.WP) */
  GPT_ERR_PROT_NX,     /* fetch, some level has XD = 1 (EFER.NXE) */
  GPT_ERR_RESERVED,    /* an entry has a reserved bit set */
  GPT_ERR_MEM_READ,    /* a table could not be read through the accessor */
  GPT_ERR_MEM_WRITE,   /* a table (or, for gpt_write_virt, the data) could not be written */
  GPT_ERR_BAD_GVA,     /* not an address of this mode: >= 4 GiB, or non-canonical */
  GPT_ERR_INVALID,     /* bad argument: alignment, flags, gpa out of the mode's reach */
  GPT_ERR_NO_PAGE,     /* the page source had nothing left */
  GPT_ERR_MAPPED,      /* builder: gva already has a 4 KiB mapping */
  GPT_ERR_LARGE_PAGE,  /* builder: gva lies in a large page, which is never split */
};

/* "GPT_OK", "GPT_ERR_NOT_PRESENT", ...; "GPT_ERR_?" for a value outside the enum. */
const char *gpt_status_name(enum gpt_status s);

/*
 * One guest address space. The walker neither sets accessed/dirty bits nor
 * models SMEP, SMAP or protection keys: it answers "may a CPL-x access of
 * this kind reach this gpa", which is what lending and copying need. 1 GiB
 * pages are assumed supported. In GPT_MODE_PAE the PDPTEs are read from
 * memory at CR3, not from the CPU's PDPTE registers.
 */
struct gpt_ctx {
  enum gpt_mode mode;
  uint64_t cr3;             /* as the guest has it: PCID and flag bits are ignored */
  bool pse;                 /* CR4.PSE, GPT_MODE_32 only */
  bool nxe;                 /* EFER.NXE; without it XD is a reserved bit (PAE, LONG4) */
  bool wp;                  /* CR0.WP: supervisor writes honour R/W */
  uint8_t maxphyaddr;       /* CPUID 0x80000008 EAX[7:0]; 0 means 52 */
  const struct mem_io *mem; /* guest-physical memory holding the tables */
};

/*
 * What a walk found. On GPT_OK and on the GPT_ERR_PROT_* errors every field
 * is set; on GPT_ERR_NOT_PRESENT and GPT_ERR_RESERVED only level, entry and
 * entry_gpa (the offending entry); otherwise only level.
 */
struct gpt_leaf {
  int level;          /* 1 = PT, 2 = PD, 3 = PDPT, 4 = PML4; 0 with paging off */
  uint64_t entry;     /* the entry's value (4-byte entries zero-extended) */
  uint64_t entry_gpa; /* where the entry lives, so a caller can edit it */
  uint64_t page_size; /* 4 KiB, 2 MiB, 4 MiB or 1 GiB */
  uint64_t page_gpa;  /* start of the page */
  bool user;          /* U/S = 1 at every level */
  bool writable;      /* R/W = 1 at every level */
  bool executable;    /* no XD at any level */
};

/*
 * Translates gva for an access of kind `access` (GPT_ACC_*). *gpa is set on
 * GPT_OK only; leaf may be NULL. Errors come in the order the CPU finds
 * them: a failed read, not-present or reserved entry stops the walk; then
 * user, write, and execute rights are checked, in that order.
 */
enum gpt_status gpt_walk(const struct gpt_ctx *ctx, uint64_t gva, uint32_t access, uint64_t *gpa,
                         struct gpt_leaf *leaf);

/* The root table's address in cr3 for mode: PCID and the low flag bits dropped. */
uint64_t gpt_cr3_base(enum gpt_mode mode, uint64_t cr3);

/* cr3 with its root-table address replaced by root (flag/PCID bits kept): the PAL's CR3. */
uint64_t gpt_cr3_with_base(enum gpt_mode mode, uint64_t cr3, uint64_t root);

/* ---- copying through the tables ---- */

/*
 * Copies len bytes between buf and the guest-virtual range at gva, page by
 * page, each page walked with `access` (gpt_write_virt adds GPT_ACC_WRITE).
 * A failure part way leaves the earlier pages copied.
 */
enum gpt_status gpt_read_virt(const struct gpt_ctx *ctx, uint64_t gva, void *buf, uint32_t len,
                              uint32_t access);
enum gpt_status gpt_write_virt(const struct gpt_ctx *ctx, uint64_t gva, const void *buf,
                               uint32_t len, uint32_t access);

/* A mem_io over guest-virtual addresses; gpt_virt_mem keeps v by reference. */
struct gpt_virt {
  const struct gpt_ctx *gpt;
  uint32_t access;
};
struct mem_io gpt_virt_mem(const struct gpt_virt *v);

/* ---- building (the PAL's private tables) ---- */

/* Leaf flags for gpt_map_page; the low ones are the 4 KiB PTE bits themselves. */
#define GPT_MAP_WRITE 0x002U
#define GPT_MAP_USER 0x004U
#define GPT_MAP_PWT 0x008U
#define GPT_MAP_PCD 0x010U
#define GPT_MAP_PAT 0x080U
#define GPT_MAP_GLOBAL 0x100U
#define GPT_MAP_NOEXEC 0x80000000U /* XD (bit 63); needs PAE or LONG4 and ctx->nxe */

/* Where new table pages come from: alloc sets *gpa to a zeroed, 4 KiB aligned page. */
struct gpt_page_source {
  bool (*alloc)(void *ctx, uint64_t *gpa);
  void *ctx;
};

/*
 * An empty root table for mode (not GPT_MODE_NONE) in *root; put it in a
 * CR3 with gpt_cr3_with_base. GPT_ERR_NO_PAGE, or GPT_ERR_INVALID if the
 * page is misaligned or (GPT_MODE_32, GPT_MODE_PAE) not below 4 GiB.
 */
enum gpt_status gpt_new_root(enum gpt_mode mode, const struct gpt_page_source *pages,
                             uint64_t *root);

/*
 * Maps the 4 KiB page at gva to gpa with flags (GPT_MAP_*), adding tables
 * from pages as needed. Tables it adds grant everything at the upper levels
 * so the leaf alone decides. Fails with GPT_ERR_MAPPED / GPT_ERR_LARGE_PAGE
 * rather than replace a mapping; tables added before a failure stay.
 */
enum gpt_status gpt_map_page(const struct gpt_ctx *ctx, const struct gpt_page_source *pages,
                             uint64_t gva, uint64_t gpa, uint32_t flags);

/*
 * Removes the 4 KiB mapping of gva; *old_gpa (may be NULL) gets what it
 * mapped. Table pages are never freed: their owner frees the whole pool.
 * GPT_ERR_NOT_PRESENT if nothing is mapped, GPT_ERR_LARGE_PAGE in a large page.
 */
enum gpt_status gpt_unmap_page(const struct gpt_ctx *ctx, uint64_t gva, uint64_t *old_gpa);

/*
 * The GPT_MAP_* flags that reproduce a walked leaf's user and cache
 * attributes (U/S, PWT, PCD, PAT) in a 4 KiB mapping: what lending copies
 * from the regular page tables into the PAL's.
 */
uint32_t gpt_leaf_map_flags(const struct gpt_leaf *leaf);

XHV_END_DECLS

#endif /* XHV_GPT_H */
