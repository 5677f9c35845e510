/* SPDX-License-Identifier: Apache-2.0 */
/* The exit dispatcher's side of guest events: re-delivering an interrupted one. */
#ifndef XHV_GUEST_EVENT_H
#define XHV_GUEST_EVENT_H

#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * An exit that happened while an event was being delivered (IDT-vectoring
 * information valid, SDM "Information for VM Exits That Occur During Event
 * Delivery") must not lose it: queue it for the next VM entry, with its
 * error code, its instruction length (software events) and, for an NMI,
 * blocking by NMI cleared. The exit's handler may then cancel it or stack
 * an exception on it (xhv/guest.h). Called before the handler runs.
 */
void guest_event_requeue(uint32_t vectoring);

/*
 * The guest's IRET had just ended its NMI blocking when the access it made
 * exited (exit qualification bit 12): put the blocking back, as it was when
 * the instruction that will run again began.
 */
void guest_nmi_unblocked_by_iret(void);

XHV_END_DECLS

#endif /* XHV_GUEST_EVENT_H */
