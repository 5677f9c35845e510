/* SPDX-License-Identifier: Apache-2.0 */
/* NMIs owed to the guest: noted from any context, delivered at the guest's NMI window. */
#ifndef XHV_GUEST_NMI_H
#define XHV_GUEST_NMI_H

#include <stdbool.h>

#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/*
 * An NMI that was the guest's (xhv/quiesce.h classified it): owe it to the
 * guest, counted against the guest's own NMI blocking as the hardware
 * counts it. While the guest runs its NMI handler (virtual-NMI blocking,
 * or an NMI queued for the next entry) one further NMI is latched and any
 * more merge with it; otherwise one is delivered and one latched behind
 * it. So an NMI handler that sends itself ten NMIs runs exactly twice.
 * Safe in NMI context: VMCS reads only, and one atomic update.
 */
void guest_nmi_note(struct cpu *cpu);

/* An injected NMI that was not delivered (its delivery was cut short): owed again. */
void guest_nmi_requeue(struct cpu *cpu);

/*
 * If an NMI is owed, turn on NMI-window exiting so the guest gets it as
 * soon as it can take one. Called at the end of every exit handler, and by
 * the host NMI handler when no exit handler owns the VMCS.
 */
void guest_nmi_arm(struct cpu *cpu);

/*
 * NMI-window exit: inject one owed NMI (unless the entry already delivers
 * an event, which the next window follows); stop window exits when none
 * is left.
 */
void guest_nmi_inject(struct cpu *cpu);

/* The host NMI handler (IDT vector 2): quiesce request or the guest's. */
void xhv_nmi_host(struct cpu *cpu);

XHV_END_DECLS

#endif /* XHV_GUEST_NMI_H */
