/* SPDX-License-Identifier: Apache-2.0 */
/* Task-switch emulation (SDM "Task Switching"); what is and is not covered is in xhv/task_switch.h. */
#include "xhv/task_switch.h"

#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/guest_mem.h"
#include "xhv/log.h"
#include "xhv/quiesce.h"
#include "xhv/string.h"
#include "xhv/vmcs.h"
#include "xhv/vmx_caps.h"

/* Exit qualification (SDM "Exit Qualification for Task Switches"). */
#define SOURCE_CALL 0U
#define SOURCE_IRET 1U
#define SOURCE_JMP 2U
#define SOURCE_GATE 3U

#define INTR_INFO_VALID (1U << 31)
#define INTR_INFO_ERROR_CODE (1U << 11)
#define INTR_INFO_TYPE(info) (((info) >> 8) & 7U)
#define INTR_TYPE_EXTERNAL 0U
#define INTR_TYPE_NMI 2U
#define INTR_TYPE_HW_EXCEPTION 3U

#define VECTOR_TS 10U
#define VECTOR_NP 11U
#define VECTOR_SS 12U
#define VECTOR_GP 13U

#define RFLAGS_FIXED (1U << 1)
#define EFLAGS_DEFINED 0x003F7FD5U /* CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID */
#define RFLAGS_NT (1U << 14)
#define RFLAGS_VM (1U << 17)
#define CR0_TS (1U << 3)
#define CR0_PG (1U << 31)
#define CR4_PAE (1U << 5)
#define DR7_LOCAL_ENABLES 0x155U /* L0-L3 and LE */
#define INTERRUPTIBILITY_NMI (1U << 3)
#define INTERRUPTIBILITY_SHADOW 3U /* blocking by STI, by MOV SS */
#define INVVPID_ALL_CONTEXTS 2U

/* Descriptor fields (SDM "Segment Descriptors"), in the high dword. */
#define DESC_TYPE(hi) (((hi) >> 8) & 0xFU)
#define DESC_S(hi) (((hi) >> 12) & 1U)
#define DESC_DPL(hi) (((hi) >> 13) & 3U)
#define DESC_P(hi) (((hi) >> 15) & 1U)
#define DESC_G (1U << 23)
#define DESC_DB (1U << 22)
#define DESC_TSS_BUSY (1U << 9) /* type bit 1 of a TSS descriptor */
#define DESC_ACCESSED (1U << 8) /* type bit 0 of a code or data descriptor */
#define TYPE_TSS32_AVAILABLE 9U
#define TYPE_TSS32_BUSY 11U
#define TYPE_TSS16_AVAILABLE 1U
#define TYPE_TSS16_BUSY 3U
#define TYPE_LDT 2U
#define TYPE_CODE (1U << 3)
#define TYPE_CONFORMING (1U << 2) /* code */
#define TYPE_READABLE (1U << 1)   /* code */
#define TYPE_WRITABLE (1U << 1)   /* data */

#define AR_UNUSABLE (1U << 16)
#define AR_V86 0xF3U /* present, DPL 3, data read/write, accessed */
#define SEL_TI 4U
#define SEL_RPL(sel) ((uint32_t)(sel) & 3U)
#define SEL_NULL(sel) (((sel) & ~3U) == 0U)

/* The 32-bit TSS (SDM "32-Bit Task-State Segment (TSS)"). */
#define TSS32_MIN_LIMIT 0x67U
#define TSS_LINK 0x00U
#define TSS_CR3 0x1CU
#define TSS_DYNAMIC 0x20U /* EIP, EFLAGS, the GPRs and the six selectors... */
#define TSS_DYNAMIC_END 0x60U /* ...up to LDT */
#define TSS_BYTES 0x68U

struct tss32 {
  uint16_t link, r0;
  uint32_t esp0;
  uint16_t ss0, r1;
  uint32_t esp1;
  uint16_t ss1, r2;
  uint32_t esp2;
  uint16_t ss2, r3;
  uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint16_t es, r4, cs, r5, ss, r6, ds, r7, fs, r8, gs, r9, ldt, r10;
  uint16_t trap, iomap;
} XHV_PACKED;
XHV_STATIC_ASSERT(sizeof(struct tss32) == TSS_BYTES, "32-bit TSS layout");

/* How one step ended: done, a fault to raise, or a fault the memory access already injected. */
enum step { STEP_OK, STEP_FAULT, STEP_INJECTED };

