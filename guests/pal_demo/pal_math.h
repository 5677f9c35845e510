/* SPDX-License-Identifier: Apache-2.0 */
/* What the demo PALs compute, apart from CPUID: shared by pal.c and its host test. */
#ifndef PAL_DEMO_PAL_MATH_H
#define PAL_DEMO_PAL_MATH_H

/*
 * Everything here is always inlined: pal.c's functions are copied into a
 * PAL code page and must not call anything outside that copy.
 */
#include <stdint.h>

#include "hypapps/trustvisor/tv_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAL_INLINE static inline __attribute__((always_inline))

/* Set in a PAL function's first argument: "you are expected to run inside a PAL". */
#define PAL_FLAG_MASK ((uintptr_t)0x80000000U)

/* A PAL function's result when its CPUID check fails. */
#define PAL_ERR_NO_TRUSTVISOR ((uintptr_t)0xDEAD0001U) /* leaf not answered */
#define PAL_ERR_NOT_IN_PAL ((uintptr_t)0xDEAD0002U)    /* flag set, EBX says outside */
#define PAL_ERR_IN_PAL ((uintptr_t)0xDEAD0003U)        /* flag clear, EBX names a PAL */

/* Added to every element pal_5_ptr sees (truncated to the word on 32-bit). */
#define PAL_5_PTR_ADDEND ((uintptr_t)0x3141592653589793ULL)

/* Removes the PAL flag from *first_arg and returns whether it was set. */
PAL_INLINE int pal_take_flag(uintptr_t *first_arg) {
  int in_pal = (*first_arg & PAL_FLAG_MASK) != 0U;
  *first_arg &= ~PAL_FLAG_MASK;
  return in_pal;
}

/* 0 if TrustVisor's CPUID answer (eax, ebx) matches where we expect to run, else PAL_ERR_*. */
PAL_INLINE uintptr_t pal_cpuid_verdict(int expect_in_pal, uint32_t eax, uint32_t ebx) {
  if (eax != TV_CPUID_SIGNATURE) {
    return PAL_ERR_NO_TRUSTVISOR;
  }
  if (expect_in_pal && ebx == TV_CPUID_NO_PAL) {
    return PAL_ERR_NOT_IN_PAL;
  }
  if (!expect_in_pal && ebx != TV_CPUID_NO_PAL) {
    return PAL_ERR_IN_PAL;
  }
  return 0;
}

/*
 * pal_5_ptr's step for one array: adds each element times the running
 * coefficient (which carries on from array to array), then bumps the
 * element by PAL_5_PTR_ADDEND.
 */
PAL_INLINE uintptr_t pal_weigh_and_bump(uintptr_t n, uintptr_t *a, uintptr_t *coef) {
  uintptr_t sum = 0;
  for (uintptr_t i = 0; i < n; i++) {
    sum += a[i] * (*coef)++;
    a[i] += PAL_5_PTR_ADDEND;
  }
  return sum;
}

#undef PAL_INLINE

#ifdef __cplusplus
}
#endif

#endif /* PAL_DEMO_PAL_MATH_H */
