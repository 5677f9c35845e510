/* SPDX-License-Identifier: Apache-2.0 */
/* test_args FUNCS ITERS SEED: random-argument PAL calls, each checked against a native call. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pal_demo/caller.h"
#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

#define TEST_10_INT 1U
#define TEST_10_PTR 2U
#define TEST_5_PTR 4U
#define ALL_TESTS (TEST_10_INT | TEST_10_PTR | TEST_5_PTR)

#define ARGS_10 10U
#define ARRAYS_5 5U
#define MAX_ARRAY_WORDS 100U /* pal_5_ptr arrays hold 0..99 words */

/* A full machine word from rand(), which gives 31 bits at a time. */
static uintptr_t random_word(void) {
  uint64_t w = 0;
  for (int i = 0; i < 5; i++) {
    w = (w << 15) ^ (uint64_t)(unsigned)rand();
  }
  return (uintptr_t)w;
}

static void progress(void) {
  putchar('.');
  fflush(stdout);
}

static void set_params(struct tv_pal_params *p, unsigned n, const uint32_t *types,
                       const uint64_t *sizes) {
  memset(p, 0, sizeof(*p));
  p->num_params = n;
  for (unsigned i = 0; i < n; i++) {
    p->params[i].type = types[i];
    p->params[i].size = sizes[i];
  }
}

