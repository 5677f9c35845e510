/* SPDX-License-Identifier: Apache-2.0 */
/* INT 15h E820 for the guest: answered from the map that hides the hypervisor. */
#include "xhv/guest_bios.h"

#include "xhv/string.h"
#include "xhv/vmcs.h"

#define IVT_INT15 (0x15U * 4U)
#define HOOK_LINEAR ((E820_HOOK_SEGMENT << 4) + E820_HOOK_OFFSET)
#define SAVED_VECTOR_LINEAR (HOOK_LINEAR + 4U) /* 0x4B0: old IP, 0x4B2: old CS */
#define SMAP 0x534D4150U                         /* "SMAP" */
#define E820_FUNCTION 0xE820U
#define E820_ENTRY_BYTES 20U
#define FLAGS_CF 0x1U
#define CR0_PE 0x1U

static const struct e820_map *guest_map;

static uint8_t *linear(uword_t addr) { return (uint8_t *)addr; }

void guest_bios_install_e820(const struct e820_map *map) {
  static const uint8_t stub[4] = {0x0F, 0x01, 0xC1, 0xCF}; /* VMCALL; IRET */
  guest_map = map;
  uint16_t *ivt = (uint16_t *)linear(IVT_INT15);
  uint16_t *saved = (uint16_t *)linear(SAVED_VECTOR_LINEAR);
  memcpy(linear(HOOK_LINEAR), stub, sizeof(stub));
  saved[0] = ivt[0];
  saved[1] = ivt[1];
  ivt[0] = E820_HOOK_OFFSET;
  ivt[1] = E820_HOOK_SEGMENT;
}

static void write_entry(uword_t dest, const struct e820_entry *e) {
  uint8_t raw[E820_ENTRY_BYTES];
  memcpy(raw, &e->base, 8);
  memcpy(raw + 8, &e->length, 8);
  memcpy(raw + 16, &e->type, 4);
  memcpy(linear(dest), raw, sizeof(raw));
}

bool guest_bios_int15(struct cpu_regs *regs, bool *advance) {
  if (guest_map == 0 || vmcs_readnw(VMCS_GUEST_RIP) != E820_HOOK_OFFSET ||
      vmcs_readnw(VMCS_GUEST_CS_BASE) != (E820_HOOK_SEGMENT << 4) ||
      (vmcs_readnw(VMCS_GUEST_CR0) & CR0_PE) != 0) {
    return false;
  }
  if ((regs->ax & 0xFFFFU) != E820_FUNCTION) {
    /* Not ours: continue in the BIOS handler, which IRETs to the caller. */
    const uint16_t *saved = (const uint16_t *)linear(SAVED_VECTOR_LINEAR);
    vmcs_write16(VMCS_GUEST_CS_SELECTOR, saved[1]);
    vmcs_writenw(VMCS_GUEST_CS_BASE, (uword_t)saved[1] << 4);
    vmcs_writenw(VMCS_GUEST_RIP, saved[0]);
    *advance = false;
    return true;
  }
  /* The INT pushed FLAGS, CS, IP: the IRET after the VMCALL pops them. */
  uword_t frame = vmcs_readnw(VMCS_GUEST_SS_BASE) + (vmcs_readnw(VMCS_GUEST_RSP) & 0xFFFFU);
  uint16_t *flags = (uint16_t *)linear(frame + 4U);
  uint32_t index = (uint32_t)regs->bx;
  if ((uint32_t)regs->dx != SMAP || index >= guest_map->count) {
    *flags |= FLAGS_CF; /* error, as a BIOS reports a bad call */
  } else {
    uword_t dest = vmcs_readnw(VMCS_GUEST_ES_BASE) + (regs->di & 0xFFFFU);
    write_entry(dest, &guest_map->entry[index]);
    regs->ax = SMAP;
    regs->cx = E820_ENTRY_BYTES;
    regs->bx = index + 1U < guest_map->count ? index + 1U : 0U;
    *flags &= (uint16_t)~FLAGS_CF;
  }
  *advance = true;
  return true;
}
