/* SPDX-License-Identifier: Apache-2.0 */
/* VMX operation on one CPU: VMXON, the VMCS, guest entry, exit dispatch. */
#ifndef XHV_VMX_H
#define XHV_VMX_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/* Basic exit reasons (SDM appendix "VMX Basic Exit Reasons"). */
enum vmx_exit_reason {
  EXIT_EXCEPTION_OR_NMI = 0,
  EXIT_EXTERNAL_INTERRUPT = 1,
  EXIT_TRIPLE_FAULT = 2,
  EXIT_INIT = 3,
  EXIT_SIPI = 4,
  EXIT_IO_SMI = 5,
  EXIT_OTHER_SMI = 6,
  EXIT_INTERRUPT_WINDOW = 7,
  EXIT_NMI_WINDOW = 8,
  EXIT_TASK_SWITCH = 9,
  EXIT_CPUID = 10,
  EXIT_GETSEC = 11,
  EXIT_HLT = 12,
  EXIT_INVD = 13,
  EXIT_INVLPG = 14,
  EXIT_RDPMC = 15,
  EXIT_RDTSC = 16,
  EXIT_RSM = 17,
  EXIT_VMCALL = 18,
  EXIT_VMCLEAR = 19,
  EXIT_VMLAUNCH = 20,
  EXIT_VMPTRLD = 21,
  EXIT_VMPTRST = 22,
  EXIT_VMREAD = 23,
  EXIT_VMRESUME = 24,
  EXIT_VMWRITE = 25,
  EXIT_VMXOFF = 26,
  EXIT_VMXON = 27,
  EXIT_CR_ACCESS = 28,
  EXIT_DR_ACCESS = 29,
  EXIT_IO = 30,
  EXIT_RDMSR = 31,
  EXIT_WRMSR = 32,
  EXIT_ENTRY_FAIL_GUEST_STATE = 33,
  EXIT_ENTRY_FAIL_MSR_LOADING = 34,
  EXIT_MWAIT = 36,
  EXIT_MONITOR_TRAP_FLAG = 37,
  EXIT_MONITOR = 39,
  EXIT_PAUSE = 40,
  EXIT_ENTRY_FAIL_MACHINE_CHECK = 41,
  EXIT_TPR_BELOW_THRESHOLD = 43,
  EXIT_APIC_ACCESS = 44,
  EXIT_VIRTUALIZED_EOI = 45,
  EXIT_GDTR_IDTR_ACCESS = 46,
  EXIT_LDTR_TR_ACCESS = 47,
  EXIT_EPT_VIOLATION = 48,
  EXIT_EPT_MISCONFIG = 49,
  EXIT_INVEPT = 50,
  EXIT_RDTSCP = 51,
  EXIT_PREEMPTION_TIMER = 52,
  EXIT_INVVPID = 53,
  EXIT_WBINVD = 54,
  EXIT_XSETBV = 55,
  EXIT_APIC_WRITE = 56,
  EXIT_RDRAND = 57,
  EXIT_INVPCID = 58,
  EXIT_VMFUNC = 59,
  EXIT_ENCLS = 60,
  EXIT_RDSEED = 61,
  EXIT_PML_FULL = 62,
  EXIT_XSAVES = 63,
  EXIT_XRSTORS = 64,
  EXIT_REASON_COUNT = 65,
};

/* Guest activity states (SDM "Guest Non-Register State"). */
#define ACTIVITY_ACTIVE 0U
#define ACTIVITY_HLT 1U
#define ACTIVITY_SHUTDOWN 2U
#define ACTIVITY_WAIT_SIPI 3U

/* What an exit handler tells the dispatcher, which alone advances RIP. */
enum vmexit_action {
  VMEXIT_HANDLED = 0,         /* resume at the same RIP (retry, injected event, ...) */
  VMEXIT_HANDLED_ADVANCE = 1, /* the instruction is emulated: skip it */
  VMEXIT_FATAL = 2,           /* dump state and halt this CPU */
};

struct vmexit_info {
  uint32_t reason;        /* basic exit reason */
  uword_t qualification;  /* read on demand: see vmexit_qualification() */
  bool have_qualification;
  /*
   * IDT-vectoring information, read for the exits that can happen while an
   * event is delivered (VMEXIT_DURING_DELIVERY); 0 otherwise. The
   * dispatcher has queued that event again before the handler runs.
   */
  uint32_t vectoring;
  bool step_ended; /* an APIC trap step was open and this exit ended it (xhv/apic_trap.h) */
};

typedef enum vmexit_action (*vmexit_handler_fn)(struct cpu *cpu, struct cpu_regs *regs,
                                                struct vmexit_info *exit);

/* The exit can interrupt the delivery of an event, which must then be delivered again. */
#define VMEXIT_DURING_DELIVERY 1U

struct vmexit_entry {
  vmexit_handler_fn handler;
  const char *name;
  uint32_t flags;
};

/* The const dispatch table, indexed by basic exit reason (exposed for tests). */
extern const struct vmexit_entry vmexit_table[EXIT_REASON_COUNT];

/* Exit qualification, read from the VMCS the first time a handler asks. */
uword_t vmexit_qualification(struct vmexit_info *exit);

/* Called by the VM-exit stub with the guest's GPRs; returns to VMRESUME. */
void vmexit_dispatch(struct cpu_regs *regs);

/* The power-off summary: exits per CPU and reason, NMI figures, quiesce rounds, dropped UART writes. */
void vmexit_print_summary(void);

/* Per-arch stubs (vmx_stubs.S). */
/* Loads the guest GPRs from `regs` and executes VMLAUNCH; returns only on failure. */
int arch_vmlaunch(const struct cpu_regs *regs);
/* The VM-exit entry point written to HOST_RIP. */
void arch_vmexit_entry(void);

XHV_END_DECLS

#endif /* XHV_VMX_H */
