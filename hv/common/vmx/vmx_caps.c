/* SPDX-License-Identifier: Apache-2.0 */
/* Reads the VMX capability MSRs and chooses VMCS control values the CPU allows. */
#include "xhv/vmx_caps.h"

#include <stdarg.h>

#include "xhv/cpu_ops.h"
#include "xhv/format.h"

static struct vmx_control_caps vmx_split_control_msr(uint64_t msr) {
  struct vmx_control_caps c = {(uint32_t)msr, (uint32_t)(msr >> 32)};
  return c;
}

void vmx_caps_read(struct vmx_caps *caps) {
  caps->basic = cpu_rdmsr(MSR_IA32_VMX_BASIC);
  /*
   * The TRUE_* MSRs report which default-1 controls may really be 0 (e.g.
   * CR3-load/store exiting): SDM "VMX Capability Reporting Facility".
   */
  int true_ctls = (caps->basic & VMX_BASIC_TRUE_CTLS) != 0ULL;
  caps->pin = vmx_split_control_msr(
      cpu_rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PINBASED_CTLS : MSR_IA32_VMX_PINBASED_CTLS));
  caps->proc = vmx_split_control_msr(
      cpu_rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_PROCBASED_CTLS : MSR_IA32_VMX_PROCBASED_CTLS));
  caps->exit = vmx_split_control_msr(
      cpu_rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_EXIT_CTLS : MSR_IA32_VMX_EXIT_CTLS));
  caps->entry = vmx_split_control_msr(
      cpu_rdmsr(true_ctls ? MSR_IA32_VMX_TRUE_ENTRY_CTLS : MSR_IA32_VMX_ENTRY_CTLS));
  caps->misc = cpu_rdmsr(MSR_IA32_VMX_MISC);
  caps->cr0_fixed0 = cpu_rdmsr(MSR_IA32_VMX_CR0_FIXED0);
  caps->cr0_fixed1 = cpu_rdmsr(MSR_IA32_VMX_CR0_FIXED1);
  caps->cr4_fixed0 = cpu_rdmsr(MSR_IA32_VMX_CR4_FIXED0);
  caps->cr4_fixed1 = cpu_rdmsr(MSR_IA32_VMX_CR4_FIXED1);

  /* Both MSRs exist only under these conditions; reading them otherwise faults. */
  caps->proc2.allowed0 = 0U;
  caps->proc2.allowed1 = 0U;
  caps->ept_vpid = 0ULL;
  if ((caps->proc.allowed1 & VMX_PROC_ACTIVATE_SECONDARY) != 0U) {
    caps->proc2 = vmx_split_control_msr(cpu_rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2));
    if ((caps->proc2.allowed1 & (VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VPID)) != 0U) {
      caps->ept_vpid = cpu_rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
    }
  }
}

struct vmx_bit_name {
  uint64_t bit;
  const char *name;
};

static const struct vmx_bit_name vmx_pin_names[] = {
    {VMX_PIN_EXTERNAL_INTERRUPT_EXITING, "pin-based: external-interrupt exiting"},
    {VMX_PIN_NMI_EXITING, "pin-based: NMI exiting"},
    {VMX_PIN_VIRTUAL_NMIS, "pin-based: virtual NMIs"},
    {VMX_PIN_PREEMPTION_TIMER, "pin-based: VMX-preemption timer"},
    {VMX_PIN_POSTED_INTERRUPTS, "pin-based: process posted interrupts"},
    {0U, "pin-based: unnamed control"},
};

