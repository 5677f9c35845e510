/* SPDX-License-Identifier: Apache-2.0 */
/* The one place where hypervisor bitness is visible to common code. */
#ifndef XHV_ARCH_H
#define XHV_ARCH_H

#include <stdint.h>

#include "xhv/compiler.h"

#if defined(__x86_64__)
#define XHV_BITS 64
#define XHV_ARCH_NAME "x86_64"
typedef uint64_t uword_t;
typedef int64_t sword_t;
#define XHV_GPR_COUNT 16U
#elif defined(__i386__)
#define XHV_BITS 32
#define XHV_ARCH_NAME "x86"
typedef uint32_t uword_t;
typedef int32_t sword_t;
#define XHV_GPR_COUNT 8U
#else
#error "xhv supports only x86 (i386) and x86_64"
#endif

#define XHV_WORD_BYTES ((unsigned)sizeof(uword_t))

/* Host GDT selectors, the same in both images. */
#define SEL_CODE 0x08U
#define SEL_DATA 0x10U
#define SEL_TSS0 0x18U /* first per-CPU TSS; each takes GDT_TSS_SLOTS slots */
#if XHV_BITS == 64
#define GDT_TSS_SLOTS 2U /* 16-byte system descriptor */
#else
#define GDT_TSS_SLOTS 1U
#endif

/*
 * General-purpose registers as the exception and VM-exit stubs save them.
 * Field n is GPR number n of the SDM's register encoding (0 = AX ... 7 = DI,
 * 8-15 = R8-R15), so an exit qualification's register field indexes it.
 * `sp` is a placeholder: the guest's stack pointer lives in the VMCS.
 */
struct cpu_regs {
  uword_t ax, cx, dx, bx, sp, bp, si, di;
#if XHV_BITS == 64
  uword_t r8, r9, r10, r11, r12, r13, r14, r15;
#endif
};
XHV_STATIC_ASSERT(sizeof(struct cpu_regs) == XHV_GPR_COUNT * sizeof(uword_t),
                  "cpu_regs must be exactly the GPRs: the asm stubs depend on it");

/* What the exception stubs leave on the stack for xhv_exception(). */
struct exception_frame {
  struct cpu_regs regs;
  uword_t vector;
  uword_t error_code; /* 0 for vectors without one */
  uword_t ip;
  uword_t cs;
  uword_t flags;
#if XHV_BITS == 64
  uword_t sp; /* 64-bit mode always pushes SS:RSP */
  uword_t ss;
#endif
};

/* An interrupt gate in the host IDT. */
struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;       /* 64-bit: IST index; 32-bit: must be zero */
  uint8_t type_attr; /* present, DPL 0, interrupt gate */
  uint16_t offset_mid;
#if XHV_BITS == 64
  uint32_t offset_high;
  uint32_t reserved;
#endif
} XHV_PACKED;
XHV_STATIC_ASSERT(sizeof(struct idt_gate) == 2U * sizeof(uword_t), "IDT gate size");

#define IDT_INTERRUPT_GATE 0x8EU

static inline void idt_gate_set(struct idt_gate *g, uword_t handler) {
  g->offset_low = (uint16_t)handler;
  g->selector = SEL_CODE;
  g->ist = 0;
  g->type_attr = IDT_INTERRUPT_GATE;
  g->offset_mid = (uint16_t)(handler >> 16);
#if XHV_BITS == 64
  g->offset_high = (uint32_t)(handler >> 32);
  g->reserved = 0;
#endif
}

/* Descriptor-table register image for LGDT/LIDT. */
struct dt_ptr {
  uint16_t limit;
  uword_t base;
} XHV_PACKED;

#endif /* XHV_ARCH_H */
