/* SPDX-License-Identifier: Apache-2.0 */
/* EPT construction and editing: one walk per operation, large leaves split on demand. */
#include "xhv/ept.h"

#include <stddef.h>

#include "xhv/panic.h"

#define EPT_ENTRIES 512U
#define EPT_INDEX_MASK 0x1FFULL
#define EPT_LEVEL_BITS 9U
#define EPT_PAGE_SHIFT 12U
#define EPT_TOP_LEVEL 4
#define EPT_PAGE_MASK (EPT_PAGE_SIZE - 1U)
/* Host-physical addresses are at most 52 bits wide. */
#define EPT_HPA_LIMIT (1ULL << 52)

/* Entry bits ("EPT Translation Mechanism" formats). */
#define EPTE_PROT_MASK 0x7ULL
#define EPTE_MEMTYPE_SHIFT 3U
#define EPTE_LARGE (1ULL << 7)
#define EPTE_ADDR_MASK 0x000FFFFFFFFFF000ULL
/*
 * Software bit (bits 56:52 are ignored by the CPU): set in every leaf, so a
 * hidden page (access bits 0) still records its address and type and is
 * told apart from a never-mapped slot (entry 0).
 */
#define EPTE_MAPPED (1ULL << 52)
/* Non-leaf entries grant everything; leaves alone restrict access. */
#define EPTE_TABLE_PROT 0x7ULL

/* EPTP: memory type WB (6) for the tables, page-walk length - 1 = 3 in bits 5:3. */
#define EPTP_MEMTYPE_WB 6ULL
#define EPTP_WALK_4_LEVELS (3ULL << 3)

static uint32_t level_shift(int level) {
  return EPT_PAGE_SHIFT + EPT_LEVEL_BITS * (uint32_t)(level - 1);
}

static uint64_t level_span(int level) { return 1ULL << level_shift(level); }

static uint32_t level_index(uint64_t gpa, int level) {
  return (uint32_t)((gpa >> level_shift(level)) & EPT_INDEX_MASK);
}

static bool is_table(uint64_t pte, int level) {
  return level > EPT_LEVEL_4K && pte != 0U && (pte & EPTE_LARGE) == 0U;
}

static bool is_leaf(uint64_t pte, int level) {
  return (pte & EPTE_MAPPED) != 0U && (level == EPT_LEVEL_4K || (pte & EPTE_LARGE) != 0U);
}

static uint64_t make_leaf(uint64_t hpa, uint32_t prot, uint8_t memtype, int level) {
  uint64_t pte = (hpa & EPTE_ADDR_MASK) | ((uint64_t)memtype << EPTE_MEMTYPE_SHIFT) |
                 (uint64_t)prot | EPTE_MAPPED;
  return level > EPT_LEVEL_4K ? pte | EPTE_LARGE : pte;
}

static uint64_t *table_of(const struct ept *e, uint64_t pte) {
  return (uint64_t *)e->pages->pa_to_va(e->pages->ctx, pte & EPTE_ADDR_MASK);
}

static uint64_t *new_table(const struct ept *e, uint64_t *pa) {
  uint64_t *t = (uint64_t *)e->pages->alloc(e->pages->ctx, pa);
  if (t == NULL) {
    return NULL;
  }
  XHV_ASSERT((*pa & EPT_PAGE_MASK) == 0U && *pa < EPT_HPA_LIMIT);
  return t;
}

/*
 * Puts a table under *pte (level > 1): empty if the slot was unmapped, or
 * 512 smaller leaves that together keep a large leaf's mapping. The table is
 * complete before it is linked, so a failure or a concurrent walker never
 * sees a half-built level.
 */
