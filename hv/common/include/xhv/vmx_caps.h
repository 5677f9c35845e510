/* SPDX-License-Identifier: Apache-2.0 */
/* VMX capability MSRs, the VMCS control bits, and choosing control values the CPU allows. */
#ifndef XHV_VMX_CAPS_H
#define XHV_VMX_CAPS_H

#include <stddef.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

/* VMX capability MSRs (SDM appendix "VMX Capability Reporting Facility"). */
#define MSR_IA32_VMX_BASIC 0x480U
#define MSR_IA32_VMX_PINBASED_CTLS 0x481U
#define MSR_IA32_VMX_PROCBASED_CTLS 0x482U
#define MSR_IA32_VMX_EXIT_CTLS 0x483U
#define MSR_IA32_VMX_ENTRY_CTLS 0x484U
#define MSR_IA32_VMX_MISC 0x485U
#define MSR_IA32_VMX_CR0_FIXED0 0x486U
#define MSR_IA32_VMX_CR0_FIXED1 0x487U
#define MSR_IA32_VMX_CR4_FIXED0 0x488U
#define MSR_IA32_VMX_CR4_FIXED1 0x489U
#define MSR_IA32_VMX_VMCS_ENUM 0x48AU
#define MSR_IA32_VMX_PROCBASED_CTLS2 0x48BU
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48CU
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS 0x48DU
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x48EU
#define MSR_IA32_VMX_TRUE_EXIT_CTLS 0x48FU
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS 0x490U

/* IA32_VMX_BASIC (SDM "Basic VMX Information"). */
#define VMX_BASIC_REVISION_MASK 0x7FFFFFFFULL
#define VMX_BASIC_VMCS_SIZE(basic) ((uint32_t)(((basic) >> 32) & 0x1FFFULL))
#define VMX_BASIC_PHYS_ADDR_32BIT (1ULL << 48)
#define VMX_BASIC_MEMORY_TYPE(basic) ((uint32_t)(((basic) >> 50) & 0xFULL))
#define VMX_BASIC_INS_OUTS_INFO (1ULL << 54)
#define VMX_BASIC_TRUE_CTLS (1ULL << 55)

/* IA32_VMX_MISC (SDM "Miscellaneous Data"). */
#define VMX_MISC_PREEMPTION_TIMER_RATE_MASK 0x1FULL
#define VMX_MISC_STORE_EFER_LMA (1ULL << 5)
#define VMX_MISC_ACTIVITY_HLT (1ULL << 6)
#define VMX_MISC_ACTIVITY_SHUTDOWN (1ULL << 7)
#define VMX_MISC_ACTIVITY_WAIT_SIPI (1ULL << 8)
#define VMX_MISC_VMWRITE_ANY_FIELD (1ULL << 29)

/* Pin-based VM-execution controls (SDM "Pin-Based VM-Execution Controls"). */
#define VMX_PIN_EXTERNAL_INTERRUPT_EXITING (1U << 0)
#define VMX_PIN_NMI_EXITING (1U << 3)
#define VMX_PIN_VIRTUAL_NMIS (1U << 5)
#define VMX_PIN_PREEMPTION_TIMER (1U << 6)
#define VMX_PIN_POSTED_INTERRUPTS (1U << 7)

/* Primary processor-based controls (SDM "Processor-Based VM-Execution Controls"). */
#define VMX_PROC_INTERRUPT_WINDOW_EXITING (1U << 2)
#define VMX_PROC_USE_TSC_OFFSETTING (1U << 3)
#define VMX_PROC_HLT_EXITING (1U << 7)
#define VMX_PROC_INVLPG_EXITING (1U << 9)
#define VMX_PROC_MWAIT_EXITING (1U << 10)
#define VMX_PROC_RDPMC_EXITING (1U << 11)
#define VMX_PROC_RDTSC_EXITING (1U << 12)
#define VMX_PROC_CR3_LOAD_EXITING (1U << 15)
#define VMX_PROC_CR3_STORE_EXITING (1U << 16)
#define VMX_PROC_CR8_LOAD_EXITING (1U << 19)
#define VMX_PROC_CR8_STORE_EXITING (1U << 20)
#define VMX_PROC_USE_TPR_SHADOW (1U << 21)
#define VMX_PROC_NMI_WINDOW_EXITING (1U << 22)
#define VMX_PROC_MOV_DR_EXITING (1U << 23)
#define VMX_PROC_UNCONDITIONAL_IO_EXITING (1U << 24)
#define VMX_PROC_USE_IO_BITMAPS (1U << 25)
#define VMX_PROC_MONITOR_TRAP_FLAG (1U << 27)
#define VMX_PROC_USE_MSR_BITMAPS (1U << 28)
#define VMX_PROC_MONITOR_EXITING (1U << 29)
#define VMX_PROC_PAUSE_EXITING (1U << 30)
#define VMX_PROC_ACTIVATE_SECONDARY (1U << 31)

