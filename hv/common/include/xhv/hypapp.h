/* SPDX-License-Identifier: Apache-2.0 */
/* The hypapp interface: what a hypervisor application gets called for, and when. */
#ifndef XHV_HYPAPP_H
#define XHV_HYPAPP_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/*
 * One hypapp is linked into the image (xhv_hypapp). Hypapps never touch
 * VMX directly; they work on the guest registers they are given and the
 * services of hv/common. Each callback says whether the other CPUs are
 * quiesced (stopped in the hypervisor) while it runs.
 */
struct hypapp {
  const char *name;

  /* Every CPU once at boot, before its guest starts. Others NOT quiesced. */
  void (*init)(struct cpu *cpu);

  /*
   * A guest VMCALL that is not the BIOS E820 hook. Every other CPU IS
   * quiesced while it runs. Returns false for a hypercall number it does
   * not know: the guest then gets -1 in RAX/EAX, the machine runs on.
   * The hypervisor skips the VMCALL afterwards.
   */
  bool (*hypercall)(struct cpu *cpu, struct cpu_regs *regs);

  /* The guest powers the machine off. Others NOT quiesced. May be null. */
  void (*shutdown)(struct cpu *cpu);
};

extern const struct hypapp xhv_hypapp;

/*
 * Hypercall numbers the core answers itself, before any hypapp (RAX/EAX).
 * XHV_HC_NOP returns 0 WITHOUT quiescing: the yardstick that guest
 * benchmarks compare other hypercalls with.
 */
#define XHV_HC_NOP 0x58480000U

XHV_END_DECLS

#endif /* XHV_HYPAPP_H */
