/* SPDX-License-Identifier: Apache-2.0 */
/* Guest page-table walker and 4 KiB builder for the 32-bit, PAE and 4-level paging modes. */
#include "xhv/gpt.h"

#include <stddef.h>

#include "xhv/string.h"

#define PAGE_4K 0x1000ULL
#define PAGE_OFFSET_MASK (PAGE_4K - 1U)
#define FOUR_GIB 0x100000000ULL

/* Entry bits common to every mode ("Paging-Structure Entries"). */
#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_US (1ULL << 2)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_PS (1ULL << 7)
#define PTE_PAT_4K (1ULL << 7)
#define PTE_PAT_LARGE (1ULL << 12)
#define PTE_XD (1ULL << 63)

/* 32-bit paging: 4 MiB pages keep address bits 39:32 in entry bits 20:13 (PSE-36). */
#define PTE32_ADDR 0xFFFFF000ULL
#define PTE32_4M_ADDR 0xFFC00000ULL
#define PTE32_4M_HI_SHIFT 13U
#define PTE32_4M_HI_MASK 0xFFULL
#define PTE32_4M_RSV_BIT21 (1ULL << 21)
#define PSE36_MAX_BITS 40U

/* Bits 20:13 of a 2 MiB leaf and 29:13 of a 1 GiB leaf are reserved (bit 12 is PAT). */
#define PTE_2M_RSV 0x00000000001FE000ULL
#define PTE_1G_RSV 0x000000003FFFE000ULL
/* A PAE PDPTE has only P, PWT, PCD and the address; bits 2:1 and 8:5 are reserved. */
#define PDPTE_PAE_RSV 0x00000000000001E6ULL

#define MAX_PHYS_BITS 52U

/* Flags an upper-level entry made by the builder carries: the leaf alone restricts. */
#define TABLE_FLAGS (PTE_P | PTE_RW | PTE_US)
#define MAP_LOW_FLAGS \
  (GPT_MAP_WRITE | GPT_MAP_USER | GPT_MAP_PWT | GPT_MAP_PCD | GPT_MAP_PAT | GPT_MAP_GLOBAL)

static const char *const status_names[] = {
    [GPT_OK] = "GPT_OK",
    [GPT_ERR_NOT_PRESENT] = "GPT_ERR_NOT_PRESENT",
    [GPT_ERR_PROT_USER] = "GPT_ERR_PROT_USER",
    [GPT_ERR_PROT_WRITE] = "GPT_ERR_PROT_WRITE",
    [GPT_ERR_PROT_NX] = "GPT_ERR_PROT_NX",
    [GPT_ERR_RESERVED] = "GPT_ERR_RESERVED",
    [GPT_ERR_MEM_READ] = "GPT_ERR_MEM_READ",
    [GPT_ERR_MEM_WRITE] = "GPT_ERR_MEM_WRITE",
    [GPT_ERR_BAD_GVA] = "GPT_ERR_BAD_GVA",
    [GPT_ERR_INVALID] = "GPT_ERR_INVALID",
    [GPT_ERR_NO_PAGE] = "GPT_ERR_NO_PAGE",
    [GPT_ERR_MAPPED] = "GPT_ERR_MAPPED",
    [GPT_ERR_LARGE_PAGE] = "GPT_ERR_LARGE_PAGE",
};

const char *gpt_status_name(enum gpt_status s) {
  if ((unsigned)s >= XHV_ARRAY_SIZE(status_names) || status_names[s] == NULL) {
    return "GPT_ERR_?";
  }
  return status_names[s];
}

/* ---- mode geometry ---- */

static int top_level(enum gpt_mode mode) {
  switch (mode) {
    case GPT_MODE_32:
      return 2;
    case GPT_MODE_PAE:
      return 3;
    case GPT_MODE_LONG4:
      return 4;
    case GPT_MODE_NONE:
    default:
      return 0;
  }
}

static uint32_t entry_bytes(enum gpt_mode mode) { return mode == GPT_MODE_32 ? 4U : 8U; }

static uint32_t level_shift(enum gpt_mode mode, int level) {
  if (mode == GPT_MODE_32) {
    return level == 2 ? 22U : 12U;
  }
  return 12U + 9U * (uint32_t)(level - 1);
}

static uint64_t level_size(enum gpt_mode mode, int level) {
  return 1ULL << level_shift(mode, level);
}

