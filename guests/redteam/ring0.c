/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ring-0 red-team stage: what a hostile guest kernel can do to the
 * hypervisor and what it must get instead of a hypervisor halt. A root
 * process (rt_kexec) boots this in place of the guest kernel with kexec,
 * on CPU 0, the other CPUs parked by the kernel; ring0.S brings it to
 * 32-bit protected mode (having made the 64-bit attacks first under a
 * 64-bit kernel) and calls ring0_main, which
 *   - repeats the attacks of the item 6 from 32-bit code, and under
 *     the i386 hypervisor probes the long-mode MSRs (item 14);
 *   - runs hardware task switches (item 12): far JMP, far CALL and IRET to
 *     TSSs, INT through an IDT task gate, a double fault through one (with
 *     its error code), and bad TSSs that must fault;
 *   - drives the INT 15h E820 hook from unreal mode (item 1), once into a
 *     page of its own (the entry must land) and once with ES's cached base
 *     at the hypervisor's image (CF set, nothing written);
 *   - sends its own CPU NMIs from inside its NMI handler (item 15: the
 *     handler must run exactly twice) and checks RF in the frame of a fault
 *     the hypervisor injects (item 13);
 * prints one evidence line per attack on the guest console, and powers
 * the machine off through ACPI as Linux would.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "redteam/ring0.h"

/* ---- from ring0.S ---- */

extern struct ring0_params ring0_params;
extern uint8_t gdt[];
extern uint8_t idt32[];
extern uint8_t stack32_top[];
extern void fault32(void), nmi32(void);
extern void isr32_0(void), isr32_1(void), isr32_3(void), isr32_4(void), isr32_5(void),
    isr32_6(void), isr32_7(void), isr32_9(void), isr32_10(void), isr32_11(void), isr32_12(void),
    isr32_13(void), isr32_14(void), isr32_15(void), isr32_16(void), isr32_17(void),
    isr32_18(void), isr32_19(void), isr32_20(void), isr32_21(void);
extern void task_jmp_entry(void), task_call_entry(void), task_int_entry(void),
    task_df_entry(void);
extern volatile uint32_t fault_vec, fault_err, fault_eip, fault_eflags, recover_eip, nmi_runs;
extern volatile uint32_t came_from_long_mode;
extern volatile uint32_t task_jmp_ran, task_jmp_eflags, task_call_ran, task_call_eflags,
    task_int_ran, task_int_eflags, task_df_ran, task_df_error, task_df_esp;
extern volatile uint32_t r64_ran, r64_cr4_rsp, r64_cr0_rsp, r64_cr0_readback, r64_cr0_high,
    r64_hidden, r64_hidden_rip, r64_apic, r64_apic_rflags, r64_mtrr, r64_mtrr_changed,
    r64_xsetbv, r64_native, r64_native_rflags;
extern volatile uint32_t e820_eax, e820_ebx, e820_ecx, e820_flags;

int ring0_mov_cr4_from_esp(void);
int ring0_mov_cr0_from_esp(uint32_t *readback);
int ring0_jmp_to(uint32_t target);
int ring0_wrmsr(uint32_t msr, uint32_t lo, uint32_t hi);
int ring0_rdmsr(uint32_t msr, uint64_t *value);
int ring0_xsetbv(uint32_t lo, uint32_t hi);
int ring0_native_gp(void);
int ring0_jmp_task(uint32_t sel);
int ring0_call_task(uint32_t sel);
int ring0_int_task(void);
int ring0_double_fault(void);
void ring0_e820_unreal(uint32_t es_base);

void ring0_setup32(void);
void ring0_main(void);
void ring0_unexpected(void);
void ring0_nmi_storm(void);
void *memset(void *d, int c, unsigned n);
void *memcpy(void *d, const void *s, unsigned n);

/* ---- plumbing ---- */

#define NO_FAULT (-1)
#define VEC_UD 6
#define VEC_TS 10
#define VEC_GP 13
#define RFLAGS_RF (1U << 16)
#define RFLAGS_NT (1U << 14)
#define CR0_NE (1U << 5)
#define MSR_APIC_BASE 0x1BU
#define MSR_MTRR_DEF_TYPE 0x2FFU
#define MSR_EFER 0xC0000080U
#define LAPIC_ID 0x20U
#define LAPIC_SVR 0xF0U
#define LAPIC_ICR_LOW 0x300U
#define LAPIC_ICR_HIGH 0x310U
#define ICR_NMI 0x400U
#define ICR_PENDING (1U << 12)
#define SELF_NMIS 10U
#define PM1_SLP_EN 0x2000U
#define E820_HOOK_LINEAR 0x4ACU
#define IVT_INT15 0x54U

