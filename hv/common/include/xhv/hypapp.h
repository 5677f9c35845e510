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
 * One hypapp is linked into the image (xhv_hypapp, chosen by the build
 * setting //hypapps:hypapp). Hypapps never touch VMX directly; they work on
 * the guest registers they are given and the services of xhv/guest.h. Each
 * callback says whether the other CPUs are quiesced (stopped in the
 * hypervisor, xhv/quiesce.h) while it runs. A hypapp that changes the
 * shared EPT does so quiesced and calls guest_ept_changed(): each CPU
 * flushes before it next enters the guest.
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

  /*
   * Every CPUID the guest executes, before the core answers it. Returns
   * true if it set EAX-EDX itself (the core then only skips the
   * instruction). Others NOT quiesced. May be null.
   */
  bool (*cpuid)(struct cpu *cpu, struct cpu_regs *regs);

  /*
   * A guest access the current EPT view does not allow, that the core
   * does not own (its trapped APIC page, its hidden memory). `access` is
   * EPT_READ, EPT_WRITE or EPT_EXEC: what the guest tried. Every other CPU
   * IS quiesced. Returns true if handled: the hypapp has set RIP/RSP/EPT
   * as the guest must continue, the core skips nothing. False: the core
   * reports the access and halts this CPU. May be null.
   */
  bool (*ept_violation)(struct cpu *cpu, struct cpu_regs *regs, uint64_t gpa, uint32_t access);

  /*
   * A hardware exception the hypapp made exit (guest_set_exception_bitmap
   * in xhv/guest.h). Others NOT quiesced. Returns true if handled (the
   * hypapp decides where the guest continues), false for the core to
   * report and halt. May be null.
   */
  bool (*exception)(struct cpu *cpu, struct cpu_regs *regs, uint32_t vector, uint32_t error_code);

  /*
   * The guest sent this CPU an INIT while it ran: whatever the hypapp ran
   * on it (a PAL) is gone with the context, and the CPU will wait for a
   * start-up IPI. On the CPU that got it; others NOT quiesced. May be null.
   */
  void (*cpu_reset)(struct cpu *cpu);

  /*
   * The guest's end: it powers the machine off (ACPI S5) or resets it (a
   * reset register, a triple fault), on the CPU that asked, before the
   * hypervisor lets it happen. Every other CPU IS quiesced, and stays
   * parked: nothing of the guest runs after this on them. RAM survives a
   * reset, so whatever must not outlive the guest is scrubbed here.
   * Called once. May be null.
   */
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
