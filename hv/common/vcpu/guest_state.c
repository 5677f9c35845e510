/* SPDX-License-Identifier: Apache-2.0 */
/* The guest as hypapps see it (xhv/guest.h), on top of the VMCS and the shared EPT. */
#include "xhv/guest.h"

#include "xhv/cpu_ops.h"
#include "xhv/guest_nmi.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

#define CR0_TS (1ULL << 3)
#define CR0_EM (1ULL << 2)
#define CR0_PG (1ULL << 31)
#define CR4_PCE (1ULL << 8)
#define CR4_PKE (1ULL << 22)
#define DR7_INIT 0x400U
#define RFLAGS_FIXED 0x2U
#define CR4_PAE (1ULL << 5)
#define CS_AR_L (1U << 13)
#define SS_AR_DPL(ar) (((ar) >> 5) & 3U)

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

void guest_context_save(struct guest_context *c) {
  for (uint32_t i = 0; i < VMCS_SEG_LDTR; i++) {
    vmcs_read_guest_segment((enum vmcs_seg)i, &c->seg[i]);
  }
  c->rflags = vmcs_readnw(VMCS_GUEST_RFLAGS);
  c->cr0 = vmcs_readnw(VMCS_GUEST_CR0);
  c->cr4 = vmcs_readnw(VMCS_GUEST_CR4);
  c->dr7 = vmcs_readnw(VMCS_GUEST_DR7);
  c->pending_dbg = vmcs_readnw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS);
  c->debugctl = vmcs_read64(VMCS_GUEST_IA32_DEBUGCTL);
}

void guest_context_restore(const struct guest_context *c) {
  for (uint32_t i = 0; i < VMCS_SEG_LDTR; i++) {
    vmcs_write_guest_segment((enum vmcs_seg)i, &c->seg[i]);
  }
  vmcs_writenw(VMCS_GUEST_RFLAGS, c->rflags);
  vmcs_writenw(VMCS_GUEST_CR0, c->cr0);
  vmcs_writenw(VMCS_GUEST_CR4, c->cr4);
  vmcs_writenw(VMCS_GUEST_DR7, c->dr7);
  vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, c->pending_dbg);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, c->debugctl);
}

void guest_context_isolate(void) {
  vmcs_writenw(VMCS_GUEST_RFLAGS, RFLAGS_FIXED);
  vmcs_writenw(VMCS_GUEST_CR0, vmcs_readnw(VMCS_GUEST_CR0) | (uword_t)(CR0_TS | CR0_EM));
  vmcs_writenw(VMCS_GUEST_CR4, vmcs_readnw(VMCS_GUEST_CR4) & ~(uword_t)(CR4_PKE | CR4_PCE));
  vmcs_writenw(VMCS_GUEST_DR7, DR7_INIT);
  vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, 0);
}