void *memset(void *d, int c, unsigned n) {
  uint8_t *p = d;
  while (n--) {
    *p++ = (uint8_t)c;
  }
  return d;
}

void *memcpy(void *d, const void *s, unsigned n) {
  uint8_t *p = d;
  const uint8_t *q = s;
  while (n--) {
    *p++ = *q++;
  }
  return d;
}

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static void cpuid(uint32_t leaf, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* The guest console: the UART Linux set up (8n1, 115200), written by polling. */
static void putc_console(char c) {
  uint16_t port = (uint16_t)ring0_params.com;
  while (!(inb(port + 5U) & 0x20U)) {
  }
  outb(port, (uint8_t)c);
}

static void puts_console(const char *s) {
  while (*s) {
    putc_console(*s++);
  }
}

static void put_unsigned(uint32_t v, unsigned base) {
  char buf[12];
  int n = 0;
  do {
    buf[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  while (n) {
    putc_console(buf[--n]);
  }
}

/* %s, %u, %x and %d (a fault vector: -1 prints as "none") only. */
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      putc_console(*p);
      continue;
    }
    switch (*++p) {
    case 's':
      puts_console(va_arg(ap, const char *));
      break;
    case 'u':
      put_unsigned(va_arg(ap, uint32_t), 10);
      break;
    case 'x':
      puts_console("0x");
      put_unsigned(va_arg(ap, uint32_t), 16);
      break;
    case 'd': {
      int v = va_arg(ap, int);
      if (v < 0) {
        puts_console("none");
      } else {
        put_unsigned((uint32_t)v, 10);
      }
      break;
    }
    default:
      putc_console(*p);
      break;
    }
  }
  va_end(ap);
}

static unsigned failures;

static void check(bool ok, const char *what) {
  if (!ok) {
    failures++;
    say("XHV-GUEST: redteam_ring0_unexpected=%s\n", what);
  }
}

static void power_off(void) {
  uint16_t com = (uint16_t)ring0_params.com;
  while (!(inb(com + 5U) & 0x40U)) {
  }
  /* SLP_TYP 0 (\_S5 of the Bochs and QEMU DSDTs), SLP_EN: what Linux writes to power off. */
  outw((uint16_t)ring0_params.pm1a_cnt, PM1_SLP_EN);
  for (;;) {
    __asm__ volatile("cli; hlt");
  }
}

void ring0_unexpected(void) {
  say("XHV-RESULT: FAIL redteam ring-0 stage: unexpected fault %u (error %x) at %x\n", fault_vec,
      fault_err, fault_eip);
  power_off();
}

/* ---- set-up: 32-bit TSSs and the IDT ---- */

struct tss32 {
  uint16_t link, r0;
  uint32_t esp0, ss0, esp1, ss1, esp2, ss2;
  uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t es, cs, ss, ds, fs, gs, ldt;
  uint16_t trap, iomap;
};

static struct tss32 tss_main, tss_jmp, tss_call, tss_df, tss_int, tss_small;
static uint8_t task_stacks[4][2048] __attribute__((aligned(16)));

static void gdt_set(uint32_t sel, uint32_t base, uint32_t limit, uint32_t type) {
  uint8_t *d = gdt + sel;
  d[0] = (uint8_t)limit;
  d[1] = (uint8_t)(limit >> 8);
  d[2] = (uint8_t)base;
  d[3] = (uint8_t)(base >> 8);
  d[4] = (uint8_t)(base >> 16);
  d[5] = (uint8_t)(0x80U | type); /* present, DPL 0, system */
  d[6] = (uint8_t)((limit >> 16) & 0xFU);
  d[7] = (uint8_t)(base >> 24);
}

static void task_init(struct tss32 *t, void (*entry)(void), uint8_t *stack_top) {
  uint32_t cr3;
  __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
  memset(t, 0, sizeof(*t));
  t->cr3 = cr3;
  t->eip = (uint32_t)entry;
  t->eflags = 0x2U;
  t->esp = (uint32_t)stack_top;
  t->cs = SEL_CODE32;
  t->ss = t->ds = t->es = t->fs = t->gs = SEL_DATA32;
  t->iomap = sizeof(*t);
}

