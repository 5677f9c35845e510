/* SPDX-License-Identifier: Apache-2.0 */
/* MTRR memory types: read the MSRs once, then answer "what type is this address / this range". */
#include "xhv/mtrr.h"

#include "xhv/cpu_ops.h"

#define PAGE_SHIFT 12U
#define PAGE_MASK 0xFFFULL

#define CPUID_FEATURES 1U
#define CPUID_EDX_MTRR (1U << 12)
#define CPUID_EXT_MAX 0x80000000U
#define CPUID_EXT_ADDR_SIZES 0x80000008U
/* What the SDM says to assume when CPUID 0x80000008 is absent. */
#define DEFAULT_PHYS_ADDR_BITS 36U
/* EPT and the page tables stop at 52 address bits. */
#define MAX_PHYS_ADDR_BITS 52U

/* The fixed-range layout: where each group starts and how many bits one byte covers. */
#define FIXED_16K_START 0x80000ULL
#define FIXED_4K_START 0xC0000ULL
#define FIXED_64K_SHIFT 16U
#define FIXED_16K_SHIFT 14U
#define FIXED_4K_SHIFT 12U
/* A fixed MSR holds 8 one-byte types. */
#define FIXED_TYPES_PER_MSR_SHIFT 3U
#define FIXED_TYPE_INDEX_MASK 7U
#define FIXED_16K_FIRST_MSR 1U
#define FIXED_4K_FIRST_MSR 3U

uint32_t cpu_phys_addr_bits(void) {
  struct cpuid_regs r;
  cpu_cpuid(CPUID_EXT_MAX, 0, &r);
  if (r.eax >= CPUID_EXT_ADDR_SIZES) {
    cpu_cpuid(CPUID_EXT_ADDR_SIZES, 0, &r);
    if ((r.eax & 0xFFU) != 0U) {
      return r.eax & 0xFFU;
    }
  }
  return DEFAULT_PHYS_ADDR_BITS;
}

void mtrr_read(struct mtrr_state *s) {
  static const uint32_t fixed_msr[MTRR_FIXED_COUNT] = {
      MSR_IA32_MTRR_FIX64K_00000, MSR_IA32_MTRR_FIX16K_80000, MSR_IA32_MTRR_FIX16K_A0000,
      MSR_IA32_MTRR_FIX4K_C0000,  MSR_IA32_MTRR_FIX4K_C0000 + 1U, MSR_IA32_MTRR_FIX4K_C0000 + 2U,
      MSR_IA32_MTRR_FIX4K_C0000 + 3U, MSR_IA32_MTRR_FIX4K_C0000 + 4U,
      MSR_IA32_MTRR_FIX4K_C0000 + 5U, MSR_IA32_MTRR_FIX4K_C0000 + 6U,
      MSR_IA32_MTRR_FIX4K_C0000 + 7U,
  };
  struct cpuid_regs r;

  s->cap = 0;
  s->def_type = 0;
  s->var_count = 0;
  for (uint32_t i = 0; i < MTRR_FIXED_COUNT; i++) {
    s->fixed[i] = 0;
  }
  for (uint32_t i = 0; i < MTRR_MAX_VAR; i++) {
    s->var[i].base = 0;
    s->var[i].mask = 0;
  }

  s->phys_addr_bits = (uint8_t)cpu_phys_addr_bits();

  /* The MTRR MSRs #GP when absent; a zero DEF_TYPE then says "disabled". */
  cpu_cpuid(CPUID_FEATURES, 0, &r);
  if ((r.edx & CPUID_EDX_MTRR) == 0U) {
    return;
  }
  s->cap = cpu_rdmsr(MSR_IA32_MTRRCAP);
  s->def_type = cpu_rdmsr(MSR_IA32_MTRR_DEF_TYPE);
  if ((s->cap & MTRRCAP_FIX) != 0U) {
    for (uint32_t i = 0; i < MTRR_FIXED_COUNT; i++) {
      s->fixed[i] = cpu_rdmsr(fixed_msr[i]);
    }
  }
  uint32_t count = (uint32_t)(s->cap & MTRRCAP_VCNT_MASK);
  s->var_count = count < MTRR_MAX_VAR ? count : MTRR_MAX_VAR;
  for (uint32_t i = 0; i < s->var_count; i++) {
    s->var[i].base = cpu_rdmsr(MSR_IA32_MTRR_PHYSBASE0 + 2U * i);
    s->var[i].mask = cpu_rdmsr(MSR_IA32_MTRR_PHYSBASE0 + 2U * i + 1U);
  }
}

