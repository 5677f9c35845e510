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
 * guest. At most two are owed at a time, as the hardware keeps one NMI in
 * service and one latched; a third is merged, as the hardware would.
 * Safe in NMI context: one atomic update, no VMCS access.
 */
void guest_nmi_note(struct cpu *cpu);

/*
 * If an NMI is owed, turn on NMI-window exiting so the guest gets it as
 * soon as it can take one. Called at the end of every exit handler, and by
 * the host NMI handler when no exit handler owns the VMCS.
 */
void guest_nmi_arm(struct cpu *cpu);

/* NMI-window exit: inject one owed NMI; stop window exits when none is left. */
void guest_nmi_inject(struct cpu *cpu);

/* The host NMI handler (IDT vector 2): quiesce request or the guest's. */
void xhv_nmi_host(struct cpu *cpu);

XHV_END_DECLS

#endif /* XHV_GUEST_NMI_H */
