/* SPDX-License-Identifier: Apache-2.0 */
/* main A B: calls my_pal(A, &B) natively, then through a PAL, and checks both agree. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pal_demo/caller.h"
#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

struct my_pal_run {
  uintptr_t before; /* *b before the call */
  uintptr_t result;
  uintptr_t after; /* *b after the call */
};

static struct my_pal_run run_my_pal(my_pal_fn fn, uintptr_t a, uintptr_t flag, uintptr_t b) {
  struct my_pal_run run = {.before = b};
  printf("  0x%" PRIxPTR " = *%p\n", b, (void *)&b);
  run.result = fn(a | flag, &b);
  printf("  0x%" PRIxPTR " = my_pal(0x%" PRIxPTR ", %p)\n", run.result, a, (void *)&b);
  printf("  0x%" PRIxPTR " = *%p\n", b, (void *)&b);
  run.after = b;
  return run;
}

static int usage(void) {
  printf("usage: main A B   (A, B as %%p, e.g. main 1 2; bit 31 of A must be clear)\n");
  return 2;
}

int main(int argc, char **argv) {
  void *a_arg, *b_arg;
  if (argc != 3 || sscanf(argv[1], "%p", &a_arg) != 1 || sscanf(argv[2], "%p", &b_arg) != 1) {
    return usage();
  }
  uintptr_t a = (uintptr_t)a_arg, b = (uintptr_t)b_arg;
  if ((a & PAL_FLAG_MASK) != 0U) {
    return usage();
  }
  tv_require_present();

  printf("Without PAL:\n");
  struct my_pal_run native = run_my_pal(my_pal, a, 0, b);

  /* my_pal(a, &b): a is a word, b points at one word. */
  struct tv_pal_params params;
  memset(&params, 0, sizeof(params));
  params.num_params = 2;
  params.params[0].type = TV_PAL_ARG_INTEGER;
  params.params[1].type = TV_PAL_ARG_POINTER;
  params.params[1].size = 1;
  struct pal_handle pal;
  register_pal(&pal, &params, (uintptr_t)my_pal, (uintptr_t)begin_pal_c, (uintptr_t)end_pal_c,
               true);
  printf("With PAL:\n");
  struct my_pal_run in_pal = run_my_pal((my_pal_fn)pal.entry, a, PAL_FLAG_MASK, b);
  unregister_pal(&pal);

  if (memcmp(&native, &in_pal, sizeof(native)) != 0) {
    printf("Error: my_pal gave 0x%" PRIxPTR " (b 0x%" PRIxPTR ") in the PAL, 0x%" PRIxPTR
           " (b 0x%" PRIxPTR ") natively\n",
           in_pal.result, in_pal.after, native.result, native.after);
    return 1;
  }
  return 0;
}
