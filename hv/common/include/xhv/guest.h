/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest as hypapps see it: the current CPU's guest registers and modes,
 * guest-physical memory, and the EPT views. Hypapps use these instead of
 * VMX: each call works on the guest of the CPU it runs on, from an exit
 * handler or a hypapp callback (never from NMI context).
 */
#ifndef XHV_GUEST_H
#define XHV_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "xhv/arch.h"
#include "xhv/compiler.h"
#include "xhv/vmcs.h"
#include "xhv/ept.h"
#include "xhv/gpt.h"
#include "xhv/mem_io.h"
#include "xhv/percpu.h"

XHV_BEGIN_DECLS

/* How the guest translates linear addresses now (CR0.PG, CR4.PAE, EFER.LMA). */
enum guest_paging {
  GUEST_PAGING_NONE,
  GUEST_PAGING_32,   /* 2-level, 4 KiB and (CR4.PSE) 4 MiB pages */
  GUEST_PAGING_PAE,  /* 3-level with the 4 PDPTEs */
  GUEST_PAGING_LONG, /* 4-level (IA-32e; compatibility-mode code too) */
};

enum guest_reg {
  GUEST_REG_RIP,
  GUEST_REG_RSP,
  GUEST_REG_RFLAGS,
  GUEST_REG_CR0,
  GUEST_REG_CR3,
  GUEST_REG_CR4,
  GUEST_REG_EFER,
};

uint64_t guest_reg(enum guest_reg reg);
/* RIP, RSP, RFLAGS and CR3 only; CR3 changes in PAE mode also need guest_set_pdptes. */
void guest_set_reg(enum guest_reg reg, uint64_t value);

enum guest_paging guest_paging_mode(void);
/* The code running now is 64-bit (EFER.LMA and CS.L). */
bool guest_code_64bit(void);
/* The current privilege level (SS.DPL). */
uint32_t guest_cpl(void);
/*
 * Whether `rip` may be the guest's next instruction pointer in its current
 * mode: canonical for the paging width (48 or 57 bits, CR4.LA57) in 64-bit
 * code, below 4 GiB otherwise. VM entry fails on any other value, so an
 * address that comes from the guest (a return address on its stack) is
 * checked before it is written to RIP.
 */
bool guest_rip_valid(uint64_t rip);
/* The PDPTEs the CPU uses in PAE mode (VMX keeps them in the VMCS), and loading them. */
void guest_pdptes(uint64_t pdpte[4]);
void guest_set_pdptes(const uint64_t pdpte[4]);

/*
 * The guest's page tables rooted at `cr3` in the paging mode its registers
 * give now (CR0.PG/WP, CR4.PAE/PSE, EFER.LMA/NXE), read through `io`
 * (guest_mem_io(NULL) for the guest's own memory); `io` must outlive *g.
 */
void guest_gpt(struct gpt_ctx *g, uint64_t cr3, const struct mem_io *io);

/*
 * Reads or writes the guest's linear range [la, la + len) as the CPU would
 * for an access of kind `access` (GPT_ACC_WRITE / _USER / _EXEC; 0 is a
 * supervisor read, as for descriptor tables), through its current page
 * tables and the checked accessor. On failure nothing is copied, the fault
 * the guest's CPU would take is injected (#PF with CR2 and error code; #GP
 * for memory the hypervisor may not touch for it) and false is returned.
 */
bool guest_linear_read(uint64_t la, void *buf, uint32_t len, uint32_t access);
bool guest_linear_write(uint64_t la, const void *buf, uint32_t len, uint32_t access);

/*
 * The state of the guest context running now that a hypapp which runs
 * another context on this CPU (a PAL) must hand back exactly: the six
 * segment registers (selector and hidden part: CPL is SS.DPL), RFLAGS,
 * CR0, CR4, DR7, IA32_DEBUGCTL and the pending debug exceptions. Not the
 * GPRs (the hypapp has them), RIP, RSP, CR3 or the EPT view: the hypapp
 * sets those itself.
 */
struct guest_context {
  struct vmcs_segment seg[VMCS_SEG_LDTR]; /* ES, CS, SS, DS, FS, GS */
  uword_t rflags, cr0, cr4, dr7, pending_dbg;
  uint64_t debugctl;
};
void guest_context_save(struct guest_context *c);
void guest_context_restore(const struct guest_context *c);

/*
 * Makes the running context a sealed one, keeping its segments: RFLAGS
 * only its fixed bit (no interrupts, no trap flag, IOPL 0, DF 0, AC 0);
 * the FPU off (CR0.TS and EM: every x87, MMX, SSE, AVX and XSAVE
 * instruction faults, #NM or #UD, before it reads or writes the previous
 * context's registers); no protection keys, user-mode RDPMC, CET or user
 * interrupts (CR4.PKE, PKS, PCE, CET, UINTR); no breakpoints (DR7 = 400H),
 * no branch records or trace (IA32_DEBUGCTL = 0), no pending debug
 * exceptions, no blocking by STI or MOV SS. guest_context_restore clears
 * that blocking too: both start the context at an instruction boundary.
 */
void guest_context_isolate(void);

/* Exceptions that exit instead of reaching the guest's IDT (bit n = vector n). */
uint32_t guest_exception_bitmap(void);
void guest_set_exception_bitmap(uint32_t bitmap);

/*
 * Guest NMIs are held (noted, not injected) while `hold` is true, e.g.
 * while a PAL runs on its own page tables; releasing delivers what is owed.
 */
void guest_nmi_hold(struct cpu *cpu, bool hold);

/*
 * Guest-physical memory is read and written only through the checked
 * accessor of xhv/guest_mem.h.
 */

/* The EPT every CPU's regular guest runs on, and its page source. */
struct ept *guest_ept(void);
const struct ept_pages *guest_ept_pages(void);
/* EPT edits are not reentrant: hold this lock around them. */
void guest_ept_lock(void);
void guest_ept_unlock(void);

/*
 * This CPU's EPT pointer: switch between views (the regular guest's, a
 * PAL's). Flushes this CPU's cached translations of the new view.
 */
uint64_t guest_eptp(void);
uint64_t guest_regular_eptp(void);
void guest_set_eptp(uint64_t eptp);

/*
 * After changing the shared EPT while the other CPUs are quiesced: every
 * CPU, this one included, flushes its EPT-derived translations before it
 * next enters the guest.
 */
void guest_ept_changed(void);
/* The core, before every VM entry: flush if the shared EPT changed since this CPU last did. */
void guest_ept_sync(struct cpu *cpu);

/*
 * Injects hardware exception `vector` at the next VM entry as the CPU
 * would raise it: error code pushed where the vector has one and the guest
 * is in protected mode (`error`; has_error is kept for readers, the vector
 * decides), RF set in the pushed RFLAGS for a fault. If the exit interrupted
 * the delivery of another event, the two combine as the SDM's double-fault
 * rules say (contributory or #PF then contributory or #PF: #DF; a fault
 * while delivering #DF: the guest's CPU shuts down); a benign first event
 * is delivered later or, if it was an instruction's, runs again with it.
 */
void guest_inject_exception(uint32_t vector, bool has_error, uint32_t error);

/* #PF at `linear` with `error` (CR2 set as the CPU sets it). */
void guest_inject_page_fault(uint64_t linear, uint32_t error);

/*
 * Drops the event whose delivery this exit interrupted (the core re-delivers
 * it by default, from the IDT-vectoring information): for a hypapp that
 * ends the context the event belonged to, e.g. a PAL that faulted on INT n.
 */
void guest_event_cancel(struct cpu *cpu);

XHV_END_DECLS

#endif /* XHV_GUEST_H */
