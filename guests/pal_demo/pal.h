/* SPDX-License-Identifier: Apache-2.0 */
/* The demo PAL functions: native-callable, and copyable into a PAL code page as one range. */
#ifndef PAL_DEMO_PAL_H
#define PAL_DEMO_PAL_H

#include <stdint.h>

#include "pal_demo/pal_math.h"

/*
 * begin_pal_c and end_pal_c do nothing: their addresses bound the bytes
 * register_pal copies. Everything between them is position independent
 * and self-contained (pal.c is built for that and checked with objdump).
 *
 * Each PAL function takes PAL_FLAG_MASK in its first argument (for
 * pal_10_ptr: in *a0) when it is called through a PAL, clears it, and
 * returns PAL_ERR_* instead of its result if TrustVisor's CPUID leaf
 * disagrees about where it runs. Arguments and results are machine words,
 * so 32-bit (cdecl) and 64-bit (SysV) callers use the same source.
 */
void begin_pal_c(void);

/* The CPUID check above on *first_arg: 0 or PAL_ERR_*. */
uintptr_t pal_check_cpuid(uintptr_t *first_arg);

/* a + (*b)++. */
uintptr_t my_pal(uintptr_t a, uintptr_t *b);

/* Sum of a_i * (i + 1). */
uintptr_t pal_10_int(uintptr_t a0, uintptr_t a1, uintptr_t a2, uintptr_t a3, uintptr_t a4,
                     uintptr_t a5, uintptr_t a6, uintptr_t a7, uintptr_t a8, uintptr_t a9);

/* Sum of (*a_i)++ * (i + 1). */
uintptr_t pal_10_ptr(uintptr_t *a0, uintptr_t *a1, uintptr_t *a2, uintptr_t *a3, uintptr_t *a4,
                     uintptr_t *a5, uintptr_t *a6, uintptr_t *a7, uintptr_t *a8, uintptr_t *a9);

/* pal_weigh_and_bump over five arrays in order, coefficients running 1, 2, 3, ... */
uintptr_t pal_5_ptr(uintptr_t size0, uintptr_t *ptr0, uintptr_t size1, uintptr_t *ptr1,
                    uintptr_t size2, uintptr_t *ptr2, uintptr_t size3, uintptr_t *ptr3,
                    uintptr_t size4, uintptr_t *ptr4);

/*
 * Isolation check: fills words of the PAL's own DATA page (data, passed as
 * an INTEGER: it is the same address inside the PAL) with secret ^ i, and
 * returns their sum. Nothing outside the PAL may ever read them.
 */
uintptr_t pal_stash(uintptr_t secret, uintptr_t *data, uintptr_t words);

void end_pal_c(void);

/* The same functions reached through a PAL entry address. */
typedef uintptr_t (*my_pal_fn)(uintptr_t, uintptr_t *);
typedef uintptr_t (*pal_10_int_fn)(uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t,
                                   uintptr_t, uintptr_t, uintptr_t, uintptr_t);
typedef uintptr_t (*pal_10_ptr_fn)(uintptr_t *, uintptr_t *, uintptr_t *, uintptr_t *, uintptr_t *,
                                   uintptr_t *, uintptr_t *, uintptr_t *, uintptr_t *, uintptr_t *);
typedef uintptr_t (*pal_stash_fn)(uintptr_t, uintptr_t *, uintptr_t);
typedef uintptr_t (*pal_5_ptr_fn)(uintptr_t, uintptr_t *, uintptr_t, uintptr_t *, uintptr_t,
                                  uintptr_t *, uintptr_t, uintptr_t *, uintptr_t, uintptr_t *);

#endif /* PAL_DEMO_PAL_H */
