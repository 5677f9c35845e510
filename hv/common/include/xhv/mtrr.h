/* SPDX-License-Identifier: Apache-2.0 */
/* MTRR memory types: a snapshot of the MTRR MSRs and the type they give each physical address. */
#ifndef XHV_MTRR_H
#define XHV_MTRR_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/* Memory type encodings; EPT entries (bits 5:3) use the same values. */
#define MTRR_TYPE_UC 0U
#define MTRR_TYPE_WC 1U
#define MTRR_TYPE_WT 4U
#define MTRR_TYPE_WP 5U
#define MTRR_TYPE_WB 6U

#define MSR_IA32_MTRRCAP 0xFEU
#define MSR_IA32_MTRR_DEF_TYPE 0x2FFU
#define MSR_IA32_MTRR_PHYSBASE0 0x200U /* PHYSBASEn = 0x200 + 2n, PHYSMASKn = 0x201 + 2n */
#define MSR_IA32_MTRR_FIX64K_00000 0x250U
#define MSR_IA32_MTRR_FIX16K_80000 0x258U
#define MSR_IA32_MTRR_FIX16K_A0000 0x259U
#define MSR_IA32_MTRR_FIX4K_C0000 0x268U /* ... through 0x26F for 0xF8000 */

#define MTRRCAP_VCNT_MASK 0xFFULL
#define MTRRCAP_FIX (1ULL << 8)
#define MTRR_DEF_TYPE_MASK 0xFFULL
#define MTRR_DEF_TYPE_FE (1ULL << 10)
#define MTRR_DEF_TYPE_E (1ULL << 11)
#define MTRR_PHYSMASK_VALID (1ULL << 11)

#define MTRR_MAX_VAR 16U
#define MTRR_FIXED_COUNT 11U
/* The fixed-range MTRRs cover [0, 1 MiB). */
#define MTRR_FIXED_END 0x100000ULL

struct mtrr_var {
  uint64_t base; /* IA32_MTRR_PHYSBASEn: address bits and the type in 7:0 */
  uint64_t mask; /* IA32_MTRR_PHYSMASKn: address mask and the valid bit 11 */
};

/*
 * The MTRR MSRs as one CPU has them. fixed[] is in MSR order: 0x250,
 * 0x258, 0x259, 0x268..0x26F; each byte types one sub-range.
 */
struct mtrr_state {
  uint64_t cap;
  uint64_t def_type;
  uint64_t fixed[MTRR_FIXED_COUNT];
  uint32_t var_count;
  struct mtrr_var var[MTRR_MAX_VAR];
  uint8_t phys_addr_bits; /* MAXPHYADDR; 0 is read as 36 */
};

/* MAXPHYADDR: CPUID 0x80000008 EAX[7:0], or 36 where that leaf is absent or says 0. */
uint32_t cpu_phys_addr_bits(void);

/*
 * Fills *s from this CPU's MSRs (cpu_rdmsr) and MAXPHYADDR (CPUID
 * 0x80000008, else 36). Without MTRRs (CPUID.1:EDX[12] clear) *s says
 * "disabled"; only MSRs that MTRRCAP says exist are read; var_count is
 * capped at MTRR_MAX_VAR.
 */
void mtrr_read(struct mtrr_state *s);

/*
 * The memory type the MTRRs give physical address pa ("MTRR Precedences"):
 * UC when disabled; the fixed range below 1 MiB when enabled; overlapping
 * variable ranges: UC wins, WT beats WB, other conflicts (undefined) give UC;
 * no variable match gives the default type.
 */
uint8_t mtrr_type_of(const struct mtrr_state *s, uint64_t pa);

/*
 * True when every byte of [base, base + size) has the same MTRR type, then
 * stored in *type (left alone otherwise). The range is widened to 4 KiB
 * pages; size 0 or a range wrapping past 2^64 gives false.
 */
bool mtrr_range_uniform(const struct mtrr_state *s, uint64_t base, uint64_t size, uint8_t *type);

XHV_END_DECLS

#endif /* XHV_MTRR_H */