struct switch_ctx {
  uint32_t vector, error; /* the fault of a STEP_FAULT */
  uint32_t ext;           /* EXT bit of selector error codes: an external event switched */
  uint32_t cpl;           /* the new task's */
  struct vmcs_segment ldt; /* the new task's LDT, for TI = 1 selectors */
  uint32_t gdt_base, gdt_limit;
};

static enum step fault(struct switch_ctx *c, uint32_t vector, uint16_t sel) {
  c->vector = vector;
  c->error = ((uint32_t)sel & 0xFFFCU) | c->ext;
  return STEP_FAULT;
}

static struct vmcs_segment seg_of_desc(uint16_t sel, uint32_t lo, uint32_t hi) {
  struct vmcs_segment s;
  s.sel = sel;
  s.base = (lo >> 16) | ((hi & 0xFFU) << 16) | (hi & 0xFF000000U);
  s.limit = (lo & 0xFFFFU) | (hi & 0x000F0000U);
  if (hi & DESC_G) {
    s.limit = (s.limit << 12) | 0xFFFU;
  }
  s.ar = (hi >> 8) & 0xF0FFU;
  return s;
}

/* Where selector `sel`'s descriptor lives, or false if beyond its table's limit. */
static bool desc_addr(const struct switch_ctx *c, uint16_t sel, uint32_t *addr) {
  uint32_t base = c->gdt_base, limit = c->gdt_limit;
  if (sel & SEL_TI) {
    if (c->ldt.ar & AR_UNUSABLE) {
      return false;
    }
    base = c->ldt.base;
    limit = c->ldt.limit;
  }
  if (((uint32_t)sel | 7U) > limit) {
    return false;
  }
  *addr = base + ((uint32_t)sel & ~7U);
  return true;
}

/* Descriptor tables are read and written as the CPU does: supervisor accesses. */
static enum step desc_read(const struct switch_ctx *c, uint16_t sel, uint32_t *lo, uint32_t *hi,
                           bool *beyond) {
  uint32_t addr;
  uint32_t d[2];
  *beyond = !desc_addr(c, sel, &addr);
  if (*beyond) {
    return STEP_OK;
  }
  if (!guest_linear_read(addr, d, sizeof(d), 0)) {
    return STEP_INJECTED;
  }
  *lo = d[0];
  *hi = d[1];
  return STEP_OK;
}

static enum step desc_write_hi(const struct switch_ctx *c, uint16_t sel, uint32_t hi) {
  uint32_t addr;
  if (!desc_addr(c, sel, &addr)) {
    return STEP_OK; /* read a moment ago: cannot happen */
  }
  return guest_linear_write(addr + 4U, &hi, sizeof(hi), 0) ? STEP_OK : STEP_INJECTED;
}

/* Sets a code or data descriptor's accessed bit, as loading it does. */
static enum step mark_accessed(const struct switch_ctx *c, uint16_t sel, uint32_t *hi) {
  if (*hi & DESC_ACCESSED) {
    return STEP_OK;
  }
  *hi |= DESC_ACCESSED;
  return desc_write_hi(c, sel, *hi);
}

/* CS and SS of the new task (SDM table "Exception Conditions Checked During a Task Switch"). */
static enum step load_cs_ss(struct switch_ctx *c, uint16_t cs, uint16_t ss,
                            struct vmcs_segment *cs_out, struct vmcs_segment *ss_out) {
  uint32_t lo, hi;
  bool beyond;
  enum step st;
  if (SEL_NULL(cs)) {
    return fault(c, VECTOR_TS, cs);
  }
  if ((st = desc_read(c, cs, &lo, &hi, &beyond)) != STEP_OK) {
    return st;
  }
  uint32_t type = DESC_TYPE(hi);
  if (beyond || !DESC_S(hi) || !(type & TYPE_CODE) ||
      ((type & TYPE_CONFORMING) ? DESC_DPL(hi) > c->cpl : DESC_DPL(hi) != c->cpl)) {
    return fault(c, VECTOR_TS, cs);
  }
  if (!DESC_P(hi)) {
    return fault(c, VECTOR_NP, cs);
  }
  uint32_t ss_lo, ss_hi;
  if (SEL_NULL(ss)) {
    return fault(c, VECTOR_TS, ss);
  }
  if ((st = desc_read(c, ss, &ss_lo, &ss_hi, &beyond)) != STEP_OK) {
    return st;
  }
  type = DESC_TYPE(ss_hi);
  if (beyond || SEL_RPL(ss) != c->cpl || !DESC_S(ss_hi) || (type & TYPE_CODE) ||
      !(type & TYPE_WRITABLE) || DESC_DPL(ss_hi) != c->cpl) {
    return fault(c, VECTOR_TS, ss);
  }
  if (!DESC_P(ss_hi)) {
    return fault(c, VECTOR_SS, ss);
  }
  if ((st = mark_accessed(c, cs, &hi)) != STEP_OK ||
      (st = mark_accessed(c, ss, &ss_hi)) != STEP_OK) {
    return st;
  }
  *cs_out = seg_of_desc(cs, lo, hi);
  *ss_out = seg_of_desc(ss, ss_lo, ss_hi);
  return STEP_OK;
}