static uint64_t entry_gpa_of(enum gpt_mode mode, uint64_t table, uint64_t gva, int level) {
  /* 10 index bits per 32-bit level, 9 otherwise; PAE's 2-bit PDPT index follows from gva < 4 GiB.
   */
  const uint64_t index_mask = mode == GPT_MODE_32 ? 0x3FFULL : 0x1FFULL;
  const uint64_t index = (gva >> level_shift(mode, level)) & index_mask;
  return table + index * entry_bytes(mode);
}

static uint32_t phys_bits(const struct gpt_ctx *c) {
  if (c->maxphyaddr == 0U || c->maxphyaddr > MAX_PHYS_BITS) {
    return MAX_PHYS_BITS;
  }
  return c->maxphyaddr;
}

/* Address bits of an 8-byte entry: 51:12, cut to MAXPHYADDR. */
static uint64_t phys_addr_mask(const struct gpt_ctx *c) {
  return ((1ULL << phys_bits(c)) - 1U) & ~PAGE_OFFSET_MASK;
}

static bool gva_valid(enum gpt_mode mode, uint64_t gva) {
  if (mode == GPT_MODE_LONG4) {
    /* Canonical: bits 63:47 all equal. */
    const uint64_t top = gva >> 47;
    return top == 0U || top == 0x1FFFFULL;
  }
  return gva < FOUR_GIB;
}

/* ---- entries ---- */

static bool may_be_large(const struct gpt_ctx *c, int level) {
  switch (c->mode) {
    case GPT_MODE_32:
      return level == 2 && c->pse;
    case GPT_MODE_PAE:
      return level == 2;
    case GPT_MODE_LONG4:
      return level == 2 || level == 3;
    case GPT_MODE_NONE:
    default:
      return false;
  }
}

static bool is_large(const struct gpt_ctx *c, int level, uint64_t e) {
  return may_be_large(c, level) && (e & PTE_PS) != 0U;
}

/* Reserved bits of a present entry ("Reserved Bits" in the entry-format tables). */
static uint64_t reserved_bits(const struct gpt_ctx *c, int level, bool large) {
  const uint32_t m = phys_bits(c);
  uint64_t rsv = 0;

  if (c->mode == GPT_MODE_32) {
    if (large) {
      const uint32_t m36 = m < PSE36_MAX_BITS ? m : PSE36_MAX_BITS;
      const uint32_t hi_bits = m36 > 32U ? m36 - 32U : 0U;
      /* Entry bits 20:(13 + hi_bits) and 21. */
      rsv = PTE32_4M_RSV_BIT21 | ((PTE32_4M_HI_MASK << (PTE32_4M_HI_SHIFT + hi_bits)) &
                                  (PTE32_4M_HI_MASK << PTE32_4M_HI_SHIFT));
    }
    return rsv;
  }

  if (c->mode == GPT_MODE_PAE) {
    /* PAE: everything from MAXPHYADDR up to bit 62 is reserved. */
    rsv = ~((1ULL << m) - 1U) & ~PTE_XD;
    if (level == 3) {
      return rsv | PDPTE_PAE_RSV | PTE_XD;
    }
  } else {
    /* 4-level: bits 51:MAXPHYADDR reserved; 62:52 ignored. */
    rsv = ((1ULL << MAX_PHYS_BITS) - 1U) & ~((1ULL << m) - 1U);
    if (level == 4) {
      rsv |= PTE_PS;
    }
  }
  if (!c->nxe) {
    rsv |= PTE_XD;
  }
  if (large) {
    rsv |= level == 3 ? PTE_1G_RSV : PTE_2M_RSV;
  }
  return rsv;
}

/* The table an upper-level entry points to, or the 4 KiB page a PTE maps. */
static uint64_t next_table(const struct gpt_ctx *c, uint64_t e) {
  return c->mode == GPT_MODE_32 ? e & PTE32_ADDR : e & phys_addr_mask(c);
}

static uint64_t large_page_base(const struct gpt_ctx *c, uint64_t e, int level) {
  if (c->mode == GPT_MODE_32) {
    return (e & PTE32_4M_ADDR) | (((e >> PTE32_4M_HI_SHIFT) & PTE32_4M_HI_MASK) << 32);
  }
  return e & phys_addr_mask(c) & ~(level_size(c->mode, level) - 1U);
}

static bool read_entry(const struct gpt_ctx *c, uint64_t at, uint64_t *e) {
  if (c->mode == GPT_MODE_32) {
    uint32_t v = 0;
    if (!c->mem->read(c->mem->ctx, at, &v, sizeof(v))) {
      return false;
    }
    *e = v;
    return true;
  }
  return c->mem->read(c->mem->ctx, at, e, sizeof(*e));
}