static int push_down(const struct ept *e, uint64_t *pte, int level) {
  uint64_t pa = 0;
  uint64_t *t = new_table(e, &pa);
  if (t == NULL) {
    return EPT_ERR_NOMEM;
  }
  uint64_t old = *pte;
  if (is_leaf(old, level)) {
    int child_level = level - 1;
    uint64_t keep = old & ~(EPTE_ADDR_MASK | EPTE_LARGE);
    if (child_level > EPT_LEVEL_4K) {
      keep |= EPTE_LARGE;
    }
    uint64_t hpa = old & EPTE_ADDR_MASK;
    for (uint32_t i = 0; i < EPT_ENTRIES; i++) {
      t[i] = keep | (hpa + (uint64_t)i * level_span(child_level));
    }
  } else {
    for (uint32_t i = 0; i < EPT_ENTRIES; i++) {
      t[i] = 0;
    }
  }
  *pte = pa | EPTE_TABLE_PROT;
  return EPT_OK;
}

static int leaf_limit(const struct ept *e) {
  if (e->max_leaf_level < EPT_LEVEL_4K) {
    return EPT_LEVEL_4K;
  }
  return e->max_leaf_level > EPT_LEVEL_1G ? EPT_LEVEL_1G : e->max_leaf_level;
}

/* Write without read (and write+exec without read) is an EPT misconfiguration. */
static bool valid_prot(uint32_t prot) {
  return prot <= EPT_RWX && ((prot & EPT_WRITE) == 0U || (prot & EPT_READ) != 0U);
}

static bool valid_memtype(uint8_t t) {
  return t == MTRR_TYPE_UC || t == MTRR_TYPE_WC || t == MTRR_TYPE_WT || t == MTRR_TYPE_WP ||
         t == MTRR_TYPE_WB;
}

/* [gpa, gpa + size) is page aligned and below the 48-bit limit. */
static bool valid_gpa_range(uint64_t gpa, uint64_t size) {
  return ((gpa | size) & EPT_PAGE_MASK) == 0U && gpa < EPT_GPA_LIMIT &&
         size <= EPT_GPA_LIMIT - gpa;
}

int ept_init(struct ept *e, const struct ept_pages *pages) {
  e->pages = pages;
  e->max_leaf_level = EPT_LEVEL_2M;
  e->pml4 = NULL;
  e->pml4_pa = 0;
  uint64_t pa = 0;
  uint64_t *t = new_table(e, &pa);
  if (t == NULL) {
    return EPT_ERR_NOMEM;
  }
  for (uint32_t i = 0; i < EPT_ENTRIES; i++) {
    t[i] = 0;
  }
  e->pml4 = t;
  e->pml4_pa = pa;
  return EPT_OK;
}

uint64_t ept_eptp(const struct ept *e) {
  return e->pml4_pa | EPTP_WALK_4_LEVELS | EPTP_MEMTYPE_WB;
}

int ept_map(struct ept *e, uint64_t gpa, uint64_t hpa, uint64_t size, uint32_t prot,
            uint8_t memtype) {
  if (!valid_gpa_range(gpa, size) || (hpa & EPT_PAGE_MASK) != 0U || hpa >= EPT_HPA_LIMIT ||
      size > EPT_HPA_LIMIT - hpa || !valid_prot(prot) || !valid_memtype(memtype)) {
    return EPT_ERR_INVALID;
  }
  const int max_leaf = leaf_limit(e);
  const uint64_t end = gpa + size;

  while (gpa < end) {
    uint64_t *table = (uint64_t *)e->pml4;
    for (int level = EPT_TOP_LEVEL;; level--) {
      uint64_t *pte = &table[level_index(gpa, level)];
      uint64_t span = level_span(level);
      /* An existing table is filled in below rather than replaced: its pages could not be freed. */
      if (level <= max_leaf && ((gpa | hpa) & (span - 1U)) == 0U && end - gpa >= span &&
          !is_table(*pte, level)) {
        *pte = make_leaf(hpa, prot, memtype, level);
        gpa += span;
        hpa += span;
        break;
      }
      if (!is_table(*pte, level)) {
        int rc = push_down(e, pte, level);
        if (rc != EPT_OK) {
          return rc;
        }
      }
      table = table_of(e, *pte);
    }
  }
  return EPT_OK;
}

int ept_identity_map(struct ept *e, uint64_t top, const struct mtrr_state *mtrr) {
  return ept_identity_map_range(e, 0, top, mtrr);
}