static void idt_gate(uint32_t vec, void (*handler)(void)) {
  uint8_t *g = idt32 + vec * 8U;
  uint32_t h = (uint32_t)handler;
  g[0] = (uint8_t)h;
  g[1] = (uint8_t)(h >> 8);
  g[2] = SEL_CODE32;
  g[3] = 0;
  g[4] = 0;
  g[5] = 0x8E; /* present, DPL 0, 32-bit interrupt gate */
  g[6] = (uint8_t)(h >> 16);
  g[7] = (uint8_t)(h >> 24);
}

static void idt_task_gate(uint32_t vec, uint32_t tss_sel) {
  uint8_t *g = idt32 + vec * 8U;
  memset(g, 0, 8);
  g[2] = (uint8_t)tss_sel;
  g[5] = 0x85; /* present, DPL 0, task gate */
}

void ring0_setup32(void) {
  static void (*const isr[22])(void) = {
      isr32_0,  isr32_1,  nmi32,    isr32_3,  isr32_4,  isr32_5,  isr32_6,  isr32_7,
      0,        isr32_9,  isr32_10, isr32_11, isr32_12, isr32_13, isr32_14, isr32_15,
      isr32_16, isr32_17, isr32_18, isr32_19, isr32_20, isr32_21,
  };
  memset(idt32, 0, 256 * 8);
  for (uint32_t v = 0; v < 22U; v++) {
    if (isr[v]) {
      idt_gate(v, isr[v]);
    }
  }
  memset(&tss_main, 0, sizeof(tss_main));
  task_init(&tss_jmp, task_jmp_entry, task_stacks[0] + sizeof(task_stacks[0]));
  task_init(&tss_call, task_call_entry, task_stacks[1] + sizeof(task_stacks[1]));
  task_init(&tss_df, task_df_entry, task_stacks[2] + sizeof(task_stacks[2]));
  task_init(&tss_int, task_int_entry, task_stacks[3] + sizeof(task_stacks[3]));
  gdt_set(SEL_TSS_MAIN, (uint32_t)&tss_main, sizeof(struct tss32) - 1U, 0x9);
  gdt_set(SEL_TSS_JMP, (uint32_t)&tss_jmp, sizeof(struct tss32) - 1U, 0x9);
  gdt_set(SEL_TSS_CALL, (uint32_t)&tss_call, sizeof(struct tss32) - 1U, 0x9);
  gdt_set(SEL_TSS_DF, (uint32_t)&tss_df, sizeof(struct tss32) - 1U, 0x9);
  gdt_set(SEL_TSS_INT, (uint32_t)&tss_int, sizeof(struct tss32) - 1U, 0x9);
  gdt_set(SEL_TSS_SMALL, (uint32_t)&tss_small, 0x50U, 0x9); /* too small for a 32-bit TSS */
  idt_task_gate(8, SEL_TSS_DF);
  idt_task_gate(TASK_GATE_VECTOR, SEL_TSS_INT);
}

/* ---- attacks ---- */

static const char *fault_name(int v) {
  switch (v) {
  case NO_FAULT:
    return "ok";
  case VEC_UD:
    return "#UD";
  case VEC_TS:
    return "#TS";
  case 11:
    return "#NP";
  case VEC_GP:
    return "#GP";
  case 14:
    return "#PF";
  default:
    return "fault";
  }
}

static bool long_mode_hidden(void) {
  uint32_t r[4];
  cpuid(0x80000001U, r);
  return !(r[3] & (1U << 29));
}

static bool have_osxsave(void) {
  uint32_t cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  return (cr4 & (1U << 18)) != 0;
}

/* CR4.OSFXSR/OSXMMEXCPT, and OSXSAVE with XSAVE: so XSETBV reaches the hypervisor. */
static void enable_xsave(void) {
  uint32_t r[4], cr4;
  cpuid(1, r);
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  cr4 |= 0x600U;
  if (r[2] & (1U << 26)) {
    cr4 |= 1U << 18;
  }
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
}