static const struct vmx_bit_name vmx_proc_names[] = {
    {VMX_PROC_INTERRUPT_WINDOW_EXITING, "processor-based: interrupt-window exiting"},
    {VMX_PROC_USE_TSC_OFFSETTING, "processor-based: use TSC offsetting"},
    {VMX_PROC_HLT_EXITING, "processor-based: HLT exiting"},
    {VMX_PROC_INVLPG_EXITING, "processor-based: INVLPG exiting"},
    {VMX_PROC_MWAIT_EXITING, "processor-based: MWAIT exiting"},
    {VMX_PROC_RDPMC_EXITING, "processor-based: RDPMC exiting"},
    {VMX_PROC_RDTSC_EXITING, "processor-based: RDTSC exiting"},
    {VMX_PROC_CR3_LOAD_EXITING, "processor-based: CR3-load exiting"},
    {VMX_PROC_CR3_STORE_EXITING, "processor-based: CR3-store exiting"},
    {VMX_PROC_CR8_LOAD_EXITING, "processor-based: CR8-load exiting"},
    {VMX_PROC_CR8_STORE_EXITING, "processor-based: CR8-store exiting"},
    {VMX_PROC_USE_TPR_SHADOW, "processor-based: use TPR shadow"},
    {VMX_PROC_NMI_WINDOW_EXITING, "processor-based: NMI-window exiting"},
    {VMX_PROC_MOV_DR_EXITING, "processor-based: MOV-DR exiting"},
    {VMX_PROC_UNCONDITIONAL_IO_EXITING, "processor-based: unconditional I/O exiting"},
    {VMX_PROC_USE_IO_BITMAPS, "processor-based: use I/O bitmaps"},
    {VMX_PROC_MONITOR_TRAP_FLAG, "processor-based: monitor trap flag"},
    {VMX_PROC_USE_MSR_BITMAPS, "processor-based: use MSR bitmaps"},
    {VMX_PROC_MONITOR_EXITING, "processor-based: MONITOR exiting"},
    {VMX_PROC_PAUSE_EXITING, "processor-based: PAUSE exiting"},
    {VMX_PROC_ACTIVATE_SECONDARY, "processor-based: activate secondary controls"},
    {0U, "processor-based: unnamed control"},
};

static const struct vmx_bit_name vmx_proc2_names[] = {
    {VMX_PROC2_VIRTUALIZE_APIC_ACCESSES, "secondary controls: virtualize APIC accesses"},
    {VMX_PROC2_ENABLE_EPT, "secondary controls: EPT"},
    {VMX_PROC2_DESCRIPTOR_TABLE_EXITING, "secondary controls: descriptor-table exiting"},
    {VMX_PROC2_ENABLE_RDTSCP, "secondary controls: enable RDTSCP"},
    {VMX_PROC2_VIRTUALIZE_X2APIC, "secondary controls: virtualize x2APIC mode"},
    {VMX_PROC2_ENABLE_VPID, "secondary controls: VPID"},
    {VMX_PROC2_WBINVD_EXITING, "secondary controls: WBINVD exiting"},
    {VMX_PROC2_UNRESTRICTED_GUEST, "secondary controls: unrestricted guest"},
    {VMX_PROC2_APIC_REGISTER_VIRTUALIZATION, "secondary controls: APIC-register virtualization"},
    {VMX_PROC2_VIRTUAL_INTERRUPT_DELIVERY, "secondary controls: virtual-interrupt delivery"},
    {VMX_PROC2_PAUSE_LOOP_EXITING, "secondary controls: PAUSE-loop exiting"},
    {VMX_PROC2_RDRAND_EXITING, "secondary controls: RDRAND exiting"},
    {VMX_PROC2_ENABLE_INVPCID, "secondary controls: enable INVPCID"},
    {VMX_PROC2_ENABLE_VMFUNC, "secondary controls: enable VM functions"},
    {VMX_PROC2_VMCS_SHADOWING, "secondary controls: VMCS shadowing"},
    {VMX_PROC2_ENABLE_PML, "secondary controls: enable PML"},
    {VMX_PROC2_EPT_VIOLATION_VE, "secondary controls: EPT-violation #VE"},
    {VMX_PROC2_ENABLE_XSAVES, "secondary controls: enable XSAVES/XRSTORS"},
    {VMX_PROC2_TSC_SCALING, "secondary controls: use TSC scaling"},
    {0U, "secondary controls: unnamed control"},
};

static const struct vmx_bit_name vmx_exit_names[] = {
    {VMX_EXIT_CTL_SAVE_DEBUG_CONTROLS, "VM-exit: save debug controls"},
    {VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE, "VM-exit: host address-space size"},
    {VMX_EXIT_CTL_LOAD_PERF_GLOBAL_CTRL, "VM-exit: load IA32_PERF_GLOBAL_CTRL"},
    {VMX_EXIT_CTL_ACK_INTERRUPT, "VM-exit: acknowledge interrupt on exit"},
    {VMX_EXIT_CTL_SAVE_PAT, "VM-exit: save IA32_PAT"},
    {VMX_EXIT_CTL_LOAD_PAT, "VM-exit: load IA32_PAT"},
    {VMX_EXIT_CTL_SAVE_EFER, "VM-exit: save IA32_EFER"},
    {VMX_EXIT_CTL_LOAD_EFER, "VM-exit: load IA32_EFER"},
    {VMX_EXIT_CTL_SAVE_PREEMPTION_TIMER, "VM-exit: save VMX-preemption timer value"},
    {0U, "VM-exit: unnamed control"},
};