int ept_identity_map_range(struct ept *e, uint64_t base, uint64_t top,
                           const struct mtrr_state *mtrr) {
  if (top > EPT_GPA_LIMIT || (base & EPT_PAGE_MASK) != 0U || base > top) {
    return EPT_ERR_INVALID;
  }
  top = (top + EPT_PAGE_MASK) & ~EPT_PAGE_MASK;
  if (mtrr->phys_addr_bits != 0U && mtrr->phys_addr_bits < 64U &&
      top > (1ULL << mtrr->phys_addr_bits)) {
    return EPT_ERR_INVALID;
  }
  const int max_leaf = leaf_limit(e);

  for (uint64_t pa = base; pa < top;) {
    uint8_t type = MTRR_TYPE_UC;
    uint64_t span = EPT_PAGE_SIZE;
    for (int level = max_leaf; level >= EPT_LEVEL_4K; level--) {
      span = level_span(level);
      if (level == EPT_LEVEL_4K) {
        type = mtrr_type_of(mtrr, pa);
        break;
      }
      if ((pa & (span - 1U)) == 0U && top - pa >= span &&
          mtrr_range_uniform(mtrr, pa, span, &type)) {
        break;
      }
    }
    int rc = ept_map(e, pa, pa, span, EPT_RWX, type);
    if (rc != EPT_OK) {
      return rc;
    }
    pa += span;
  }
  return EPT_OK;
}

int ept_set_prot(struct ept *e, uint64_t gpa, uint64_t size, uint32_t prot) {
  if (!valid_gpa_range(gpa, size) || !valid_prot(prot)) {
    return EPT_ERR_INVALID;
  }
  const uint64_t end = gpa + size;

  while (gpa < end) {
    uint64_t *table = (uint64_t *)e->pml4;
    for (int level = EPT_TOP_LEVEL;; level--) {
      uint64_t *pte = &table[level_index(gpa, level)];
      uint64_t span = level_span(level);
      uint64_t span_end = (gpa & ~(span - 1U)) + span;
      bool whole = (gpa & (span - 1U)) == 0U && end - gpa >= span;
      /* Nothing mapped, or already as asked: no need to split, skip the whole span. */
      if (*pte == 0U || (is_leaf(*pte, level) && (*pte & EPTE_PROT_MASK) == prot)) {
        gpa = span_end < end ? span_end : end;
        break;
      }
      if (is_leaf(*pte, level) && whole) {
        *pte = (*pte & ~EPTE_PROT_MASK) | prot;
        gpa += span;
        break;
      }
      if (is_leaf(*pte, level)) {
        int rc = push_down(e, pte, level);
        if (rc != EPT_OK) {
          return rc;
        }
      }
      table = table_of(e, *pte);
    }
  }
  return EPT_OK;
}

uint64_t ept_lookup(const struct ept *e, uint64_t gpa, uint32_t *prot, uint8_t *memtype,
                    int *level) {
  uint32_t out_prot = 0;
  uint8_t out_type = 0;
  int lvl = EPT_TOP_LEVEL;
  uint64_t hpa = EPT_NOT_PRESENT;

  if (gpa < EPT_GPA_LIMIT) {
    const uint64_t *table = (const uint64_t *)e->pml4;
    for (;; lvl--) {
      uint64_t pte = table[level_index(gpa, lvl)];
      if (is_leaf(pte, lvl)) {
        uint64_t span = level_span(lvl);
        out_prot = (uint32_t)(pte & EPTE_PROT_MASK);
        out_type = (uint8_t)((pte >> EPTE_MEMTYPE_SHIFT) & 0x7U);
        if (out_prot != 0U) {
          hpa = (pte & EPTE_ADDR_MASK) + (gpa & (span - 1U));
        }
        break;
      }
      if (!is_table(pte, lvl)) {
        break;
      }
      table = table_of(e, pte);
    }
  }
  if (prot != NULL) {
    *prot = out_prot;
  }
  if (memtype != NULL) {
    *memtype = out_type;
  }
  if (level != NULL) {
    *level = lvl;
  }
  return hpa;
}
