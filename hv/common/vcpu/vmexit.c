/* SPDX-License-Identifier: Apache-2.0 */
/* VM-exit dispatch: one const table indexed by exit reason; RIP advances here only. */
#include "xhv/apic_trap.h"
#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/guest_bios.h"
#include "xhv/guest_ept.h"
#include "xhv/guest_event.h"
#include "xhv/guest_io.h"
#include "xhv/guest_nmi.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/msr_policy.h"
#include "xhv/panic.h"
#include "xhv/quiesce.h"
#include "xhv/smp.h"
#include "xhv/string.h"
#include "xhv/task_switch.h"
#include "xhv/vcpu.h"
#include "xhv/vmcs.h"
#include "xhv/vmx.h"
#include "xhv/vmx_caps.h"

#define CR0_PE (1ULL << 0)
#define CR0_WP (1ULL << 16)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define CR4_VMXE (1ULL << 13)
#define CR4_SMXE (1ULL << 14)
#define CR4_PCIDE (1ULL << 17)
#define CR4_OSXSAVE (1ULL << 18)
#define CR4_LA57 (1ULL << 12)
#define CR4_CET (1ULL << 23)
#define CR3_PCID_MASK 0xFFFULL

#define CPUID_1_ECX_MONITOR (1U << 3)
#define CPUID_1_ECX_VMX (1U << 5)
#define CPUID_1_ECX_SMX (1U << 6)
#define CPUID_1_ECX_X2APIC (1U << 21)
#define CPUID_1_ECX_OSXSAVE (1U << 27)
#define CPUID_1_ECX_HYPERVISOR (1U << 31)
#define CPUID_7_EBX_PT (1U << 25)
#define CPUID_7_EDX_ARCH_LBR (1U << 19)
#define CPUID_EXT_EDX_LM (1U << 29)
#define CPUID_HV_BASE 0x40000000U
#define CPUID_HV_MAX 0x40000001U
#define CPUID_HV_IMAGE 0x40000001U /* EAX:EBX the image's base, ECX its size */
#define CPUID_HV_SIGNATURE "XhvXhvXhvXhv"

#define INTR_INFO_TYPE_MASK (7U << 8)
#define INTR_TYPE_NMI (2U << 8)
#define INTR_TYPE_HW_EXCEPTION (3U << 8)
#define INTR_ERROR_CODE_VALID (1U << 11)
#define INTR_NMI_UNBLOCKED_BY_IRET (1U << 12)
#define INTR_INFO_VALID (1U << 31)
#define VECTOR_DB 1U
#define VECTOR_PF 14U
#define VECTOR_UD 6U
#define VECTOR_GP 13U
#define INTERRUPTIBILITY_STI (1U << 0)
#define INTERRUPTIBILITY_MOV_SS (1U << 1)

#define EPT_QUAL_WRITE (1U << 1)
#define EPT_QUAL_FETCH (1U << 2)
#define EPT_QUAL_NMI_UNBLOCKED_BY_IRET (1U << 12)
#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_IF (1ULL << 9)
#define DEBUGCTL_BTF (1ULL << 1)
#define PENDING_DBG_BS (1ULL << 14)

/* XCR0 state components and their rules (SDM "Extended Control Registers (Including XCR0)"). */
#define XCR0_X87 (1ULL << 0)
#define XCR0_SSE (1ULL << 1)
#define XCR0_AVX (1ULL << 2)
#define XCR0_BNDREGS (1ULL << 3)
#define XCR0_BNDCSR (1ULL << 4)
#define XCR0_AVX512 (7ULL << 5) /* opmask, ZMM_Hi256, Hi16_ZMM */
#define XCR0_TILECFG (1ULL << 17)
#define XCR0_TILEDATA (1ULL << 18)
#define XCR0_TILE (XCR0_TILECFG | XCR0_TILEDATA)
#define XCR0_BNDS (XCR0_BNDREGS | XCR0_BNDCSR)

uword_t vmexit_qualification(struct vmexit_info *exit) {
  if (!exit->have_qualification) {
    exit->qualification = vmcs_readnw(VMCS_EXIT_QUALIFICATION);
    exit->have_qualification = true;
  }
  return exit->qualification;
}

