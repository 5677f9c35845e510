/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-side checks of the hypervisor underneath: its CPUID leaf and a bad hypercall. */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HV_CPUID_LEAF 0x40000000U

/* helloworld's hypercall: quiesces every CPU, returns how many others were parked. */
#define HELLO_HC_QUIESCE 0x58480001U

/* An unknown hypercall number: the hypervisor must answer with an error, not halt. */
#define BAD_HYPERCALL 0x7FFF0001U

static unsigned long vmcall(unsigned long nr) {
  unsigned long ret = nr;
  __asm__ volatile("vmcall" : "+a"(ret) : : "memory");
  return ret;
}

/* hvcheck [QUIESCE_ROUNDS]: the checks, then that many quiescing hypercalls. */
int main(int argc, char **argv) {
  unsigned a, b, c, d;
  long rounds = argc > 1 ? strtol(argv[1], 0, 10) : 0;
  char sig[13];
  __cpuid(HV_CPUID_LEAF, a, b, c, d);
  memcpy(sig, &b, 4);
  memcpy(sig + 4, &c, 4);
  memcpy(sig + 8, &d, 4);
  sig[12] = '\0';
  printf("XHV-GUEST: hv_signature=%s\n", sig);
  printf("XHV-GUEST: hv_max_leaf=0x%08x\n", a);
  unsigned long ret = vmcall(BAD_HYPERCALL);
  printf("XHV-GUEST: bad_hypercall_returned=0x%lx\n", ret);
  if (strcmp(sig, "XhvXhvXhvXhv") != 0) {
    printf("XHV-RESULT: FAIL CPUID 0x40000000 signature is \"%s\"\n", sig);
    return 1;
  }
  if (ret != (unsigned long)-1) {
    printf("XHV-RESULT: FAIL an unknown hypercall returned 0x%lx, not -1\n", ret);
    return 1;
  }
  unsigned long others = (unsigned long)sysconf(_SC_NPROCESSORS_ONLN) - 1UL;
  for (long i = 0; i < rounds; i++) {
    unsigned long parked = vmcall(HELLO_HC_QUIESCE);
    if (parked != others) {
      printf("XHV-RESULT: FAIL quiesce hypercall %ld parked %lu CPUs, not %lu\n", i, parked,
             others);
      return 1;
    }
  }
  printf("XHV-GUEST: quiesce_hypercalls=%ld\n", rounds);
  return 0;
}
