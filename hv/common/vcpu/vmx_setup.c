/* SPDX-License-Identifier: Apache-2.0 */
/* Machine-wide VMX configuration, per-CPU VMXON/VMCS set-up and VMLAUNCH. */
#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/guest.h"
#include "xhv/guest_ept.h"
#include "xhv/heap.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/msr_policy.h"
#include "xhv/mtrr.h"
#include "xhv/panic.h"
#include "xhv/smp.h"
#include "xhv/string.h"
#include "xhv/vcpu.h"
#include "xhv/vmcs.h"
#include "xhv/vmx.h"
#include "xhv/vmx_caps.h"

#define CR0_PE (1U << 0)
#define CR0_ET (1U << 4)
#define CR0_PG (1U << 31)
#define CR4_VMXE (1U << 13)
#define CR4_OSXSAVE (1U << 18)
#define CPUID_1_ECX_VMX (1U << 5)
#define CPUID_1_ECX_XSAVE (1U << 26)
#define MSR_IA32_FEATURE_CONTROL 0x3AU
#define FEATURE_CONTROL_LOCKED (1ULL << 0)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ULL << 2)
#define MSR_IA32_PAT 0x277U
#define MSR_IA32_EFER 0xC0000080U
#define PAT_POWER_ON 0x0007040600070406ULL
#define VMCS_LINK_NONE 0xFFFFFFFFFFFFFFFFULL
#define GUEST_VPID 1U
/* Segment access rights (SDM "Guest Register State"). */
#define AR_CODE_16 0x9BU   /* present, code, readable, accessed */
#define AR_DATA_16 0x93U   /* present, data, writable, accessed */
#define AR_TSS_BUSY 0x8BU  /* present, busy 32/64-bit TSS */
#define AR_LDT 0x82U
#define AR_CODE_32 0xC09BU /* and page-granular, 32-bit: the flat segments of PVH */
#define AR_DATA_32 0xC093U
#define PVH_CODE_SELECTOR 0x08U
#define PVH_DATA_SELECTOR 0x10U
#define EPT_TOP_MIN (4ULL << 30) /* map all of the 32-bit space: MMIO too */
#define EPT_TOP_STEP (1ULL << 30)
#define INVEPT_ALL_CONTEXTS 2U
#define INVVPID_ALL_CONTEXTS 2U

static struct vmx_caps caps;
static struct vmx_controls controls;
static uint64_t msr_bitmap_pa;
/* I/O bitmaps: only the ports whose guest accesses xhv must see (ACPI PM1, COM1). */
static uint64_t io_bitmap_pa[2];
static uint8_t *io_bitmap[2];

const struct vmx_caps *vmx_machine_caps(void) { return &caps; }

void vmx_io_intercept_port(uint16_t port) {
  io_bitmap[port >> 15][(port & 0x7FFFU) >> 3] |= (uint8_t)(1U << (port & 7U));
}