/* Items 6 and 14 from 32-bit code; the 64-bit results (from ring0.S) are printed beside them. */
static void halts(void) {
  enable_xsave();
  uint32_t readback = 0;
  int cr4_esp = ring0_mov_cr4_from_esp();
  int cr0_esp = ring0_mov_cr0_from_esp(&readback);
  int hidden = ring0_jmp_to(ring0_params.hv_image);
  uint32_t hidden_eip = fault_eip;
  uint64_t apic;
  ring0_rdmsr(MSR_APIC_BASE, &apic);
  int x2apic = ring0_wrmsr(MSR_APIC_BASE, (uint32_t)apic | 0x400U, (uint32_t)(apic >> 32));
  int moved = ring0_wrmsr(MSR_APIC_BASE, (uint32_t)apic + 0x100000U, (uint32_t)(apic >> 32));
  int disabled = ring0_wrmsr(MSR_APIC_BASE, (uint32_t)apic & ~0x800U, (uint32_t)(apic >> 32));
  uint64_t apic_after;
  ring0_rdmsr(MSR_APIC_BASE, &apic_after);
  uint64_t mtrr, mtrr_after;
  ring0_rdmsr(MSR_MTRR_DEF_TYPE, &mtrr);
  int mtrr_write = ring0_wrmsr(MSR_MTRR_DEF_TYPE, (uint32_t)mtrr ^ 0x800U, (uint32_t)(mtrr >> 32));
  ring0_rdmsr(MSR_MTRR_DEF_TYPE, &mtrr_after);
  if (mtrr_after != mtrr) {
    ring0_wrmsr(MSR_MTRR_DEF_TYPE, (uint32_t)mtrr, (uint32_t)(mtrr >> 32));
  }
  int xsetbv = have_osxsave() ? ring0_xsetbv(0x5, 0) : -2;

  check(cr4_esp == VEC_GP, "mov_cr4_from_esp");
  check(cr0_esp == NO_FAULT && !(readback & CR0_NE), "mov_cr0_from_esp");
  check(hidden == VEC_GP && hidden_eip == ring0_params.hv_image, "hidden_fetch");
  check(x2apic == VEC_GP && moved == VEC_GP && disabled == VEC_GP && apic_after == apic,
        "apic_base");
  check(mtrr_write == NO_FAULT && mtrr_after == mtrr, "mtrr_write");
  check(xsetbv == VEC_GP || xsetbv == -2, "xsetbv");
  say("XHV-GUEST: redteam_halts=faulted 32bit: mov_cr4_esp=%s mov_cr0_esp=%s(ne_read=%u) "
      "hidden_fetch=%s@%x apic_x2apic=%s apic_move=%s apic_disable=%s mtrr_write=%s(%s) "
      "xsetbv_avx_no_sse=%s",
      fault_name(cr4_esp), fault_name(cr0_esp), (readback & CR0_NE) ? 1U : 0U,
      fault_name(hidden), hidden_eip, fault_name(x2apic), fault_name(moved),
      fault_name(disabled), fault_name(mtrr_write), mtrr_after == mtrr ? "unchanged" : "CHANGED",
      xsetbv == -2 ? "no-xsave" : fault_name(xsetbv));
  if (r64_ran) {
    check(r64_cr4_rsp == VEC_GP, "64bit_mov_cr4_from_rsp");
    check(r64_cr0_rsp == (uint32_t)NO_FAULT && !(r64_cr0_readback & CR0_NE),
          "64bit_mov_cr0_from_rsp");
    check(r64_cr0_high == VEC_GP, "64bit_cr0_high_bits");
    check(r64_hidden == VEC_GP && r64_hidden_rip == ring0_params.hv_image, "64bit_hidden_fetch");
    check(r64_apic == VEC_GP, "64bit_apic_base");
    check(r64_mtrr == (uint32_t)NO_FAULT && r64_mtrr_changed == 0U, "64bit_mtrr_write");
    check(r64_xsetbv == VEC_GP || r64_xsetbv == (uint32_t)-2, "64bit_xsetbv");
    say(" 64bit: mov_cr4_rsp=%s mov_cr0_rsp=%s cr0_bit32=%s hidden_fetch=%s apic_x2apic=%s "
        "mtrr_write=%s xsetbv_avx_no_sse=%s",
        fault_name((int)r64_cr4_rsp), fault_name((int)r64_cr0_rsp),
        fault_name((int)r64_cr0_high), fault_name((int)r64_hidden), fault_name((int)r64_apic),
        r64_mtrr_changed ? "CHANGED" : "unchanged",
        r64_xsetbv == (uint32_t)-2 ? "no-xsave" : fault_name((int)r64_xsetbv));
  }
  if (long_mode_hidden()) {
    /* The i386 hypervisor: a CPU without long mode has none of these MSRs (item 14). */
    static const uint32_t msrs[] = {0xC0000100U, 0xC0000101U, 0xC0000102U, 0xC0000081U,
                                    0xC0000082U, 0xC0000083U, 0xC0000084U};
    unsigned gp = 0;
    for (unsigned i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
      uint64_t v;
      gp += ring0_rdmsr(msrs[i], &v) == VEC_GP;
      gp += ring0_wrmsr(msrs[i], 0, 0) == VEC_GP;
    }
    uint64_t efer;
    ring0_rdmsr(MSR_EFER, &efer);
    int lme = ring0_wrmsr(MSR_EFER, (uint32_t)efer | 0x100U, (uint32_t)(efer >> 32));
    check(gp == 14U && lme == VEC_GP, "long_mode_msrs");
    say(" long_mode_msrs=%u/14#GP efer_lme=%s", gp, fault_name(lme));
  } else {
    say(" long_mode_msrs=n/a(long mode is the guest's)");
  }
  say("\n");
}