static void dump_guest(struct cpu *cpu, const char *what, uint32_t reason, struct vmexit_info *exit,
                       const struct cpu_regs *regs) {
  log_printf("xhv: PANIC: CPU %u: %s, exit reason %u (%s), qualification 0x%llx\n", cpu->index,
             what, reason,
             reason < EXIT_REASON_COUNT && vmexit_table[reason].name ? vmexit_table[reason].name
                                                                    : "unknown",
             (unsigned long long)vmexit_qualification(exit));
  log_printf("  guest cs=0x%04x rip=0x%llx rsp=0x%llx rflags=0x%llx cr0=0x%llx cr3=0x%llx "
             "cr4=0x%llx\n",
             vmcs_read16(VMCS_GUEST_CS_SELECTOR), (unsigned long long)vmcs_readnw(VMCS_GUEST_RIP),
             (unsigned long long)vmcs_readnw(VMCS_GUEST_RSP),
             (unsigned long long)vmcs_readnw(VMCS_GUEST_RFLAGS),
             (unsigned long long)vmcs_readnw(VMCS_GUEST_CR0),
             (unsigned long long)vmcs_readnw(VMCS_GUEST_CR3),
             (unsigned long long)vmcs_readnw(VMCS_GUEST_CR4));
  log_printf("  guest ax=0x%llx bx=0x%llx cx=0x%llx dx=0x%llx si=0x%llx di=0x%llx bp=0x%llx\n",
             (unsigned long long)regs->ax, (unsigned long long)regs->bx,
             (unsigned long long)regs->cx, (unsigned long long)regs->dx,
             (unsigned long long)regs->si, (unsigned long long)regs->di,
             (unsigned long long)regs->bp);
  vmcs_dump(log_printf);
  log_flush();
}

/* #GP(0) for an instruction the guest may not complete; its RIP stays on it (a fault). */
static enum vmexit_action general_protection(void) {
  guest_inject_exception(VECTOR_GP, true, 0);
  return VMEXIT_HANDLED;
}

static enum vmexit_action invalid_opcode(void) {
  guest_inject_exception(VECTOR_UD, false, 0);
  return VMEXIT_HANDLED;
}

/* ---- handlers, one per exit reason ---- */

/* The #DB of a single step's trap flag (an APIC trap step, xhv/apic_trap.h). */
static bool is_step_trap(uint32_t info) {
  return (info & INTR_INFO_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION && (info & 0xFFU) == VECTOR_DB;
}

/* Gives the guest an exception that exited only because a step had them all exit. */
static void reflect_exception(uint32_t info, struct vmexit_info *exit) {
  uint32_t type = info & INTR_INFO_TYPE_MASK;
  uint32_t vector = info & 0xFFU;
  if (type == INTR_TYPE_HW_EXCEPTION) {
    bool has_error = (info & INTR_ERROR_CODE_VALID) != 0U;
    uint32_t error = has_error ? vmcs_read32(VMCS_VM_EXIT_INTR_ERROR_CODE) : 0U;
    if (vector == VECTOR_PF) {
      guest_inject_page_fault(vmexit_qualification(exit), error); /* CR2 was not written */
    } else {
      guest_inject_exception(vector, has_error, error);
    }
    return;
  }
  /* INT3, INTO, INT1: delivered again with their instruction, as they were. */
  vmcs_write32(VMCS_VM_ENTRY_INSTRUCTION_LEN, vmcs_read32(VMCS_VM_EXIT_INSTRUCTION_LEN));
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, INTR_INFO_VALID | type | vector);
}

static enum vmexit_action vmexit_nmi(struct cpu *cpu, struct cpu_regs *regs,
                                     struct vmexit_info *exit) {
  uint32_t info = vmcs_read32(VMCS_VM_EXIT_INTR_INFO);
  if ((info & INTR_INFO_TYPE_MASK) != INTR_TYPE_NMI && (info & INTR_NMI_UNBLOCKED_BY_IRET) &&
      !(exit->vectoring & INTR_INFO_VALID)) {
    guest_nmi_unblocked_by_iret();
  }
  if (is_step_trap(info) && apic_trap_step_end(cpu, true)) {
    return VMEXIT_HANDLED; /* a trapped APIC access has run */
  }
  if ((info & INTR_INFO_TYPE_MASK) != INTR_TYPE_NMI && exit->step_ended) {
    /* The step had every exception exit; this one is the guest's, as it would have been. */
    reflect_exception(info, exit);
    return VMEXIT_HANDLED;
  }
  if ((info & INTR_INFO_TYPE_MASK) != INTR_TYPE_NMI && xhv_hypapp.exception &&
      xhv_hypapp.exception(cpu, regs, info & 0xFFU,
                           (info & INTR_ERROR_CODE_VALID)
                               ? vmcs_read32(VMCS_VM_EXIT_INTR_ERROR_CODE)
                               : 0U)) {
    return VMEXIT_HANDLED;
  }
  if ((info & INTR_INFO_TYPE_MASK) != INTR_TYPE_NMI) {
    /* Only exceptions the core or a hypapp asked for exit: nobody claiming one is a bug. */
    dump_guest(cpu, "unexpected exception exit", exit->reason, exit, regs);
    return VMEXIT_FATAL;
  }
  /*
   * A quiesce request parks here (and ends the NMI blocking the exit left);
   * otherwise the NMI was the guest's: owe it, end the blocking ourselves,
   * and the end of this handler arms the NMI window.
   */
  cpu->in_nmi++;
  if (!quiesce_nmi(cpu)) {
    guest_nmi_note(cpu);
    cpu_nmi_unblock();
  }
  cpu->in_nmi--;
  return VMEXIT_HANDLED;
}