/* Secondary processor-based controls (same SDM section). */
#define VMX_PROC2_VIRTUALIZE_APIC_ACCESSES (1U << 0)
#define VMX_PROC2_ENABLE_EPT (1U << 1)
#define VMX_PROC2_DESCRIPTOR_TABLE_EXITING (1U << 2)
#define VMX_PROC2_ENABLE_RDTSCP (1U << 3)
#define VMX_PROC2_VIRTUALIZE_X2APIC (1U << 4)
#define VMX_PROC2_ENABLE_VPID (1U << 5)
#define VMX_PROC2_WBINVD_EXITING (1U << 6)
#define VMX_PROC2_UNRESTRICTED_GUEST (1U << 7)
#define VMX_PROC2_APIC_REGISTER_VIRTUALIZATION (1U << 8)
#define VMX_PROC2_VIRTUAL_INTERRUPT_DELIVERY (1U << 9)
#define VMX_PROC2_PAUSE_LOOP_EXITING (1U << 10)
#define VMX_PROC2_RDRAND_EXITING (1U << 11)
#define VMX_PROC2_ENABLE_INVPCID (1U << 12)
#define VMX_PROC2_ENABLE_VMFUNC (1U << 13)
#define VMX_PROC2_VMCS_SHADOWING (1U << 14)
#define VMX_PROC2_ENABLE_PML (1U << 17)
#define VMX_PROC2_EPT_VIOLATION_VE (1U << 18)
#define VMX_PROC2_ENABLE_XSAVES (1U << 20)
#define VMX_PROC2_TSC_SCALING (1U << 25)

/* VM-exit controls (SDM "VM-Exit Controls"). */
#define VMX_EXIT_CTL_SAVE_DEBUG_CONTROLS (1U << 2)
#define VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE (1U << 9)
#define VMX_EXIT_CTL_LOAD_PERF_GLOBAL_CTRL (1U << 12)
#define VMX_EXIT_CTL_ACK_INTERRUPT (1U << 15)
#define VMX_EXIT_CTL_SAVE_PAT (1U << 18)
#define VMX_EXIT_CTL_LOAD_PAT (1U << 19)
#define VMX_EXIT_CTL_SAVE_EFER (1U << 20)
#define VMX_EXIT_CTL_LOAD_EFER (1U << 21)
#define VMX_EXIT_CTL_SAVE_PREEMPTION_TIMER (1U << 22)

/* VM-entry controls (SDM "VM-Entry Controls"). */
#define VMX_ENTRY_CTL_LOAD_DEBUG_CONTROLS (1U << 2)
#define VMX_ENTRY_CTL_IA32E_MODE_GUEST (1U << 9)
#define VMX_ENTRY_CTL_LOAD_PERF_GLOBAL_CTRL (1U << 13)
#define VMX_ENTRY_CTL_LOAD_PAT (1U << 14)
#define VMX_ENTRY_CTL_LOAD_EFER (1U << 15)

/* IA32_VMX_EPT_VPID_CAP (SDM "VPID and EPT Capabilities"). */
#define VMX_EPT_CAP_EXECUTE_ONLY (1ULL << 0)
#define VMX_EPT_CAP_WALK_4 (1ULL << 6)
#define VMX_EPT_CAP_UC (1ULL << 8)
#define VMX_EPT_CAP_WB (1ULL << 14)
#define VMX_EPT_CAP_2MB_PAGES (1ULL << 16)
#define VMX_EPT_CAP_1GB_PAGES (1ULL << 17)
#define VMX_EPT_CAP_INVEPT (1ULL << 20)
#define VMX_EPT_CAP_ACCESSED_DIRTY (1ULL << 21)
#define VMX_EPT_CAP_INVEPT_SINGLE_CONTEXT (1ULL << 25)
#define VMX_EPT_CAP_INVEPT_ALL_CONTEXT (1ULL << 26)
#define VMX_VPID_CAP_INVVPID (1ULL << 32)
#define VMX_VPID_CAP_INVVPID_ADDRESS (1ULL << 40)
#define VMX_VPID_CAP_INVVPID_SINGLE_CONTEXT (1ULL << 41)
#define VMX_VPID_CAP_INVVPID_ALL_CONTEXT (1ULL << 42)
#define VMX_VPID_CAP_INVVPID_SINGLE_CONTEXT_GLOBALS (1ULL << 43)

/*
 * One control word's capability MSR: a control may be 0 only if its
 * allowed0 bit is 0, and may be 1 only if its allowed1 bit is 1 (SDM
 * "VM-Execution Controls" in "VMX Capability Reporting Facility").
 */
struct vmx_control_caps {
  uint32_t allowed0; /* bits 31:0: controls that must be 1 */
  uint32_t allowed1; /* bits 63:32: controls that may be 1 */
};