void vmx_machine_init(const struct guest_boot *b) {
  struct cpuid_regs r;
  cpu_cpuid(1, 0, &r);
  if ((r.ecx & CPUID_1_ECX_VMX) == 0) {
    xhv_panic("this CPU has no VMX (CPUID.1:ECX[5] = 0): xhv needs Intel VT-x");
  }
  uint64_t fc = cpu_rdmsr(MSR_IA32_FEATURE_CONTROL);
  if ((fc & FEATURE_CONTROL_LOCKED) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
    xhv_panic("VMX is disabled by the firmware (IA32_FEATURE_CONTROL = 0x%llx)",
              (unsigned long long)fc);
  }
  vmx_caps_read(&caps);
  if (r.ecx & CPUID_1_ECX_XSAVE) {
    struct cpuid_regs x;
    cpu_cpuid(0xDU, 0, &x);
    caps.xcr0_supported = ((uint64_t)x.edx << 32) | x.eax;
  }
  char line[256];
  vmx_caps_format(line, sizeof(line), &caps);
  log_printf("%s\n", line);

  struct vmx_wanted want;
  const char *missing = 0;
  vmx_wanted_xhv(&want, XHV_BITS == 64);
  if (vmx_controls_choose(&caps, &want, &controls, &missing) != 0) {
    xhv_panic("unsupported CPU: missing VMX feature \"%s\"", missing);
  }
  log_printf("vmx: controls pin=0x%08x proc=0x%08x proc2=0x%08x exit=0x%08x entry=0x%08x\n",
             controls.pin, controls.proc, controls.proc2, controls.exit, controls.entry);

  struct mtrr_state mtrr;
  mtrr_read(&mtrr);
  /*
   * All of the 32-bit space (RAM, and the MMIO below 4 GiB), and RAM above
   * it as far as the memory map goes, in 1 GiB steps; devices above that
   * are mapped when the guest first touches them (guest_ept_map_device).
   */
  uint64_t top = (b->map_top + EPT_TOP_STEP - 1U) & ~(EPT_TOP_STEP - 1U);
  top = top > EPT_TOP_MIN ? top : EPT_TOP_MIN;
  if (mtrr.phys_addr_bits < 64U && top > (1ULL << mtrr.phys_addr_bits)) {
    top = 1ULL << mtrr.phys_addr_bits;
  }
  guest_ept_init(top, &mtrr, b->hide_base, b->hide_size, b->second_hide_base,
                 b->second_hide_size);
  log_printf("ept: identity map of [0, 0x%llx), hypervisor at [0x%llx, 0x%llx) and "
             "[0x%llx, 0x%llx) not present\n",
             (unsigned long long)top, (unsigned long long)b->hide_base,
             (unsigned long long)(b->hide_base + b->hide_size),
             (unsigned long long)b->second_hide_base,
             (unsigned long long)(b->second_hide_base + b->second_hide_size));

  /* Bitmaps: all clear means no exits; heap pages come zeroed. */
  msr_bitmap_build(heap_alloc_pages(1, 1, &msr_bitmap_pa));
  io_bitmap[0] = heap_alloc_pages(1, 1, &io_bitmap_pa[0]);
  io_bitmap[1] = heap_alloc_pages(1, 1, &io_bitmap_pa[1]);
}

/* VMXON on this CPU (SDM "Enabling and Entering VMX Operation"). */
static void vmx_enable(struct cpu *cpu) {
  struct cpuid_regs r;
  cpu_cpuid(1, 0, &r);
  if ((r.ecx & CPUID_1_ECX_VMX) == 0) {
    xhv_panic("CPU %u has no VMX", cpu->index);
  }
  uword_t cr4 = cpu_read_cr4() | CR4_VMXE;
  if (r.ecx & CPUID_1_ECX_XSAVE) {
    cr4 |= CR4_OSXSAVE; /* so XSETBV exits can run the guest's XSETBV here */
  }
  cpu_write_cr4((uword_t)vmx_apply_fixed_bits(cr4, caps.cr4_fixed0, caps.cr4_fixed1));
  cpu_write_cr0((uword_t)vmx_apply_fixed_bits(cpu_read_cr0(), caps.cr0_fixed0, caps.cr0_fixed1));

  uint32_t *vmxon = heap_alloc_pages(1, 1, &cpu->vmxon_pa);
  vmxon[0] = vmx_caps_revision_id(&caps);
  if (cpu_vmxon(cpu->vmxon_pa) != CPU_VMX_OK) {
    xhv_panic("CPU %u: VMXON failed", cpu->index);
  }
  uint32_t *vmcs = heap_alloc_pages(1, 1, &cpu->vmcs_pa);
  vmcs[0] = vmx_caps_revision_id(&caps);
  if (cpu_vmclear(cpu->vmcs_pa) != CPU_VMX_OK || cpu_vmptrld(cpu->vmcs_pa) != CPU_VMX_OK) {
    xhv_panic("CPU %u: VMCLEAR/VMPTRLD of a fresh VMCS failed", cpu->index);
  }
}

