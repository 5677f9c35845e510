/* SPDX-License-Identifier: Apache-2.0 */
/* The guest MSR policy, in one table, and the MSR bitmap built from it. */
#ifndef XHV_MSR_POLICY_H
#define XHV_MSR_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * What a guest RDMSR or WRMSR does (msr_policy.c has the table and the
 * reasons). Everything not in the table reaches the hardware MSR directly:
 * the guest's own MSRs (EFER, PAT, SYSENTER_*, DEBUGCTL, FS/GS bases in
 * 64-bit images) are switched by the VMCS on every entry and exit.
 *   APIC_BASE       reads pass; a write that changes anything is #GP
 *   MTRRs           reads pass; writes are dropped
 *   BIOS_UPDT_TRIG  writes are dropped (no microcode loads from the guest)
 *   VMX, Intel PT   #GP: not there for the guest (CPUID says so)
 *   i386 image      IA32_FS/GS/KERNEL_GS_BASE, STAR, LSTAR, CSTAR, FMASK:
 *                   #GP, as on a CPU without long mode; EFER.LME: #GP
 * A PAL runs at CPL 3, where RDMSR and WRMSR fault before they could exit:
 * a PAL touches no MSR, and TrustVisor ends a PAL on any fault.
 */
enum msr_action {
  MSR_PASS = 0,        /* no exit: the hardware MSR */
  MSR_GP = 1,          /* #GP */
  MSR_WRITE_DROP = 2,  /* (writes) the instruction completes, the MSR keeps its value */
  MSR_WRITE_CHECK = 3, /* (writes) msr_check_write decides */
};

/* What happens to a guest RDMSR (write = false) or WRMSR of `msr`, in this image. */
enum msr_action msr_policy(uint32_t msr, bool write);
/* The same for the image of `image_bits` (32 or 64): both tables testable on one host. */
enum msr_action msr_policy_image(uint32_t image_bits, uint32_t msr, bool write);

/* For MSR_WRITE_CHECK: what a write of `value` does, given the MSR's `current` value. */
enum msr_write {
  MSR_WRITE_HARDWARE,   /* write the hardware MSR */
  MSR_WRITE_GUEST_EFER, /* the VMCS's guest EFER (the hardware's is the host's) */
  MSR_WRITE_FAULT,      /* #GP */
};
enum msr_write msr_check_write(uint32_t msr, uint64_t value, uint64_t current);

/*
 * Fills a zeroed 4 KiB MSR bitmap (SDM "MSR-Bitmap Address") so exactly
 * the accesses msr_policy does not pass through cause VM exits.
 */
void msr_bitmap_build(uint8_t *bitmap);

/* True if the bitmap makes a guest RDMSR/WRMSR of `msr` exit. */
bool msr_bitmap_exits(const uint8_t *bitmap, uint32_t msr, bool write);

XHV_END_DECLS

#endif /* XHV_MSR_POLICY_H */
