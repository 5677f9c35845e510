/* SPDX-License-Identifier: Apache-2.0 */
/* What the red-team programs share: PALs made of raw machine code, and how they report. */
#ifndef REDTEAM_RT_H
#define REDTEAM_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hypapps/trustvisor/tv_abi.h"
#include "pal_demo/caller.h"

/*
 * Every attack prints one evidence line the cell judge requires,
 *   XHV-GUEST: redteam_<attack>=<verdict> <details>
 * where the verdict says the attack was made and failed safely (the judge
 * checks the word), and the details show it was really made. An attack that
 * succeeds, or could not be made, prints XHV-RESULT: FAIL and exits 1.
 */
void rt_evidence(const char *attack, const char *verdict, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
__attribute__((noreturn, format(printf, 2, 3))) void rt_fail(const char *attack, const char *fmt,
                                                              ...);

/*
 * Registers a PAL whose code is the `len` bytes at `code` (its entry is the
 * first byte), with `params` (NULL: none), on fresh CODE, DATA, STACK and
 * PARAM pages (pal_demo/caller.h). Exits on failure.
 */
uintptr_t rt_register(struct pal_handle *pal, const void *code, size_t len,
                      const struct tv_pal_params *params);

/* The CS and SS selectors this code runs with now. */
uint16_t rt_cs(void);
uint16_t rt_ss(void);

#endif /* REDTEAM_RT_H */
