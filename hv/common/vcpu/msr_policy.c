/* SPDX-License-Identifier: Apache-2.0 */
/* The guest MSR policy and the MSR bitmap built from it. */
#include "xhv/msr_policy.h"

#define MSR_VMX_FIRST 0x480U /* IA32_VMX_BASIC */
#define MSR_VMX_LAST 0x491U  /* IA32_VMX_VMFUNC */

#define LOW_LIMIT 0x2000U
#define HIGH_BASE 0xC0000000U
#define BITMAP_READ_LOW 0U
#define BITMAP_READ_HIGH 1024U
#define BITMAP_WRITE_LOW 2048U
#define BITMAP_WRITE_HIGH 3072U

enum msr_action msr_policy(uint32_t msr, bool write) {
  if (msr >= MSR_VMX_FIRST && msr <= MSR_VMX_LAST) {
    return MSR_GP; /* VMX is hidden from the guest (CPUID.1:ECX.VMX = 0) */
  }
  (void)write;
  return MSR_PASS;
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
  static const uint32_t ranges[][2] = {
      {MSR_VMX_FIRST, MSR_VMX_LAST},
  };
  for (uint32_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
    for (uint32_t msr = ranges[r][0]; msr <= ranges[r][1]; msr++) {
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
