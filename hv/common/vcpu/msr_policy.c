/* SPDX-License-Identifier: Apache-2.0 */
/* The guest MSR policy: one table of the MSRs the hypervisor keeps from the guest, and why. */
#include "xhv/msr_policy.h"

#include "xhv/arch.h"

#define MSR_APIC_BASE 0x1BU
#define MSR_BIOS_UPDT_TRIG 0x79U
#define MSR_MISC_ENABLE 0x1A0U
#define MSR_LBR_INFO_FIRST 0x1200U /* architectural LBRs: INFO, CTL, DEPTH, FROM, TO */
#define MSR_LBR_INFO_LAST 0x121FU
#define MSR_LBR_CTL 0x14CEU
#define MSR_LBR_DEPTH 0x14CFU
#define MSR_LBR_FROM_FIRST 0x1500U
#define MSR_LBR_FROM_LAST 0x151FU
#define MSR_LBR_TO_FIRST 0x1600U
#define MSR_LBR_TO_LAST 0x161FU
#define MSR_MTRR_PHYS_FIRST 0x200U /* PHYSBASE0 */
#define MSR_MTRR_PHYS_LAST 0x21FU  /* PHYSMASK15: room for 16 variable ranges */
#define MSR_MTRR_FIX_64K 0x250U
#define MSR_MTRR_FIX_16K_80000 0x258U
#define MSR_MTRR_FIX_16K_A0000 0x259U
#define MSR_MTRR_FIX_4K_FIRST 0x268U
#define MSR_MTRR_FIX_4K_LAST 0x26FU
#define MSR_MTRR_DEF_TYPE 0x2FFU
#define MSR_VMX_FIRST 0x480U /* IA32_VMX_BASIC */
#define MSR_VMX_LAST 0x491U  /* IA32_VMX_VMFUNC */
#define MSR_RTIT_OUTPUT_BASE 0x560U
#define MSR_RTIT_OUTPUT_MASK 0x561U
#define MSR_RTIT_CTL 0x570U
#define MSR_RTIT_CR3_MATCH 0x572U
#define MSR_RTIT_ADDR_FIRST 0x580U
#define MSR_RTIT_ADDR_LAST 0x587U
#define MSR_EFER 0xC0000080U
#define MSR_STAR 0xC0000081U
#define MSR_FMASK 0xC0000084U /* LSTAR 0x...82, CSTAR 0x...83 in between */
#define MSR_FS_BASE 0xC0000100U
#define MSR_KERNEL_GS_BASE 0xC0000102U

#define APIC_BASE_BSP (1ULL << 8)
#define MISC_ENABLE_LIMIT_CPUID (1ULL << 22)
#define MISC_ENABLE_XD_DISABLE (1ULL << 34)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define LOW_LIMIT 0x2000U
#define HIGH_BASE 0xC0000000U
#define BITMAP_READ_LOW 0U
#define BITMAP_READ_HIGH 1024U
#define BITMAP_WRITE_LOW 2048U
#define BITMAP_WRITE_HIGH 3072U

#define ALL_IMAGES 0U
#define I386_IMAGE 32U

struct msr_rule {
  uint32_t first, last;
  enum msr_action read, write;
  uint32_t image; /* ALL_IMAGES, or the one image bitness it applies to */
};

/*
 * The policy. Why each line:
 *  - APIC_BASE: the quiesce IPIs (hv/common/cpu/smp.c) write the xAPIC's
 *    ICR at the address the firmware gave it. An x2APIC switch, a move or a
 *    disable would leave them writing nowhere and the next quiesce waiting
 *    for ever (and Bochs cannot even re-enable a disabled APIC). CPUID
 *    hides x2APIC, so #GP is what this CPU would answer to EXTD = 1; for
 *    the others the guest loses an operation it never needs.
 *  - MTRRs: the hardware's are the hypervisor's memory types too (VMX root
 *    operation uses them; only the guest's accesses take EPT types). The
 *    guest's memory types come from the EPT, built from the MTRRs at boot,
 *    so its writes are dropped; reads pass, and show what the EPT follows.
 *    Linux writes back the values it read (and briefly disables them
 *    around cache flushes), which changes nothing when dropped; exiting on
 *    reads too cost a 64-bit Debian guest 8 s of its boot under Bochs.
 *  - BIOS_UPDT_TRIG: a microcode load would change the hypervisor's CPU.
 *  - MISC_ENABLE: the guest may clear "limit CPUID maxval" and "XD bit
 *    disable" (Linux does at boot), nothing else: setting them would
 *    shrink the hypervisor's own CPUID answers under it or break its page
 *    tables (they use XD), and the other bits differ by CPU model, some
 *    read-only, and a WRMSR the hardware refuses would fault in the
 *    hypervisor. Any other change gets #GP; reads pass.
 *  - architectural LBRs (CPUID.7:EDX[19], hidden): IA32_LBR_CTL is not
 *    switched by the VMCS as DEBUGCTL is, so it could record a PAL's
 *    branches for the OS to read. They do not exist for the guest.
 *  - VMX capability MSRs and Intel PT: VMX is hidden (CPUID.1:ECX.VMX = 0),
 *    and PT (CPUID.7:EBX[25]) too, so no one can trace a PAL's branches.
 *  - long-mode MSRs in the i386 image: CPUID.80000001H:EDX.LM is clear, and
 *    a 32-bit host cannot run a 64-bit guest at all; writing GS_BASE would
 *    even move a 32-bit guest's per-CPU data. EFER writes are checked so
 *    LME never gets set (the VMCS holds the guest's EFER).
 */
