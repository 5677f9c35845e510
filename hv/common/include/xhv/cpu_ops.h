/* SPDX-License-Identifier: Apache-2.0 */
/* Privileged CPU operations: the one seam between hv/common and the hardware. */
#ifndef XHV_CPU_OPS_H
#define XHV_CPU_OPS_H

#include <stdbool.h>
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

/*
 * The hypervisor's pointer to physical memory [pa, pa + len): its identity
 * map (the low 4 GiB, and on the x86_64 image what cpu_map_phys added),
 * NULL for a range that leaves it. Code that touches memory by physical
 * address (its own tables, and guest memory through the checked accessor of
 * xhv/guest_mem.h) goes through here, so host tests can back it with fake RAM.
 */
void *cpu_phys_ptr(uint64_t pa, uint64_t len);

/*
 * The guest-memory accessor's way to any physical page the CPU can address,
 * whether or not the identity map reaches it: a pointer to [pa, pa + len),
 * which must lie inside one page, until cpu_phys_unmap. Inside the identity
 * map that is cpu_phys_ptr. Beyond it (the i386 image above 4 GiB, whose
 * 32-bit linear addresses cannot cover more) it is this CPU's one temporary
 * mapping: one page at a time per CPU, so a second map before the unmap is a
 * hypervisor bug and panics. NULL if the page cannot be reached at all, or
 * the range leaves its page. Not for NMI context (an NMI may arrive while
 * the window is in use).
 */
void *cpu_phys_map(uint64_t pa, uint32_t len);
/*
 * Ends the mapping cpu_phys_map returned (NULL, and identity pointers, are
 * allowed and ignored). Ending a temporary mapping that is not this CPU's
 * live one panics.
 */
void cpu_phys_unmap(void *p);
/* Whether cpu_phys_map would give [pa, pa + len) a pointer, without mapping it. */
bool cpu_phys_reachable(uint64_t pa, uint32_t len);
/* The temporary mappings cpu_phys_map has made so far, all CPUs (the exit summary). */
uint64_t cpu_phys_temporary_maps(void);

/*
 * BSP, at boot, before the APs start: extends the identity map to cover
 * physical memory up to `top` where the image's address space allows (the
 * x86_64 image: up to 512 GiB; the i386 image stays at 4 GiB and sets up
 * the temporary mappings of cpu_phys_map instead). Returns the end of what
 * is now identity-mapped.
 */
uint64_t cpu_map_phys(uint64_t top);

/* The end of the identity map (the arch's part of cpu_map_phys sets it). */
void cpu_set_phys_limit(uint64_t limit);

/* CR2 is not part of the VMCS: the guest's is the hardware's, also in the host. */
uword_t cpu_read_cr2(void);
void cpu_write_cr2(uword_t value);
/* Nor is DR6: the hypervisor uses no debug registers, so the guest's is the hardware's. */
uword_t cpu_read_dr6(void);
void cpu_write_dr6(uword_t value);
/* XSETBV: extended control register `xcr` (0: XCR0) <- value. Needs CR4.OSXSAVE. */
void cpu_xsetbv(uint32_t xcr, uint64_t value);

void cpu_pause(void);
/* WBINVD: every dirty cache line written back to memory, the caches emptied. */
void cpu_wbinvd(void);
/*
 * Ends this CPU's hardware NMI blocking without leaving the current code (an
 * IRET to the next instruction): used inside an NMI handler, or after an
 * NMI-caused VM exit, so that the next NMI is taken at once instead of
 * merging with another in the single pending latch. Per-arch (entry.S).
 */
void cpu_nmi_unblock(void);
/* Sends an NMI to every other CPU through the local APIC (all-excluding-self). */
void cpu_send_nmi_all_but_self(void);
/* Stops this CPU for good: interrupts off, HLT in a loop. */
XHV_NORETURN void cpu_halt_forever(void);

/*
 * VMX instructions (SDM "VMX Instruction Reference"). Each returns
 * CPU_VMX_OK when the instruction succeeded (VMsucceed: CF = ZF = 0),
 * CPU_VMX_FAIL_INVALID when there is no current VMCS (VMfailInvalid: CF = 1)
 * and CPU_VMX_FAIL_VALID when the error number is in the current VMCS's
 * VM-instruction error field (VMfailValid: ZF = 1). Physical addresses are
 * 64-bit in both images: the instructions take an m64 operand.
 */
#define CPU_VMX_OK 0
#define CPU_VMX_FAIL_INVALID 1
#define CPU_VMX_FAIL_VALID 2

/* VMREAD of the field with encoding enc into *value (left unchanged on failure). */
int cpu_vmread(uword_t enc, uword_t *value);
/* VMWRITE of value into the field with encoding enc. */
int cpu_vmwrite(uword_t enc, uword_t value);
/* VMPTRLD: makes the VMCS at physical address vmcs_pa current. */
int cpu_vmptrld(uint64_t vmcs_pa);
/* VMCLEAR: flushes the VMCS at vmcs_pa to memory and sets its state to clear. */
int cpu_vmclear(uint64_t vmcs_pa);
/* VMXON with the VMXON region at vmxon_pa; CR4.VMXE must already be set. */
int cpu_vmxon(uint64_t vmxon_pa);
/* VMXOFF: leaves VMX operation. */
int cpu_vmxoff(void);
/* INVEPT of the given type (1 single-context, 2 all-context) for eptp. */
int cpu_invept(uword_t type, uint64_t eptp);
/*
 * INVVPID of the given type (0 individual address, 1 single context,
 * 2 all contexts, 3 single context retaining globals) for vpid and
 * linear_addr.
 */
int cpu_invvpid(uword_t type, uint16_t vpid, uint64_t linear_addr);

XHV_END_DECLS

#endif /* XHV_CPU_OPS_H */