static void write_host_state(struct cpu *cpu) {
  struct dt_ptr gdtr, idtr;
  __asm__ volatile("sgdt %0" : "=m"(gdtr));
  __asm__ volatile("sidt %0" : "=m"(idtr));
  uint16_t tr;
  __asm__ volatile("str %0" : "=r"(tr));

  vmcs_writenw(VMCS_HOST_CR0, cpu_read_cr0());
  vmcs_writenw(VMCS_HOST_CR3, cpu_read_cr3());
  vmcs_writenw(VMCS_HOST_CR4, cpu_read_cr4());
  vmcs_write16(VMCS_HOST_CS_SELECTOR, SEL_CODE);
  vmcs_write16(VMCS_HOST_SS_SELECTOR, SEL_DATA);
  vmcs_write16(VMCS_HOST_DS_SELECTOR, SEL_DATA);
  vmcs_write16(VMCS_HOST_ES_SELECTOR, SEL_DATA);
  vmcs_write16(VMCS_HOST_FS_SELECTOR, SEL_DATA);
  vmcs_write16(VMCS_HOST_GS_SELECTOR, SEL_DATA);
  vmcs_write16(VMCS_HOST_TR_SELECTOR, tr);
  vmcs_writenw(VMCS_HOST_FS_BASE, 0);
  vmcs_writenw(VMCS_HOST_GS_BASE, 0);
  vmcs_writenw(VMCS_HOST_TR_BASE, (uword_t)&cpu->tss);
  vmcs_writenw(VMCS_HOST_GDTR_BASE, gdtr.base);
  vmcs_writenw(VMCS_HOST_IDTR_BASE, idtr.base);
  vmcs_write32(VMCS_HOST_SYSENTER_CS, 0);
  vmcs_writenw(VMCS_HOST_SYSENTER_ESP, 0);
  vmcs_writenw(VMCS_HOST_SYSENTER_EIP, 0);
  vmcs_writenw(VMCS_HOST_RSP, cpu_stack_top(cpu));
  vmcs_writenw(VMCS_HOST_RIP, (uword_t)arch_vmexit_entry);
  if (controls.exit & VMX_EXIT_CTL_LOAD_EFER) {
    vmcs_write64(VMCS_HOST_IA32_EFER, cpu_rdmsr(MSR_IA32_EFER));
  }
  if (controls.exit & VMX_EXIT_CTL_LOAD_PAT) {
    vmcs_write64(VMCS_HOST_IA32_PAT, cpu_rdmsr(MSR_IA32_PAT));
  }
}

static void write_controls(void) {
  vmcs_write32(VMCS_PIN_BASED_CONTROLS, controls.pin);
  vmcs_write32(VMCS_PROC_BASED_CONTROLS, controls.proc);
  vmcs_write32(VMCS_PROC_BASED_CONTROLS2, controls.proc2);
  vmcs_write32(VMCS_VM_EXIT_CONTROLS, controls.exit);
  vmcs_write32(VMCS_VM_ENTRY_CONTROLS, controls.entry & ~VMX_ENTRY_CTL_IA32E_MODE_GUEST);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, 0);
  vmcs_write32(VMCS_PAGE_FAULT_ERROR_CODE_MASK, 0);
  vmcs_write32(VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 0);
  vmcs_write32(VMCS_CR3_TARGET_COUNT, 0);
  vmcs_write32(VMCS_VM_EXIT_MSR_STORE_COUNT, 0);
  vmcs_write32(VMCS_VM_EXIT_MSR_LOAD_COUNT, 0);
  vmcs_write32(VMCS_VM_ENTRY_MSR_LOAD_COUNT, 0);
  vmcs_write32(VMCS_VM_ENTRY_INTR_INFO, 0);
  vmcs_write16(VMCS_VIRTUAL_PROCESSOR_ID, GUEST_VPID);
  vmcs_write64(VMCS_EPT_POINTER, guest_regular_eptp());
  vmcs_write64(VMCS_MSR_BITMAP, msr_bitmap_pa);
  vmcs_write64(VMCS_IO_BITMAP_A, io_bitmap_pa[0]);
  vmcs_write64(VMCS_IO_BITMAP_B, io_bitmap_pa[1]);
  vmcs_write64(VMCS_LINK_POINTER, VMCS_LINK_NONE);
  /*
   * The guest owns every CR0/CR4 bit except those VMX operation fixes: NE
   * (CR0_FIXED0 minus PE/PG, which unrestricted guests may clear) and VMXE.
   * It reads its own values for them from the shadows.
   */
  vmcs_writenw(VMCS_CR0_GUEST_HOST_MASK, (uword_t)(caps.cr0_fixed0 & ~(uint64_t)(CR0_PE | CR0_PG)));
  vmcs_writenw(VMCS_CR4_GUEST_HOST_MASK, (uword_t)caps.cr4_fixed0);
}