/* DS, ES, FS or GS of the new task: a null selector leaves the register unusable. */
static enum step load_data(struct switch_ctx *c, uint16_t sel, struct vmcs_segment *out) {
  if (SEL_NULL(sel)) {
    out->sel = sel;
    out->base = 0;
    out->limit = 0;
    out->ar = AR_UNUSABLE;
    return STEP_OK;
  }
  uint32_t lo, hi;
  bool beyond;
  enum step st = desc_read(c, sel, &lo, &hi, &beyond);
  if (st != STEP_OK) {
    return st;
  }
  uint32_t type = DESC_TYPE(hi);
  uint32_t need = c->cpl > SEL_RPL(sel) ? c->cpl : SEL_RPL(sel);
  bool conforming_code = (type & TYPE_CODE) && (type & TYPE_CONFORMING);
  if (beyond || !DESC_S(hi) || ((type & TYPE_CODE) && !(type & TYPE_READABLE)) ||
      (!conforming_code && DESC_DPL(hi) < need)) {
    return fault(c, VECTOR_TS, sel);
  }
  if (!DESC_P(hi)) {
    return fault(c, VECTOR_NP, sel);
  }
  if ((st = mark_accessed(c, sel, &hi)) != STEP_OK) {
    return st;
  }
  *out = seg_of_desc(sel, lo, hi);
  return STEP_OK;
}

static enum step load_ldt(struct switch_ctx *c, uint16_t sel) {
  c->ldt.sel = sel;
  c->ldt.base = 0;
  c->ldt.limit = 0;
  c->ldt.ar = AR_UNUSABLE;
  if (SEL_NULL(sel)) {
    vmcs_write_guest_segment(VMCS_SEG_LDTR, &c->ldt);
    return STEP_OK;
  }
  if (sel & SEL_TI) {
    return fault(c, VECTOR_TS, sel);
  }
  uint32_t lo, hi;
  bool beyond;
  enum step st = desc_read(c, sel, &lo, &hi, &beyond);
  if (st != STEP_OK) {
    return st;
  }
  if (beyond || DESC_S(hi) || DESC_TYPE(hi) != TYPE_LDT || !DESC_P(hi)) {
    return fault(c, VECTOR_TS, sel);
  }
  c->ldt = seg_of_desc(sel, lo, hi);
  vmcs_write_guest_segment(VMCS_SEG_LDTR, &c->ldt);
  return STEP_OK;
}

/* CR3 of the new task; under PAE paging its PDPTEs too, which VM entry takes from the VMCS. */
static enum step load_cr3(struct switch_ctx *c, uint32_t cr3) {
  bool pae_paging = (vmcs_readnw(VMCS_GUEST_CR0) & CR0_PG) && (vmcs_readnw(VMCS_GUEST_CR4) & CR4_PAE);
  if (pae_paging) {
    /* PDPTE reserved bits (SDM "PDPTE Registers"): 8:5, 2:1 and MAXPHYADDR on up. */
    struct cpuid_regs r;
    cpu_cpuid(0x80000008U, 0, &r);
    uint32_t maxphy = r.eax & 0xFFU;
    const uint64_t reserved =
        0x1E6ULL | (maxphy >= 32U && maxphy < 64U ? ~((1ULL << maxphy) - 1U) : 0xFFF0000000000000ULL);
    uint64_t pdpte[4];
    if (!guest_mem_read(0, cr3 & ~0x1FU, pdpte, sizeof(pdpte))) {
      c->vector = VECTOR_GP;
      c->error = 0;
      return STEP_FAULT;
    }
    for (uint32_t i = 0; i < 4U; i++) {
      if ((pdpte[i] & 1U) && (pdpte[i] & reserved)) {
        c->vector = VECTOR_GP;
        c->error = 0;
        return STEP_FAULT;
      }
    }
    guest_set_pdptes(pdpte);
  }
  vmcs_writenw(VMCS_GUEST_CR3, cr3);
  /* What a MOV to CR3 flushes: the VPID's linear translations. */
  cpu_invvpid(INVVPID_ALL_CONTEXTS, 0, 0);
  return STEP_OK;
}

