/* SPDX-License-Identifier: Apache-2.0 */
/* Hardware task switches, which VMX makes exit: emulated as the SDM's "Task Switching" says. */
#ifndef XHV_TASK_SWITCH_H
#define XHV_TASK_SWITCH_H

#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/vmx.h"

XHV_BEGIN_DECLS

/*
 * EXIT_TASK_SWITCH (SDM "Task Switches" in "Instructions That Cause VM
 * Exits Unconditionally"): a CALL or JMP to a TSS or task gate, an IRET
 * with NT set, or an interrupt or exception through a task gate in the
 * IDT (Linux i386 takes double faults that way). Emulated for 32-bit TSSs
 * the way the processor does it (SDM "Task Switching"): the checks on the
 * new TSS's descriptor (#GP, #TS, #NP with the selector as error code),
 * the old task's state saved, busy flags and the back link, CR3 (and the
 * PDPTEs under PAE paging), EFLAGS, the GPRs, LDTR and the six segment
 * registers loaded with the task-switch checks (faults after the switch
 * has committed are raised in the new task), CR0.TS set, DR7's local
 * enables cleared, an exception's error code pushed on the new stack, and
 * NMI blocking after a switch into an NMI handler. A 16-bit TSS gets #TS:
 * its layout is not emulated. Runs with the other CPUs quiesced, so the
 * descriptor tables and TSSs are read and written as one step.
 */
enum vmexit_action vmexit_task_switch(struct cpu *cpu, struct cpu_regs *regs,
                                      struct vmexit_info *exit);

XHV_END_DECLS

#endif /* XHV_TASK_SWITCH_H */