/* Item 12: task switches of every kind the exit reports, and bad TSSs. */
static void task_switches(void) {
  int jmp = ring0_jmp_task(SEL_TSS_JMP);
  int call = ring0_call_task(SEL_TSS_CALL);
  bool call_linked = tss_call.link == SEL_TSS_MAIN && (task_call_eflags & RFLAGS_NT);
  int gate = ring0_int_task();
  bool gate_nested = (task_int_eflags & RFLAGS_NT) != 0;
  int df = ring0_double_fault();
  int small = ring0_jmp_task(SEL_TSS_SMALL);
  uint32_t small_err = fault_err;
  int busy = ring0_jmp_task(SEL_TSS_MAIN);
  uint32_t busy_err = fault_err;
  uint32_t tr;
  __asm__ volatile("str %0" : "=r"(tr));
  check(jmp == NO_FAULT && task_jmp_ran && !(task_jmp_eflags & RFLAGS_NT), "task_jmp");
  check(call == NO_FAULT && task_call_ran && call_linked, "task_call");
  check(gate == NO_FAULT && task_int_ran && gate_nested, "task_gate_int");
  check(task_df_ran && task_df_error == 0U && df == VEC_GP, "task_gate_double_fault");
  check(small == VEC_TS && small_err == SEL_TSS_SMALL, "task_small_tss");
  check(busy == VEC_GP && busy_err == SEL_TSS_MAIN, "task_busy_tss");
  check((tr & 0xFFFFU) == SEL_TSS_MAIN, "task_back_home");
  say("XHV-GUEST: redteam_task_switch=emulated jmp=%s call=%s(link=%x nt=%u) int_gate=%s "
      "df_gate=%s(error=%x) small_tss=%s(%x) busy_tss=%s(%x) tr=%x\n",
      task_jmp_ran ? fault_name(jmp) : "not-run", task_call_ran ? fault_name(call) : "not-run",
      tss_call.link, (task_call_eflags & RFLAGS_NT) ? 1U : 0U,
      task_int_ran ? fault_name(gate) : "not-run", task_df_ran ? "ran" : "not-run",
      task_df_error, fault_name(small), small_err, fault_name(busy), busy_err, tr & 0xFFFFU);
}

/* Item 1: the E820 hook from unreal mode. */
static void e820_unreal(void) {
  /* The hook's stub and vector, as the hypervisor installed them (re-armed if the kernel moved them). */
  volatile uint8_t *stub = (volatile uint8_t *)E820_HOOK_LINEAR;
  volatile uint32_t *ivt15 = (volatile uint32_t *)IVT_INT15;
  bool intact = stub[0] == 0x0F && stub[1] == 0x01 && stub[2] == 0xC1 && stub[3] == 0xCF &&
                *ivt15 == 0x004000ACU;
  static const uint8_t hook[4] = {0x0F, 0x01, 0xC1, 0xCF};
  memcpy((void *)E820_HOOK_LINEAR, hook, 4);
  *ivt15 = 0x004000ACU;

  volatile uint32_t *buf = (volatile uint32_t *)RING0_E820_BUF;
  memset((void *)RING0_E820_BUF, 0xEE, 20);
  ring0_e820_unreal(RING0_E820_BUF);
  bool own_cf = (e820_flags & 1U) != 0;
  bool own_landed = !own_cf && e820_eax == 0x534D4150U && buf[4] == 1U && buf[2] != 0xEEEEEEEEU;
  uint32_t own_len = buf[2];

  ring0_e820_unreal(ring0_params.hv_image);
  bool hv_cf = (e820_flags & 1U) != 0;
  uint32_t hv_ah = (e820_eax >> 8) & 0xFFU;
  check(own_landed, "e820_own_buffer");
  check(hv_cf && hv_ah == 0x86U, "e820_hypervisor_image");
  say("XHV-GUEST: redteam_e820_unreal=refused own_buffer=%s(len=%x) hv_image=%x:%s(ah=%x) "
      "hook=%s\n",
      own_landed ? "landed" : "NOT-LANDED", own_len, ring0_params.hv_image,
      hv_cf ? "CF" : "no-CF", hv_ah, intact ? "intact" : "re-armed");
}