static bool mtrrs_enabled(const struct mtrr_state *s) {
  return (s->def_type & MTRR_DEF_TYPE_E) != 0U;
}

static bool fixed_enabled(const struct mtrr_state *s) {
  return mtrrs_enabled(s) && (s->cap & MTRRCAP_FIX) != 0U &&
         (s->def_type & MTRR_DEF_TYPE_FE) != 0U;
}

/* Physical address bits the variable-range masks compare. */
static uint64_t phys_addr_mask(const struct mtrr_state *s) {
  uint32_t bits = s->phys_addr_bits;
  if (bits == 0U) {
    bits = DEFAULT_PHYS_ADDR_BITS;
  } else if (bits > MAX_PHYS_ADDR_BITS) {
    bits = MAX_PHYS_ADDR_BITS;
  }
  return ((1ULL << bits) - 1U) & ~PAGE_MASK;
}

/* log2 of the span one fixed-range byte types at pa (< 1 MiB). */
static uint32_t fixed_unit_shift(uint64_t pa) {
  if (pa < FIXED_16K_START) {
    return FIXED_64K_SHIFT;
  }
  return pa < FIXED_4K_START ? FIXED_16K_SHIFT : FIXED_4K_SHIFT;
}

static uint8_t fixed_type(const struct mtrr_state *s, uint64_t pa) {
  uint64_t unit;
  uint32_t msr;
  if (pa < FIXED_16K_START) {
    unit = pa >> FIXED_64K_SHIFT;
    msr = 0U;
  } else if (pa < FIXED_4K_START) {
    unit = (pa - FIXED_16K_START) >> FIXED_16K_SHIFT;
    msr = FIXED_16K_FIRST_MSR;
  } else {
    unit = (pa - FIXED_4K_START) >> FIXED_4K_SHIFT;
    msr = FIXED_4K_FIRST_MSR;
  }
  msr += (uint32_t)(unit >> FIXED_TYPES_PER_MSR_SHIFT);
  uint32_t byte = (uint32_t)(unit & FIXED_TYPE_INDEX_MASK);
  return (uint8_t)(s->fixed[msr] >> (8U * byte));
}

/* One bit per type value; reserved encodings count as UC ("undefined" is never cached). */
static uint32_t type_bit(uint64_t type) {
  return type <= MTRR_TYPE_WB ? 1U << type : 1U << MTRR_TYPE_UC;
}

/* "MTRR Precedences" for the set of types of the variable ranges that match. */
static uint8_t combine_var_types(uint32_t seen, uint8_t def_type) {
  if (seen == 0U) {
    return def_type;
  }
  if ((seen & (seen - 1U)) == 0U) {
    return (uint8_t)__builtin_ctz(seen);
  }
  if (seen == (type_bit(MTRR_TYPE_WT) | type_bit(MTRR_TYPE_WB))) {
    return MTRR_TYPE_WT;
  }
  /* UC with anything is UC; any other mix is undefined, and UC is the safe answer. */
  return MTRR_TYPE_UC;
}

enum var_match { VAR_NONE, VAR_ALL, VAR_PARTIAL };

/*
 * How variable range v covers the aligned block [a, a + 2^k): the address
 * bits at or above k are fixed inside the block, so they decide "none";
 * a mask bit below k means only some addresses of the block match.
 */