static const struct vmx_bit_name vmx_entry_names[] = {
    {VMX_ENTRY_CTL_LOAD_DEBUG_CONTROLS, "VM-entry: load debug controls"},
    {VMX_ENTRY_CTL_IA32E_MODE_GUEST, "VM-entry: IA-32e mode guest"},
    {VMX_ENTRY_CTL_LOAD_PERF_GLOBAL_CTRL, "VM-entry: load IA32_PERF_GLOBAL_CTRL"},
    {VMX_ENTRY_CTL_LOAD_PAT, "VM-entry: load IA32_PAT"},
    {VMX_ENTRY_CTL_LOAD_EFER, "VM-entry: load IA32_EFER"},
    {0U, "VM-entry: unnamed control"},
};

static const struct vmx_bit_name vmx_ept_vpid_names[] = {
    {VMX_EPT_CAP_EXECUTE_ONLY, "EPT: execute-only translations"},
    {VMX_EPT_CAP_WALK_4, "EPT: 4-level page walk"},
    {VMX_EPT_CAP_UC, "EPT: uncacheable memory type"},
    {VMX_EPT_CAP_WB, "EPT: write-back memory type"},
    {VMX_EPT_CAP_2MB_PAGES, "EPT: 2-MByte pages"},
    {VMX_EPT_CAP_1GB_PAGES, "EPT: 1-GByte pages"},
    {VMX_EPT_CAP_INVEPT, "INVEPT"},
    {VMX_EPT_CAP_ACCESSED_DIRTY, "EPT: accessed and dirty flags"},
    {VMX_EPT_CAP_INVEPT_SINGLE_CONTEXT, "INVEPT: single-context"},
    {VMX_EPT_CAP_INVEPT_ALL_CONTEXT, "INVEPT: all-context"},
    {VMX_VPID_CAP_INVVPID, "INVVPID"},
    {VMX_VPID_CAP_INVVPID_ADDRESS, "INVVPID: individual-address"},
    {VMX_VPID_CAP_INVVPID_SINGLE_CONTEXT, "INVVPID: single-context"},
    {VMX_VPID_CAP_INVVPID_ALL_CONTEXT, "INVVPID: all-context"},
    {VMX_VPID_CAP_INVVPID_SINGLE_CONTEXT_GLOBALS, "INVVPID: single-context-retaining-globals"},
    {0U, "EPT/VPID: unnamed capability"},
};

/* The name of the lowest set bit of lacking; each table ends with a catch-all. */
static const char *vmx_lowest_bit_name(const struct vmx_bit_name *names, uint64_t lacking) {
  uint64_t lowest = lacking & (~lacking + 1ULL);
  for (; names->bit != 0U; names++) {
    if (names->bit == lowest) {
      break;
    }
  }
  return names->name;
}

/* One control word; returns NULL or the name of the first required control lacking. */
static const char *vmx_choose_word(const struct vmx_control_caps *caps,
                                   const struct vmx_control_want *want,
                                   const struct vmx_bit_name *names, uint32_t *out) {
  uint32_t lacking = want->required & ~caps->allowed1;
  if (lacking != 0U) {
    return vmx_lowest_bit_name(names, lacking);
  }
  *out = (want->required | want->optional | caps->allowed0) & caps->allowed1;
  return NULL;
}

