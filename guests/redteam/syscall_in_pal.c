/* SPDX-License-Identifier: Apache-2.0 */
/*
 * syscall_in_pal: PALs that try to enter the kernel, with SYSCALL,
 * SYSENTER and INT 0x80. A PAL's page tables map no kernel, so each entry
 * faults at once, at CPL 0 for SYSCALL and SYSENTER (the CPU has already
 * loaded the kernel's CS and SS). TrustVisor must end the PAL and hand the
 * caller its own context back: TV_ERR_PAL_FAULT, and this process still at
 * CPL 3 with its own CS and SS. (A 32-bit process's SYSCALL is #UD on
 * Intel CPUs: refused just the same.)
 */
#include <stdio.h>

#include "pal_demo/vmcall.h"
#include "redteam/rt.h"

struct attempt {
  const char *name;
  uint8_t code[4];
};

static const struct attempt attempts[] = {
    {"syscall", {0x0F, 0x05, 0xC3}},  /* syscall; ret */
    {"sysenter", {0x0F, 0x34, 0xC3}}, /* sysenter; ret */
    {"int80", {0xCD, 0x80, 0xC3}},    /* int $0x80; ret */
};

typedef uintptr_t (*pal_fn)(void);

int main(void) {
  tv_require_present();
  uint16_t cs = rt_cs(), ss = rt_ss();
  char details[256];
  int at = 0;
  for (unsigned i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
    struct pal_handle pal;
    uintptr_t entry = rt_register(&pal, attempts[i].code, sizeof(attempts[i].code), NULL);
    uintptr_t ret = ((pal_fn)entry)();
    uint16_t cs_after = rt_cs(), ss_after = rt_ss();
    unregister_pal(&pal);
    if (ret != TV_ERR_PAL_FAULT || cs_after != cs || ss_after != ss || (cs_after & 3U) != 3U) {
      rt_fail("syscall_in_pal", "%s in a PAL returned 0x%lx with cs=0x%x ss=0x%x (before: cs=0x%x "
              "ss=0x%x)",
              attempts[i].name, (unsigned long)ret, cs_after, ss_after, cs, ss);
    }
    at += snprintf(details + at, sizeof(details) - (size_t)at, "%s:0x%lx ", attempts[i].name,
                   (unsigned long)ret);
  }
  rt_evidence("syscall_in_pal", "refused", "%scs=0x%x ss=0x%x cpl=3", details, cs, ss);
  return 0;
}