struct vmx_caps {
  uint64_t basic;
  /* From the TRUE_* MSRs when BASIC bit 55 is set, else the legacy ones. */
  struct vmx_control_caps pin;
  struct vmx_control_caps proc;
  struct vmx_control_caps exit;
  struct vmx_control_caps entry;
  /* All zero when the primary controls cannot activate secondary controls. */
  struct vmx_control_caps proc2;
  /* Zero when the CPU has neither EPT nor VPID (the MSR does not exist). */
  uint64_t ept_vpid;
  uint64_t misc;
  uint64_t cr0_fixed0;
  uint64_t cr0_fixed1;
  uint64_t cr4_fixed0;
  uint64_t cr4_fixed1;
  /*
   * Not VMX: the XCR0 bits the CPU supports (CPUID.(EAX=0DH,ECX=0)), read
   * once at boot beside the rest, before the guest could limit CPUID; 0
   * without XSAVE. vmx_caps_read leaves it 0; vmx_machine_init fills it.
   */
  uint64_t xcr0_supported;
};

/* What a user of VMX asks for in one control word. */
struct vmx_control_want {
  uint32_t required; /* choosing fails if any of these cannot be 1 */
  uint32_t optional; /* set when allowed, silently left 0 otherwise */
};

struct vmx_wanted {
  struct vmx_control_want pin;
  struct vmx_control_want proc;
  struct vmx_control_want proc2;
  struct vmx_control_want exit;
  struct vmx_control_want entry;
  uint64_t ept_vpid_required; /* VMX_EPT_CAP_* / VMX_VPID_CAP_* bits */
};

/* The values for the five control fields of a VMCS. */
struct vmx_controls {
  uint32_t pin;
  uint32_t proc;
  uint32_t proc2;
  uint32_t exit;
  uint32_t entry;
};

/*
 * Reads the VMX capability MSRs of this CPU into *caps, touching only MSRs
 * that exist: TRUE_* only with BASIC bit 55, PROCBASED_CTLS2 only when
 * "activate secondary controls" may be 1, EPT_VPID_CAP only when EPT or VPID
 * may be 1. Precondition: CPUID.1:ECX.VMX = 1 (else RDMSR faults).
 */
void vmx_caps_read(struct vmx_caps *caps);

/* The VMCS revision identifier to write into VMXON and VMCS regions. */
static inline uint32_t vmx_caps_revision_id(const struct vmx_caps *caps) {
  return (uint32_t)(caps->basic & VMX_BASIC_REVISION_MASK);
}

/*
 * Computes each control word as (wanted | allowed0) & allowed1, where wanted
 * = required | optional: must-be-1 controls are always set, controls the CPU
 * lacks never are. Wanting any secondary control implicitly wants "activate
 * secondary controls" (required if a secondary control is required).
 * Returns 0 and fills *out when every required control and every
 * ept_vpid_required capability is available; otherwise returns -1, zeroes
 * *out and, if missing is not NULL, points *missing at a static human name
 * of the first thing lacking, e.g. "secondary controls: EPT" or "INVEPT".
 * Words are checked in the order pin, proc, proc2, exit, entry, EPT/VPID.
 */
int vmx_controls_choose(const struct vmx_caps *caps, const struct vmx_wanted *want,
                        struct vmx_controls *out, const char **missing);

/*
 * What xhv needs to run an unrestricted Linux guest: NMI exiting + virtual
 * NMIs, I/O and MSR bitmaps, EPT (4-level, write-back, INVEPT all-context),
 * VPID (INVVPID all-context), unrestricted guest, EFER, PAT and the debug
 * controls (DR7, IA32_DEBUGCTL) switched on entry and exit, and the 64-bit
 * host address-space size when
 * host_is_64bit; RDTSCP, INVPCID and XSAVES for the guest when available.
 */
void vmx_wanted_xhv(struct vmx_wanted *want, int host_is_64bit);

/*
 * One line for the hypervisor log, e.g. "vmx: rev 0x2b, true ctls, ept
 * 4-level wb 2M invept, vpid invvpid, unrestricted guest, vnmi, ...".
 * snprintf semantics: writes at most size - 1 characters and a NUL, returns
 * the length of the whole line.
 */
int vmx_caps_format(char *buf, size_t size, const struct vmx_caps *caps);

/*
 * CR0/CR4 value forced into VMX operation's fixed bits (SDM "VMX-Fixed Bits
 * in CR0" / "VMX-Fixed Bits in CR4"): bits set in FIXED0 become 1, bits clear
 * in FIXED1 become 0. (Unrestricted guests are exempt from CR0.PE/PG.)
 */
static inline uint64_t vmx_apply_fixed_bits(uint64_t value, uint64_t fixed0, uint64_t fixed1) {
  return (value | fixed0) & fixed1;
}

XHV_END_DECLS

#endif /* XHV_VMX_CAPS_H */