static bool write_entry(const struct gpt_ctx *c, uint64_t at, uint64_t e) {
  if (c->mode == GPT_MODE_32) {
    const uint32_t v = (uint32_t)e;
    return c->mem->write(c->mem->ctx, at, &v, sizeof(v));
  }
  return c->mem->write(c->mem->ctx, at, &e, sizeof(e));
}

/* ---- CR3 ---- */

static uint64_t cr3_addr_mask(enum gpt_mode mode) {
  switch (mode) {
    case GPT_MODE_32:
      return 0xFFFFF000ULL;
    case GPT_MODE_PAE:
      return 0xFFFFFFE0ULL; /* the PDPT is 32-byte aligned */
    case GPT_MODE_LONG4:
      return 0x000FFFFFFFFFF000ULL;
    case GPT_MODE_NONE:
    default:
      return 0;
  }
}

uint64_t gpt_cr3_base(enum gpt_mode mode, uint64_t cr3) { return cr3 & cr3_addr_mask(mode); }

uint64_t gpt_cr3_with_base(enum gpt_mode mode, uint64_t cr3, uint64_t root) {
  const uint64_t mask = cr3_addr_mask(mode);
  /* Only the bits below the address survive: VM entry rejects a CR3 with bits above MAXPHYADDR. */
  const uint64_t low = mode == GPT_MODE_PAE ? 0x1FULL : PAGE_OFFSET_MASK;
  return (cr3 & low) | (root & mask);
}

/* ---- walking ---- */

/*
 * Follows the tables from CR3 to the leaf for gva, filling l (whose rights
 * start out all-true) on the way. Stops at the first entry the CPU would
 * stop at.
 */
static enum gpt_status walk_tables(const struct gpt_ctx *c, uint64_t gva, struct gpt_leaf *l) {
  uint64_t table = gpt_cr3_base(c->mode, c->cr3);
  int level;

  for (level = top_level(c->mode); level >= 1; level--) {
    const uint64_t at = entry_gpa_of(c->mode, table, gva, level);
    uint64_t e = 0;
    bool large;

    l->level = level;
    if (!read_entry(c, at, &e)) {
      return GPT_ERR_MEM_READ;
    }
    l->entry = e;
    l->entry_gpa = at;
    if ((e & PTE_P) == 0U) {
      return GPT_ERR_NOT_PRESENT;
    }
    large = is_large(c, level, e);
    if ((e & reserved_bits(c, level, large)) != 0U) {
      return GPT_ERR_RESERVED;
    }
    /* A PAE PDPTE carries no access rights. */
    if (!(c->mode == GPT_MODE_PAE && level == 3)) {
      l->user = l->user && (e & PTE_US) != 0U;
      l->writable = l->writable && (e & PTE_RW) != 0U;
      if (c->mode != GPT_MODE_32 && c->nxe) {
        l->executable = l->executable && (e & PTE_XD) == 0U;
      }
    }
    if (large) {
      l->page_size = level_size(c->mode, level);
      l->page_gpa = large_page_base(c, e, level);
      return GPT_OK;
    }
    table = next_table(c, e);
  }
  /* After the PTE, `table` is the 4 KiB page it maps. */
  l->page_size = PAGE_4K;
  l->page_gpa = table;
  return GPT_OK;
}

enum gpt_status gpt_walk(const struct gpt_ctx *c, uint64_t gva, uint32_t access, uint64_t *gpa,
                         struct gpt_leaf *leaf) {
  struct gpt_leaf l;
  enum gpt_status st;

  memset(&l, 0, sizeof(l));
  l.user = true;
  l.writable = true;
  l.executable = true;

  if (!gva_valid(c->mode, gva)) {
    st = GPT_ERR_BAD_GVA;
  } else if (c->mode == GPT_MODE_NONE) {
    l.page_size = PAGE_4K;
    l.page_gpa = gva & ~PAGE_OFFSET_MASK;
    st = GPT_OK;
  } else {
    st = walk_tables(c, gva, &l);
  }

  if (st == GPT_OK) {
    if ((access & GPT_ACC_USER) != 0U && !l.user) {
      st = GPT_ERR_PROT_USER;
    } else if ((access & GPT_ACC_WRITE) != 0U && !l.writable &&
               ((access & GPT_ACC_USER) != 0U || c->wp)) {
      st = GPT_ERR_PROT_WRITE;
    } else if ((access & GPT_ACC_EXEC) != 0U && !l.executable) {
      st = GPT_ERR_PROT_NX;
    } else if (gpa != NULL) {
      *gpa = l.page_gpa + (gva & (l.page_size - 1U));
    }
  }
  if (leaf != NULL) {
    *leaf = l;
  }
  return st;
}