/* Everything after the switch has committed; a fault here is the new task's. */
static enum step load_new_task(struct switch_ctx *c, struct cpu_regs *regs, const struct tss32 *t,
                               uint32_t eflags) {
  enum step st = load_cr3(c, t->cr3);
  if (st != STEP_OK) {
    return st;
  }
  vmcs_writenw(VMCS_GUEST_RIP, t->eip);
  vmcs_writenw(VMCS_GUEST_RSP, t->esp);
  regs->ax = t->eax;
  regs->cx = t->ecx;
  regs->dx = t->edx;
  regs->bx = t->ebx;
  regs->bp = t->ebp;
  regs->si = t->esi;
  regs->di = t->edi;
  const uint16_t sels[VMCS_SEG_LDTR] = {t->es, t->cs, t->ss, t->ds, t->fs, t->gs};
  /*
   * RFLAGS.VM and the segments change together, so that the VMCS always
   * holds a state VM entry accepts, even when a fault below leaves the new
   * task half-loaded: V86 segments with VM, protected-mode CS and SS
   * without it (until then the old task's EFLAGS stay).
   */
  if (eflags & RFLAGS_VM) {
    /* Into virtual-8086 mode: real-mode-style segments, CPL 3, and the LDT still loaded. */
    for (uint32_t i = 0; i < VMCS_SEG_LDTR; i++) {
      struct vmcs_segment s = {sels[i], (uint32_t)sels[i] << 4, 0xFFFFU, AR_V86};
      vmcs_write_guest_segment((enum vmcs_seg)i, &s);
    }
    vmcs_writenw(VMCS_GUEST_RFLAGS, eflags);
    return load_ldt(c, t->ldt);
  }
  c->cpl = SEL_RPL(t->cs);
  if ((st = load_ldt(c, t->ldt)) != STEP_OK) {
    return st;
  }
  /*
   * CS and SS together: the VMCS must always hold a pair VM entry accepts
   * (CS.DPL against SS.DPL), so a bad one of them leaves both as they were.
   */
  struct vmcs_segment cs, ss;
  if ((st = load_cs_ss(c, t->cs, t->ss, &cs, &ss)) != STEP_OK) {
    return st;
  }
  vmcs_write_guest_segment(VMCS_SEG_CS, &cs);
  vmcs_write_guest_segment(VMCS_SEG_SS, &ss);
  vmcs_writenw(VMCS_GUEST_RFLAGS, eflags);
  static const enum vmcs_seg data[4] = {VMCS_SEG_DS, VMCS_SEG_ES, VMCS_SEG_FS, VMCS_SEG_GS};
  for (uint32_t i = 0; i < 4U; i++) {
    struct vmcs_segment s;
    if ((st = load_data(c, sels[data[i]], &s)) != STEP_OK) {
      return st;
    }
    vmcs_write_guest_segment(data[i], &s);
  }
  return STEP_OK;
}

/* Pushes an exception's error code on the new task's stack, as delivery through a gate would. */
static bool push_error_code(uint32_t error, uint32_t cpl) {
  bool big = (vmcs_read32(VMCS_GUEST_SS_ACCESS_RIGHTS) & (DESC_DB >> 8)) != 0; /* SS.B */
  uword_t esp = vmcs_readnw(VMCS_GUEST_RSP);
  uword_t sp = big ? (uint32_t)(esp - 4U) : ((esp & ~(uword_t)0xFFFFU) | ((esp - 4U) & 0xFFFFU));
  uint64_t la = (uint32_t)(vmcs_readnw(VMCS_GUEST_SS_BASE) + (big ? sp : (sp & 0xFFFFU)));
  if (!guest_linear_write(la, &error, sizeof(error), cpl == 3U ? GPT_ACC_USER : 0U)) {
    return false;
  }
  vmcs_writenw(VMCS_GUEST_RSP, sp);
  return true;
}

