/* SPDX-License-Identifier: Apache-2.0 */
/* Local APIC access and application-processor start-up. */
#ifndef XHV_SMP_H
#define XHV_SMP_H

#include <stdint.h>

#include "xhv/compiler.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/* Physical page the AP start-up trampoline is copied to (SIPI vector 0x08). */
#define AP_TRAMPOLINE_BASE 0x8000U

/* This CPU's local APIC ID (xAPIC ID register, bits 31:24). */
uint32_t lapic_id(void);

/* Number of CPUs started (BSP included); valid after smp_start_aps. */
uint32_t smp_cpu_count(void);

/*
 * Starts every other enabled CPU of the MADT with INIT-SIPI-SIPI, one at a
 * time; each runs `ap_main` on its own host stack after loading the host
 * GDT/IDT. Returns once all have checked in (those that never do are
 * reported and left out). BSP only.
 */
void smp_start_aps(void (*ap_main)(struct cpu *cpu));

/* Per-arch trampoline (hv/x86*, trampoline.S), copied to AP_TRAMPOLINE_BASE. */
extern const uint8_t ap_trampoline_start[];
extern const uint8_t ap_trampoline_end[];

/* Filled in by the BSP inside the copied trampoline, read by the AP. */
struct ap_boot_params {
  uint32_t cr3;
  uint32_t cr4;
  uword_t stack_top;
  uword_t entry; /* void (*)(struct cpu *) */
  uword_t cpu;   /* struct cpu * */
} XHV_PACKED;

/* Offset of struct ap_boot_params from ap_trampoline_start. */
extern const uint32_t ap_trampoline_params_offset;

XHV_END_DECLS

#endif /* XHV_SMP_H */