/* ---- copying through the tables ---- */

/* Bytes from gva to the end of its 4 KiB page, at most len. */
static uint32_t chunk_in_page(uint64_t gva, uint32_t len) {
  const uint64_t left = PAGE_4K - (gva & PAGE_OFFSET_MASK);
  return left < len ? (uint32_t)left : len;
}

enum gpt_status gpt_read_virt(const struct gpt_ctx *c, uint64_t gva, void *buf, uint32_t len,
                              uint32_t access) {
  uint8_t *p = (uint8_t *)buf;
  while (len > 0U) {
    const uint32_t n = chunk_in_page(gva, len);
    uint64_t gpa = 0;
    const enum gpt_status st = gpt_walk(c, gva, access, &gpa, NULL);
    if (st != GPT_OK) {
      return st;
    }
    if (!c->mem->read(c->mem->ctx, gpa, p, n)) {
      return GPT_ERR_MEM_READ;
    }
    p += n;
    len -= n;
    if (len > 0U && gva + n < gva) {
      return GPT_ERR_BAD_GVA; /* would wrap past the top of the address space */
    }
    gva += n;
  }
  return GPT_OK;
}

enum gpt_status gpt_write_virt(const struct gpt_ctx *c, uint64_t gva, const void *buf, uint32_t len,
                               uint32_t access) {
  const uint8_t *p = (const uint8_t *)buf;
  while (len > 0U) {
    const uint32_t n = chunk_in_page(gva, len);
    uint64_t gpa = 0;
    const enum gpt_status st = gpt_walk(c, gva, access | GPT_ACC_WRITE, &gpa, NULL);
    if (st != GPT_OK) {
      return st;
    }
    if (!c->mem->write(c->mem->ctx, gpa, p, n)) {
      return GPT_ERR_MEM_WRITE;
    }
    p += n;
    len -= n;
    if (len > 0U && gva + n < gva) {
      return GPT_ERR_BAD_GVA;
    }
    gva += n;
  }
  return GPT_OK;
}

static bool virt_read(void *ctx, uint64_t gva, void *buf, uint32_t len) {
  const struct gpt_virt *v = (const struct gpt_virt *)ctx;
  return gpt_read_virt(v->gpt, gva, buf, len, v->access) == GPT_OK;
}

static bool virt_write(void *ctx, uint64_t gva, const void *buf, uint32_t len) {
  const struct gpt_virt *v = (const struct gpt_virt *)ctx;
  return gpt_write_virt(v->gpt, gva, buf, len, v->access) == GPT_OK;
}

struct mem_io gpt_virt_mem(const struct gpt_virt *v) {
  struct mem_io m;
  m.read = virt_read;
  m.write = virt_write;
  /* The accessors only read *v; mem_io's ctx is non-const for other users. */
  m.ctx = (void *)(uintptr_t)v;
  return m;
}

/* ---- building ---- */

/* Highest table or page address (exclusive) an entry of this mode can hold. */
static uint64_t gpa_reach(const struct gpt_ctx *c) {
  return c->mode == GPT_MODE_32 ? FOUR_GIB : 1ULL << phys_bits(c);
}

enum gpt_status gpt_new_root(enum gpt_mode mode, const struct gpt_page_source *pages,
                             uint64_t *root) {
  uint64_t pa = 0;
  if (mode != GPT_MODE_32 && mode != GPT_MODE_PAE && mode != GPT_MODE_LONG4) {
    return GPT_ERR_INVALID;
  }
  if (!pages->alloc(pages->ctx, &pa)) {
    return GPT_ERR_NO_PAGE;
  }
  if ((pa & PAGE_OFFSET_MASK) != 0U || (pa & ~cr3_addr_mask(mode)) != 0U) {
    return GPT_ERR_INVALID;
  }
  *root = pa;
  return GPT_OK;
}

