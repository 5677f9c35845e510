/* SPDX-License-Identifier: Apache-2.0 */
/* Per-CPU blocks, host stacks, and the host GDT/IDT/TSS every CPU loads. */
#include "xhv/percpu.h"

#include "xhv/cpu_ops.h"
#include "xhv/guest_nmi.h"
#include "xhv/log.h"
#include "xhv/panic.h"
#include "xhv/string.h"

#define EXCEPTION_VECTORS 32U
#define GDT_ENTRIES (3U + XHV_MAX_CPUS * GDT_TSS_SLOTS)
#define TSS_AVAILABLE 0x89ULL /* present, DPL 0, available 32/64-bit TSS */
#define TSS_IOMAP_OFFSET 102U /* where the I/O map base lives in either TSS */

#if XHV_BITS == 64
#define GDT_CODE 0x00AF9A000000FFFFULL /* 64-bit code, DPL 0 */
#else
#define GDT_CODE 0x00CF9A000000FFFFULL /* 32-bit flat code, DPL 0 */
#endif
#define GDT_DATA 0x00CF92000000FFFFULL /* flat data, DPL 0 */

static struct cpu cpus[XHV_MAX_CPUS];
static struct host_stack stacks[XHV_MAX_CPUS];
static uint64_t gdt[GDT_ENTRIES] XHV_ALIGNED(16);
static struct idt_gate idt[EXCEPTION_VECTORS] XHV_ALIGNED(16);

extern const uword_t xhv_exception_stubs[EXCEPTION_VECTORS];

static uword_t stack_top_slot(uint32_t index) {
  return (uword_t)&stacks[index] + HOST_STACK_SIZE - sizeof(struct cpu *);
}

struct cpu *this_cpu(void) {
  uword_t sp = (uword_t)__builtin_frame_address(0);
  uword_t slot = (sp & ~(uword_t)(HOST_STACK_SIZE - 1U)) + HOST_STACK_SIZE - sizeof(struct cpu *);
  return *(struct cpu **)slot;
}

struct cpu *cpu_by_index(uint32_t index) {
  XHV_ASSERT(index < XHV_MAX_CPUS);
  return &cpus[index];
}

uword_t cpu_stack_top(const struct cpu *cpu) { return stack_top_slot(cpu->index); }

struct cpu *percpu_init(uint32_t index, uint32_t apic_id) {
  XHV_ASSERT(index < XHV_MAX_CPUS);
  struct cpu *c = &cpus[index];
  memset(c, 0, sizeof(*c));
  c->index = index;
  c->apic_id = apic_id;
  c->is_bsp = index == 0;
  /* No I/O permission map: its offset points past the TSS limit. */
  c->tss.bytes[TSS_IOMAP_OFFSET] = sizeof(struct tss);
  *(struct cpu **)stack_top_slot(index) = c;
  return c;
}

static void gdt_set_tss(uint32_t index, const struct tss *tss) {
  uint64_t base = (uword_t)tss;
  uint64_t limit = sizeof(struct tss) - 1U;
  uint32_t slot = 3U + index * GDT_TSS_SLOTS;
  gdt[slot] = (limit & 0xFFFFULL) | ((base & 0xFFFFFFULL) << 16) | (TSS_AVAILABLE << 40) |
              ((limit & 0xF0000ULL) << 32) | ((base & 0xFF000000ULL) << 32);
#if XHV_BITS == 64
  gdt[slot + 1U] = base >> 32;
#endif
}

void cpu_tables_init(void) {
  gdt[0] = 0;
  gdt[SEL_CODE / 8U] = GDT_CODE;
  gdt[SEL_DATA / 8U] = GDT_DATA;
  for (uint32_t i = 0; i < XHV_MAX_CPUS; i++) {
    gdt_set_tss(i, &cpus[i].tss);
  }
  for (uint32_t v = 0; v < EXCEPTION_VECTORS; v++) {
    idt_gate_set(&idt[v], xhv_exception_stubs[v]);
  }
}

void cpu_tables_load(struct cpu *cpu) {
  const struct dt_ptr gdtr = {sizeof(gdt) - 1U, (uword_t)gdt};
  const struct dt_ptr idtr = {sizeof(idt) - 1U, (uword_t)idt};
  uint16_t tr = (uint16_t)(SEL_TSS0 + cpu->index * GDT_TSS_SLOTS * 8U);
  arch_load_gdt(&gdtr);
  __asm__ volatile("lidt %0" : : "m"(idtr));
  __asm__ volatile("ltr %0" : : "r"(tr));
}

static const char *const exception_names[EXCEPTION_VECTORS] = {
    [0] = "#DE divide error",   [1] = "#DB debug",           [2] = "NMI",
    [3] = "#BP breakpoint",     [4] = "#OF overflow",        [5] = "#BR bound range",
    [6] = "#UD invalid opcode", [7] = "#NM no math",         [8] = "#DF double fault",
    [10] = "#TS invalid TSS",   [11] = "#NP not present",    [12] = "#SS stack fault",
    [13] = "#GP general protection", [14] = "#PF page fault", [16] = "#MF x87 error",
    [17] = "#AC alignment check", [18] = "#MC machine check", [19] = "#XM SIMD error",
    [20] = "#VE virtualization", [21] = "#CP control protection",
};

static void dump_regs(const struct cpu_regs *r) {
  static const char *const names[XHV_GPR_COUNT] = {
      "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
#if XHV_BITS == 64
      "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
#endif
  };
  const uword_t *gpr = (const uword_t *)r;
  for (uint32_t i = 0; i < XHV_GPR_COUNT; i++) {
    if (i == 4) {
      continue; /* the stub's placeholder, not a register value */
    }
    log_printf("  %-3s=0x%0*llx%s", names[i], (int)(2 * sizeof(uword_t)),
               (unsigned long long)gpr[i], (i % 4U == 3U) ? "\n" : "");
  }
  log_printf("\n");
}

void xhv_exception(struct exception_frame *f) {
  struct cpu *cpu = this_cpu();
  if (f->vector == 2U) {
    xhv_nmi_host(cpu); /* the stub's IRET ends the NMI blocking */
    return;
  }
  const char *name = f->vector < EXCEPTION_VECTORS && exception_names[f->vector]
                         ? exception_names[f->vector]
                         : "reserved";
  log_printf("xhv: PANIC: CPU %u: unhandled exception %u (%s) in the hypervisor, error code 0x%llx\n",
             cpu->index, (unsigned)f->vector, name, (unsigned long long)f->error_code);
  log_printf("  ip=0x%llx cs=0x%llx flags=0x%llx cr0=0x%llx cr3=0x%llx cr4=0x%llx\n",
             (unsigned long long)f->ip, (unsigned long long)f->cs, (unsigned long long)f->flags,
             (unsigned long long)cpu_read_cr0(), (unsigned long long)cpu_read_cr3(),
             (unsigned long long)cpu_read_cr4());
  if (f->vector == 14U) {
    uword_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    log_printf("  cr2=0x%llx\n", (unsigned long long)cr2);
  }
  dump_regs(&f->regs);
  log_flush();
  cpu_halt_forever();
}
