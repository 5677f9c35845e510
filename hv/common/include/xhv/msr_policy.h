/* SPDX-License-Identifier: Apache-2.0 */
/* Which guest MSR accesses the hypervisor intercepts, and the MSR bitmap that says so. */
#ifndef XHV_MSR_POLICY_H
#define XHV_MSR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Everything the guest may touch goes straight to the hardware, MTRRs
 * included: Linux only rewrites the values it read (around cache flushes),
 * and shadowing them cost a 64-bit Debian guest 8 s of its boot under Bochs
 * for no gain. The guest's memory types come from the EPT, built from the
 * MTRRs at boot.
 */
enum msr_action {
  MSR_PASS = 0, /* the guest reaches the hardware MSR directly */
  MSR_GP = 1,   /* does not exist for the guest: #GP (VMX capability MSRs) */
};

/* What happens to a guest RDMSR (write = false) or WRMSR of `msr`. */
enum msr_action msr_policy(uint32_t msr, bool write);

/*
 * Fills a zeroed 4 KiB MSR bitmap (SDM "MSR-Bitmap Address") so exactly
 * the accesses msr_policy does not pass through cause VM exits.
 */
void msr_bitmap_build(uint8_t *bitmap);

/* True if the bitmap makes a guest RDMSR/WRMSR of `msr` exit. */
bool msr_bitmap_exits(const uint8_t *bitmap, uint32_t msr, bool write);

XHV_END_DECLS

#endif /* XHV_MSR_POLICY_H */
