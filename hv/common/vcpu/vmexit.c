/* SPDX-License-Identifier: Apache-2.0 */
/* VM-exit dispatch: one const table indexed by exit reason; RIP advances here only. */
#include "xhv/apic_trap.h"
#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/guest_bios.h"
#include "xhv/guest_nmi.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/panic.h"
#include "xhv/quiesce.h"
#include "xhv/smp.h"
#include "xhv/vcpu.h"
#include "xhv/vmcs.h"
#include "xhv/vmx.h"
#include "xhv/vmx_caps.h"

#define CR0_PE (1U << 0)
#define CR0_PG (1U << 31)
#define CR4_VMXE (1U << 13)
#define CR4_OSXSAVE (1U << 18)

#define CPUID_1_ECX_MONITOR (1U << 3)
#define CPUID_1_ECX_VMX (1U << 5)
#define CPUID_1_ECX_X2APIC (1U << 21)
#define CPUID_1_ECX_OSXSAVE (1U << 27)
#define CPUID_1_ECX_HYPERVISOR (1U << 31)
#define CPUID_EXT_EDX_LM (1U << 29)
#define CPUID_HV_BASE 0x40000000U
#define CPUID_HV_MAX 0x40000001U
#define CPUID_HV_SIGNATURE "XhvXhvXhvXhv"

#define INTR_INFO_VALID (1U << 31)
#define INTR_TYPE_NMI (2U << 8)
#define INTR_TYPE_HW_EXCEPTION (3U << 8)
#define INTR_ERROR_CODE_VALID (1U << 11)
#define INTR_INFO_TYPE_MASK (7U << 8)
#define VECTOR_DB 1U
#define VECTOR_UD 6U
#define VECTOR_GP 13U
#define INTERRUPTIBILITY_STI (1U << 0)
#define INTERRUPTIBILITY_MOV_SS (1U << 1)

#define PM1_SLP_EN (1U << 13)
#define EPT_QUAL_WRITE (1U << 1)
#define EPT_QUAL_FETCH (1U << 2)

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

/* ---- handlers, one per exit reason ---- */

