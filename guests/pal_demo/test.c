/* SPDX-License-Identifier: Apache-2.0 */
/* test N: TrustVisor's test hypercall with N; exits with its result. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "pal_demo/vmcall.h"

int main(int argc, char **argv) {
  char *end;
  if (argc != 2) {
    printf("usage: test N\n");
    return 2;
  }
  uintptr_t n = (uintptr_t)strtoull(argv[1], &end, 0);
  if (*argv[1] == '\0' || *end != '\0') {
    printf("usage: test N\n");
    return 2;
  }
  tv_require_present();
  uintptr_t result = tv_vmcall(TV_HC_TEST, n, 0, 0, 0);
  printf("%" PRIuPTR " = vmcall(TV_HC_TEST, %" PRIuPTR ")\n", result, n);
  return (int)result;
}
