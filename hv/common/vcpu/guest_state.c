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
#define CR4_LA57 (1ULL << 12)
#define CR4_CET (1ULL << 23)
#define CR4_PKS (1ULL << 24)
#define CR4_UINTR (1ULL << 25)
/*
 * CR4 features the OS could use to reach into a PAL or watch it, off inside
 * one: protection keys (user and supervisor), user RDPMC, CET (its shadow
 * stack and tracker are the caller's), user interrupts (the OS's handler
 * address would be called in the PAL's address space).
 */
#define CR4_NOT_IN_PAL (CR4_PCE | CR4_PKE | CR4_CET | CR4_PKS | CR4_UINTR)
#define INTERRUPTIBILITY_STI_MOVSS 3U
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

bool guest_rip_valid(uint64_t rip) {
  if (!guest_code_64bit()) {
    return rip <= 0xFFFFFFFFULL;
  }
  uint32_t bits = (vmcs_readnw(VMCS_GUEST_CR4) & CR4_LA57) ? 57U : 48U;
  uint64_t upper = rip >> (bits - 1U); /* the sign bit and all above it: all 0s or all 1s */
  return upper == 0U || upper == (~0ULL >> (bits - 1U));
}

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

/*
 * The context switches at an instruction boundary of its own: no blocking
 * by the STI or MOV SS before the old context's last instruction carries
 * over (with IF clear, STI blocking would even fail VM entry).
 */
static void clear_instruction_blocking(void) {
  uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
  if (intr & INTERRUPTIBILITY_STI_MOVSS) {
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~INTERRUPTIBILITY_STI_MOVSS);
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
  clear_instruction_blocking();
  vmcs_writenw(VMCS_GUEST_RFLAGS, c->rflags);
  vmcs_writenw(VMCS_GUEST_CR0, c->cr0);
  vmcs_writenw(VMCS_GUEST_CR4, c->cr4);
  vmcs_writenw(VMCS_GUEST_DR7, c->dr7);
  vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, c->pending_dbg);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, c->debugctl);
}

void guest_context_isolate(void) {
  clear_instruction_blocking();
  vmcs_writenw(VMCS_GUEST_RFLAGS, RFLAGS_FIXED);
  vmcs_writenw(VMCS_GUEST_CR0, vmcs_readnw(VMCS_GUEST_CR0) | (uword_t)(CR0_TS | CR0_EM));
  vmcs_writenw(VMCS_GUEST_CR4, vmcs_readnw(VMCS_GUEST_CR4) & ~(uword_t)CR4_NOT_IN_PAL);
  vmcs_writenw(VMCS_GUEST_DR7, DR7_INIT);
  vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, 0);
}
