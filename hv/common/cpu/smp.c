/* SPDX-License-Identifier: Apache-2.0 */
/* Local APIC and INIT-SIPI-SIPI start-up of the application processors. */
#include "xhv/smp.h"

#include "xhv/acpi.h"
#include "xhv/cpu_ops.h"
#include "xhv/log.h"
#include "xhv/panic.h"
#include "xhv/string.h"

#define MSR_IA32_APIC_BASE 0x1BU
#define APIC_BASE_MASK 0xFFFFF000ULL
#define LAPIC_ID 0x20U
#define LAPIC_ICR_LOW 0x300U
#define LAPIC_ICR_HIGH 0x310U
#define ICR_DELIVERY_PENDING (1U << 12)
#define ICR_INIT_ASSERT 0x00004500U /* INIT, level assert */
#define ICR_STARTUP 0x00004600U     /* start-up, vector in bits 7:0 */
#define ICR_NMI_ALL_BUT_SELF 0x000C4400U /* NMI, level assert, all excluding self */

/* The trampolines read these offsets; keep them in step with the .S files. */
XHV_STATIC_ASSERT(__builtin_offsetof(struct ap_boot_params, stack_top) == 8U, "params layout");
XHV_STATIC_ASSERT(__builtin_offsetof(struct ap_boot_params, entry) == 8U + XHV_WORD_BYTES,
                  "params layout");
XHV_STATIC_ASSERT(__builtin_offsetof(struct ap_boot_params, cpu) == 8U + 2U * XHV_WORD_BYTES,
                  "params layout");

static volatile uint32_t aps_checked_in;
static uint32_t cpu_count = 1;

static volatile uint32_t *lapic_reg(uint32_t offset) {
  return (volatile uint32_t *)(uword_t)((cpu_rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_MASK) + offset);
}

uint32_t lapic_id(void) { return *lapic_reg(LAPIC_ID) >> 24; }

uint32_t smp_cpu_count(void) { return cpu_count; }

/* Busy-waits roughly `us` microseconds using the TSC at an assumed >= 1 GHz. */
static void delay_us(uint32_t us) {
  uint64_t end = cpu_rdtsc() + (uint64_t)us * 1000U;
  while (cpu_rdtsc() < end) {
    cpu_pause();
  }
}

static void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low) {
  *lapic_reg(LAPIC_ICR_HIGH) = apic_id << 24;
  *lapic_reg(LAPIC_ICR_LOW) = icr_low;
  while (*lapic_reg(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING) {
    cpu_pause();
  }
}

static void (*volatile ap_main_fn)(struct cpu *);

/* Where the trampoline lands, on the AP's own host stack. */
void cpu_send_nmi_all_but_self(void) {
  *lapic_reg(LAPIC_ICR_LOW) = ICR_NMI_ALL_BUT_SELF;
  while (*lapic_reg(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING) {
    cpu_pause();
  }
}

static void ap_entry(struct cpu *cpu) {
  cpu_tables_load(cpu);
  /* From here on the trampoline page and its parameters may be reused. */
  __atomic_add_fetch(&aps_checked_in, 1U, __ATOMIC_SEQ_CST);
  ap_main_fn(cpu);
  xhv_panic("CPU %u: ap_main returned", cpu->index);
}

void smp_start_aps(void (*ap_main)(struct cpu *cpu)) {
  uint32_t ids[XHV_MAX_CPUS];
  int n = acpi_find_cpus(ids, XHV_MAX_CPUS);
  uint32_t self = lapic_id();
  if (n <= 0) {
    log_printf("smp: no usable ACPI MADT, running on the boot CPU only\n");
    return;
  }
  ap_main_fn = ap_main;
  size_t tramp_len = (size_t)(ap_trampoline_end - ap_trampoline_start);
  uint8_t *tramp = (uint8_t *)(uword_t)AP_TRAMPOLINE_BASE;
  memcpy(tramp, ap_trampoline_start, tramp_len);
  struct ap_boot_params *params = (struct ap_boot_params *)(tramp + ap_trampoline_params_offset);

  for (int i = 0; i < n; i++) {
    if (ids[i] == self) {
      continue;
    }
    if (cpu_count == XHV_MAX_CPUS) {
      log_printf("smp: more than %u CPUs, ignoring APIC ID %u\n", XHV_MAX_CPUS, ids[i]);
      continue;
    }
    struct cpu *cpu = percpu_init(cpu_count, ids[i]);
    params->cr3 = (uint32_t)cpu_read_cr3();
    params->cr4 = (uint32_t)cpu_read_cr4();
    params->stack_top = cpu_stack_top(cpu);
    params->entry = (uword_t)ap_entry;
    params->cpu = (uword_t)cpu;
    uint32_t before = aps_checked_in;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    /* SDM "MP Initialization Example": INIT, 10 ms, SIPI, 200 us, SIPI. */
    lapic_send_ipi(ids[i], ICR_INIT_ASSERT);
    delay_us(10000);
    for (int sipi = 0; sipi < 2 && aps_checked_in == before; sipi++) {
      lapic_send_ipi(ids[i], ICR_STARTUP | (AP_TRAMPOLINE_BASE >> 12));
      delay_us(200);
    }
    for (uint32_t spins = 0; aps_checked_in == before && spins < 1000U; spins++) {
      delay_us(1000);
    }
    if (aps_checked_in == before) {
      log_printf("smp: CPU with APIC ID %u did not start, leaving it out\n", ids[i]);
      continue;
    }
    log_printf("smp: CPU %u (APIC ID %u) is up\n", cpu->index, cpu->apic_id);
    cpu_count++;
  }
}
