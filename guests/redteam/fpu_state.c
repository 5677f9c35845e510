/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fpu_state: the caller's x87, SSE and AVX registers across PAL calls.
 *
 * The caller loads a pattern into st(0), xmm0-xmm7 and (with AVX) the upper
 * halves of ymm0-ymm7, then calls PALs that touch those registers (x87
 * fldz, SSE pcmpeqd and movd, AVX vpcmpeqd), one that faults otherwise
 * (ud2) and one that touches none. TrustVisor runs PALs with the FPU off:
 * each FPU, SSE or AVX instruction faults before it reads or writes a
 * register, the PAL ends with TV_ERR_PAL_FAULT, and the caller's registers
 * are its own afterwards, every time. The plain PAL still returns its value.
 */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "pal_demo/vmcall.h"
#include "redteam/rt.h"

#define LANES 8

struct pal_case {
  const char *name;
  uint8_t code[8];
  uintptr_t want; /* what the call must return */
  bool avx;       /* needs AVX to mean anything */
};

static const struct pal_case cases[] = {
    {"x87", {0xD9, 0xEE, 0xC3}, TV_ERR_PAL_FAULT, false},              /* fldz; ret */
    {"sse_write", {0x66, 0x0F, 0x76, 0xC0, 0xC3}, TV_ERR_PAL_FAULT, false}, /* pcmpeqd */
    {"sse_read", {0x66, 0x0F, 0x7E, 0xC0, 0xC3}, TV_ERR_PAL_FAULT, false},  /* movd xmm0,eax */
    {"avx_write", {0xC5, 0xFD, 0x76, 0xC0, 0xC3}, TV_ERR_PAL_FAULT, true},  /* vpcmpeqd ymm0 */
    {"fault", {0x0F, 0x0B, 0xC3}, TV_ERR_PAL_FAULT, false},            /* ud2 */
    {"plain", {0xB8, 0x07, 0x00, 0x00, 0x00, 0xC3}, 7, false},         /* mov $7, %eax; ret */
};

struct vec_state {
  uint8_t xmm[LANES][16];
  uint8_t ymm_hi[LANES][16];
  uint8_t st0[10];
};

static bool have_avx(void) {
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  if (!(c & (1U << 27)) || !(c & (1U << 28))) {
    return false; /* no OSXSAVE or no AVX */
  }
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6U) == 6U;
}

static void fill(struct vec_state *s) {
  for (int i = 0; i < LANES; i++) {
    for (int j = 0; j < 16; j++) {
      s->xmm[i][j] = (uint8_t)(0xA0 + i * 16 + j);
      s->ymm_hi[i][j] = (uint8_t)(0x10 + i * 16 + j);
    }
  }
}

/* The x87 and SSE registers: loaded before, read back after. */
#define XMM_MOVS(op)                                                                            \
  op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7)
#define LOAD_XMM(i) "movdqu " #i "*16(%0), %%xmm" #i "\n\t"
#define SAVE_XMM(i) "movdqu %%xmm" #i ", " #i "*16(%0)\n\t"
#define LOAD_YMM_HI(i) "vinsertf128 $1, " #i "*16(%1), %%ymm" #i ", %%ymm" #i "\n\t"
#define SAVE_YMM_HI(i) "vextractf128 $1, %%ymm" #i ", " #i "*16(%1)\n\t"

__attribute__((target("sse2"))) static void load_sse(const struct vec_state *s) {
  __asm__ volatile(XMM_MOVS(LOAD_XMM) : : "r"(s->xmm) : "memory");
  __asm__ volatile("fninit\n\tfldpi" ::: "memory");
}

__attribute__((target("sse2"))) static void save_sse(struct vec_state *s) {
  __asm__ volatile(XMM_MOVS(SAVE_XMM) : : "r"(s->xmm) : "memory");
  __asm__ volatile("fstpt %0" : "=m"(s->st0));
}

__attribute__((target("avx"))) static void load_avx(const struct vec_state *s) {
  __asm__ volatile(XMM_MOVS(LOAD_XMM) XMM_MOVS(LOAD_YMM_HI)
                   : : "r"(s->xmm), "r"(s->ymm_hi) : "memory");
  __asm__ volatile("fninit\n\tfldpi" ::: "memory");
}

__attribute__((target("avx"))) static void save_avx(struct vec_state *s) {
  __asm__ volatile(XMM_MOVS(SAVE_XMM) XMM_MOVS(SAVE_YMM_HI)
                   : : "r"(s->xmm), "r"(s->ymm_hi) : "memory");
  __asm__ volatile("fstpt %0" : "=m"(s->st0));
}

/*
 * Loads the pattern, calls the PAL at `entry` with nothing in between that
 * could touch the vector registers, and reads them back.
 */
static uintptr_t call_with_pattern(uintptr_t entry, bool avx, const struct vec_state *in,
                                   struct vec_state *out) {
  if (avx) {
    load_avx(in);
  } else {
    load_sse(in);
  }
  uintptr_t ret = ((uintptr_t(*)(void))entry)();
  if (avx) {
    save_avx(out);
  } else {
    save_sse(out);
  }
  return ret;
}

int main(void) {
  tv_require_present();
  bool avx = have_avx();
  struct vec_state pattern, st0_ref;
  memset(&pattern, 0, sizeof(pattern));
  fill(&pattern);
  /* What fldpi leaves in st(0), read the same way, with no PAL in between. */
  load_sse(&pattern);
  save_sse(&st0_ref);
  char details[512];
  int at = 0;
  for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    if (cases[i].avx && !avx) {
      at += snprintf(details + at, sizeof(details) - (size_t)at, "%s:no-avx ", cases[i].name);
      continue;
    }
    struct pal_handle pal;
    uintptr_t entry = rt_register(&pal, cases[i].code, sizeof(cases[i].code), NULL);
    struct vec_state after;
    memset(&after, 0, sizeof(after));
    uintptr_t ret = call_with_pattern(entry, avx, &pattern, &after);
    unregister_pal(&pal);
    bool xmm_ok = memcmp(after.xmm, pattern.xmm, sizeof(after.xmm)) == 0;
    bool ymm_ok = !avx || memcmp(after.ymm_hi, pattern.ymm_hi, sizeof(after.ymm_hi)) == 0;
    bool st0_ok = memcmp(after.st0, st0_ref.st0, sizeof(after.st0)) == 0;
    if (ret != cases[i].want || !xmm_ok || !ymm_ok || !st0_ok) {
      rt_fail("fpu_state", "the %s PAL returned 0x%lx (want 0x%lx); caller's xmm %s, ymm %s, "
              "st(0) %s",
              cases[i].name, (unsigned long)ret, (unsigned long)cases[i].want,
              xmm_ok ? "intact" : "CHANGED", ymm_ok ? "intact" : "CHANGED",
              st0_ok ? "intact" : "CHANGED");
    }
    at += snprintf(details + at, sizeof(details) - (size_t)at, "%s:0x%lx ", cases[i].name,
                   (unsigned long)ret);
  }
  rt_evidence("fpu_state", "intact", "%scaller_xmm0-7=intact caller_ymm=%s caller_st0=intact",
              details, avx ? "intact" : "no-avx");
  return 0;
}
