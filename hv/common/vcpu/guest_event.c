/* SPDX-License-Identifier: Apache-2.0 */
/* Events for the guest: exceptions the hypervisor injects, and events it re-delivers. */
#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/guest_event.h"
#include "xhv/guest_nmi.h"
#include "xhv/log.h"
#include "xhv/vmcs.h"
#include "xhv/vmx.h"

#define INTR_INFO_VALID (1U << 31)
#define INTR_INFO_ERROR_CODE (1U << 11)
#define INTR_INFO_TYPE(info) (((info) >> 8) & 7U)
#define INTR_INFO_VECTOR(info) ((info) & 0xFFU)
#define INTR_TYPE_EXTERNAL 0U
#define INTR_TYPE_NMI 2U
#define INTR_TYPE_HW_EXCEPTION 3U
#define INTR_TYPE_SW_INTERRUPT 4U
#define INTR_TYPE_PRIV_SW_EXCEPTION 5U
#define INTR_TYPE_SW_EXCEPTION 6U
#define INTERRUPTIBILITY_NMI (1U << 3)
#define RFLAGS_RF (1U << 16)
#define CR0_PE 1U

#define VECTOR_DE 0U
#define VECTOR_DB 1U
#define VECTOR_NMI 2U
#define VECTOR_BP 3U
#define VECTOR_OF 4U
#define VECTOR_DF 8U
#define VECTOR_TS 10U
#define VECTOR_NP 11U
#define VECTOR_SS 12U
#define VECTOR_GP 13U
#define VECTOR_PF 14U
#define VECTOR_AC 17U
#define VECTOR_MC 18U
#define VECTOR_CP 21U

/* Vectors that push an error code in protected mode (SDM "Exception and Interrupt Reference"). */
static bool has_error_code(uint32_t vector) {
  return vector == VECTOR_DF || (vector >= VECTOR_TS && vector <= VECTOR_PF) ||
         vector == VECTOR_AC || vector == VECTOR_CP;
}

/* Faults restart their instruction: RF goes into the pushed RFLAGS (SDM "Debug Exceptions"). */
static bool is_fault(uint32_t vector) {
  return vector != VECTOR_DB && vector != VECTOR_BP && vector != VECTOR_OF &&
         vector != VECTOR_DF && vector != VECTOR_MC;
}

/* SDM "Conditions for Generating a Double Fault": the contributory exceptions. */
static bool is_contributory(uint32_t vector) {
  return vector == VECTOR_DE || (vector >= VECTOR_TS && vector <= VECTOR_GP);
}

/* The guest's CPU shuts down, as on a fault during a double fault's delivery. */
static void guest_shutdown(void) {
  log_printf("vmx: CPU %u: the guest faulted while delivering a double fault: its CPU shuts "
             "down\n",
             this_cpu()->index);
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, 0);
  vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_SHUTDOWN);
}

void guest_inject_exception(uint32_t vector, bool has_error, uint32_t error) {
  (void)has_error; /* the vector decides, as the hardware's does */
  uint32_t pending = vmcs_read32(VMCS_VM_ENTRY_INTR_INFO);
  if (pending & INTR_INFO_VALID) {
    /* An event whose delivery this exit interrupted is about to be re-delivered. */
    uint32_t type = INTR_INFO_TYPE(pending);
    uint32_t first = INTR_INFO_VECTOR(pending);
    if (type == INTR_TYPE_HW_EXCEPTION && first == VECTOR_DF) {
      guest_shutdown();
      return;
    }
    if (type == INTR_TYPE_HW_EXCEPTION &&
        ((is_contributory(first) && is_contributory(vector)) ||
         (first == VECTOR_PF && (is_contributory(vector) || vector == VECTOR_PF)))) {
      vector = VECTOR_DF;
      error = 0;
    } else if (type == INTR_TYPE_NMI) {
      guest_nmi_requeue(this_cpu()); /* still the guest's: it gets it after this one */
    } else if (type == INTR_TYPE_EXTERNAL) {
      log_printf("vmx: CPU %u: interrupt 0x%x lost to exception %u during its delivery\n",
                 this_cpu()->index, first, vector);
    }
    /* Software events re-run with their instruction once the fault is handled. */
  }
  if (is_fault(vector)) {
    vmcs_writenw(VMCS_GUEST_RFLAGS, vmcs_readnw(VMCS_GUEST_RFLAGS) | RFLAGS_RF);
  }
  uint32_t info = INTR_INFO_VALID | (INTR_TYPE_HW_EXCEPTION << 8) | vector;
  /* Real mode pushes no error codes; VM entry checks that (unrestricted guest). */
  if (has_error_code(vector) && (vmcs_readnw(VMCS_GUEST_CR0) & CR0_PE)) {
    info |= INTR_INFO_ERROR_CODE;
    vmcs_write32(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, error);
  }
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, info);
}

void guest_inject_page_fault(uint64_t linear, uint32_t error) {
  /* VM exits leave CR2 alone and the host never faults: the hardware CR2 is the guest's. */
  cpu_write_cr2((uword_t)linear);
  guest_inject_exception(VECTOR_PF, true, error);
}

void guest_event_requeue(uint32_t vectoring) {
  if (!(vectoring & INTR_INFO_VALID)) {
    return;
  }
  uint32_t type = INTR_INFO_TYPE(vectoring);
  uint32_t info = vectoring & (INTR_INFO_VALID | INTR_INFO_ERROR_CODE | 0x7FFU);
  if (info & INTR_INFO_ERROR_CODE) {
    vmcs_write32(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read32(VMCS_IDT_VECTORING_ERROR_CODE));
  }
  if (type == INTR_TYPE_SW_INTERRUPT || type == INTR_TYPE_PRIV_SW_EXCEPTION ||
      type == INTR_TYPE_SW_EXCEPTION) {
    /* Delivery pushes the address after the instruction (SDM "VM-Entry Controls for Event Injection"). */
    vmcs_write32(VMCS_VM_ENTRY_INSTRUCTION_LEN, vmcs_read32(VMCS_VM_EXIT_INSTRUCTION_LEN));
  }
  if (type == INTR_TYPE_NMI) {
    /* The NMI never reached its handler: no blocking yet (SDM "Information for VM Exits During Event Delivery"). */
    uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
    if (intr & INTERRUPTIBILITY_NMI) {
      vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~INTERRUPTIBILITY_NMI);
    }
  }
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, info);
}

void guest_event_cancel(struct cpu *cpu) {
  uint32_t pending = vmcs_read32(VMCS_VM_ENTRY_INTR_INFO);
  if (!(pending & INTR_INFO_VALID)) {
    return;
  }
  if (INTR_INFO_TYPE(pending) == INTR_TYPE_NMI) {
    guest_nmi_requeue(cpu);
  }
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, 0);
}

void guest_nmi_unblocked_by_iret(void) {
  uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
  vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr | INTERRUPTIBILITY_NMI);
}
