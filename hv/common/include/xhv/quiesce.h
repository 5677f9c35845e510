/* SPDX-License-Identifier: Apache-2.0 */
/* Quiesce: one CPU stops every other CPU in the hypervisor, runs, then lets them go. */
#ifndef XHV_QUIESCE_H
#define XHV_QUIESCE_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/*
 * The protocol (hv/common/smp/quiesce.pml models it; spin checks it):
 *
 * quiesce_begin: take the quiesce lock (spinning with NMIs open, so a CPU
 * waiting here is parked by the quiescer ahead of it like any other); mark
 * self quiesced; zero the counters; raise the quiesce flag; NMI every other
 * CPU; wait until all of them have parked.
 *
 * quiesce_end: clear the quiesce flag, THEN raise the resume signal; wait
 * until all have resumed; lower the signal; unmark self; unlock. Clearing
 * the flag first is the fix of the seed's bug: a parked CPU that resumes
 * and at once takes another NMI (one latched while it was parked) must see
 * no quiesce in progress, or it parks again on a signal about to be lowered
 * and never comes back.
 *
 * quiesce_nmi, at the top of every NMI path: if a quiesce is in progress and
 * this CPU can atomically mark itself quiesced, the NMI was the request:
 * unblock NMIs, park until the resume signal, unmark, count the resume,
 * return true. NMIs nest into the park from here on: on the current host
 * stack (no IST), each needing only a few words. Otherwise the NMI is the guest's (return false). A guest NMI
 * that lands after the flag rose is taken as the request; the quiescer's own
 * NMI then arrives during the park, nested, and counts as the guest's: none
 * is lost. (Parking with NMIs blocked would keep that NMI latched, and the
 * next round's NMI would merge with it: the model found that.)
 *
 * No lock is held across it that anything else takes: the log has no lock.
 */

/*
 * Stops every other CPU; they wait in their NMI handlers until quiesce_end.
 * Calls nest on the quiescing CPU: only the outermost pair runs the protocol.
 */
void quiesce_begin(struct cpu *self);

/* Lets them all go again. Only the CPU that called quiesce_begin. */
void quiesce_end(struct cpu *self);

/* NMI classification; true if this NMI was a quiesce request (already served). */
bool quiesce_nmi(struct cpu *self);

/* Quiesce rounds completed since boot (for the log and tests). */
uint64_t quiesce_rounds(void);

XHV_END_DECLS

#endif /* XHV_QUIESCE_H */
