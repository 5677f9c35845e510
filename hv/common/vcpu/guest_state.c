/* SPDX-License-Identifier: Apache-2.0 */
/* The guest as hypapps see it (xhv/guest.h), on top of the VMCS and the shared EPT. */
#include "xhv/guest.h"

#include "xhv/cpu_ops.h"
#include "xhv/guest_nmi.h"
#include "xhv/vcpu.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CS_AR_L (1U << 13)
#define SS_AR_DPL(ar) (((ar) >> 5) & 3U)
#define INTR_INFO_VALID (1U << 31)
#define INTR_TYPE_HW_EXCEPTION (3U << 8)
#define INTR_ERROR_CODE_VALID (1U << 11)
#define INVEPT_SINGLE_CONTEXT 1U
#define INVEPT_ALL_CONTEXTS 2U
#define PAGE_SIZE 0x1000ULL
#define HOST_MAP_LIMIT 0x100000000ULL

static volatile uint32_t ept_generation;

/* The IA-32e entry control mirrors EFER.LMA after every exit. */
static bool long_mode(void) {
  return (vmcs_read32(VMCS_VM_ENTRY_CONTROLS) & VMX_ENTRY_CTL_IA32E_MODE_GUEST) != 0;
}

uint64_t guest_reg(enum guest_reg reg) {
  switch (reg) {
  case GUEST_REG_RIP:
    return vmcs_readnw(VMCS_GUEST_RIP);
  case GUEST_REG_RSP:
    return vmcs_readnw(VMCS_GUEST_RSP);
  case GUEST_REG_RFLAGS:
    return vmcs_readnw(VMCS_GUEST_RFLAGS);
  case GUEST_REG_CR0:
    return vmcs_readnw(VMCS_GUEST_CR0);
  case GUEST_REG_CR3:
    return vmcs_readnw(VMCS_GUEST_CR3);
  case GUEST_REG_CR4:
    return vmcs_readnw(VMCS_GUEST_CR4);
  case GUEST_REG_EFER:
    /* Saved on every exit ("save IA32_EFER" is a required control). */
    return vmcs_read64(VMCS_GUEST_IA32_EFER);
  }
  return 0;
}

void guest_set_reg(enum guest_reg reg, uint64_t value) {
  switch (reg) {
  case GUEST_REG_RIP:
    vmcs_writenw(VMCS_GUEST_RIP, (uword_t)value);
    break;
  case GUEST_REG_RSP:
    vmcs_writenw(VMCS_GUEST_RSP, (uword_t)value);
    break;
  case GUEST_REG_RFLAGS:
    vmcs_writenw(VMCS_GUEST_RFLAGS, (uword_t)value);
    break;
  case GUEST_REG_CR3:
    vmcs_writenw(VMCS_GUEST_CR3, (uword_t)value);
    break;
  default:
    break;
  }
}

enum guest_paging guest_paging_mode(void) {
  if (!(vmcs_readnw(VMCS_GUEST_CR0) & CR0_PG)) {
    return GUEST_PAGING_NONE;
  }
  if (long_mode()) {
    return GUEST_PAGING_LONG;
  }
  return (vmcs_readnw(VMCS_GUEST_CR4) & CR4_PAE) ? GUEST_PAGING_PAE : GUEST_PAGING_32;
}

bool guest_code_64bit(void) {
  return long_mode() && (vmcs_read32(VMCS_GUEST_CS_ACCESS_RIGHTS) & CS_AR_L) != 0;
}

uint32_t guest_cpl(void) { return SS_AR_DPL(vmcs_read32(VMCS_GUEST_SS_ACCESS_RIGHTS)); }

void guest_pdptes(uint64_t pdpte[4]) {
  pdpte[0] = vmcs_read64(VMCS_GUEST_PDPTE0);
  pdpte[1] = vmcs_read64(VMCS_GUEST_PDPTE1);
  pdpte[2] = vmcs_read64(VMCS_GUEST_PDPTE2);
  pdpte[3] = vmcs_read64(VMCS_GUEST_PDPTE3);
}

void guest_set_pdptes(const uint64_t pdpte[4]) {
  vmcs_write64(VMCS_GUEST_PDPTE0, pdpte[0]);
  vmcs_write64(VMCS_GUEST_PDPTE1, pdpte[1]);
  vmcs_write64(VMCS_GUEST_PDPTE2, pdpte[2]);
  vmcs_write64(VMCS_GUEST_PDPTE3, pdpte[3]);
}

uint32_t guest_exception_bitmap(void) { return vmcs_read32(VMCS_EXCEPTION_BITMAP); }

void guest_set_exception_bitmap(uint32_t bitmap) { vmcs_write32(VMCS_EXCEPTION_BITMAP, bitmap); }

void guest_nmi_hold(struct cpu *cpu, bool hold) {
  cpu->guest_nmi_held = hold;
  if (!hold) {
    guest_nmi_arm(cpu);
  }
}

void *guest_phys(uint64_t gpa, uint32_t len) {
  if (len == 0U || gpa >= HOST_MAP_LIMIT || (gpa & (PAGE_SIZE - 1U)) + len > PAGE_SIZE ||
      vmx_hidden_gpa(gpa)) {
    return 0;
  }
  return (void *)(uword_t)gpa; /* the hypervisor's identity map of the low 4 GiB */
}

uint64_t guest_eptp(void) { return vmcs_read64(VMCS_EPT_POINTER); }

void guest_set_eptp(uint64_t eptp) {
  vmcs_write64(VMCS_EPT_POINTER, eptp);
  cpu_invept(INVEPT_SINGLE_CONTEXT, eptp);
}

void guest_ept_changed(void) {
  __atomic_add_fetch(&ept_generation, 1U, __ATOMIC_ACQ_REL);
  guest_ept_sync(this_cpu());
}

void guest_ept_sync(struct cpu *cpu) {
  uint32_t now = __atomic_load_n(&ept_generation, __ATOMIC_ACQUIRE);
  if (cpu->ept_generation != now) {
    cpu_invept(INVEPT_ALL_CONTEXTS, 0);
    cpu->ept_generation = now;
  }
}

void guest_inject_exception(uint32_t vector, bool has_error, uint32_t error) {
  uint32_t info = INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | vector;
  if (has_error) {
    info |= INTR_ERROR_CODE_VALID;
    vmcs_write32(VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, error);
  }
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, info);
}
