/* SPDX-License-Identifier: Apache-2.0 */
/* Which guest MSR accesses the hypervisor intercepts, and the MSR bitmap that says so. */
#ifndef XHV_MSR_POLICY_H
#define XHV_MSR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

enum msr_action {
  MSR_PASS = 0,          /* the guest reaches the hardware MSR directly */
  MSR_GP = 1,            /* does not exist for the guest: #GP (VMX capability MSRs) */
  MSR_MTRR_SHADOW = 2,   /* MTRRs: the guest reads and writes its own copy */
};

/* Shadowed MTRRs: PHYSBASE/MASK 0..9, the 11 fixed-range MTRRs, DEF_TYPE. */
#define MTRR_SHADOW_SLOTS 32U

/* What happens to a guest RDMSR (write = false) or WRMSR of `msr`. */
enum msr_action msr_policy(uint32_t msr, bool write);

/* Slot of an MTRR in the per-CPU shadow, or -1 if `msr` is not one. */
int mtrr_shadow_slot(uint32_t msr);

/*
 * Fills a zeroed 4 KiB MSR bitmap (SDM "MSR-Bitmap Address") so exactly
 * the accesses msr_policy does not pass through cause VM exits.
 */
void msr_bitmap_build(uint8_t *bitmap);

/* True if the bitmap makes a guest RDMSR/WRMSR of `msr` exit. */
bool msr_bitmap_exits(const uint8_t *bitmap, uint32_t msr, bool write);

XHV_END_DECLS

#endif /* XHV_MSR_POLICY_H */