static enum var_match var_covers(const struct mtrr_state *s, const struct mtrr_var *v,
                                 uint64_t a, uint32_t k) {
  uint64_t mask = v->mask & phys_addr_mask(s);
  uint64_t low = (1ULL << k) - 1U;
  if (((a ^ v->base) & mask & ~low) != 0U) {
    return VAR_NONE;
  }
  return (mask & low) == 0U ? VAR_ALL : VAR_PARTIAL;
}

/*
 * True (type in *type) when the aligned block [a, a + 2^k), k >= 12, has one
 * type. Blocks some range covers only in part are halved until they are
 * uniform or disagree; at 4 KiB every range covers all or nothing, so the
 * recursion ends there (depth <= 52).
 */
static bool block_type(const struct mtrr_state *s, uint64_t a, uint32_t k, uint8_t *type) {
  bool split = false;

  if (!mtrrs_enabled(s)) {
    *type = MTRR_TYPE_UC;
    return true;
  }
  if (fixed_enabled(s) && a < MTRR_FIXED_END) {
    /* Variable ranges do not apply below 1 MiB while the fixed ones are on. */
    if (k <= fixed_unit_shift(a)) {
      *type = fixed_type(s, a);
      return true;
    }
    split = true;
  } else {
    uint32_t seen = 0;
    for (uint32_t i = 0; i < s->var_count && i < MTRR_MAX_VAR && !split; i++) {
      const struct mtrr_var *v = &s->var[i];
      if ((v->mask & MTRR_PHYSMASK_VALID) == 0U) {
        continue;
      }
      enum var_match m = var_covers(s, v, a, k);
      if (m == VAR_PARTIAL) {
        split = true;
      } else if (m == VAR_ALL) {
        seen |= type_bit(v->base & 0xFFU);
      }
    }
    if (!split) {
      *type = combine_var_types(seen, (uint8_t)(s->def_type & MTRR_DEF_TYPE_MASK));
      return true;
    }
  }

  uint8_t lo_type, hi_type;
  uint64_t half = 1ULL << (k - 1U);
  if (!block_type(s, a, k - 1U, &lo_type) || !block_type(s, a + half, k - 1U, &hi_type) ||
      lo_type != hi_type) {
    return false;
  }
  *type = lo_type;
  return true;
}

uint8_t mtrr_type_of(const struct mtrr_state *s, uint64_t pa) {
  uint8_t type = MTRR_TYPE_UC;
  (void)block_type(s, pa & ~PAGE_MASK, PAGE_SHIFT, &type);
  return type;
}

bool mtrr_range_uniform(const struct mtrr_state *s, uint64_t base, uint64_t size, uint8_t *type) {
  if (size == 0U || base + size < base) {
    return false;
  }
  /* Page numbers keep the block arithmetic clear of 2^64. */
  uint64_t page = base >> PAGE_SHIFT;
  uint64_t pages = ((base + size - 1U) >> PAGE_SHIFT) - page + 1U;
  bool first = true;
  uint8_t want = MTRR_TYPE_UC;

  /* Cover the range with maximal aligned power-of-two blocks. */
  while (pages != 0U) {
    uint32_t order = 63U - (uint32_t)__builtin_clzll(pages);
    if (page != 0U && (uint32_t)__builtin_ctzll(page) < order) {
      order = (uint32_t)__builtin_ctzll(page);
    }
    /* [0, 2^64) would be a 2^64 block, too big for the mask arithmetic. */
    if (order > 63U - PAGE_SHIFT) {
      order = 63U - PAGE_SHIFT;
    }
    uint8_t t;
    if (!block_type(s, page << PAGE_SHIFT, PAGE_SHIFT + order, &t) || (!first && t != want)) {
      return false;
    }
    want = t;
    first = false;
    page += 1ULL << order;
    pages -= 1ULL << order;
  }
  *type = want;
  return true;
}
