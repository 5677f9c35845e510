/* SPDX-License-Identifier: Apache-2.0 */
/* Per-CPU state, found from the top of the CPU's host stack. */
#ifndef XHV_PERCPU_H
#define XHV_PERCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/*
 * The most CPUs xhv runs on; the MADT's others are left out at boot (the log
 * says which) and never started for the guest. Bound by the lock-free log's
 * encoding, which gives a CPU three bits (xhv/log.h LOG_MUX_CPUS).
 */
#define XHV_MAX_CPUS 8U
/* Power of two: this_cpu() masks the stack pointer with it. */
#define HOST_STACK_SIZE 0x8000U

/* Hardware task state segment: only needed because VMX host state wants a TR. */
struct tss {
  uint8_t bytes[104];
} XHV_PACKED;

/* Room for every basic exit reason the SDM defines, with a margin. */
#define CPU_EXIT_COUNTERS 80U

struct cpu {
  uint32_t index;   /* 0 is the BSP */
  uint32_t apic_id; /* local APIC ID */
  bool is_bsp;
  uint32_t in_nmi;    /* nonzero while this CPU runs its NMI handler */
  uint32_t quiesced;  /* parked by, or running, a quiesce (xhv/quiesce.h) */
  uint32_t quiesce_depth; /* quiesce_begin calls of this CPU not yet ended */
  uint32_t in_exit;   /* an exit handler owns the VMCS (xhv/guest_nmi.h) */
  bool launched;      /* this CPU's guest has been entered */
  uint32_t guest_nmi_owed;     /* NMIs the guest has yet to get (xhv/guest_nmi.h) */
  uint32_t guest_nmis;         /* NMIs classified as the guest's and owed */
  uint32_t guest_nmis_merged;  /* ... merged, as the hardware merges them */
  uint32_t guest_nmis_injected; /* NMIs injected into the guest */
  bool guest_nmi_held;          /* owed NMIs wait (xhv/guest.h guest_nmi_hold) */
  uint32_t ept_generation;      /* guest_ept_changed() count this CPU has flushed */
  uint32_t quiesce_parks;       /* times this CPU parked for another's quiesce */
  struct tss tss;
  /* VMX */
  uint64_t vmxon_pa;
  uint64_t vmcs_pa;
  struct cpu_regs launch_regs; /* the guest's GPRs at VMLAUNCH */
  struct cpu_regs *exit_regs; /* the guest GPRs of the exit this CPU is handling */
  /* Virtual INIT/SIPI: the guest's start-up IPI for this AP, set by another CPU. */
  volatile uint32_t sipi_received; /* a SIPI's vector waits for this CPU to take it */
  bool awaiting_sipi;              /* counted among the CPUs that wait for a SIPI */
  volatile uint32_t sipi_vector;
  volatile uint32_t init_received; /* INITed while waiting: only its SIPI ends the wait now */
  /* Single-stepping one guest access to the trapped local APIC page. */
  bool apic_step;
  uint32_t apic_step_offset;
  uword_t apic_step_rflags;
  uint32_t apic_step_exceptions;
  uword_t apic_step_rip;
  uint64_t apic_step_debugctl;
  uint64_t exit_count[CPU_EXIT_COUNTERS];
};

/*
 * One host stack per CPU, aligned to its size. The last word of each stack
 * holds the owning struct cpu *, so any code on that stack (exception, NMI,
 * VM-exit handler) finds its CPU without a lookup.
 */
struct host_stack {
  uint8_t bytes[HOST_STACK_SIZE];
} XHV_ALIGNED(HOST_STACK_SIZE);

/* The struct cpu of slot `index` (< XHV_MAX_CPUS). */
struct cpu *cpu_by_index(uint32_t index);

/* The CPU whose host stack we are running on. */
struct cpu *this_cpu(void);

/* Top of `cpu`'s host stack, below the struct cpu * slot. */
uword_t cpu_stack_top(const struct cpu *cpu);

/* Binds CPU slot `index` to `apic_id`; returns the cpu. */
struct cpu *percpu_init(uint32_t index, uint32_t apic_id);

/* Builds the shared GDT (with one TSS per CPU) and IDT; BSP, once. */
void cpu_tables_init(void);
/* Loads GDT, segments, IDT and this CPU's TR. */
void cpu_tables_load(struct cpu *cpu);

/* Called by the exception stubs; returns only for NMIs. */
void xhv_exception(struct exception_frame *frame);

/* Per-arch helpers, in each image's entry.S. */
void arch_load_gdt(const struct dt_ptr *gdt);
/* Switches to `stack_top` and calls fn(arg); never returns. */
XHV_NORETURN void arch_call_on_stack(uword_t stack_top, void (*fn)(struct cpu *), struct cpu *arg);

XHV_END_DECLS

#endif /* XHV_PERCPU_H */
