/* SPDX-License-Identifier: Apache-2.0 */
/* The demo PAL functions, kept in source order between begin_pal_c and end_pal_c. */
#include "pal_demo/pal.h"

#include "pal_demo/vmcall.h"

/*
 * Build rules (BUILD, :pal): no PIC, no stack protector, no SSE (TrustVisor
 * sets CR0.EM inside a PAL), no jump tables, no -ffunction-sections. No
 * globals, string literals or libc here: only these bytes are copied.
 */

void begin_pal_c(void) {}

uintptr_t pal_check_cpuid(uintptr_t *first_arg) {
  int expect_in_pal = pal_take_flag(first_arg);
  uint32_t r[4];
  tv_cpuid(TV_CPUID_LEAF, r);
  return pal_cpuid_verdict(expect_in_pal, r[0], r[1]);
}

uintptr_t my_pal(uintptr_t a, uintptr_t *b) {
  uintptr_t err = pal_check_cpuid(&a);
  if (err != 0U) {
    return err;
  }
  return a + (*b)++;
}

uintptr_t pal_10_int(uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3, uintptr_t a4,
                     uintptr_t a5, uintptr_t a6, uintptr_t a7, uintptr_t a8, uintptr_t a9) {
  uintptr_t err = pal_check_cpuid(&a0);
  if (err != 0U) {
    return err;
  }
  return a0 * 1U + a1 * 2U + a2 * 3U + a3 * 4U + a4 * 5U + a5 * 6U + a6 * 7U + a7 * 8U + a8 * 9U +
         a9 * 10U;
}

uintptr_t pal_10_ptr(uintptr_t *a0, uintptr_t *a1, uintptr_t *a2, uintptr_t *a3, uintptr_t *a4,
                     uintptr_t *a5, uintptr_t *a6, uintptr_t *a7, uintptr_t *a8, uintptr_t *a9) {
  uintptr_t err = pal_check_cpuid(a0);
  if (err != 0U) {
    return err;
  }
  /* One statement per pointer: the arguments may alias. */
  uintptr_t sum = (*a0)++ * 1U;
  sum += (*a1)++ * 2U;
  sum += (*a2)++ * 3U;
  sum += (*a3)++ * 4U;
  sum += (*a4)++ * 5U;
  sum += (*a5)++ * 6U;
  sum += (*a6)++ * 7U;
  sum += (*a7)++ * 8U;
  sum += (*a8)++ * 9U;
  sum += (*a9)++ * 10U;
  return sum;
}

uintptr_t pal_5_ptr(uintptr_t size0, uintptr_t *ptr0, uintptr_t size1, uintptr_t *ptr1,
                    uintptr_t size2, uintptr_t *ptr2, uintptr_t size3, uintptr_t *ptr3,
                    uintptr_t size4, uintptr_t *ptr4) {
  uintptr_t err = pal_check_cpuid(&size0);
  if (err != 0U) {
    return err;
  }
  uintptr_t coef = 1;
  uintptr_t sum = pal_weigh_and_bump(size0, ptr0, &coef);
  sum += pal_weigh_and_bump(size1, ptr1, &coef);
  sum += pal_weigh_and_bump(size2, ptr2, &coef);
  sum += pal_weigh_and_bump(size3, ptr3, &coef);
  sum += pal_weigh_and_bump(size4, ptr4, &coef);
  return sum;
}

uintptr_t pal_stash(uintptr_t secret, uintptr_t *data, uintptr_t words) {
  uintptr_t err = pal_check_cpuid(&secret);
  if (err != 0U) {
    return err;
  }
  uintptr_t sum = 0;
  for (uintptr_t i = 0; i < words; i++) {
    data[i] = secret ^ i;
    sum += data[i];
  }
  return sum;
}

void end_pal_c(void) {}