static enum vmexit_action vmexit_nmi_window(struct cpu *cpu, struct cpu_regs *regs,
                                            struct vmexit_info *exit) {
  (void)regs;
  (void)exit;
  guest_nmi_inject(cpu);
  return VMEXIT_HANDLED;
}

static enum vmexit_action vmexit_triple_fault(struct cpu *cpu, struct cpu_regs *regs,
                                              struct vmexit_info *exit) {
  (void)regs;
  (void)exit;
  /* On a PC, a triple fault shuts the CPU down and the chipset resets the machine. */
  guest_reset_machine(cpu, "triple fault");
}

/* NMIs owed to a context that is gone: never delivered, counted as merged. */
static void drop_owed_nmis(struct cpu *cpu) {
  uint32_t owed = __atomic_exchange_n(&cpu->guest_nmi_owed, 0U, __ATOMIC_ACQ_REL);
  __atomic_add_fetch(&cpu->guest_nmis_merged, owed, __ATOMIC_RELAXED);
}

/*
 * The guest parked this CPU until a start-up IPI (it halted it with
 * interrupts off, or sent it an INIT): it waits in the hypervisor, which
 * sees the guest's INIT/SIPI through the trapped APIC (xhv/apic_trap.h).
 * On the SIPI the CPU starts at its vector in real mode, in the state INIT
 * leaves (SDM "Processor States Following Power-up, Reset, or INIT"),
 * without what was owed to the context that parked it. An NMI for the
 * parked context wakes it first, as it wakes a halted CPU; `wake_on_nmi`
 * false (after an INIT) drops it instead, as a CPU waiting for SIPI does.
 */
static bool wait_for_sipi(struct cpu *cpu, struct cpu_regs *regs, bool wake_on_nmi) {
  uint32_t vector;
  if (!apic_trap_park(cpu, wake_on_nmi, &vector)) {
    return false; /* the owed NMI is injected on the way back in */
  }
  drop_owed_nmis(cpu);
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, 0);
  memset(regs, 0, sizeof(*regs));
  vmx_guest_reset_state((uint16_t)(vector << 8), 0, ACTIVITY_ACTIVE);
  if (vmx_machine_caps()->xcr0_supported != 0U) {
    cpu_xsetbv(0, XCR0_X87); /* INIT leaves XCR0 = 1 */
  }
  log_printf("vmx: CPU %u: guest start-up IPI, vector 0x%02x: the CPU starts again\n", cpu->index,
             vector);
  return true;
}

/*
 * HLT (HLT exiting is on for this): with interrupts enabled the CPU halts in
 * the guest, as it would natively; with interrupts off only INIT, NMI and
 * SMI could wake it, and Linux parks a CPU it takes offline exactly so:
 * it waits for the guest's SIPI in the hypervisor.
 */
static enum vmexit_action vmexit_hlt(struct cpu *cpu, struct cpu_regs *regs,
                                     struct vmexit_info *exit) {
  (void)exit;
  /* Past the HLT either way; the dispatcher also ends an STI shadow, which HLT state forbids. */
  uword_t rflags = vmcs_readnw(VMCS_GUEST_RFLAGS);
  if ((rflags & RFLAGS_IF) || smp_cpu_count() < 2U) {
    vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, ACTIVITY_HLT);
    if ((rflags & RFLAGS_TF) && !(vmcs_read64(VMCS_GUEST_IA32_DEBUGCTL) & DEBUGCTL_BTF)) {
      /* The single step of the HLT is due when the CPU wakes (and VM entry wants it said). */
      vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS,
                   vmcs_readnw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS) | PENDING_DBG_BS);
    }
    return VMEXIT_HANDLED_ADVANCE;
  }
  return wait_for_sipi(cpu, regs, true) ? VMEXIT_HANDLED : VMEXIT_HANDLED_ADVANCE;
}

/*
 * A real INIT: the guest INITed a CPU it had not parked first (apic_trap.c
 * virtualises those of a parked one). The hypapp lets go of whatever it ran
 * there, and the CPU waits for its SIPI.
 */
static enum vmexit_action vmexit_init(struct cpu *cpu, struct cpu_regs *regs,
                                      struct vmexit_info *exit) {
  (void)exit;
  log_printf("vmx: CPU %u: guest INIT to a running CPU: it waits for a start-up IPI\n",
             cpu->index);
  if (xhv_hypapp.cpu_reset) {
    xhv_hypapp.cpu_reset(cpu);
  }
  vmx_guest_reset_state(0, 0, ACTIVITY_ACTIVE);
  wait_for_sipi(cpu, regs, false);
  return VMEXIT_HANDLED;
}

