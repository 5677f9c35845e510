/* SPDX-License-Identifier: Apache-2.0 */
/* Guest side of the TrustVisor interface: the VMCALL and CPUID wrappers and the presence check. */
#ifndef PAL_DEMO_VMCALL_H
#define PAL_DEMO_VMCALL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hypapps/trustvisor/tv_abi.h"

/*
 * Issues hypercall `nr` with arguments in ECX/RCX, EDX/RDX, ESI/RSI and
 * EDI/RDI, and returns EAX/RAX. The hypervisor may change the argument
 * registers and read or write the memory they point to.
 */
static inline uintptr_t tv_vmcall(uintptr_t nr, uintptr_t cx, uintptr_t dx, uintptr_t si,
                                  uintptr_t di) {
  __asm__ volatile("vmcall" : "+a"(nr), "+c"(cx), "+d"(dx), "+S"(si), "+D"(di) : : "memory");
  return nr;
}

/*
 * CPUID leaf `leaf`, subleaf 0, into out[0..3] = EAX, EBX, ECX, EDX.
 * Always inlined: the PAL functions use it and must not call out of their
 * copied range.
 */
static inline __attribute__((always_inline)) void tv_cpuid(uint32_t leaf, uint32_t out[4]) {
  uint32_t a = leaf, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
}

/* Exits with status 1 and a message unless TrustVisor answers its CPUID leaf. */
static inline void tv_require_present(void) {
  uint32_t r[4];
  tv_cpuid(TV_CPUID_LEAF, r);
  if (r[0] != TV_CPUID_SIGNATURE) {
    printf("Error: TrustVisor not present according to CPUID\n");
    exit(1);
  }
}

#endif /* PAL_DEMO_VMCALL_H */
