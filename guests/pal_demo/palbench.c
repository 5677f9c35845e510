/* SPDX-License-Identifier: Apache-2.0 */
/*
 * palbench N: what PAL operations cost, in guest TSC ticks, beside the
 * hypercall they are made of. Each figure is the median of N single
 * operations timed the same way (RDTSC fenced on both sides; hvcheck bench
 * times CPUID and hypercalls in self-calibrated loops instead):
 *   pal_vmcall     the core's non-quiescing hypercall: one exit, nothing else
 *   pal_register   TV_HC_REG of a 4-page PAL (pages mapped once, beforehand)
 *   pal_call       one call of my_pal: entry and exit through the EPT
 *   pal_unregister TV_HC_UNREG (scrubs DATA, STACK and PARAM)
 * Prints XHV-GUEST: bench_<name>_ticks=<median> lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

#define PAGE_BYTES 4096U
#define XHV_HC_NOP 0x58480000U
#define MAX_RUNS 1001

static inline uint64_t tsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
  return ((uint64_t)hi << 32) | lo;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static void report(const char *name, uint64_t *t, int n) {
  qsort(t, (size_t)n, sizeof(*t), cmp_u64);
  printf("XHV-GUEST: bench_%s_ticks=%llu\n", name, (unsigned long long)t[n / 2]);
}

static void *page(void) {
  void *p = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mlock(p, PAGE_BYTES) != 0) {
    printf("XHV-RESULT: FAIL palbench: cannot map a pinned page\n");
    exit(1);
  }
  memset(p, 0x90, PAGE_BYTES);
  return p;
}

int main(int argc, char **argv) {
  int n = argc == 2 ? atoi(argv[1]) : 0;
  if (n < 1 || n > MAX_RUNS) {
    fprintf(stderr, "usage: palbench N (1..%d)\n", MAX_RUNS);
    return 2;
  }
  tv_require_present();
  static uint64_t t[MAX_RUNS];
  for (int i = 0; i < n; i++) {
    uint64_t t0 = tsc();
    tv_vmcall(XHV_HC_NOP, 0, 0, 0, 0);
    t[i] = tsc() - t0;
  }
  report("pal_vmcall", t, n);

  /* One PAL's pages, registered and unregistered n times. */
  void *code = page(), *data = page(), *stack = page(), *param = page();
  uintptr_t begin = (uintptr_t)begin_pal_c;
  memcpy(code, (const void *)begin, (uintptr_t)end_pal_c - begin);
  uintptr_t entry = (uintptr_t)code + ((uintptr_t)my_pal - begin);
  struct tv_pal_sections sections = {4, 0, {{TV_PAL_SECTION_CODE, 1, (uintptr_t)code},
                                            {TV_PAL_SECTION_DATA, 1, (uintptr_t)data},
                                            {TV_PAL_SECTION_STACK, 1, (uintptr_t)stack},
                                            {TV_PAL_SECTION_PARAM, 1, (uintptr_t)param}}};
  struct tv_pal_params params = {2, 0, {{TV_PAL_ARG_INTEGER, 0, 0}, {TV_PAL_ARG_POINTER, 0, 1}}};
  static uint64_t reg[MAX_RUNS], call[MAX_RUNS], unreg[MAX_RUNS];
  for (int i = 0; i < n; i++) {
    uint64_t t0 = tsc();
    uintptr_t ret = tv_vmcall(TV_HC_REG, (uintptr_t)&sections, 0, (uintptr_t)&params, entry);
    reg[i] = tsc() - t0;
    if (ret != 0U) {
      printf("XHV-RESULT: FAIL palbench: TV_HC_REG returned 0x%lx\n", (unsigned long)ret);
      return 1;
    }
    uintptr_t b = 1;
    t0 = tsc();
    uintptr_t sum = ((my_pal_fn)entry)(2U | PAL_FLAG_MASK, &b);
    call[i] = tsc() - t0;
    t0 = tsc();
    ret = tv_vmcall(TV_HC_UNREG, entry, 0, 0, 0);
    unreg[i] = tsc() - t0;
    if (sum != 3U || b != 2U || ret != 0U) {
      printf("XHV-RESULT: FAIL palbench: my_pal(2, &1) gave %lu and b=%lu, unregister 0x%lx\n",
             (unsigned long)sum, (unsigned long)b, (unsigned long)ret);
      return 1;
    }
  }
  report("pal_register", reg, n);
  report("pal_call", call, n);
  report("pal_unregister", unreg, n);
  return 0;
}