static volatile uint32_t *apic;

static void delay(uint32_t spins) {
  for (volatile uint32_t i = 0; i < spins; i++) {
    __asm__ volatile("pause");
  }
}

static void send_self_nmi(void) {
  uint32_t id = apic[LAPIC_ID / 4U] >> 24;
  apic[LAPIC_ICR_HIGH / 4U] = id << 24;
  apic[LAPIC_ICR_LOW / 4U] = ICR_NMI;
  while (apic[LAPIC_ICR_LOW / 4U] & ICR_PENDING) {
  }
}

void ring0_nmi_storm(void) {
  for (uint32_t i = 0; i < SELF_NMIS; i++) {
    send_self_nmi();
    delay(2000);
  }
  delay(20000);
}

/* Items 15 and 13. */
static void nmis_and_rf(void) {
  uint64_t base;
  ring0_rdmsr(MSR_APIC_BASE, &base);
  apic = (volatile uint32_t *)((uint32_t)base & 0xFFFFF000U);
  apic[LAPIC_SVR / 4U] |= 0x100U; /* the kernel soft-disabled it on its way out */
  nmi_runs = 0;
  send_self_nmi();
  for (uint32_t i = 0; i < 200 && nmi_runs < 3U; i++) {
    delay(20000);
  }
  uint32_t runs = nmi_runs;
  check(runs == 2U, "nmi_self");
  say("XHV-GUEST: redteam_nmi_self=%s runs=%u sent_from_handler=%u\n",
      runs == 2U ? "twice" : "WRONG", runs, SELF_NMIS);

  uint64_t apic_base;
  ring0_rdmsr(MSR_APIC_BASE, &apic_base);
  int injected = ring0_wrmsr(MSR_APIC_BASE, (uint32_t)apic_base | 0x400U, 0);
  uint32_t injected_rf = fault_eflags & RFLAGS_RF;
  int native = ring0_native_gp();
  uint32_t native_rf = fault_eflags & RFLAGS_RF;
  check(injected == VEC_GP && injected_rf, "rf_injected");
  say("XHV-GUEST: redteam_rf_injected=%s injected_gp_rf=%u native_gp_rf=%u",
      injected == VEC_GP && injected_rf ? "set" : "CLEAR", injected_rf ? 1U : 0U,
      native_rf ? 1U : 0U);
  if (r64_ran) {
    say(" 64bit_injected_gp_rf=%u 64bit_native_gp_rf=%u", (r64_apic_rflags & RFLAGS_RF) ? 1U : 0U,
        (r64_native_rflags & RFLAGS_RF) ? 1U : 0U);
    check((r64_apic_rflags & RFLAGS_RF) != 0U, "64bit_rf_injected");
  }
  say("\n");
  (void)native;

  /* What the hypervisor injected into each CPU since boot: the kernel's count, and ours on CPU 0. */
  say("XHV-GUEST: nmi_after_kexec=");
  for (uint32_t c = 0; c < ring0_params.cpus && c < RING0_MAX_CPUS; c++) {
    say(c ? " %u" : "%u", ring0_params.nmis[c] + (c == 0 ? runs : 0U));
  }
  say("\n");
}

void ring0_main(void) {
  if (ring0_params.magic != RING0_PARAMS_MAGIC) {
    for (;;) {
      __asm__ volatile("cli; hlt"); /* no console to say it on */
    }
  }
  say("XHV-GUEST: redteam_ring0_stage=started from=%s\n",
      came_from_long_mode ? "64-bit kernel" : "32-bit kernel");
  halts();
  task_switches();
  e820_unreal();
  nmis_and_rf();
  if (failures) {
    say("XHV-RESULT: FAIL redteam ring-0 stage: %u attacks did not fail safely (see "
        "redteam_ring0_unexpected)\n",
        failures);
  } else {
    /* The cell's one PASS came from its script; this stage adds evidence, or a FAIL. */
    say("XHV-GUEST: redteam_ring0=done\n");
  }
  power_off();
}
