/* SPDX-License-Identifier: Apache-2.0 */
/* Privileged CPU operations: the one seam between hv/common and the hardware. */
#ifndef XHV_CPU_OPS_H
#define XHV_CPU_OPS_H

#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * Implemented for the hypervisor by hv/common/cpu/cpu_ops_hw.c (inline
 * assembly written once for both bitnesses) and for host tests by a fake
 * under testing/fakes.
 */

struct cpuid_regs {
  uint32_t eax;
  uint32_t ebx;
  uint32_t ecx;
  uint32_t edx;
};

void cpu_cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out);

uint8_t cpu_inb(uint16_t port);
uint16_t cpu_inw(uint16_t port);
uint32_t cpu_inl(uint16_t port);
void cpu_outb(uint16_t port, uint8_t value);
void cpu_outw(uint16_t port, uint16_t value);
void cpu_outl(uint16_t port, uint32_t value);

uint64_t cpu_rdmsr(uint32_t msr);
void cpu_wrmsr(uint32_t msr, uint64_t value);
uint64_t cpu_rdtsc(void);

uword_t cpu_read_cr0(void);
uword_t cpu_read_cr3(void);
uword_t cpu_read_cr4(void);
void cpu_write_cr0(uword_t value);
void cpu_write_cr3(uword_t value);
void cpu_write_cr4(uword_t value);

void cpu_pause(void);
/* Stops this CPU for good: interrupts off, HLT in a loop. */
XHV_NORETURN void cpu_halt_forever(void);

XHV_END_DECLS

#endif /* XHV_CPU_OPS_H */
