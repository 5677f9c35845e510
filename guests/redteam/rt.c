/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence lines and raw-code PALs for the red-team programs. */
#include "redteam/rt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_evidence(const char *attack, const char *verdict, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("XHV-GUEST: redteam_%s=%s ", attack, verdict);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

void rt_fail(const char *attack, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("XHV-RESULT: FAIL redteam %s: ", attack);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  exit(1);
}

uintptr_t rt_register(struct pal_handle *pal, const void *code, size_t len,
                      const struct tv_pal_params *params) {
  static const struct tv_pal_params none = {0, 0, {{0, 0, 0}}};
  uintptr_t begin = (uintptr_t)code;
  return register_pal(pal, params ? params : &none, begin, begin, begin + len, false);
}

uint16_t rt_cs(void) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  return cs;
}

uint16_t rt_ss(void) {
  uint16_t ss;
  __asm__ volatile("mov %%ss, %0" : "=r"(ss));
  return ss;
}