static enum vmexit_action vmexit_cpuid(struct cpu *cpu, struct cpu_regs *regs,
                                       struct vmexit_info *exit) {
  (void)exit;
  if (xhv_hypapp.cpuid && xhv_hypapp.cpuid(cpu, regs)) {
    return VMEXIT_HANDLED_ADVANCE;
  }
  uint32_t leaf = (uint32_t)regs->ax;
  uint32_t subleaf = (uint32_t)regs->cx;
  struct cpuid_regs r;
  if (leaf >= CPUID_HV_BASE && leaf <= CPUID_HV_BASE + 0xFFU) {
    /*
     * Hypervisor leaves: who we are, and where the image sits (it moves at
     * boot; the guest's probes of hidden memory read there). The memory map
     * the guest got says as much: nothing secret.
     */
    r.eax = leaf == CPUID_HV_BASE ? CPUID_HV_MAX : 0;
    r.ebx = r.ecx = r.edx = 0;
    if (leaf == CPUID_HV_BASE) {
      const char *sig = CPUID_HV_SIGNATURE;
      __builtin_memcpy(&r.ebx, sig, 4);
      __builtin_memcpy(&r.ecx, sig + 4, 4);
      __builtin_memcpy(&r.edx, sig + 8, 4);
    } else if (leaf == CPUID_HV_IMAGE) {
      uint64_t base;
      uint64_t size;
      guest_ept_hypervisor_image(&base, &size);
      r.eax = (uint32_t)base;
      r.ebx = (uint32_t)(base >> 32);
      r.ecx = (uint32_t)size;
    }
  } else {
    cpu_cpuid(leaf, subleaf, &r);
    if (leaf == 1U) {
      /* VMX and SMX are the hypervisor's; x2APIC would move the APIC (msr_policy.c);
       * MONITOR/MWAIT: see vmexit_monitor_mwait. */
      r.ecx &= ~(CPUID_1_ECX_MONITOR | CPUID_1_ECX_VMX | CPUID_1_ECX_SMX | CPUID_1_ECX_X2APIC |
                 CPUID_1_ECX_OSXSAVE);
      r.ecx |= CPUID_1_ECX_HYPERVISOR;
      if (vmcs_readnw(VMCS_GUEST_CR4) & CR4_OSXSAVE) {
        r.ecx |= CPUID_1_ECX_OSXSAVE;
      }
    }
    if (leaf == 7U && subleaf == 0U) {
      r.ebx &= ~CPUID_7_EBX_PT; /* no trace of a PAL's branches (msr_policy.c) */
      r.edx &= ~CPUID_7_EDX_ARCH_LBR;
    }
#if XHV_BITS == 32
    if (leaf == 0x80000001U) {
      /* A 32-bit host cannot run a 64-bit guest (SDM "Checks on VMX Controls"). */
      r.edx &= ~CPUID_EXT_EDX_LM;
    }
#endif
  }
  regs->ax = r.eax;
  regs->bx = r.ebx;
  regs->cx = r.ecx;
  regs->dx = r.edx;
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_getsec(struct cpu *cpu, struct cpu_regs *regs,
                                        struct vmexit_info *exit) {
  (void)cpu;
  (void)regs;
  (void)exit;
  return invalid_opcode(); /* SMX is hidden, as if CR4.SMXE were clear */
}

static enum vmexit_action vmexit_invd(struct cpu *cpu, struct cpu_regs *regs,
                                      struct vmexit_info *exit) {
  (void)cpu;
  (void)regs;
  (void)exit;
  /* Dropping dirty lines would corrupt memory the hypervisor shares: write back instead. */
  cpu_wbinvd();
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_vmcall(struct cpu *cpu, struct cpu_regs *regs,
                                        struct vmexit_info *exit) {
  (void)exit;
  bool advance = true;
  if (guest_bios_int15(cpu, regs, &advance)) {
    return advance ? VMEXIT_HANDLED_ADVANCE : VMEXIT_HANDLED;
  }
  if ((uint32_t)regs->ax == XHV_HC_NOP) {
    regs->ax = 0;
    return VMEXIT_HANDLED_ADVANCE;
  }
  quiesce_begin(cpu);
  bool known = xhv_hypapp.hypercall && xhv_hypapp.hypercall(cpu, regs);
  quiesce_end(cpu);
  if (!known) {
    regs->ax = (uword_t)-1; /* an unknown hypercall: an error for the guest, nothing more */
  }
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_vmx_instruction(struct cpu *cpu, struct cpu_regs *regs,
                                                 struct vmexit_info *exit) {
  (void)cpu;
  (void)regs;
  (void)exit;
  /* VMX is hidden from the guest: its VMX instructions are invalid opcodes. */
  return invalid_opcode();
}

static enum vmexit_action vmexit_monitor_mwait(struct cpu *cpu, struct cpu_regs *regs,
                                               struct vmexit_info *exit) {
  (void)cpu;
  (void)regs;
  (void)exit;
  /* CPUID tells the guest there is no MONITOR/MWAIT: what such a CPU does (SDM "MWAIT"). */
  guest_inject_exception(VECTOR_UD, false, 0);
  return VMEXIT_HANDLED;
}

/* GPR n of the SDM's encoding; 4 is RSP, which lives in the VMCS. */
static uword_t gpr_read(const struct cpu_regs *regs, uint32_t n) {
  return n == 4U ? vmcs_readnw(VMCS_GUEST_RSP) : ((const uword_t *)regs)[n];
}

static bool long_mode(void) {
  return (vmcs_read32(VMCS_VM_ENTRY_CONTROLS) & VMX_ENTRY_CTL_IA32E_MODE_GUEST) != 0;
}

/*
 * MOV to CR0 (SDM "MOV—Move to/from Control Registers"). It exits only when
 * a bit the hypervisor owns (NE) differs from the shadow. The #GP cases of
 * the instruction are checked first: what is written into the VMCS must
 * never fail the next VM entry.
 */
static enum vmexit_action mov_to_cr0(uint64_t value) {
  if ((value >> 32) != 0U || ((value & CR0_PG) && !(value & CR0_PE)) ||
      ((value & CR0_NW) && !(value & CR0_CD)) ||
      (!(value & CR0_WP) && (vmcs_readnw(VMCS_GUEST_CR4) & CR4_CET))) {
    return general_protection();
  }
  uword_t mask = vmcs_readnw(VMCS_CR0_GUEST_HOST_MASK);
  uword_t old = vmcs_readnw(VMCS_GUEST_CR0);
  vmcs_writenw(VMCS_CR0_READ_SHADOW, (uword_t)value);
  if ((value ^ old) & (CR0_PE | CR0_PG)) {
    /*
     * A mode switch rides along with a change of an owned bit: take the
     * owned bits now but keep PE/PG, and let the guest run the MOV again.
     * It no longer exits, so the CPU switches modes natively (long mode,
     * PAE PDPTE loads and all) and makes its own checks on them.
     */
    vmcs_writenw(VMCS_GUEST_CR0, ((uword_t)value & ~(uword_t)(CR0_PE | CR0_PG)) |
                                     (old & (CR0_PE | CR0_PG)) | mask);
    return VMEXIT_HANDLED;
  }
  vmcs_writenw(VMCS_GUEST_CR0, (uword_t)value | mask);
  return VMEXIT_HANDLED_ADVANCE;
}

/* MOV to CR4: exits only when VMXE (owned) is written as 1; checked as the CPU checks it. */
static enum vmexit_action mov_to_cr4(uint64_t value) {
  uint64_t fixed1 = vmx_machine_caps()->cr4_fixed1;
  bool lma = long_mode();
  if ((value & (CR4_VMXE | CR4_SMXE)) || (value & ~fixed1) || (lma && !(value & CR4_PAE)) ||
      (lma && ((value ^ vmcs_readnw(VMCS_GUEST_CR4)) & CR4_LA57)) ||
      ((value & CR4_PCIDE) && !(vmcs_readnw(VMCS_GUEST_CR4) & CR4_PCIDE) &&
       (!lma || (vmcs_readnw(VMCS_GUEST_CR3) & CR3_PCID_MASK)))) {
    return general_protection(); /* VMX and SMX are not available to the guest */
  }
  uword_t mask = vmcs_readnw(VMCS_CR4_GUEST_HOST_MASK);
  vmcs_writenw(VMCS_CR4_READ_SHADOW, (uword_t)value);
  vmcs_writenw(VMCS_GUEST_CR4, (uword_t)value | mask);
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_cr_access(struct cpu *cpu, struct cpu_regs *regs,
                                           struct vmexit_info *exit) {
  uword_t q = vmexit_qualification(exit);
  uint32_t cr = (uint32_t)(q & 0xFU);
  uint32_t access = (uint32_t)((q >> 4) & 3U);
  uint32_t reg = (uint32_t)((q >> 8) & 0xFU);
  /*
   * Only MOV to CR0/CR4 can exit with these controls: CR3 exiting is off,
   * CLTS and LMSW touch no owned bit, reads come from the shadows.
   */
  if (access == 0U && reg < XHV_GPR_COUNT && cr == 0U) {
    return mov_to_cr0(gpr_read(regs, reg));
  }
  if (access == 0U && reg < XHV_GPR_COUNT && cr == 4U) {
    return mov_to_cr4(gpr_read(regs, reg));
  }
  dump_guest(cpu, "unexpected control-register exit", exit->reason, exit, regs);
  return VMEXIT_FATAL;
}

static enum vmexit_action vmexit_msr(struct cpu *cpu, struct cpu_regs *regs,
                                     struct vmexit_info *exit) {
  uint32_t msr = (uint32_t)regs->cx;
  bool write = exit->reason == EXIT_WRMSR;
  uint64_t value = ((uint64_t)(uint32_t)regs->dx << 32) | (uint32_t)regs->ax;
  switch (msr_policy(msr, write)) {
  case MSR_WRITE_DROP:
    return VMEXIT_HANDLED_ADVANCE;
  case MSR_WRITE_CHECK:
    switch (msr_check_write(msr, value, cpu_rdmsr(msr))) {
    case MSR_WRITE_HARDWARE:
      cpu_wrmsr(msr, value);
      return VMEXIT_HANDLED_ADVANCE;
    case MSR_WRITE_GUEST_EFER:
      vmcs_write64(VMCS_GUEST_IA32_EFER, value);
      return VMEXIT_HANDLED_ADVANCE;
    default:
      log_printf("vmx: CPU %u: guest WRMSR 0x%x <- 0x%llx refused: #GP\n", cpu->index, msr,
                 (unsigned long long)value);
      return general_protection();
    }
  default:
    /*
     * MSR_GP, or an MSR outside the bitmap's ranges, none of which exists
     * on the CPUs xhv supports: the #GP a CPU without them raises.
     */
    return general_protection();
  }
}

/* SDM "XSETBV": only XCR0, only state the CPU has, in the combinations the SDM allows. */
static bool xcr0_valid(uint64_t value, uint64_t supported) {
  return (value & XCR0_X87) && !(value & ~supported) &&
         (!(value & XCR0_AVX) || (value & XCR0_SSE)) &&
         ((value & XCR0_BNDS) == 0U || (value & XCR0_BNDS) == XCR0_BNDS) &&
         ((value & XCR0_AVX512) == 0U ||
          ((value & XCR0_AVX512) == XCR0_AVX512 && (value & XCR0_AVX))) &&
         ((value & XCR0_TILE) == 0U || (value & XCR0_TILE) == XCR0_TILE);
}

static enum vmexit_action vmexit_xsetbv(struct cpu *cpu, struct cpu_regs *regs,
                                        struct vmexit_info *exit) {
  (void)cpu;
  (void)exit;
  if (!(vmcs_readnw(VMCS_GUEST_CR4) & CR4_OSXSAVE)) {
    return invalid_opcode();
  }
  uint64_t supported = vmx_machine_caps()->xcr0_supported;
  uint64_t value = ((uint64_t)(uint32_t)regs->dx << 32) | (uint32_t)regs->ax;
  if (guest_cpl() != 0U || (uint32_t)regs->cx != 0U || !xcr0_valid(value, supported)) {
    return general_protection();
  }
  cpu_xsetbv(0, value);
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_ept_violation(struct cpu *cpu, struct cpu_regs *regs,
                                               struct vmexit_info *exit) {
  uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS);
  uword_t q = vmexit_qualification(exit);
  if ((q & EPT_QUAL_NMI_UNBLOCKED_BY_IRET) && !(exit->vectoring & INTR_INFO_VALID)) {
    guest_nmi_unblocked_by_iret();
  }
  uint32_t access = (q & EPT_QUAL_FETCH) ? EPT_EXEC : (q & EPT_QUAL_WRITE) ? EPT_WRITE : EPT_READ;
  /*
   * The APIC trap, hidden memory and devices are the regular EPT's: what
   * the core maps for them lands there. In a hypapp's view (a PAL's) the
   * access is the hypapp's to judge; the core's answer would map the page
   * into a view the CPU is not using, and the access would exit again, for
   * ever.
   */
  bool regular = vmcs_read64(VMCS_EPT_POINTER) == guest_regular_eptp();
  if (regular &&
      apic_trap_ept_violation(cpu, gpa, access, (exit->vectoring & INTR_INFO_VALID) != 0U)) {
    return VMEXIT_HANDLED;
  }
  if (regular && guest_hidden_gpa(gpa)) {
    /*
     * Hypervisor memory is not the guest's: reads see the core's read-only
     * zero page from now on, writes and fetches get #GP (there is no
     * instruction length to skip them by, and no memory to give them).
     */
    bool read = !(q & (EPT_QUAL_WRITE | EPT_QUAL_FETCH));
    log_printf("vmx: CPU %u: guest %s hypervisor memory at 0x%llx (rip 0x%llx): %s\n", cpu->index,
               read ? "read" : (q & EPT_QUAL_FETCH) ? "fetched from" : "wrote",
               (unsigned long long)gpa, (unsigned long long)vmcs_readnw(VMCS_GUEST_RIP),
               read ? "it reads zeros there" : "#GP");
    if (read) {
      guest_ept_show_hidden_as_zero(gpa);
      return VMEXIT_HANDLED;
    }
    return general_protection();
  }
  if (regular && guest_ept_map_device(gpa)) {
    return VMEXIT_HANDLED; /* a device above RAM, mapped now: the access runs again */
  }
  if (xhv_hypapp.ept_violation) {
    quiesce_begin(cpu);
    bool handled = xhv_hypapp.ept_violation(cpu, regs, gpa, access);
    quiesce_end(cpu);
    if (handled) {
      return VMEXIT_HANDLED;
    }
  }
  /* No memory is there for the guest (beyond the EPT's reach, say): as for hidden memory. */
  log_printf("vmx: CPU %u: guest access 0x%llx to guest-physical 0x%llx, which it has no memory "
             "at (rip 0x%llx): #GP\n",
             cpu->index, (unsigned long long)q, (unsigned long long)gpa,
             (unsigned long long)vmcs_readnw(VMCS_GUEST_RIP));
  return general_protection();
}

static enum vmexit_action vmexit_ept_misconfig(struct cpu *cpu, struct cpu_regs *regs,
                                               struct vmexit_info *exit) {
  /* Only the hypervisor writes EPT entries: a misconfigured one is its bug. */
  log_printf("vmx: CPU %u: EPT misconfiguration at guest-physical 0x%llx\n", cpu->index,
             (unsigned long long)vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS));
  dump_guest(cpu, "EPT misconfiguration", exit->reason, exit, regs);
  return VMEXIT_FATAL;
}

#define DURING_DELIVERY VMEXIT_DURING_DELIVERY

const struct vmexit_entry vmexit_table[EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_OR_NMI] = {vmexit_nmi, "exception or NMI", DURING_DELIVERY},
    [EXIT_EXTERNAL_INTERRUPT] = {0, "external interrupt", 0},
    [EXIT_TRIPLE_FAULT] = {vmexit_triple_fault, "triple fault", 0},
    [EXIT_INIT] = {vmexit_init, "INIT signal", 0},
    [EXIT_SIPI] = {0, "start-up IPI", 0},
    [EXIT_INTERRUPT_WINDOW] = {0, "interrupt window", 0},
    [EXIT_NMI_WINDOW] = {vmexit_nmi_window, "NMI window", 0},
    /* The task switch is the delivery itself: its handler reads the vectoring information. */
    [EXIT_TASK_SWITCH] = {vmexit_task_switch, "task switch", 0},
    [EXIT_CPUID] = {vmexit_cpuid, "CPUID", 0},
    [EXIT_GETSEC] = {vmexit_getsec, "GETSEC", 0},
    [EXIT_HLT] = {vmexit_hlt, "HLT", 0},
    [EXIT_INVD] = {vmexit_invd, "INVD", 0},
    [EXIT_VMCALL] = {vmexit_vmcall, "VMCALL", 0},
    [EXIT_VMCLEAR] = {vmexit_vmx_instruction, "VMCLEAR", 0},
    [EXIT_VMLAUNCH] = {vmexit_vmx_instruction, "VMLAUNCH", 0},
    [EXIT_VMPTRLD] = {vmexit_vmx_instruction, "VMPTRLD", 0},
    [EXIT_VMPTRST] = {vmexit_vmx_instruction, "VMPTRST", 0},
    [EXIT_VMREAD] = {vmexit_vmx_instruction, "VMREAD", 0},
    [EXIT_VMRESUME] = {vmexit_vmx_instruction, "VMRESUME", 0},
    [EXIT_VMWRITE] = {vmexit_vmx_instruction, "VMWRITE", 0},
    [EXIT_VMXOFF] = {vmexit_vmx_instruction, "VMXOFF", 0},
    [EXIT_VMXON] = {vmexit_vmx_instruction, "VMXON", 0},
    [EXIT_CR_ACCESS] = {vmexit_cr_access, "control-register access", 0},
    [EXIT_DR_ACCESS] = {0, "debug-register access", 0},
    [EXIT_IO] = {guest_io_exit, "I/O instruction", 0},
    [EXIT_RDMSR] = {vmexit_msr, "RDMSR", 0},
    [EXIT_WRMSR] = {vmexit_msr, "WRMSR", 0},
    [EXIT_ENTRY_FAIL_GUEST_STATE] = {0, "VM-entry failure: invalid guest state", 0},
    [EXIT_ENTRY_FAIL_MSR_LOADING] = {0, "VM-entry failure: MSR loading", 0},
    [EXIT_ENTRY_FAIL_MACHINE_CHECK] = {0, "VM-entry failure: machine check", 0},
    [EXIT_EPT_VIOLATION] = {vmexit_ept_violation, "EPT violation", DURING_DELIVERY},
    [EXIT_EPT_MISCONFIG] = {vmexit_ept_misconfig, "EPT misconfiguration", DURING_DELIVERY},
    [EXIT_INVEPT] = {vmexit_vmx_instruction, "INVEPT", 0},
    [EXIT_INVVPID] = {vmexit_vmx_instruction, "INVVPID", 0},
    [EXIT_WBINVD] = {0, "WBINVD", 0},
    [EXIT_MWAIT] = {vmexit_monitor_mwait, "MWAIT", 0},
    [EXIT_MONITOR] = {vmexit_monitor_mwait, "MONITOR", 0},
    [EXIT_XSETBV] = {vmexit_xsetbv, "XSETBV", 0},
};

void vmexit_print_summary(void) {
  log_printf("vmx: exits per CPU and reason\n");
  log_printf("quiesce: rounds=%llu\n", (unsigned long long)quiesce_rounds());
  log_printf("serial: guest writes to the hypervisor's UART dropped=%u\n",
             guest_io_uart_writes_dropped());
  log_printf("paging: temporary mappings=%llu\n",
             (unsigned long long)cpu_phys_temporary_maps());
  for (uint32_t i = 0; i < smp_cpu_count(); i++) {
    const struct cpu *c = cpu_by_index(i);
    log_printf("nmi: cpu=%u guest=%u injected=%u merged=%u owed=%u parks=%u\n", i,
               c->guest_nmis, c->guest_nmis_injected, c->guest_nmis_merged,
               c->guest_nmi_owed, c->quiesce_parks);
    for (uint32_t r = 0; r < EXIT_REASON_COUNT; r++) {
      if (c->exit_count[r]) {
        log_printf("vmx-exits: cpu=%u reason=%u name=\"%s\" count=%llu\n", i, r,
                   vmexit_table[r].name ? vmexit_table[r].name : "?",
                   (unsigned long long)c->exit_count[r]);
      }
    }
  }
}

void vmexit_dispatch(struct cpu_regs *regs) {
  struct cpu *cpu = this_cpu();
  cpu->exit_regs = regs;
  __atomic_store_n(&cpu->in_exit, 1U, __ATOMIC_RELEASE);
  struct vmexit_info exit = {0, 0, false, 0, false};
  uint32_t raw = vmcs_read32(VMCS_VM_EXIT_REASON);
  exit.reason = raw & 0xFFFFU;
  if (exit.reason < CPU_EXIT_COUNTERS) {
    cpu->exit_count[exit.reason]++;
  }
  if (cpu->apic_step &&
      (exit.reason != EXIT_EXCEPTION_OR_NMI || !is_step_trap(vmcs_read32(VMCS_VM_EXIT_INTR_INFO)))) {
    /* Whatever else exits ends the step unfinished: the quiesce it holds is released first. */
    exit.step_ended = apic_trap_step_end(cpu, false);
  }
  const struct vmexit_entry *entry =
      exit.reason < EXIT_REASON_COUNT ? &vmexit_table[exit.reason] : 0;
  enum vmexit_action action;
  if (raw & (1U << 31)) {
    dump_guest(cpu, "VM entry failed", exit.reason, &exit, regs);
    action = VMEXIT_FATAL;
  } else if (entry == 0 || entry->handler == 0) {
    dump_guest(cpu, "unexpected VM exit", exit.reason, &exit, regs);
    action = VMEXIT_FATAL;
  } else {
    if (entry->flags & VMEXIT_DURING_DELIVERY) {
      /* An event this exit interrupted is delivered at the next entry, unless the handler says. */
      exit.vectoring = vmcs_read32(VMCS_IDT_VECTORING_INFO);
      guest_event_requeue(exit.vectoring);
    }
    action = entry->handler(cpu, regs, &exit);
  }
  if (action == VMEXIT_HANDLED_ADVANCE) {
    vmcs_writenw(VMCS_GUEST_RIP,
                 vmcs_readnw(VMCS_GUEST_RIP) + vmcs_read32(VMCS_VM_EXIT_INSTRUCTION_LEN));
    /* The emulated instruction ends any STI / MOV SS interrupt shadow. */
    uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
    if (intr & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS)) {
      vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO,
                   intr & ~(uint32_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
    }
  } else if (action == VMEXIT_FATAL) {
    log_printf("xhv: CPU %u halted\n", cpu->index);
    log_flush();
    cpu_halt_forever();
  }
  guest_ept_sync(cpu);
  /* An NMI noted before in_exit drops is armed here, any later one by its handler. */
  guest_nmi_arm(cpu);
  __atomic_store_n(&cpu->in_exit, 0U, __ATOMIC_RELEASE);
  guest_nmi_arm(cpu);
}

void vmx_vmresume_failed(int code) {
  struct cpu *cpu = this_cpu();
  uint32_t err = code == CPU_VMX_FAIL_VALID ? vmcs_read32(VMCS_VM_INSTRUCTION_ERROR) : 0;
  log_printf("xhv: PANIC: CPU %u: VMRESUME failed (VM-instruction error %u: %s)\n", cpu->index,
             err, vmx_instruction_error_name(err));
  vmcs_dump(log_printf);
  log_flush();
  cpu_halt_forever();
}
