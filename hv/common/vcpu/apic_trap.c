/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual INIT/SIPI through a trapped local APIC page and single-stepping. */
#include "xhv/apic_trap.h"

#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/heap.h"
#include "xhv/log.h"
#include "xhv/panic.h"
#include "xhv/quiesce.h"
#include "xhv/smp.h"
#include "xhv/guest.h"
#include "xhv/guest_ept.h"
#include "xhv/vmcs.h"

#define LAPIC_ICR_LOW 0x300U
#define LAPIC_ICR_HIGH 0x310U
#define ICR_DELIVERY_MODE(v) (((v) >> 8) & 7U)
#define ICR_MODE_INIT 5U
#define ICR_MODE_STARTUP 6U
#define ICR_DEST_LOGICAL (1U << 11)
#define ICR_SHORTHAND(v) (((v) >> 18) & 3U)
#define SHORTHAND_NONE 0U
#define SHORTHAND_SELF 1U
#define SHORTHAND_ALL 2U
#define SHORTHAND_ALL_BUT_SELF 3U
#define RFLAGS_TF (1U << 8)
#define RFLAGS_IF (1U << 9)
#define MEMTYPE_UC 0U

static struct {
  volatile bool active;
  uint64_t base;
  volatile uint32_t *shadow; /* RAM page standing in for the APIC during ICR writes */
  uint64_t shadow_pa;
  uint32_t icr_high;
  uint32_t aps_waiting;
} trap;

void apic_trap_init(uint64_t apic_base, uint32_t cpu_count) {
  trap.base = apic_base;
  trap.shadow = heap_alloc_pages(1, 1, &trap.shadow_pa);
  if (cpu_count < 2U) {
    return;
  }
  trap.aps_waiting = cpu_count - 1U;
  trap.active = true;
  guest_ept_map_page(apic_base, apic_base, 0, MEMTYPE_UC);
  log_printf("apic: trapping the guest's local APIC at 0x%llx until %u AP(s) get their SIPI\n",
             (unsigned long long)apic_base, trap.aps_waiting);
}

/*
 * Everything below runs with every other CPU quiesced (the step of a
 * trapped access too, across its one guest instruction): no other CPU can
 * then reach the APIC page while it is mapped for one CPU's instruction
 * (an ICR write of theirs would land in the stand-in, a timer write be lost),
 * nor change the count of waiting CPUs under the one that reads it.
 */

/* One CPU fewer waits; the last one unmaps the trap. */
static void stop_waiting(void) {
  if (--trap.aps_waiting == 0U) {
    trap.active = false;
    guest_ept_map_page(trap.base, trap.base, EPT_READ | EPT_WRITE, MEMTYPE_UC);
    log_printf("apic: no CPU waits for a SIPI, the guest owns its local APIC again\n");
  }
}

bool apic_trap_park(struct cpu *cpu, uint32_t *vector) {
  quiesce_begin(cpu);
  __atomic_store_n(&cpu->sipi_received, 0U, __ATOMIC_RELEASE);
  trap.aps_waiting++;
  if (!trap.active) {
    trap.active = true;
    guest_ept_map_page(trap.base, trap.base, 0, MEMTYPE_UC);
    log_printf("apic: CPU %u waits for a SIPI: trapping the guest's local APIC again\n",
               cpu->index);
  }
  quiesce_end(cpu);
  while (!__atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE) &&
         __atomic_load_n(&cpu->guest_nmi_owed, __ATOMIC_ACQUIRE) == 0U) {
    cpu_pause();
  }
  quiesce_begin(cpu);
  bool started = __atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE) != 0U;
  if (!started) {
    /* Else deliver() counted it started, and unmapped the trap if it was the last. */
    __atomic_store_n(&cpu->sipi_received, 1U, __ATOMIC_RELEASE);
    stop_waiting();
  }
  quiesce_end(cpu);
  *vector = cpu->sipi_vector;
  return started;
}

bool apic_trap_ept_violation(struct cpu *cpu, uint64_t gpa, bool write) {
  if (!trap.active || gpa - trap.base >= PAGE_SIZE) {
    return false;
  }
  quiesce_begin(cpu); /* ended by apic_trap_step_done, after the one instruction */
  if (!trap.active) {
    quiesce_end(cpu); /* unmapped meanwhile: the access just runs again */
    return true;
  }
  uint32_t offset = (uint32_t)(gpa - trap.base);
  bool icr = write && (offset == LAPIC_ICR_LOW || offset == LAPIC_ICR_HIGH);
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
   * NMI may slip in and run guest code (an EOI, say) against the stand-in:
   * interrupts off, and the guest's NMIs held back (not virtual-NMI
   * blocking, which Bochs 2.7 keeps set until the guest's next IRET).
   * Every exception exits, so a fault of the access ends the step too.
   */
  uword_t rflags = vmcs_readnw(VMCS_GUEST_RFLAGS);
  cpu->apic_step_rflags = rflags & (RFLAGS_TF | RFLAGS_IF);
  vmcs_writenw(VMCS_GUEST_RFLAGS, (rflags | RFLAGS_TF) & ~(uword_t)RFLAGS_IF);
  cpu->apic_step_exceptions = vmcs_read32(VMCS_EXCEPTION_BITMAP);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, 0xFFFFFFFFU);
  guest_nmi_hold(cpu, true);
  return true;
}

/* Sends an IPI for real, from this CPU's own local APIC. */
static void send(uint32_t icr_high, uint32_t icr_low) {
  volatile uint32_t *apic = (volatile uint32_t *)(uword_t)trap.base;
  apic[LAPIC_ICR_HIGH / 4U] = icr_high;
  apic[LAPIC_ICR_LOW / 4U] = icr_low;
}

static void deliver(uint32_t icr_low, uint32_t dest, struct cpu *self) {
  uint32_t mode = ICR_DELIVERY_MODE(icr_low);
  uint32_t shorthand = ICR_SHORTHAND(icr_low);
  if (mode != ICR_MODE_INIT && mode != ICR_MODE_STARTUP) {
    send(trap.icr_high, icr_low); /* not a start-up IPI: as the guest wrote it */
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
     * INIT (and a repeated SIPI) to a CPU that waits changes nothing: it is
     * already "after INIT". One to a running CPU the guest did not park
     * first is sent for real: the CPU takes it as an INIT exit.
     */
    if (mode == ICR_MODE_INIT && c->sipi_received) {
      send(c->apic_id << 24, icr_low & ~(ICR_DEST_LOGICAL | (3U << 18)));
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
    log_printf("apic: every waiting CPU has its SIPI, the guest owns its local APIC again\n");
  } else {
    guest_ept_map_page(trap.base, trap.base, 0, MEMTYPE_UC);
  }
  cpu->apic_step = false;
  /* The instruction's own flags stay; TF and IF are the guest's again. */
  uword_t rflags = vmcs_readnw(VMCS_GUEST_RFLAGS) & ~(uword_t)(RFLAGS_TF | RFLAGS_IF);
  vmcs_writenw(VMCS_GUEST_RFLAGS, rflags | cpu->apic_step_rflags);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, cpu->apic_step_exceptions);
  guest_nmi_hold(cpu, false);
  quiesce_end(cpu);
  return true;
}

uint32_t apic_trap_wait_for_sipi(struct cpu *cpu) {
  while (!__atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE)) {
    cpu_pause();
  }
  return cpu->sipi_vector;
}