static enum vmexit_action vmexit_nmi(struct cpu *cpu, struct cpu_regs *regs,
                                     struct vmexit_info *exit) {
  uint32_t info = vmcs_read32(VMCS_VM_EXIT_INTR_INFO);
  if ((info & INTR_INFO_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION && (info & 0xFFU) == VECTOR_DB &&
      apic_trap_step_done(cpu)) {
    return VMEXIT_HANDLED;
  }
  if ((info & INTR_INFO_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION && xhv_hypapp.exception &&
      xhv_hypapp.exception(cpu, regs, info & 0xFFU,
                           (info & INTR_ERROR_CODE_VALID)
                               ? vmcs_read32(VMCS_VM_EXIT_INTR_ERROR_CODE)
                               : 0U)) {
    return VMEXIT_HANDLED;
  }
  if ((info & INTR_INFO_TYPE_MASK) != INTR_TYPE_NMI) {
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
  dump_guest(cpu, "the guest triple-faulted", exit->reason, exit, regs);
  return VMEXIT_FATAL;
}

static enum vmexit_action vmexit_init(struct cpu *cpu, struct cpu_regs *regs,
                                      struct vmexit_info *exit) {
  /*
   * Start-up IPIs are virtualised (apic_trap.c): a real INIT reaches a CPU
   * only when the guest re-INITs a running CPU, which is not supported yet.
   */
  dump_guest(cpu, "the guest sent INIT to a running CPU (not supported)", exit->reason, exit,
             regs);
  return VMEXIT_FATAL;
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
    /* Hypervisor leaves: who we are, and nothing more for now. */
    r.eax = leaf == CPUID_HV_BASE ? CPUID_HV_MAX : 0;
    r.ebx = r.ecx = r.edx = 0;
    if (leaf == CPUID_HV_BASE) {
      const char *sig = CPUID_HV_SIGNATURE;
      __builtin_memcpy(&r.ebx, sig, 4);
      __builtin_memcpy(&r.ecx, sig + 4, 4);
      __builtin_memcpy(&r.edx, sig + 8, 4);
    }
  } else {
    cpu_cpuid(leaf, subleaf, &r);
    if (leaf == 1U) {
      r.ecx &= ~(CPUID_1_ECX_MONITOR | CPUID_1_ECX_VMX | CPUID_1_ECX_X2APIC | CPUID_1_ECX_OSXSAVE);
      r.ecx |= CPUID_1_ECX_HYPERVISOR;
      if (vmcs_readnw(VMCS_GUEST_CR4) & CR4_OSXSAVE) {
        r.ecx |= CPUID_1_ECX_OSXSAVE;
      }
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

static enum vmexit_action vmexit_invd(struct cpu *cpu, struct cpu_regs *regs,
                                      struct vmexit_info *exit) {
  (void)cpu;
  (void)regs;
  (void)exit;
  /* Dropping dirty lines would corrupt memory the hypervisor shares: write back instead. */
  __asm__ volatile("wbinvd" ::: "memory");
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_vmcall(struct cpu *cpu, struct cpu_regs *regs,
                                        struct vmexit_info *exit) {
  (void)exit;
  bool advance = true;
  if (guest_bios_int15(regs, &advance)) {
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
  guest_inject_exception(VECTOR_UD, false, 0);
  return VMEXIT_HANDLED;
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

static uword_t *gpr(struct cpu_regs *regs, uint32_t n) { return &((uword_t *)regs)[n]; }

static enum vmexit_action vmexit_cr_access(struct cpu *cpu, struct cpu_regs *regs,
                                           struct vmexit_info *exit) {
  uword_t q = vmexit_qualification(exit);
  uint32_t cr = (uint32_t)(q & 0xFU);
  uint32_t access = (uint32_t)((q >> 4) & 3U);
  uint32_t reg = (uint32_t)((q >> 8) & 0xFU);
  if (access != 0U || reg >= XHV_GPR_COUNT || reg == 4U) {
    dump_guest(cpu, "unsupported control-register access", exit->reason, exit, regs);
    return VMEXIT_FATAL;
  }
  uword_t value = *gpr(regs, reg);
  if (cr == 0U) {
    uword_t mask = vmcs_readnw(VMCS_CR0_GUEST_HOST_MASK);
    uword_t old = vmcs_readnw(VMCS_GUEST_CR0);
    vmcs_writenw(VMCS_CR0_READ_SHADOW, value);
    if ((value ^ old) & (CR0_PE | CR0_PG)) {
      /*
       * A mode switch rides along with a change of an owned bit: take the
       * owned bits now but keep PE/PG, and let the guest run the MOV again.
       * It no longer exits, so the CPU switches modes natively (long mode,
       * PAE PDPTE loads and all).
       */
      vmcs_writenw(VMCS_GUEST_CR0, (value & ~(uword_t)(CR0_PE | CR0_PG)) |
                                       (old & (CR0_PE | CR0_PG)) | mask);
      return VMEXIT_HANDLED;
    }
    vmcs_writenw(VMCS_GUEST_CR0, value | mask);
    return VMEXIT_HANDLED_ADVANCE;
  }
  if (cr == 4U) {
    if (value & CR4_VMXE) {
      guest_inject_exception(VECTOR_GP, true, 0); /* VMX is not available to the guest */
      return VMEXIT_HANDLED;
    }
    uword_t mask = vmcs_readnw(VMCS_CR4_GUEST_HOST_MASK);
    vmcs_writenw(VMCS_CR4_READ_SHADOW, value);
    vmcs_writenw(VMCS_GUEST_CR4, value | mask);
    return VMEXIT_HANDLED_ADVANCE;
  }
  dump_guest(cpu, "unexpected control-register exit", exit->reason, exit, regs);
  return VMEXIT_FATAL;
}

static enum vmexit_action vmexit_msr(struct cpu *cpu, struct cpu_regs *regs,
                                     struct vmexit_info *exit) {
  (void)cpu;
  (void)regs;
  (void)exit;
  /*
   * Only what msr_policy keeps from the guest exits (VMX capability MSRs),
   * plus MSRs outside the bitmap's ranges, none of which exists on the CPUs
   * xhv supports: the #GP a guest without them gets from the hardware.
   */
  guest_inject_exception(VECTOR_GP, true, 0);
  return VMEXIT_HANDLED;
}

static enum vmexit_action vmexit_xsetbv(struct cpu *cpu, struct cpu_regs *regs,
                                        struct vmexit_info *exit) {
  (void)cpu;
  (void)exit;
  struct cpuid_regs r;
  cpu_cpuid(0xD, 0, &r);
  uint64_t supported = ((uint64_t)r.edx << 32) | r.eax;
  uint64_t value = ((uint64_t)(uint32_t)regs->dx << 32) | (uint32_t)regs->ax;
  /* SDM "XSETBV": XCR0 only, x87 always on, AVX needs SSE, only supported bits. */
  if ((uint32_t)regs->cx != 0U || !(value & 1U) || ((value & 4U) && !(value & 2U)) ||
      (value & ~supported)) {
    guest_inject_exception(VECTOR_GP, true, 0);
    return VMEXIT_HANDLED;
  }
  __asm__ volatile("xsetbv" : : "a"((uint32_t)value), "d"((uint32_t)(value >> 32)), "c"(0U));
  return VMEXIT_HANDLED_ADVANCE;
}

static void print_exit_counts(void);

static enum vmexit_action vmexit_io(struct cpu *cpu, struct cpu_regs *regs,
                                    struct vmexit_info *exit) {
  uword_t q = vmexit_qualification(exit);
  uint32_t size = (uint32_t)(q & 7U) + 1U;
  bool in = (q & 8U) != 0;
  bool string = (q & 16U) != 0;
  uint16_t port = (uint16_t)(q >> 16);
  if (string || (size != 1U && size != 2U && size != 4U)) {
    dump_guest(cpu, "unexpected string I/O exit", exit->reason, exit, regs);
    return VMEXIT_FATAL;
  }
  /*
   * Only the ACPI PM1 control ports are intercepted, to see the guest power
   * off; the access itself goes through to the hardware unchanged.
   */
  uword_t mask = size == 4U ? 0xFFFFFFFFU : (1U << (8U * size)) - 1U;
  if (in) {
    uint32_t v = size == 1U ? cpu_inb(port) : size == 2U ? cpu_inw(port) : cpu_inl(port);
    regs->ax = (regs->ax & ~mask) | v;
    return VMEXIT_HANDLED_ADVANCE;
  }
  uint32_t value = (uint32_t)(regs->ax & mask);
  if (size >= 2U && (value & PM1_SLP_EN)) {
    log_printf("vmx: CPU %u: guest enters ACPI sleep (PM1 control 0x%04x <- 0x%04x)\n",
               cpu->index, port, value);
    if (xhv_hypapp.shutdown) {
      quiesce_begin(cpu);
      xhv_hypapp.shutdown(cpu);
      quiesce_end(cpu);
    }
    print_exit_counts();
    log_flush();
  }
  if (size == 1U) {
    cpu_outb(port, (uint8_t)value);
  } else if (size == 2U) {
    cpu_outw(port, (uint16_t)value);
  } else {
    cpu_outl(port, value);
  }
  return VMEXIT_HANDLED_ADVANCE;
}

static enum vmexit_action vmexit_ept_violation(struct cpu *cpu, struct cpu_regs *regs,
                                               struct vmexit_info *exit) {
  uint64_t gpa = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS);
  uword_t q = vmexit_qualification(exit);
  if (apic_trap_ept_violation(cpu, gpa, (q & EPT_QUAL_WRITE) != 0)) {
    return VMEXIT_HANDLED;
  }
  if (vmx_hidden_gpa(gpa) && !(q & EPT_QUAL_FETCH)) {
    log_printf("vmx: CPU %u: guest %s hypervisor memory at 0x%llx (rip 0x%llx): it gets a blank "
               "page there\n",
               cpu->index, (q & EPT_QUAL_WRITE) ? "wrote" : "read", (unsigned long long)gpa,
               (unsigned long long)vmcs_readnw(VMCS_GUEST_RIP));
    vmx_map_blank_page(gpa);
    return VMEXIT_HANDLED;
  }
  if (xhv_hypapp.ept_violation) {
    uint32_t access = (q & EPT_QUAL_FETCH) ? EPT_EXEC : (q & EPT_QUAL_WRITE) ? EPT_WRITE : EPT_READ;
    quiesce_begin(cpu);
    bool handled = xhv_hypapp.ept_violation(cpu, regs, gpa, access);
    quiesce_end(cpu);
    if (handled) {
      return VMEXIT_HANDLED;
    }
  }
  log_printf("vmx: CPU %u: EPT violation at guest-physical 0x%llx\n", cpu->index,
             (unsigned long long)gpa);
  dump_guest(cpu, "guest access to memory it may not touch", exit->reason, exit, regs);
  return VMEXIT_FATAL;
}

const struct vmexit_entry vmexit_table[EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_OR_NMI] = {vmexit_nmi, "exception or NMI"},
    [EXIT_EXTERNAL_INTERRUPT] = {0, "external interrupt"},
    [EXIT_TRIPLE_FAULT] = {vmexit_triple_fault, "triple fault"},
    [EXIT_INIT] = {vmexit_init, "INIT signal"},
    [EXIT_SIPI] = {0, "start-up IPI"},
    [EXIT_INTERRUPT_WINDOW] = {0, "interrupt window"},
    [EXIT_NMI_WINDOW] = {vmexit_nmi_window, "NMI window"},
    [EXIT_TASK_SWITCH] = {0, "task switch"},
    [EXIT_CPUID] = {vmexit_cpuid, "CPUID"},
    [EXIT_GETSEC] = {0, "GETSEC"},
    [EXIT_HLT] = {0, "HLT"},
    [EXIT_INVD] = {vmexit_invd, "INVD"},
    [EXIT_VMCALL] = {vmexit_vmcall, "VMCALL"},
    [EXIT_VMCLEAR] = {vmexit_vmx_instruction, "VMCLEAR"},
    [EXIT_VMLAUNCH] = {vmexit_vmx_instruction, "VMLAUNCH"},
    [EXIT_VMPTRLD] = {vmexit_vmx_instruction, "VMPTRLD"},
    [EXIT_VMPTRST] = {vmexit_vmx_instruction, "VMPTRST"},
    [EXIT_VMREAD] = {vmexit_vmx_instruction, "VMREAD"},
    [EXIT_VMRESUME] = {vmexit_vmx_instruction, "VMRESUME"},
    [EXIT_VMWRITE] = {vmexit_vmx_instruction, "VMWRITE"},
    [EXIT_VMXOFF] = {vmexit_vmx_instruction, "VMXOFF"},
    [EXIT_VMXON] = {vmexit_vmx_instruction, "VMXON"},
    [EXIT_CR_ACCESS] = {vmexit_cr_access, "control-register access"},
    [EXIT_DR_ACCESS] = {0, "debug-register access"},
    [EXIT_IO] = {vmexit_io, "I/O instruction"},
    [EXIT_RDMSR] = {vmexit_msr, "RDMSR"},
    [EXIT_WRMSR] = {vmexit_msr, "WRMSR"},
    [EXIT_ENTRY_FAIL_GUEST_STATE] = {0, "VM-entry failure: invalid guest state"},
    [EXIT_ENTRY_FAIL_MSR_LOADING] = {0, "VM-entry failure: MSR loading"},
    [EXIT_ENTRY_FAIL_MACHINE_CHECK] = {0, "VM-entry failure: machine check"},
    [EXIT_EPT_VIOLATION] = {vmexit_ept_violation, "EPT violation"},
    [EXIT_EPT_MISCONFIG] = {0, "EPT misconfiguration"},
    [EXIT_INVEPT] = {vmexit_vmx_instruction, "INVEPT"},
    [EXIT_INVVPID] = {vmexit_vmx_instruction, "INVVPID"},
    [EXIT_WBINVD] = {0, "WBINVD"},
    [EXIT_MWAIT] = {vmexit_monitor_mwait, "MWAIT"},
    [EXIT_MONITOR] = {vmexit_monitor_mwait, "MONITOR"},
    [EXIT_XSETBV] = {vmexit_xsetbv, "XSETBV"},
};

static void print_exit_counts(void) {
  log_printf("vmx: exits per CPU and reason\n");
  log_printf("quiesce: rounds=%llu\n", (unsigned long long)quiesce_rounds());
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
  __atomic_store_n(&cpu->in_exit, 1U, __ATOMIC_RELEASE);
  struct vmexit_info exit = {0, 0, false};
  uint32_t raw = vmcs_read32(VMCS_VM_EXIT_REASON);
  exit.reason = raw & 0xFFFFU;
  if (exit.reason < CPU_EXIT_COUNTERS) {
    cpu->exit_count[exit.reason]++;
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
