/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-side checks of the hypervisor underneath: its CPUID leaf and a bad hypercall. */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HV_CPUID_LEAF 0x40000000U

/* An unknown hypercall number: the hypervisor must answer with an error, not halt. */
#define BAD_HYPERCALL 0x7FFF0001U

static unsigned long vmcall(unsigned long nr) {
  unsigned long ret = nr;
  __asm__ volatile("vmcall" : "+a"(ret) : : "memory");
  return ret;
}

int main(void) {
  unsigned a, b, c, d;
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
  return 0;
}
