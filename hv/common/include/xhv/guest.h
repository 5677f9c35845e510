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
#include "xhv/ept.h"
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
/* The PDPTEs the CPU uses in PAE mode (VMX keeps them in the VMCS), and loading them. */
void guest_pdptes(uint64_t pdpte[4]);
void guest_set_pdptes(const uint64_t pdpte[4]);

/* Exceptions that exit instead of reaching the guest's IDT (bit n = vector n). */
uint32_t guest_exception_bitmap(void);
void guest_set_exception_bitmap(uint32_t bitmap);

/*
 * Guest NMIs are held (noted, not injected) while `hold` is true, e.g.
 * while a PAL runs on its own page tables; releasing delivers what is owed.
 */
void guest_nmi_hold(struct cpu *cpu, bool hold);

/*
 * A host pointer to guest-physical [gpa, gpa + len), or NULL if that range
 * is not all ordinary guest memory below 4 GiB (hypervisor memory, beyond
 * the hypervisor's map). The range must not cross a 4 KiB page.
 */
void *guest_phys(uint64_t gpa, uint32_t len);

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
 * CPU flushes its EPT-derived translations before it next enters the guest.
 */
void guest_ept_changed(void);
/* The core, before every VM entry: flush if the shared EPT changed since this CPU last did. */
void guest_ept_sync(struct cpu *cpu);

/* The hypervisor's shared blank page (what hidden memory reads as). */
uint64_t guest_blank_page(void);

/* Injects a hardware exception at the next VM entry. */
void guest_inject_exception(uint32_t vector, bool has_error, uint32_t error);

XHV_END_DECLS

#endif /* XHV_GUEST_H */