/* Loads `seg` with a selector and its hidden part. */
static void write_segment(enum vmcs_seg seg, uint16_t sel, uword_t base, uint32_t limit,
                          uint32_t ar) {
  const struct vmcs_segment s = {sel, base, limit, ar};
  vmcs_write_guest_segment(seg, &s);
}

/*
 * The architectural state after INIT (SDM table "IA-32 and Intel 64
 * Processor States Following Power-up, Reset, or INIT"), as the guest sees
 * it, with CS:IP = `cs`:`ip`. Used for the BSP's start and for every SIPI.
 */
void vmx_guest_reset_state(uint16_t cs, uword_t ip, uint32_t activity) {
  uword_t cr0 = CR0_ET;
  vmcs_writenw(VMCS_CR0_READ_SHADOW, cr0);
  vmcs_writenw(VMCS_GUEST_CR0, (uword_t)vmx_apply_fixed_bits(
                                    cr0, caps.cr0_fixed0 & ~(uint64_t)(CR0_PE | CR0_PG),
                                    caps.cr0_fixed1));
  vmcs_writenw(VMCS_CR4_READ_SHADOW, 0);
  vmcs_writenw(VMCS_GUEST_CR4, (uword_t)caps.cr4_fixed0);
  vmcs_writenw(VMCS_GUEST_CR3, 0);
  for (uint32_t i = 0; i < VMCS_SEG_LDTR; i++) {
    write_segment((enum vmcs_seg)i, i == VMCS_SEG_CS ? cs : 0,
                  i == VMCS_SEG_CS ? (uword_t)cs << 4 : 0, 0xFFFFU,
                  i == VMCS_SEG_CS ? AR_CODE_16 : AR_DATA_16);
  }
  write_segment(VMCS_SEG_LDTR, 0, 0, 0xFFFFU, AR_LDT);
  write_segment(VMCS_SEG_TR, 0, 0, 0xFFFFU, AR_TSS_BUSY);
  vmcs_writenw(VMCS_GUEST_GDTR_BASE, 0);
  vmcs_write32(VMCS_GUEST_GDTR_LIMIT, 0xFFFFU);
  vmcs_writenw(VMCS_GUEST_IDTR_BASE, 0);
  vmcs_write32(VMCS_GUEST_IDTR_LIMIT, 0xFFFFU);
  vmcs_writenw(VMCS_GUEST_DR7, 0x400U);
  vmcs_writenw(VMCS_GUEST_RSP, 0);
  vmcs_writenw(VMCS_GUEST_RIP, ip);
  vmcs_writenw(VMCS_GUEST_RFLAGS, 0x2U);
  vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, 0);
  vmcs_write32(VMCS_GUEST_SYSENTER_CS, 0);
  vmcs_writenw(VMCS_GUEST_SYSENTER_ESP, 0);
  vmcs_writenw(VMCS_GUEST_SYSENTER_EIP, 0);
  if (controls.entry & VMX_ENTRY_CTL_LOAD_EFER) {
    vmcs_write64(VMCS_GUEST_IA32_EFER, 0);
  }
  if (controls.entry & VMX_ENTRY_CTL_LOAD_PAT) {
    vmcs_write64(VMCS_GUEST_IA32_PAT, PAT_POWER_ON);
  }
  vmcs_write32(VMCS_VM_ENTRY_CONTROLS, controls.entry & ~VMX_ENTRY_CTL_IA32E_MODE_GUEST);
  vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, 0);
  vmcs_write32(VMCS_GUEST_ACTIVITY_STATE, activity);
}