int vmx_controls_choose(const struct vmx_caps *caps, const struct vmx_wanted *want,
                        struct vmx_controls *out, const char **missing) {
  struct vmx_wanted w = *want;
  struct vmx_controls c = {0U, 0U, 0U, 0U, 0U};
  const char *lacking = NULL;

  if (w.proc2.required != 0U) {
    w.proc.required |= VMX_PROC_ACTIVATE_SECONDARY;
  } else if (w.proc2.optional != 0U) {
    w.proc.optional |= VMX_PROC_ACTIVATE_SECONDARY;
  }

  lacking = vmx_choose_word(&caps->pin, &w.pin, vmx_pin_names, &c.pin);
  if (lacking == NULL) {
    lacking = vmx_choose_word(&caps->proc, &w.proc, vmx_proc_names, &c.proc);
  }
  if (lacking == NULL) {
    /* Unactivated secondary controls count as 0 (SDM "Processor-Based VM-Execution Controls"). */
    struct vmx_control_caps none = {0U, 0U};
    const struct vmx_control_caps *proc2 =
        (c.proc & VMX_PROC_ACTIVATE_SECONDARY) != 0U ? &caps->proc2 : &none;
    lacking = vmx_choose_word(proc2, &w.proc2, vmx_proc2_names, &c.proc2);
  }
  if (lacking == NULL) {
    lacking = vmx_choose_word(&caps->exit, &w.exit, vmx_exit_names, &c.exit);
  }
  if (lacking == NULL) {
    lacking = vmx_choose_word(&caps->entry, &w.entry, vmx_entry_names, &c.entry);
  }
  if (lacking == NULL && (w.ept_vpid_required & ~caps->ept_vpid) != 0ULL) {
    lacking = vmx_lowest_bit_name(vmx_ept_vpid_names, w.ept_vpid_required & ~caps->ept_vpid);
  }

  if (lacking != NULL) {
    struct vmx_controls none = {0U, 0U, 0U, 0U, 0U};
    *out = none;
    if (missing != NULL) {
      *missing = lacking;
    }
    return -1;
  }
  *out = c;
  return 0;
}

void vmx_wanted_xhv(struct vmx_wanted *want, int host_is_64bit) {
  struct vmx_wanted w = {
      .pin = {.required = VMX_PIN_NMI_EXITING | VMX_PIN_VIRTUAL_NMIS},
      /*
       * MONITOR/MWAIT are hidden from the guest (CPUID.1:ECX.MONITOR = 0, as
       * KVM and Xen do by default): a guest that uses them anyway gets #UD.
       * Linux 5.10 i386 idling in MWAIT under the 32-bit image never woke
       * up again in Bochs; HLT idle has no such trouble.
       */
      /*
       * HLT exits: a CPU the guest halts with interrupts off is waiting for
       * INIT/SIPI (a CPU taken offline), and waits in the hypervisor,
       * which sees its start-up IPIs again (xhv/apic_trap.h).
       */
      .proc = {.required = VMX_PROC_USE_IO_BITMAPS | VMX_PROC_USE_MSR_BITMAPS |
                           VMX_PROC_MWAIT_EXITING | VMX_PROC_MONITOR_EXITING |
                           VMX_PROC_HLT_EXITING | VMX_PROC_ACTIVATE_SECONDARY},
      .proc2 = {.required =
                    VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VPID | VMX_PROC2_UNRESTRICTED_GUEST,
                /* Without these the guest takes #UD on instructions its CPUID advertises. */
                .optional =
                    VMX_PROC2_ENABLE_RDTSCP | VMX_PROC2_ENABLE_INVPCID | VMX_PROC2_ENABLE_XSAVES},
      /*
       * The guest's DR7 and IA32_DEBUGCTL live in the VMCS: every exit
       * resets the hardware's to 400H and 0, so without these they would
       * be lost at each exit, and TrustVisor could not switch them off for
       * a PAL (the OS's breakpoints and branch records).
       */
      .exit = {.required = VMX_EXIT_CTL_SAVE_EFER | VMX_EXIT_CTL_LOAD_EFER | VMX_EXIT_CTL_SAVE_PAT |
                           VMX_EXIT_CTL_LOAD_PAT | VMX_EXIT_CTL_SAVE_DEBUG_CONTROLS |
                           (host_is_64bit ? VMX_EXIT_CTL_HOST_ADDR_SPACE_SIZE : 0U)},
      .entry = {.required = VMX_ENTRY_CTL_LOAD_EFER | VMX_ENTRY_CTL_LOAD_PAT |
                            VMX_ENTRY_CTL_LOAD_DEBUG_CONTROLS},
      .ept_vpid_required = VMX_EPT_CAP_WALK_4 | VMX_EPT_CAP_WB | VMX_EPT_CAP_INVEPT |
                           VMX_EPT_CAP_INVEPT_ALL_CONTEXT | VMX_VPID_CAP_INVVPID |
                           VMX_VPID_CAP_INVVPID_ALL_CONTEXT,
  };
  *want = w;
}

/* snprintf that keeps appending to one buffer and counts what did not fit. */
struct vmx_line {
  char *buf;
  size_t size;
  size_t len;
};

static void vmx_line_add(struct vmx_line *line, const char *fmt, ...) XHV_PRINTF(2, 3);