enum gpt_status gpt_map_page(const struct gpt_ctx *c, const struct gpt_page_source *pages,
                             uint64_t gva, uint64_t gpa, uint32_t flags) {
  uint64_t table;
  uint64_t at;
  uint64_t e = 0;
  uint64_t leaf;
  int level;

  if (c->mode != GPT_MODE_32 && c->mode != GPT_MODE_PAE && c->mode != GPT_MODE_LONG4) {
    return GPT_ERR_INVALID;
  }
  if (!gva_valid(c->mode, gva)) {
    return GPT_ERR_BAD_GVA;
  }
  if ((gva & PAGE_OFFSET_MASK) != 0U || (gpa & PAGE_OFFSET_MASK) != 0U || gpa >= gpa_reach(c)) {
    return GPT_ERR_INVALID;
  }
  if ((flags & ~(MAP_LOW_FLAGS | GPT_MAP_NOEXEC)) != 0U) {
    return GPT_ERR_INVALID;
  }
  if ((flags & GPT_MAP_NOEXEC) != 0U && (c->mode == GPT_MODE_32 || !c->nxe)) {
    return GPT_ERR_INVALID;
  }

  table = gpt_cr3_base(c->mode, c->cr3);
  for (level = top_level(c->mode); level > 1; level--) {
    at = entry_gpa_of(c->mode, table, gva, level);
    if (!read_entry(c, at, &e)) {
      return GPT_ERR_MEM_READ;
    }
    if ((e & PTE_P) == 0U) {
      uint64_t pa = 0;
      if (!pages->alloc(pages->ctx, &pa)) {
        return GPT_ERR_NO_PAGE;
      }
      if ((pa & PAGE_OFFSET_MASK) != 0U || pa >= gpa_reach(c)) {
        return GPT_ERR_INVALID;
      }
      e = pa | ((c->mode == GPT_MODE_PAE && level == 3) ? PTE_P : TABLE_FLAGS);
      if (!write_entry(c, at, e)) {
        return GPT_ERR_MEM_WRITE;
      }
    } else if (is_large(c, level, e)) {
      return GPT_ERR_LARGE_PAGE;
    }
    table = next_table(c, e);
  }

  at = entry_gpa_of(c->mode, table, gva, 1);
  if (!read_entry(c, at, &e)) {
    return GPT_ERR_MEM_READ;
  }
  if ((e & PTE_P) != 0U) {
    return GPT_ERR_MAPPED;
  }
  leaf = gpa | PTE_P | (uint64_t)(flags & MAP_LOW_FLAGS);
  if ((flags & GPT_MAP_NOEXEC) != 0U) {
    leaf |= PTE_XD;
  }
  return write_entry(c, at, leaf) ? GPT_OK : GPT_ERR_MEM_WRITE;
}

enum gpt_status gpt_unmap_page(const struct gpt_ctx *c, uint64_t gva, uint64_t *old_gpa) {
  uint64_t table;
  uint64_t at = 0;
  uint64_t e = 0;
  int level;

  if (c->mode != GPT_MODE_32 && c->mode != GPT_MODE_PAE && c->mode != GPT_MODE_LONG4) {
    return GPT_ERR_INVALID;
  }
  if (!gva_valid(c->mode, gva)) {
    return GPT_ERR_BAD_GVA;
  }
  if ((gva & PAGE_OFFSET_MASK) != 0U) {
    return GPT_ERR_INVALID;
  }

  table = gpt_cr3_base(c->mode, c->cr3);
  for (level = top_level(c->mode); level >= 1; level--) {
    at = entry_gpa_of(c->mode, table, gva, level);
    if (!read_entry(c, at, &e)) {
      return GPT_ERR_MEM_READ;
    }
    if ((e & PTE_P) == 0U) {
      return GPT_ERR_NOT_PRESENT;
    }
    if (is_large(c, level, e)) {
      return GPT_ERR_LARGE_PAGE;
    }
    table = next_table(c, e);
  }
  if (old_gpa != NULL) {
    *old_gpa = table;
  }
  return write_entry(c, at, 0) ? GPT_OK : GPT_ERR_MEM_WRITE;
}

uint32_t gpt_leaf_map_flags(const struct gpt_leaf *leaf) {
  uint32_t flags = leaf->user ? GPT_MAP_USER : 0U;
  const uint64_t pat = leaf->page_size > PAGE_4K ? PTE_PAT_LARGE : PTE_PAT_4K;

  if (leaf->level == 0) {
    return flags; /* paging off: no cache attributes in any entry */
  }
  if ((leaf->entry & PTE_PWT) != 0U) {
    flags |= GPT_MAP_PWT;
  }
  if ((leaf->entry & PTE_PCD) != 0U) {
    flags |= GPT_MAP_PCD;
  }
  if ((leaf->entry & pat) != 0U) {
    flags |= GPT_MAP_PAT;
  }
  return flags;
}
