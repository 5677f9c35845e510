/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual INIT/SIPI: the guest's start-up IPIs, seen by trapping its local APIC page. */
#ifndef XHV_APIC_TRAP_H
#define XHV_APIC_TRAP_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/*
 * While any CPU waits for a SIPI, the guest's local APIC page is not
 * present in the EPT: until every AP has had its first one, and again
 * whenever the guest parks a CPU (a CPU taken offline halts with
 * interrupts off until its next INIT/SIPI; apic_trap_park). Each guest
 * access is single-stepped with the page mapped for one instruction: a
 * write into ICR low (the register that sends) lands in a RAM stand-in, so
 * the hypervisor sees INIT and SIPI and delivers them to the waiting APs
 * itself; everything else, ICR high too, reaches the CPU's own APIC (read
 * only, for a read). A store that starts below ICR low and runs into it
 * reaches the real register: the guest's own INIT then comes back as an
 * INIT exit and its SIPI is lost in VMX root, which only that guest's CPUs
 * suffer. Once no CPU waits, the page is mapped straight through again.
 *
 * Why not let the hardware deliver them into the VMX wait-for-SIPI state:
 * a SIPI that arrives while the AP is still in VMX root operation handling
 * the INIT exit is lost, and Linux sends them microseconds apart.
 */

/* Arms the trap on the BSP before the guest starts, if there are APs. */
void apic_trap_init(uint64_t apic_base, uint32_t cpu_count);

/*
 * EPT violation at `gpa` (`access`: EPT_READ/WRITE/EXEC; `delivering`: the
 * access came while an event was delivered): true if it was the trapped
 * APIC page. A data access starts a step: one guest instruction with the
 * page mapped and every other CPU quiesced. A fetch, or an access by an
 * event's delivery, gets #GP.
 */
bool apic_trap_ept_violation(struct cpu *cpu, uint64_t gpa, uint32_t access, bool delivering);

/*
 * The step of this CPU's trapped access ends at its next exit, whatever it
 * is (the dispatcher calls this first): `completed`, the #DB of its trap
 * flag, makes an ICR write count, and hands the guest the debug traps of
 * its own that the instruction raised (its single step, its data
 * breakpoints: DR6 and a #DB); any other exit drops it (the access runs
 * again if the guest gets back to it). True if a step was open.
 */
bool apic_trap_step_end(struct cpu *cpu, bool completed);

/* An AP that has not started yet: waits in the hypervisor for its SIPI vector. */
uint32_t apic_trap_wait_for_sipi(struct cpu *cpu);

/*
 * A CPU whose guest parked it (an exit handler's): it waits here, the trap
 * armed, for a start-up IPI, as an AP does at boot. True with *vector set
 * when one came; false when `wake_on_nmi` (a CPU the guest halted) and the
 * guest is owed an NMI first, which wakes the CPU as the hardware's would
 * (the caller lets the guest take it). After an INIT (`wake_on_nmi`
 * false) only the SIPI ends the wait, as for a CPU in wait-for-SIPI; the
 * NMIs owed meanwhile are the caller's to drop. NMIs, the quiesce's too,
 * are taken while it waits.
 */
bool apic_trap_park(struct cpu *cpu, bool wake_on_nmi, uint32_t *vector);

XHV_END_DECLS

#endif /* XHV_APIC_TRAP_H */