/* One registration of pal_10_int, `iters` calls with ten random integers. */
static bool test_10_int(unsigned iters) {
  uint32_t types[ARGS_10];
  uint64_t sizes[ARGS_10] = {0};
  for (unsigned i = 0; i < ARGS_10; i++) {
    types[i] = TV_PAL_ARG_INTEGER;
  }
  struct tv_pal_params params;
  set_params(&params, ARGS_10, types, sizes);
  struct pal_handle pal;
  pal_10_int_fn in_pal = (pal_10_int_fn)register_pal(
      &pal, &params, (uintptr_t)pal_10_int, (uintptr_t)begin_pal_c, (uintptr_t)end_pal_c, false);
  bool ok = true;
  for (unsigned it = 0; it < iters && !pal_interrupt_pending(); it++) {
    uintptr_t a[ARGS_10];
    for (unsigned i = 0; i < ARGS_10; i++) {
      a[i] = random_word();
    }
    a[0] &= ~PAL_FLAG_MASK;
    uintptr_t want = pal_10_int(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
    uintptr_t got =
        in_pal(a[0] | PAL_FLAG_MASK, a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
    if (got != want) {
      printf("\nError: test_10_int iteration %u: PAL returned 0x%" PRIxPTR ", native 0x%" PRIxPTR
             "\n",
             it, got, want);
      ok = false;
    }
    progress();
  }
  unregister_pal(&pal);
  return ok;
}

/* One registration of pal_10_ptr, `iters` calls with pointers to ten random words. */
static bool test_10_ptr(unsigned iters) {
  uint32_t types[ARGS_10];
  uint64_t sizes[ARGS_10];
  for (unsigned i = 0; i < ARGS_10; i++) {
    types[i] = TV_PAL_ARG_POINTER;
    sizes[i] = 1;
  }
  struct tv_pal_params params;
  set_params(&params, ARGS_10, types, sizes);
  struct pal_handle pal;
  pal_10_ptr_fn in_pal = (pal_10_ptr_fn)register_pal(
      &pal, &params, (uintptr_t)pal_10_ptr, (uintptr_t)begin_pal_c, (uintptr_t)end_pal_c, false);
  bool ok = true;
  for (unsigned it = 0; it < iters && !pal_interrupt_pending(); it++) {
    uintptr_t n[ARGS_10], p[ARGS_10];
    for (unsigned i = 0; i < ARGS_10; i++) {
      n[i] = p[i] = random_word();
    }
    n[0] &= ~PAL_FLAG_MASK;
    p[0] = n[0] | PAL_FLAG_MASK;
    uintptr_t want =
        pal_10_ptr(&n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8], &n[9]);
    uintptr_t got = in_pal(&p[0], &p[1], &p[2], &p[3], &p[4], &p[5], &p[6], &p[7], &p[8], &p[9]);
    if (got != want || memcmp(n, p, sizeof(n)) != 0) {
      printf("\nError: test_10_ptr iteration %u: PAL returned 0x%" PRIxPTR ", native 0x%" PRIxPTR
             "%s\n",
             it, got, want, memcmp(n, p, sizeof(n)) != 0 ? "; the words differ" : "");
      ok = false;
    }
    progress();
  }
  unregister_pal(&pal);
  return ok;
}

/* Per iteration: register pal_5_ptr for five random-length arrays, call it once, unregister. */
static bool test_5_ptr(unsigned iters) {
  bool ok = true;
  for (unsigned it = 0; it < iters && !pal_interrupt_pending(); it++) {
    uintptr_t len[ARRAYS_5];
    uintptr_t n[ARRAYS_5][MAX_ARRAY_WORDS], p[ARRAYS_5][MAX_ARRAY_WORDS];
    uint32_t types[2U * ARRAYS_5];
    uint64_t sizes[2U * ARRAYS_5];
    memset(n, 0, sizeof(n));
    for (unsigned i = 0; i < ARRAYS_5; i++) {
      len[i] = (uintptr_t)((unsigned)rand() % MAX_ARRAY_WORDS);
      for (unsigned j = 0; j < len[i]; j++) {
        n[i][j] = random_word();
      }
      types[2U * i] = TV_PAL_ARG_INTEGER;
      sizes[2U * i] = 0;
      types[2U * i + 1U] = TV_PAL_ARG_POINTER;
      sizes[2U * i + 1U] = len[i];
    }
    memcpy(p, n, sizeof(n));
    struct tv_pal_params params;
    set_params(&params, 2U * ARRAYS_5, types, sizes);
    struct pal_handle pal;
    pal_5_ptr_fn in_pal = (pal_5_ptr_fn)register_pal(
        &pal, &params, (uintptr_t)pal_5_ptr, (uintptr_t)begin_pal_c, (uintptr_t)end_pal_c, false);
    uintptr_t want =
        pal_5_ptr(len[0], n[0], len[1], n[1], len[2], n[2], len[3], n[3], len[4], n[4]);
    uintptr_t got = in_pal(len[0] | PAL_FLAG_MASK, p[0], len[1], p[1], len[2], p[2], len[3], p[3],
                           len[4], p[4]);
    unregister_pal(&pal);
    if (got != want || memcmp(n, p, sizeof(n)) != 0) {
      printf("\nError: test_5_ptr iteration %u: PAL returned 0x%" PRIxPTR ", native 0x%" PRIxPTR
             "%s\n",
             it, got, want, memcmp(n, p, sizeof(n)) != 0 ? "; the arrays differ" : "");
      ok = false;
    }
    progress();
  }
  return ok;
}

/* Parses a whole decimal (or 0x hex) number no larger than `max`. */
static bool parse_number(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  if (*s == '\0' || *s == '-') {
    return false;
  }
  *out = strtoull(s, &end, 0);
  return *end == '\0' && *out <= max;
}

int main(int argc, char **argv) {
  uint64_t funcs, iters, seed;
  /* Unbuffered: when output goes to a file, a crash must not swallow the progress so far. */
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc != 4 || !parse_number(argv[1], ALL_TESTS, &funcs) ||
      !parse_number(argv[2], 0xFFFFFFFFU, &iters) || !parse_number(argv[3], 0xFFFFFFFFU, &seed)) {
    printf(
        "usage: test_args FUNCS ITERS SEED\n"
        "  FUNCS: bitmask, 1 = test_10_int, 2 = test_10_ptr, 4 = test_5_ptr\n"
        "  ITERS: calls per test; SEED: for srand\n");
    return 2;
  }
  tv_require_present();
  /* The expected values come from native calls, which must see themselves outside any PAL. */
  uintptr_t probe = 0;
  uintptr_t native_check = pal_check_cpuid(&probe);
  if (native_check != 0U) {
    printf("Error: native CPUID check returned 0x%" PRIxPTR "\n", native_check);
    printf("\nTest failed\n");
    return 1;
  }
  srand((unsigned)seed);
  bool ok = true;
  if (funcs & TEST_10_INT) {
    ok = test_10_int((unsigned)iters) && ok;
  }
  if (funcs & TEST_10_PTR) {
    ok = test_10_ptr((unsigned)iters) && ok;
  }
  if (funcs & TEST_5_PTR) {
    ok = test_5_ptr((unsigned)iters) && ok;
  }
  fputs(ok ? "\nTest pass\n" : "\nTest failed\n", stdout);
  return ok ? 0 : 1;
}