static const struct msr_rule rules[] = {
    {MSR_APIC_BASE, MSR_APIC_BASE, MSR_PASS, MSR_WRITE_CHECK, ALL_IMAGES},
    {MSR_BIOS_UPDT_TRIG, MSR_BIOS_UPDT_TRIG, MSR_PASS, MSR_WRITE_DROP, ALL_IMAGES},
    {MSR_MISC_ENABLE, MSR_MISC_ENABLE, MSR_PASS, MSR_WRITE_CHECK, ALL_IMAGES},
    {MSR_LBR_INFO_FIRST, MSR_LBR_INFO_LAST, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_LBR_CTL, MSR_LBR_DEPTH, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_LBR_FROM_FIRST, MSR_LBR_FROM_LAST, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_LBR_TO_FIRST, MSR_LBR_TO_LAST, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_MTRR_PHYS_FIRST, MSR_MTRR_PHYS_LAST, MSR_PASS, MSR_WRITE_DROP, ALL_IMAGES},
    {MSR_MTRR_FIX_64K, MSR_MTRR_FIX_64K, MSR_PASS, MSR_WRITE_DROP, ALL_IMAGES},
    {MSR_MTRR_FIX_16K_80000, MSR_MTRR_FIX_16K_A0000, MSR_PASS, MSR_WRITE_DROP, ALL_IMAGES},
    {MSR_MTRR_FIX_4K_FIRST, MSR_MTRR_FIX_4K_LAST, MSR_PASS, MSR_WRITE_DROP, ALL_IMAGES},
    {MSR_MTRR_DEF_TYPE, MSR_MTRR_DEF_TYPE, MSR_PASS, MSR_WRITE_DROP, ALL_IMAGES},
    {MSR_VMX_FIRST, MSR_VMX_LAST, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_RTIT_OUTPUT_BASE, MSR_RTIT_OUTPUT_MASK, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_RTIT_CTL, MSR_RTIT_CR3_MATCH, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_RTIT_ADDR_FIRST, MSR_RTIT_ADDR_LAST, MSR_GP, MSR_GP, ALL_IMAGES},
    {MSR_EFER, MSR_EFER, MSR_PASS, MSR_WRITE_CHECK, I386_IMAGE},
    {MSR_STAR, MSR_FMASK, MSR_GP, MSR_GP, I386_IMAGE},
    {MSR_FS_BASE, MSR_KERNEL_GS_BASE, MSR_GP, MSR_GP, I386_IMAGE},
};

enum msr_action msr_policy_image(uint32_t image_bits, uint32_t msr, bool write) {
  for (uint32_t i = 0; i < XHV_ARRAY_SIZE(rules); i++) {
    if (msr >= rules[i].first && msr <= rules[i].last &&
        (rules[i].image == ALL_IMAGES || rules[i].image == image_bits)) {
      return write ? rules[i].write : rules[i].read;
    }
  }
  return MSR_PASS;
}

enum msr_action msr_policy(uint32_t msr, bool write) { return msr_policy_image(XHV_BITS, msr, write); }

enum msr_write msr_check_write(uint32_t msr, uint64_t value, uint64_t current) {
  switch (msr) {
  case MSR_APIC_BASE:
    /* Only a write that leaves it as it is (BSP is read-only). */
    return ((value ^ current) & ~APIC_BASE_BSP) == 0U ? MSR_WRITE_HARDWARE : MSR_WRITE_FAULT;
  case MSR_MISC_ENABLE:
    /* Only clearing bits that are set among these two. */
    return (value & ~current) == 0U &&
                   ((value ^ current) & ~(MISC_ENABLE_LIMIT_CPUID | MISC_ENABLE_XD_DISABLE)) == 0U
               ? MSR_WRITE_HARDWARE
               : MSR_WRITE_FAULT;
  case MSR_EFER:
    /* The i386 image: LME and LMA do not exist; LMA never could be written. */
    return (value & (EFER_LME | EFER_LMA)) != 0U ? MSR_WRITE_FAULT : MSR_WRITE_GUEST_EFER;
  default:
    return MSR_WRITE_FAULT;
  }
}

/* Byte offset and bit of `msr` in the bitmap, or false if outside both ranges. */
static bool locate(uint32_t msr, bool write, uint32_t *byte, uint8_t *bit) {
  uint32_t base;
  uint32_t index;
  if (msr < LOW_LIMIT) {
    base = write ? BITMAP_WRITE_LOW : BITMAP_READ_LOW;
    index = msr;
  } else if (msr >= HIGH_BASE && msr - HIGH_BASE < LOW_LIMIT) {
    base = write ? BITMAP_WRITE_HIGH : BITMAP_READ_HIGH;
    index = msr - HIGH_BASE;
  } else {
    return false;
  }
  *byte = base + index / 8U;
  *bit = (uint8_t)(1U << (index % 8U));
  return true;
}

void msr_bitmap_build(uint8_t *bitmap) {
  for (uint32_t r = 0; r < XHV_ARRAY_SIZE(rules); r++) {
    for (uint32_t msr = rules[r].first; msr <= rules[r].last; msr++) {
      for (int write = 0; write < 2; write++) {
        uint32_t byte;
        uint8_t bit;
        if (msr_policy(msr, write != 0) != MSR_PASS && locate(msr, write != 0, &byte, &bit)) {
          bitmap[byte] |= bit;
        }
      }
    }
  }
}

bool msr_bitmap_exits(const uint8_t *bitmap, uint32_t msr, bool write) {
  uint32_t byte;
  uint8_t bit;
  /* MSRs outside both ranges always exit (SDM "RDMSR"/"WRMSR" exiting rules). */
  return !locate(msr, write, &byte, &bit) || (bitmap[byte] & bit) != 0;
}
