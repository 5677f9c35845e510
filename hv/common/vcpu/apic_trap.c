/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual INIT/SIPI through a trapped local APIC page and single-stepping. */
#include "xhv/apic_trap.h"

#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/heap.h"
#include "xhv/log.h"
#include "xhv/panic.h"
#include "xhv/smp.h"
#include "xhv/guest_ept.h"
#include "xhv/vmcs.h"

#define LAPIC_ICR_LOW 0x300U
#define LAPIC_ICR_HIGH 0x310U
#define ICR_DELIVERY_MODE(v) (((v) >> 8) & 7U)
#define ICR_MODE_INIT 5U
#define ICR_MODE_STARTUP 6U
#define ICR_LEVEL_ASSERT (1U << 14)
#define ICR_DEST_LOGICAL (1U << 11)
#define ICR_SHORTHAND(v) (((v) >> 18) & 3U)
#define SHORTHAND_NONE 0U
#define SHORTHAND_SELF 1U
#define SHORTHAND_ALL 2U
#define SHORTHAND_ALL_BUT_SELF 3U
#define RFLAGS_TF (1U << 8)
#define RFLAGS_IF (1U << 9)
#define INTERRUPTIBILITY_NMI (1U << 3)
#define VECTOR_DB 1U
#define MEMTYPE_UC 0U

static struct {
  volatile bool active;
  uint64_t base;
  volatile uint32_t *shadow; /* RAM page standing in for the APIC during ICR writes */
  uint64_t shadow_pa;
  uint32_t icr_high;
  uint32_t aps_waiting;
  volatile uint32_t lock;
} trap;

static void lock(void) {
  while (__atomic_exchange_n(&trap.lock, 1U, __ATOMIC_ACQUIRE) != 0U) {
    cpu_pause();
  }
}

static void unlock(void) { __atomic_store_n(&trap.lock, 0U, __ATOMIC_RELEASE); }

void apic_trap_init(uint64_t apic_base, uint32_t cpu_count) {
  if (cpu_count < 2U) {
    return;
  }
  trap.base = apic_base;
  trap.shadow = heap_alloc_pages(1, 1, &trap.shadow_pa);
  trap.aps_waiting = cpu_count - 1U;
  trap.active = true;
  guest_ept_map_page(apic_base, apic_base, 0, MEMTYPE_UC);
  log_printf("apic: trapping the guest's local APIC at 0x%llx until %u AP(s) get their SIPI\n",
             (unsigned long long)apic_base, trap.aps_waiting);
}

bool apic_trap_ept_violation(struct cpu *cpu, uint64_t gpa, bool write) {
  if (!trap.active || gpa - trap.base >= PAGE_SIZE) {
    return false;
  }
  uint32_t offset = (uint32_t)(gpa - trap.base);
  bool icr = write && (offset == LAPIC_ICR_LOW || offset == LAPIC_ICR_HIGH);
  lock();
  /* One instruction's worth of mapping: the ICR stand-in, or the real APIC. */
  if (icr) {
    guest_ept_map_page(trap.base, trap.shadow_pa, EPT_READ | EPT_WRITE, MEMTYPE_UC);
  } else {
    guest_ept_map_page(trap.base, trap.base, EPT_READ | EPT_WRITE, MEMTYPE_UC);
  }
  cpu->apic_step = true;
  cpu->apic_step_offset = icr ? offset : 0U;
  /*
   * Step exactly the access: trap flag on, and neither an interrupt nor an
   * NMI may slip in and run guest code (an EOI, say) against the stand-in.
   */
  cpu->apic_step_rflags = vmcs_readnw(VMCS_GUEST_RFLAGS);
  vmcs_writenw(VMCS_GUEST_RFLAGS, (cpu->apic_step_rflags | RFLAGS_TF) & ~(uword_t)RFLAGS_IF);
  cpu->apic_step_exceptions = vmcs_read32(VMCS_EXCEPTION_BITMAP);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, cpu->apic_step_exceptions | (1U << VECTOR_DB));
  uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
  vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr | INTERRUPTIBILITY_NMI);
  /* The lock stays held: the mapping is this CPU's until the step ends. */
  return true;
}

static void deliver(uint32_t icr_low, uint32_t dest, struct cpu *self) {
  uint32_t mode = ICR_DELIVERY_MODE(icr_low);
  uint32_t shorthand = ICR_SHORTHAND(icr_low);
  if (mode != ICR_MODE_INIT && mode != ICR_MODE_STARTUP) {
    /* Not a start-up IPI: send it for real. */
    volatile uint32_t *apic = (volatile uint32_t *)(uword_t)trap.base;
    apic[LAPIC_ICR_HIGH / 4U] = trap.icr_high;
    apic[LAPIC_ICR_LOW / 4U] = icr_low;
    return;
  }
  if (shorthand == SHORTHAND_NONE && (icr_low & ICR_DEST_LOGICAL)) {
    /* No OS starts its CPUs that way; the guest's request is dropped, not obeyed blindly. */
    log_printf("apic: CPU %u: INIT/SIPI with a logical destination (ICR 0x%08x) dropped\n",
               self->index, icr_low);
    return;
  }
  for (uint32_t i = 0; i < smp_cpu_count(); i++) {
    struct cpu *c = cpu_by_index(i);
    bool target = shorthand == SHORTHAND_ALL || (shorthand == SHORTHAND_ALL_BUT_SELF && c != self) ||
                  (shorthand == SHORTHAND_SELF && c == self) ||
                  (shorthand == SHORTHAND_NONE && c->apic_id == dest);
    if (!target || c == self) {
      continue;
    }
    if (mode == ICR_MODE_STARTUP && !c->sipi_received) {
      c->sipi_vector = icr_low & 0xFFU;
      __atomic_store_n(&c->sipi_received, 1U, __ATOMIC_RELEASE);
      trap.aps_waiting--;
    }
    /*
     * INIT (and a repeated SIPI) to an AP still waiting changes nothing: it
     * is already "after INIT". A running AP cannot be re-INITed yet.
     */
    if (mode == ICR_MODE_INIT && (icr_low & ICR_LEVEL_ASSERT) && c->sipi_received &&
        trap.aps_waiting == 0U) {
      log_printf("apic: guest INIT to running CPU %u ignored (not supported)\n", c->index);
    }
  }
}

bool apic_trap_step_done(struct cpu *cpu) {
  if (!cpu->apic_step) {
    return false;
  }
  if (cpu->apic_step_offset == LAPIC_ICR_HIGH) {
    trap.icr_high = trap.shadow[LAPIC_ICR_HIGH / 4U]; /* destination of the next send */
  } else if (cpu->apic_step_offset == LAPIC_ICR_LOW) {
    deliver(trap.shadow[LAPIC_ICR_LOW / 4U], trap.icr_high >> 24, cpu);
  }
  if (trap.aps_waiting == 0U) {
    trap.active = false;
    guest_ept_map_page(trap.base, trap.base, EPT_READ | EPT_WRITE, MEMTYPE_UC);
    log_printf("apic: every AP has started, the guest owns its local APIC from now on\n");
  } else {
    guest_ept_map_page(trap.base, trap.base, 0, MEMTYPE_UC);
  }
  cpu->apic_step = false;
  vmcs_writenw(VMCS_GUEST_RFLAGS, cpu->apic_step_rflags);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, cpu->apic_step_exceptions);
  uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
  vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~INTERRUPTIBILITY_NMI);
  unlock();
  return true;
}

uint32_t apic_trap_wait_for_sipi(struct cpu *cpu) {
  while (!__atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE)) {
    cpu_pause();
  }
  return cpu->sipi_vector;
}