static enum step do_switch(struct switch_ctx *c, struct cpu_regs *regs, uint16_t sel,
                           uint32_t source, uword_t return_eip, bool *committed) {
  uint32_t bad_sel_vector = (source == SOURCE_IRET || source == SOURCE_GATE) ? VECTOR_TS : VECTOR_GP;
  uint32_t lo, hi;
  bool beyond = (sel & SEL_TI) != 0;
  enum step st;
  if (!beyond && (st = desc_read(c, sel, &lo, &hi, &beyond)) != STEP_OK) {
    return st;
  }
  uint32_t type = beyond ? 0U : DESC_TYPE(hi);
  if (beyond || DESC_S(hi) ||
      (type != TYPE_TSS32_AVAILABLE && type != TYPE_TSS32_BUSY && type != TYPE_TSS16_AVAILABLE &&
       type != TYPE_TSS16_BUSY)) {
    return fault(c, bad_sel_vector, sel);
  }
  if (type == TYPE_TSS16_AVAILABLE || type == TYPE_TSS16_BUSY) {
    log_printf("vmx: CPU %u: task switch to a 16-bit TSS (selector 0x%x): not emulated, #TS\n",
               this_cpu()->index, sel);
    return fault(c, VECTOR_TS, sel);
  }
  uint32_t old_cpl = guest_cpl();
  if ((source == SOURCE_CALL || source == SOURCE_JMP) &&
      (old_cpl > DESC_DPL(hi) || SEL_RPL(sel) > DESC_DPL(hi))) {
    return fault(c, VECTOR_GP, sel);
  }
  if (!DESC_P(hi)) {
    return fault(c, VECTOR_NP, sel);
  }
  struct vmcs_segment new_tr = seg_of_desc(sel, lo, hi);
  if (new_tr.limit < TSS32_MIN_LIMIT) {
    return fault(c, VECTOR_TS, sel);
  }
  bool busy = type == TYPE_TSS32_BUSY;
  if (source == SOURCE_IRET ? !busy : busy) {
    return fault(c, source == SOURCE_IRET ? VECTOR_TS : VECTOR_GP, sel);
  }

  /* Both TSSs are read before anything is written: a failed read changes nothing. */
  uint16_t old_sel = vmcs_read16(VMCS_GUEST_TR_SELECTOR);
  uint32_t old_base = (uint32_t)vmcs_readnw(VMCS_GUEST_TR_BASE);
  struct tss32 t, old;
  if (!guest_linear_read(new_tr.base, &t, sizeof(t), 0) ||
      !guest_linear_read(old_base, &old, sizeof(old), 0)) {
    return STEP_INJECTED;
  }
  uint32_t eflags = (uint32_t)vmcs_readnw(VMCS_GUEST_RFLAGS);
  old.eip = (uint32_t)return_eip;
  old.eflags = source == SOURCE_IRET ? eflags & ~RFLAGS_NT : eflags;
  old.eax = (uint32_t)regs->ax;
  old.ecx = (uint32_t)regs->cx;
  old.edx = (uint32_t)regs->dx;
  old.ebx = (uint32_t)regs->bx;
  old.esp = (uint32_t)vmcs_readnw(VMCS_GUEST_RSP);
  old.ebp = (uint32_t)regs->bp;
  old.esi = (uint32_t)regs->si;
  old.edi = (uint32_t)regs->di;
  old.es = vmcs_read16(VMCS_GUEST_ES_SELECTOR);
  old.cs = vmcs_read16(VMCS_GUEST_CS_SELECTOR);
  old.ss = vmcs_read16(VMCS_GUEST_SS_SELECTOR);
  old.ds = vmcs_read16(VMCS_GUEST_DS_SELECTOR);
  old.fs = vmcs_read16(VMCS_GUEST_FS_SELECTOR);
  old.gs = vmcs_read16(VMCS_GUEST_GS_SELECTOR);
  if (!guest_linear_write(old_base + TSS_DYNAMIC, (const uint8_t *)&old + TSS_DYNAMIC,
                          TSS_DYNAMIC_END - TSS_DYNAMIC, 0)) {
    return STEP_INJECTED;
  }
  uint32_t old_lo, old_hi;
  if (source == SOURCE_JMP || source == SOURCE_IRET) {
    /* The old task is no longer busy. */
    if ((st = desc_read(c, old_sel, &old_lo, &old_hi, &beyond)) != STEP_OK) {
      return st;
    }
    if (!beyond && (st = desc_write_hi(c, old_sel, old_hi & ~DESC_TSS_BUSY)) != STEP_OK) {
      return st;
    }
  }
  if (source == SOURCE_CALL || source == SOURCE_GATE) {
    /* Nested: the new task links back, and runs with NT set. */
    if (!guest_linear_write(new_tr.base + TSS_LINK, &old_sel, sizeof(old_sel), 0)) {
      return STEP_INJECTED;
    }
    t.eflags |= RFLAGS_NT;
  }
  if (source != SOURCE_IRET && (st = desc_write_hi(c, sel, hi | DESC_TSS_BUSY)) != STEP_OK) {
    return st;
  }

  /* Committed: the new task is current from here on, whatever faults next. */
  *committed = true;
  new_tr.ar = (new_tr.ar & ~0xFU) | TYPE_TSS32_BUSY;
  vmcs_write_guest_segment(VMCS_SEG_TR, &new_tr);
  vmcs_writenw(VMCS_GUEST_CR0, vmcs_readnw(VMCS_GUEST_CR0) | CR0_TS);
  vmcs_writenw(VMCS_GUEST_DR7, vmcs_readnw(VMCS_GUEST_DR7) & ~(uword_t)DR7_LOCAL_ENABLES);
  uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
  if (intr & INTERRUPTIBILITY_SHADOW) {
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~INTERRUPTIBILITY_SHADOW);
  }
  /* Only the flags EFLAGS defines; 1, 3, 5 and 15 and 22 up are reserved (VM entry checks). */
  return load_new_task(c, regs, &t, (t.eflags & EFLAGS_DEFINED) | RFLAGS_FIXED);
}

