/* SPDX-License-Identifier: Apache-2.0 */
/* Guest NMI bookkeeping and delivery; the reasons are in xhv/guest_nmi.h. */
#include "xhv/guest_nmi.h"

#include "xhv/quiesce.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

#define MAX_OWED 2U
#define INTR_INFO_VALID (1U << 31)
#define INTR_TYPE_NMI (2U << 8)
#define VECTOR_NMI 2U

void guest_nmi_note(struct cpu *cpu) {
  uint32_t owed = __atomic_load_n(&cpu->guest_nmi_owed, __ATOMIC_ACQUIRE);
  while (owed < MAX_OWED) {
    if (__atomic_compare_exchange_n(&cpu->guest_nmi_owed, &owed, owed + 1U, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      __atomic_add_fetch(&cpu->guest_nmis, 1U, __ATOMIC_RELAXED);
      return;
    }
  }
  __atomic_add_fetch(&cpu->guest_nmis_merged, 1U, __ATOMIC_RELAXED);
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
  if (cpu->guest_nmi_held) {
    owed = 0U; /* released later by guest_nmi_hold(cpu, false) */
  } else if (owed != 0U) {
    vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | VECTOR_NMI);
    cpu->guest_nmis_injected++;
    owed = __atomic_sub_fetch(&cpu->guest_nmi_owed, 1U, __ATOMIC_ACQ_REL);
  }
  if (owed == 0U) {
    /* A new NMI noted after this is armed again by the exit handler's end. */
    uint32_t proc = vmcs_read32(VMCS_PROC_BASED_CONTROLS);
    vmcs_write32(VMCS_PROC_BASED_CONTROLS, proc & ~VMX_PROC_NMI_WINDOW_EXITING);
  }
}

void xhv_nmi_host(struct cpu *cpu) {
  cpu->in_nmi++;
  if (!quiesce_nmi(cpu)) {
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