void vmx_guest_pvh_state(uint32_t entry) {
  vmx_guest_reset_state(0, 0, ACTIVITY_ACTIVE);
  uword_t cr0 = CR0_ET | CR0_PE;
  vmcs_writenw(VMCS_CR0_READ_SHADOW, cr0);
  vmcs_writenw(VMCS_GUEST_CR0, (uword_t)vmx_apply_fixed_bits(
                                    cr0, caps.cr0_fixed0 & ~(uint64_t)CR0_PG, caps.cr0_fixed1));
  for (uint32_t i = 0; i < VMCS_SEG_LDTR; i++) {
    bool code = i == VMCS_SEG_CS;
    write_segment((enum vmcs_seg)i, code ? PVH_CODE_SELECTOR : PVH_DATA_SELECTOR, 0, 0xFFFFFFFFU,
                  code ? AR_CODE_32 : AR_DATA_32);
  }
  vmcs_writenw(VMCS_GUEST_RIP, entry);
  vmcs_writenw(VMCS_GUEST_RFLAGS, 0x2U);
}

void vmx_cpu_launch(struct cpu *cpu, const struct guest_start *start) {
  vmx_enable(cpu);
  write_controls();
  write_host_state(cpu);
  memset(&cpu->launch_regs, 0, sizeof(cpu->launch_regs));
  if (start->pvh) {
    vmx_guest_pvh_state(start->pvh_entry);
    cpu->launch_regs.bx = start->pvh_start_info;
    log_printf("vmx: CPU %u (APIC ID %u) entering the guest kernel at its PVH entry 0x%x, "
               "start_info 0x%x\n",
               cpu->index, cpu->apic_id, start->pvh_entry, start->pvh_start_info);
  } else {
    vmx_guest_reset_state(start->cs, start->ip, ACTIVITY_ACTIVE);
    vmcs_writenw(VMCS_GUEST_RSP, start->sp);
    vmcs_writenw(VMCS_GUEST_RFLAGS, start->flags | 0x2U);
    cpu->launch_regs.dx = start->dl;
    log_printf("vmx: CPU %u (APIC ID %u) entering the guest at %04x:%04x\n", cpu->index,
               cpu->apic_id, start->cs, start->ip);
  }
  /* The INVEPT/INVVPID contexts start clean only if we say so. */
  cpu_invept(INVEPT_ALL_CONTEXTS, 0);
  cpu_invvpid(INVVPID_ALL_CONTEXTS, 0, 0);
  if (xhv_hypapp.init) {
    xhv_hypapp.init(cpu);
  }
  cpu->launched = true;
  int rc = arch_vmlaunch(&cpu->launch_regs);
  uint32_t err = rc == CPU_VMX_FAIL_VALID ? vmcs_read32(VMCS_VM_INSTRUCTION_ERROR) : 0;
  log_printf("xhv: PANIC: CPU %u: VMLAUNCH failed (%s, VM-instruction error %u: %s)\n", cpu->index,
             rc == CPU_VMX_FAIL_VALID ? "VMfailValid" : "VMfailInvalid", err,
             vmx_instruction_error_name(err));
  vmcs_dump(log_printf);
  log_flush();
  cpu_halt_forever();
}