static void vmx_line_add(struct vmx_line *line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n;
  if (line->len < line->size) {
    n = xhv_vsnprintf(line->buf + line->len, line->size - line->len, fmt, ap);
  } else {
    n = xhv_vsnprintf(NULL, 0U, fmt, ap);
  }
  va_end(ap);
  if (n > 0) {
    line->len += (size_t)n;
  }
}

int vmx_caps_format(char *buf, size_t size, const struct vmx_caps *caps) {
  struct vmx_line line = {buf, size, 0U};
  uint32_t proc2 = caps->proc2.allowed1;
  uint64_t ev = caps->ept_vpid;

  vmx_line_add(&line, "vmx: rev 0x%x", (unsigned)vmx_caps_revision_id(caps));
  if ((caps->basic & VMX_BASIC_TRUE_CTLS) != 0ULL) {
    vmx_line_add(&line, ", true ctls");
  }
  if ((proc2 & VMX_PROC2_ENABLE_EPT) != 0U) {
    vmx_line_add(&line, ", ept%s%s%s%s%s%s", (ev & VMX_EPT_CAP_WALK_4) != 0ULL ? " 4-level" : "",
                 (ev & VMX_EPT_CAP_WB) != 0ULL ? " wb" : "",
                 (ev & VMX_EPT_CAP_2MB_PAGES) != 0ULL ? " 2M" : "",
                 (ev & VMX_EPT_CAP_1GB_PAGES) != 0ULL ? " 1G" : "",
                 (ev & VMX_EPT_CAP_ACCESSED_DIRTY) != 0ULL ? " a/d" : "",
                 (ev & VMX_EPT_CAP_INVEPT) != 0ULL ? " invept" : "");
  } else {
    vmx_line_add(&line, ", no ept");
  }
  if ((proc2 & VMX_PROC2_ENABLE_VPID) != 0U) {
    vmx_line_add(&line, ", vpid%s", (ev & VMX_VPID_CAP_INVVPID) != 0ULL ? " invvpid" : "");
  } else {
    vmx_line_add(&line, ", no vpid");
  }
  vmx_line_add(&line, ", %sunrestricted guest",
               (proc2 & VMX_PROC2_UNRESTRICTED_GUEST) != 0U ? "" : "no ");
  vmx_line_add(&line, ", %svnmi", (caps->pin.allowed1 & VMX_PIN_VIRTUAL_NMIS) != 0U ? "" : "no ");
  if ((caps->pin.allowed1 & VMX_PIN_PREEMPTION_TIMER) != 0U) {
    vmx_line_add(&line, ", preemption timer");
  }
  if ((caps->proc.allowed1 & VMX_PROC_USE_MSR_BITMAPS) != 0U) {
    vmx_line_add(&line, ", msr bitmaps");
  }
  if ((caps->exit.allowed1 & (VMX_EXIT_CTL_SAVE_EFER | VMX_EXIT_CTL_LOAD_EFER)) ==
          (VMX_EXIT_CTL_SAVE_EFER | VMX_EXIT_CTL_LOAD_EFER) &&
      (caps->entry.allowed1 & VMX_ENTRY_CTL_LOAD_EFER) != 0U) {
    vmx_line_add(&line, ", efer switch");
  }
  if ((caps->exit.allowed1 & (VMX_EXIT_CTL_SAVE_PAT | VMX_EXIT_CTL_LOAD_PAT)) ==
          (VMX_EXIT_CTL_SAVE_PAT | VMX_EXIT_CTL_LOAD_PAT) &&
      (caps->entry.allowed1 & VMX_ENTRY_CTL_LOAD_PAT) != 0U) {
    vmx_line_add(&line, ", pat switch");
  }
  if ((proc2 & VMX_PROC2_ENABLE_RDTSCP) != 0U) {
    vmx_line_add(&line, ", rdtscp");
  }
  if ((proc2 & VMX_PROC2_ENABLE_INVPCID) != 0U) {
    vmx_line_add(&line, ", invpcid");
  }
  if ((proc2 & VMX_PROC2_ENABLE_XSAVES) != 0U) {
    vmx_line_add(&line, ", xsaves");
  }
  if ((caps->misc & VMX_MISC_VMWRITE_ANY_FIELD) != 0ULL) {
    vmx_line_add(&line, ", vmwrite-any");
  }
  return line.len > 0x7FFFFFFFU ? -1 : (int)line.len;
}
