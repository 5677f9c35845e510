/* SPDX-License-Identifier: Apache-2.0 */
/* Guest NMI bookkeeping and delivery; the reasons are in xhv/guest_nmi.h. */
#include "xhv/guest_nmi.h"

#include "xhv/guest.h"
#include "xhv/quiesce.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

#define INTR_INFO_VALID (1U << 31)
#define INTR_INFO_TYPE_MASK (7U << 8)
#define INTR_TYPE_NMI (2U << 8)
#define VECTOR_NMI 2U
#define INTERRUPTIBILITY_NMI (1U << 3)

/*
 * The guest is in its NMI handler, or about to be: virtual-NMI blocking is
 * set from the delivery of an injected NMI until the guest's IRET (SDM
 * "Virtual NMIs"), and an NMI already queued for the next entry will be in
 * service as soon as the guest runs. Read-only VMCS accesses: safe in NMI
 * context, where an exit handler may own the VMCS (it writes the entry
 * information only after taking the NMI off `owed`, see guest_nmi_inject).
 */
static bool guest_in_nmi_handler(void) {
  if (vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO) & INTERRUPTIBILITY_NMI) {
    return true;
  }
  uint32_t pending = vmcs_read32(VMCS_VM_ENTRY_INTR_INFO);
  return (pending & INTR_INFO_VALID) && (pending & INTR_INFO_TYPE_MASK) == INTR_TYPE_NMI;
}

void guest_nmi_note(struct cpu *cpu) {
  /* One to deliver and one latched behind it; only the latch while one is in service. */
  uint32_t cap = guest_in_nmi_handler() ? 1U : 2U;
  uint32_t owed = __atomic_load_n(&cpu->guest_nmi_owed, __ATOMIC_ACQUIRE);
  while (owed < cap) {
    if (__atomic_compare_exchange_n(&cpu->guest_nmi_owed, &owed, owed + 1U, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      __atomic_add_fetch(&cpu->guest_nmis, 1U, __ATOMIC_RELAXED);
      return;
    }
  }
  __atomic_add_fetch(&cpu->guest_nmis_merged, 1U, __ATOMIC_RELAXED);
}

void guest_nmi_requeue(struct cpu *cpu) {
  /* Injected but never delivered: owed again, and no longer counted as injected. */
  cpu->guest_nmis_injected--;
  __atomic_add_fetch(&cpu->guest_nmi_owed, 1U, __ATOMIC_ACQ_REL);
}

void guest_nmi_arm(struct cpu *cpu) {
  if (cpu->guest_nmi_held || __atomic_load_n(&cpu->guest_nmi_owed, __ATOMIC_ACQUIRE) == 0U) {
    return;
  }
  uint32_t proc = vmcs_read32(VMCS_PROC_BASED_CONTROLS);
  if (!(proc & VMX_PROC_NMI_WINDOW_EXITING)) {
    vmcs_write32(VMCS_PROC_BASED_CONTROLS, proc | VMX_PROC_NMI_WINDOW_EXITING);
  }
}

void guest_nmi_inject(struct cpu *cpu) {
  uint32_t owed = __atomic_load_n(&cpu->guest_nmi_owed, __ATOMIC_ACQUIRE);
  uint32_t pending = vmcs_read32(VMCS_VM_ENTRY_INTR_INFO);
  if (cpu->guest_nmi_held || (pending & INTR_INFO_VALID)) {
    /* Held (released by guest_nmi_hold), or the entry already delivers an event. */
    owed = cpu->guest_nmi_held ? 0U : owed;
  } else if (owed != 0U) {
    /* Off `owed` before it is queued: a note in between sees no NMI in service. */
    owed = __atomic_sub_fetch(&cpu->guest_nmi_owed, 1U, __ATOMIC_ACQ_REL);
    cpu->guest_nmis_injected++;
    vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | VECTOR_NMI);
  }
  if (owed == 0U) {
    /* A new NMI noted after this is armed again by the exit handler's end. */
    uint32_t proc = vmcs_read32(VMCS_PROC_BASED_CONTROLS);
    vmcs_write32(VMCS_PROC_BASED_CONTROLS, proc & ~VMX_PROC_NMI_WINDOW_EXITING);
  }
}

void xhv_nmi_host(struct cpu *cpu) {
  cpu->in_nmi++;
  if (quiesce_nmi(cpu)) {
    /*
     * The quiescer may have changed the EPT while this CPU was parked, and
     * the park may have come after this CPU's flush on its way back into the
     * guest (guest_ept_sync before VMRESUME): flush here too. Before VMXON
     * (an AP waiting for its SIPI) there is nothing to flush.
     */
    if (cpu->launched) {
      guest_ept_sync(cpu);
    }
  } else {
    if (!cpu->launched) {
      /* No guest on this CPU yet (an AP before its SIPI ignores NMIs too). */
      __atomic_add_fetch(&cpu->guest_nmis_merged, 1U, __ATOMIC_RELAXED);
    } else {
      guest_nmi_note(cpu);
      /*
       * Inside an exit handler the VMCS is the handler's: it arms the window
       * at its end. Between that and VMRESUME the VMCS is free to touch.
       */
      if (!__atomic_load_n(&cpu->in_exit, __ATOMIC_ACQUIRE)) {
        guest_nmi_arm(cpu);
      }
    }
  }
  cpu->in_nmi--;
}
