/* SPDX-License-Identifier: Apache-2.0 */
/* INT 15h E820 for the guest: answered from the map that hides the hypervisor. */
#include "xhv/guest_bios.h"

#include "xhv/guest.h"
#include "xhv/guest_mem.h"
#include "xhv/log.h"
#include "xhv/quiesce.h"
#include "xhv/vmcs.h"

#define IVT_INT15 (0x15U * 4U)
#define HOOK_LINEAR ((E820_HOOK_SEGMENT << 4) + E820_HOOK_OFFSET)
#define SAVED_VECTOR_LINEAR (HOOK_LINEAR + 4U) /* 0x4B0: old IP, 0x4B2: old CS */
#define SMAP 0x534D4150U                         /* "SMAP" */
#define E820_FUNCTION 0xE820U
#define E820_ENTRY_BYTES 20U
#define FLAGS_CF 0x1U
#define CR0_PE 0x1U
#define AH_UNSUPPORTED 0x86U /* the BIOS's "function not supported" */
#define VECTOR_GP 13U

static const struct e820_map *guest_map;

void guest_bios_install_e820(const struct e820_map *map) {
  static const uint8_t stub[4] = {0x0F, 0x01, 0xC1, 0xCF}; /* VMCALL; IRET */
  guest_map = map;
  uint16_t vector[2];
  uint16_t hook[2] = {E820_HOOK_OFFSET, E820_HOOK_SEGMENT};
  if (!guest_mem_read(0, IVT_INT15, vector, sizeof(vector)) ||
      !guest_mem_write(0, HOOK_LINEAR, stub, sizeof(stub)) ||
      !guest_mem_write(0, SAVED_VECTOR_LINEAR, vector, sizeof(vector)) ||
      !guest_mem_write(0, IVT_INT15, hook, sizeof(hook))) {
    log_printf("bios: the BIOS data area is not guest RAM: no E820 hook, the guest sees the "
               "firmware's map\n");
    guest_map = 0;
  }
}

/*
 * Fails the call the way a BIOS fails one: CF set in the FLAGS the IRET
 * pops, AH = "unsupported". A frame the hypervisor may not write (the
 * guest pointed SS somewhere it cannot) gets #GP instead, which in real
 * mode carries no error code.
 */
static void fail_call(struct cpu_regs *regs, uword_t frame) {
  uint16_t flags;
  regs->ax = (regs->ax & ~(uword_t)0xFF00U) | (AH_UNSUPPORTED << 8);
  if (!guest_mem_read(0, frame + 4U, &flags, sizeof(flags))) {
    guest_inject_exception(VECTOR_GP, true, 0);
    return;
  }
  flags |= FLAGS_CF;
  if (!guest_mem_write(0, frame + 4U, &flags, sizeof(flags))) {
    guest_inject_exception(VECTOR_GP, true, 0);
  }
}

/* The INT 15h call itself, with the other CPUs quiesced. */
static void answer(struct cpu_regs *regs, bool *advance) {
  /*
   * Segment bases are whatever the guest left cached: unreal mode (PE = 0
   * with 32-bit bases) reaches all of the low 4 GiB, so every address below
   * comes from the guest and goes through the checked accessor.
   */
  uword_t frame = vmcs_readnw(VMCS_GUEST_SS_BASE) + (vmcs_readnw(VMCS_GUEST_RSP) & 0xFFFFU);
  *advance = true;
  if ((regs->ax & 0xFFFFU) != E820_FUNCTION) {
    /* Not ours: continue in the BIOS handler, which IRETs to the caller. */
    uint16_t saved[2];
    if (!guest_mem_read(0, SAVED_VECTOR_LINEAR, saved, sizeof(saved))) {
      fail_call(regs, frame);
      return;
    }
    vmcs_write16(VMCS_GUEST_CS_SELECTOR, saved[1]);
    vmcs_writenw(VMCS_GUEST_CS_BASE, (uword_t)saved[1] << 4);
    vmcs_writenw(VMCS_GUEST_RIP, saved[0]);
    *advance = false;
    return;
  }
  uint32_t index = (uint32_t)regs->bx;
  if ((uint32_t)regs->dx != SMAP || index >= guest_map->count) {
    fail_call(regs, frame);
    return;
  }
  const struct e820_entry *e = &guest_map->entry[index];
  uint8_t raw[E820_ENTRY_BYTES];
  __builtin_memcpy(raw, &e->base, 8);
  __builtin_memcpy(raw + 8, &e->length, 8);
  __builtin_memcpy(raw + 16, &e->type, 4);
  uword_t dest = vmcs_readnw(VMCS_GUEST_ES_BASE) + (regs->di & 0xFFFFU);
  uint16_t flags;
  if (!guest_mem_read(0, frame + 4U, &flags, sizeof(flags))) {
    fail_call(regs, frame);
    return;
  }
  if (!guest_mem_write(0, dest, raw, sizeof(raw))) {
    log_printf("bios: E820 call wanted its entry at 0x%llx, which is not the guest's RAM: "
               "refused\n",
               (unsigned long long)dest);
    fail_call(regs, frame);
    return;
  }
  flags &= (uint16_t)~FLAGS_CF;
  guest_mem_write(0, frame + 4U, &flags, sizeof(flags)); /* just read: reachable */
  regs->ax = SMAP;
  regs->cx = E820_ENTRY_BYTES;
  regs->bx = index + 1U < guest_map->count ? index + 1U : 0U;
}

bool guest_bios_int15(struct cpu *cpu, struct cpu_regs *regs, bool *advance) {
  if (guest_map == 0 || vmcs_readnw(VMCS_GUEST_RIP) != E820_HOOK_OFFSET ||
      vmcs_readnw(VMCS_GUEST_CS_BASE) != (E820_HOOK_SEGMENT << 4) ||
      (vmcs_readnw(VMCS_GUEST_CR0) & CR0_PE) != 0) {
    return false;
  }
  quiesce_begin(cpu);
  answer(regs, advance);
  quiesce_end(cpu);
  return true;
}