enum vmexit_action vmexit_task_switch(struct cpu *cpu, struct cpu_regs *regs,
                                      struct vmexit_info *exit) {
  uword_t q = vmexit_qualification(exit);
  uint16_t sel = (uint16_t)q;
  uint32_t source = (uint32_t)(q >> 30) & 3U;
  uint32_t vectoring = vmcs_read32(VMCS_IDT_VECTORING_INFO);
  bool by_event = source == SOURCE_GATE && (vectoring & INTR_INFO_VALID);
  uint32_t type = INTR_INFO_TYPE(vectoring);
  bool external = by_event && (type == INTR_TYPE_EXTERNAL || type == INTR_TYPE_NMI ||
                               type == INTR_TYPE_HW_EXCEPTION);
  /* An instruction (CALL, JMP, IRET, INT n) resumes after itself when the old task runs again. */
  uword_t return_eip = vmcs_readnw(VMCS_GUEST_RIP);
  if (!external) {
    return_eip += vmcs_read32(VMCS_VM_EXIT_INSTRUCTION_LEN);
  }
  bool error_code = by_event && type == INTR_TYPE_HW_EXCEPTION && (vectoring & INTR_INFO_ERROR_CODE);
  uint32_t error = error_code ? vmcs_read32(VMCS_IDT_VECTORING_ERROR_CODE) : 0U;

  struct switch_ctx c;
  memset(&c, 0, sizeof(c));
  c.ext = external ? 1U : 0U;
  c.gdt_base = (uint32_t)vmcs_readnw(VMCS_GUEST_GDTR_BASE);
  c.gdt_limit = vmcs_read32(VMCS_GUEST_GDTR_LIMIT);
  c.ldt.sel = vmcs_read16(VMCS_GUEST_LDTR_SELECTOR);
  c.ldt.base = (uint32_t)vmcs_readnw(VMCS_GUEST_LDTR_BASE);
  c.ldt.limit = vmcs_read32(VMCS_GUEST_LDTR_LIMIT);
  c.ldt.ar = vmcs_read32(VMCS_GUEST_LDTR_ACCESS_RIGHTS);
  if (vmcs_read32(VMCS_VM_ENTRY_CONTROLS) & VMX_ENTRY_CTL_IA32E_MODE_GUEST) {
    /* IA-32e mode has no task switching; the CPU faults before it could exit. */
    guest_inject_exception(VECTOR_GP, true, 0);
    return VMEXIT_HANDLED;
  }

  quiesce_begin(cpu);
  bool committed = false;
  enum step st = do_switch(&c, regs, sel, source, return_eip, &committed);
  if (committed && st == STEP_OK && error_code && !push_error_code(error, c.cpl)) {
    st = STEP_INJECTED;
  }
  quiesce_end(cpu);
  if (committed && by_event && type == INTR_TYPE_NMI) {
    /* Now in the NMI handler's task: blocked until its IRET. */
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO,
                 vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO) | INTERRUPTIBILITY_NMI);
  }
  if (st == STEP_FAULT) {
    /* Before the commit RIP is still the CALL, JMP or IRET: the fault restarts it. */
    guest_inject_exception(c.vector, true, c.error);
  }
  return VMEXIT_HANDLED;
}
