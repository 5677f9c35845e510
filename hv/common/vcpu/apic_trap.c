/* SPDX-License-Identifier: Apache-2.0 */
/* Virtual INIT/SIPI through a trapped local APIC page and single-stepping. */
#include "xhv/apic_trap.h"

#include "xhv/cpu_ops.h"
#include "xhv/ept.h"
#include "xhv/guest.h"
#include "xhv/guest_ept.h"
#include "xhv/heap.h"
#include "xhv/log.h"
#include "xhv/quiesce.h"
#include "xhv/smp.h"
#include "xhv/vmcs.h"

#define LAPIC_ICR_LOW 0x300U
#define LAPIC_ICR_HIGH 0x310U
#define ICR_DELIVERY_MODE(v) (((v) >> 8) & 7U)
#define ICR_MODE_INIT 5U
#define ICR_MODE_STARTUP 6U
#define ICR_DEST_LOGICAL (1U << 11)
#define ICR_SHORTHAND(v) (((v) >> 18) & 3U)
#define ICR_SHORTHAND_MASK (3U << 18)
#define SHORTHAND_NONE 0U
#define SHORTHAND_SELF 1U
#define SHORTHAND_ALL 2U
#define SHORTHAND_ALL_BUT_SELF 3U
#define RFLAGS_TF (1U << 8)
#define RFLAGS_IF (1U << 9)
#define INTERRUPTIBILITY_STI_MOVSS 3U
#define DEBUGCTL_BTF (1ULL << 1)
#define MEMTYPE_UC 0U
#define VECTOR_GP 13U
#define VECTOR_DB 1U
/* A #DB exit's qualification, as DR6 would have had it (SDM "Exit Qualification"). */
#define DB_QUAL_BS (1U << 14)
#define PENDING_DBG_BS (1ULL << 14)
#define DR6_B0_B3 0xFU             /* the only bits of DR6 a #DB clears */
#define DR6_FIXED_ONES 0xFFFF0FF0U /* the reserved bits, and RTM (no transaction) */
#define DR7_ENABLED(dr7, n) (((dr7) >> (2U * (n))) & 3U)
#define DR7_RW(dr7, n) (((dr7) >> (16U + 4U * (n))) & 3U) /* 0: an instruction breakpoint */

static struct {
  volatile bool active;
  uint64_t base;
  volatile uint32_t *shadow; /* RAM page standing in for the APIC during ICR writes */
  uint64_t shadow_pa;
  uint32_t waiting; /* CPUs with awaiting_sipi set */
} trap;

/* This CPU's own local APIC (the hypervisor maps physical memory 1:1). */
static volatile uint32_t *own_apic(void) {
  return (volatile uint32_t *)(uword_t)trap.base;
}

/*
 * Everything that reads or changes the trap's state (the waiting count, the
 * page's mapping, each CPU's SIPI state) runs with every other CPU
 * quiesced: the step of a trapped access holds the quiesce across its one
 * guest instruction, and apic_trap_step_end ends it at the next exit of
 * that CPU, whatever it is. So no other CPU reaches the APIC page while it
 * is mapped for one CPU's instruction (an ICR write of theirs would land in
 * the stand-in, a timer write be lost).
 */

/* The page trapped (not present) or handed to the guest; quiesced. */
static void map_trap(bool trapped) {
  trap.active = trapped;
  guest_ept_map_page(trap.base, trap.base, trapped ? 0U : EPT_READ | EPT_WRITE, MEMTYPE_UC);
}

/* `c` now waits for a SIPI (counted, and the page trapped while any CPU does); quiesced. */
static void start_waiting(struct cpu *c) {
  if (c->awaiting_sipi) {
    return;
  }
  c->awaiting_sipi = true;
  if (trap.waiting++ == 0U && !trap.active) {
    map_trap(true);
  }
}

/* `c` waits no more; the last one to stop hands the page back at the step's end. */
static void stop_waiting(struct cpu *c) {
  if (c->awaiting_sipi) {
    c->awaiting_sipi = false;
    trap.waiting--;
  }
}

void apic_trap_init(uint64_t apic_base, uint32_t cpu_count) {
  trap.base = apic_base;
  trap.shadow = heap_alloc_pages(1, 1, &trap.shadow_pa);
  if (cpu_count < 2U) {
    return;
  }
  quiesce_begin(this_cpu());
  for (uint32_t i = 0; i < cpu_count; i++) {
    struct cpu *c = cpu_by_index(i);
    if (!c->is_bsp) {
      start_waiting(c);
    }
  }
  quiesce_end(this_cpu());
  log_printf("apic: trapping the guest's local APIC at 0x%llx until %u AP(s) get their SIPI\n",
             (unsigned long long)apic_base, trap.waiting);
}

bool apic_trap_park(struct cpu *cpu, bool wake_on_nmi, uint32_t *vector) {
  quiesce_begin(cpu);
  if (!cpu->sipi_received && !cpu->awaiting_sipi) {
    start_waiting(cpu);
    log_printf("apic: CPU %u waits for a SIPI: the guest's local APIC is trapped\n", cpu->index);
  }
  quiesce_end(cpu);
  /*
   * After an INIT (the one this wait is for, or one the guest sent the
   * halted CPU meanwhile) nothing but the SIPI ends the wait, as in the
   * hardware's wait-for-SIPI: were an NMI to stop it, the SIPI would find
   * the CPU not waiting and be lost.
   */
  while (!__atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE) &&
         (!wake_on_nmi || __atomic_load_n(&cpu->init_received, __ATOMIC_ACQUIRE) ||
          __atomic_load_n(&cpu->guest_nmi_owed, __ATOMIC_ACQUIRE) == 0U)) {
    cpu_pause();
  }
  quiesce_begin(cpu);
  bool started = __atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE) != 0U;
  if (started) {
    __atomic_store_n(&cpu->sipi_received, 0U, __ATOMIC_RELEASE); /* consumed */
    *vector = cpu->sipi_vector;
  } else {
    stop_waiting(cpu);
    if (trap.waiting == 0U && trap.active) {
      map_trap(false);
    }
  }
  quiesce_end(cpu);
  return started;
}

bool apic_trap_ept_violation(struct cpu *cpu, uint64_t gpa, uint32_t access, bool delivering) {
  if (!trap.active || gpa - trap.base >= PAGE_SIZE) {
    return false;
  }
  if ((access & EPT_EXEC) || delivering) {
    /*
     * Code, a stack an event pushes to, or a descriptor table on the APIC
     * page: nothing a guest does, and nothing one instruction's step could
     * contain. The guest gets the fault a page it may not use gives.
     */
    guest_inject_exception(VECTOR_GP, true, 0);
    return true;
  }
  quiesce_begin(cpu); /* ended by apic_trap_step_end, at this CPU's next exit */
  if (!trap.active) {
    quiesce_end(cpu); /* handed back meanwhile: the access just runs again */
    return true;
  }
  uint32_t offset = (uint32_t)(gpa - trap.base);
  /*
   * Only a write of ICR low sends; ICR high, the destination, is written to
   * the CPU's own APIC like any other register (each CPU has its own, and
   * another CPU's step may come between a CPU's two writes).
   */
  bool icr = (access & EPT_WRITE) && offset - LAPIC_ICR_LOW < 4U;
  /* One instruction's worth of mapping: the ICR stand-in, or the real APIC. */
  if (icr) {
    /* A narrow or unaligned write changes part of it: the rest as the register holds it. */
    trap.shadow[LAPIC_ICR_LOW / 4U] = own_apic()[LAPIC_ICR_LOW / 4U];
  }
  /*
   * A read step maps the real APIC read-only: an instruction that also
   * writes the page (MOVS from it, say) exits again for the write, which
   * then takes its own step (the stand-in, if it is the ICR's).
   */
  guest_ept_map_page(trap.base, icr ? trap.shadow_pa : trap.base,
                     (access & EPT_WRITE) ? EPT_READ | EPT_WRITE : EPT_READ, MEMTYPE_UC);
  cpu->apic_step = true;
  cpu->apic_step_offset = icr ? LAPIC_ICR_LOW : 0U;
  cpu->apic_step_rip = vmcs_readnw(VMCS_GUEST_RIP);
  /*
   * Step exactly the access: trap flag on, and neither an interrupt nor an
   * NMI may slip in and run guest code (an EOI, say) against the stand-in:
   * interrupts off, and the guest's NMIs held back (not virtual-NMI
   * blocking, which Bochs 2.7 keeps set until the guest's next IRET).
   * Every exception exits, and any exit ends the step.
   */
  uword_t rflags = vmcs_readnw(VMCS_GUEST_RFLAGS);
  cpu->apic_step_rflags = rflags & (RFLAGS_TF | RFLAGS_IF);
  vmcs_writenw(VMCS_GUEST_RFLAGS, (rflags | RFLAGS_TF) & ~(uword_t)RFLAGS_IF);
  cpu->apic_step_exceptions = vmcs_read32(VMCS_EXCEPTION_BITMAP);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, 0xFFFFFFFFU);
  guest_nmi_hold(cpu, true);
  /*
   * No STI or MOV SS shadow into the step (with IF clear, blocking by STI
   * fails VM entry, and blocking by MOV SS under TF wants a pending BS):
   * it covered only this instruction, and nothing is delivered before it
   * anyway. And no branch trap flag, which would make TF trap at the next
   * branch instead of after this instruction.
   */
  uint32_t intr = vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO);
  vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~INTERRUPTIBILITY_STI_MOVSS);
  cpu->apic_step_debugctl = vmcs_read64(VMCS_GUEST_IA32_DEBUGCTL);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, cpu->apic_step_debugctl & ~DEBUGCTL_BTF);
  return true;
}

/*
 * Sends an IPI for real from this CPU's APIC. A forwarded INIT leaves its
 * destination in ICR high (Linux writes ICR high before every IPI).
 */
static void send(uint32_t icr_high, uint32_t icr_low) {
  own_apic()[LAPIC_ICR_HIGH / 4U] = icr_high;
  own_apic()[LAPIC_ICR_LOW / 4U] = icr_low;
}

static void deliver(uint32_t icr_low, uint32_t dest, struct cpu *self) {
  uint32_t mode = ICR_DELIVERY_MODE(icr_low);
  uint32_t shorthand = ICR_SHORTHAND(icr_low);
  if (mode != ICR_MODE_INIT && mode != ICR_MODE_STARTUP) {
    /* Not a start-up IPI: as the guest wrote it, to the destination it wrote. */
    own_apic()[LAPIC_ICR_LOW / 4U] = icr_low;
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
    if (mode == ICR_MODE_STARTUP) {
      /* A SIPI starts a CPU that waits for one; to any other it means nothing (SDM). */
      if (c->awaiting_sipi) {
        c->sipi_vector = icr_low & 0xFFU;
        stop_waiting(c);
        __atomic_store_n(&c->init_received, 0U, __ATOMIC_RELEASE);
        __atomic_store_n(&c->sipi_received, 1U, __ATOMIC_RELEASE);
      }
    } else if (c->awaiting_sipi) {
      /* Waits already (halted, or never started): from now on only its SIPI ends the wait. */
      __atomic_store_n(&c->init_received, 1U, __ATOMIC_RELEASE);
    } else if (!c->is_bsp) {
      /*
       * An INIT to a running AP the guest did not park first: sent for
       * real (the CPU takes it as an INIT exit), and the CPU waits for its
       * SIPI from now on, so one that comes before it gets there counts.
       * The BSP is never INITed by an OS, and is not here.
       */
      start_waiting(c);
      send(c->apic_id << 24, icr_low & ~(ICR_DEST_LOGICAL | ICR_SHORTHAND_MASK));
    }
  }
}

/* Whether the guest, left to itself, would single-step: its own TF, and no BTF. */
static bool guest_single_steps(const struct cpu *cpu) {
  return (cpu->apic_step_rflags & RFLAGS_TF) && !(cpu->apic_step_debugctl & DEBUGCTL_BTF);
}

/*
 * The guest's own debug traps that the step's #DB exit took in: its single
 * step of the instruction (or of one iteration of a REP string one), and
 * the data breakpoints the access hit that its DR7 enables, also those a
 * MOV SS before it left pending. It gets them as the CPU would have given
 * them: DR6 names them (B0-B3 anew, its other bits kept, as the CPU keeps
 * them), and a #DB follows the instruction.
 */
static void deliver_guest_debug_traps(const struct cpu *cpu) {
  uint64_t qualification = vmcs_readnw(VMCS_EXIT_QUALIFICATION);
  uint64_t dr7 = vmcs_readnw(VMCS_GUEST_DR7);
  uint32_t hits = 0;
  for (uint32_t n = 0; n < 4U; n++) {
    if ((qualification & (1ULL << n)) && DR7_ENABLED(dr7, n) != 0U && DR7_RW(dr7, n) != 0U) {
      hits |= 1U << n;
    }
  }
  if (guest_single_steps(cpu) && (qualification & DB_QUAL_BS)) {
    hits |= DB_QUAL_BS;
  }
  if (hits != 0U) {
    cpu_write_dr6((cpu_read_dr6() & ~(uword_t)DR6_B0_B3) | DR6_FIXED_ONES | hits);
    guest_inject_exception(VECTOR_DB, false, 0);
  }
}

bool apic_trap_step_end(struct cpu *cpu, bool completed) {
  if (!cpu->apic_step) {
    return false;
  }
  if (completed) {
    deliver_guest_debug_traps(cpu); /* the step's #DB exit, whether or not RIP moved */
  }
  /*
   * Only a completed write counts, one after which the instruction is done
   * (RIP moved on: a #DB before it, a breakpoint's, is no completion);
   * the stand-in's bytes are dropped otherwise.
   */
  completed = completed && vmcs_readnw(VMCS_GUEST_RIP) != cpu->apic_step_rip;
  if (completed && cpu->apic_step_offset == LAPIC_ICR_LOW) {
    deliver(trap.shadow[LAPIC_ICR_LOW / 4U], own_apic()[LAPIC_ICR_HIGH / 4U] >> 24, cpu);
  }
  if (trap.waiting == 0U) {
    map_trap(false);
    log_printf("apic: no CPU waits for a SIPI, the guest owns its local APIC again\n");
  } else {
    guest_ept_map_page(trap.base, trap.base, 0, MEMTYPE_UC);
  }
  cpu->apic_step = false;
  /* The instruction's own flags stay; TF and IF are the guest's again. */
  uword_t rflags = vmcs_readnw(VMCS_GUEST_RFLAGS) & ~(uword_t)(RFLAGS_TF | RFLAGS_IF);
  vmcs_writenw(VMCS_GUEST_RFLAGS, rflags | cpu->apic_step_rflags);
  vmcs_write32(VMCS_EXCEPTION_BITMAP, cpu->apic_step_exceptions);
  vmcs_write64(VMCS_GUEST_IA32_DEBUGCTL, vmcs_read64(VMCS_GUEST_IA32_DEBUGCTL) |
                                             (cpu->apic_step_debugctl & DEBUGCTL_BTF));
  /*
   * A stepped MOV SS or POP SS defers the step's trap past the next
   * instruction; if that one exited, the CPU may have saved the step's BS
   * as pending. Pending now is only the guest's own single step, and only
   * behind STI or MOV SS blocking, where VM entry wants BS to say exactly
   * whether the guest steps (TF and no BTF): else a guest could make the
   * entry fail.
   */
  uint64_t pending = vmcs_readnw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS) & ~PENDING_DBG_BS;
  if ((vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY_INFO) & INTERRUPTIBILITY_STI_MOVSS) &&
      guest_single_steps(cpu)) {
    pending |= PENDING_DBG_BS;
  }
  vmcs_writenw(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, pending);
  guest_nmi_hold(cpu, false);
  quiesce_end(cpu);
  return true;
}

uint32_t apic_trap_wait_for_sipi(struct cpu *cpu) {
  while (!__atomic_load_n(&cpu->sipi_received, __ATOMIC_ACQUIRE)) {
    cpu_pause();
  }
  __atomic_store_n(&cpu->sipi_received, 0U, __ATOMIC_RELEASE); /* consumed */
  return cpu->sipi_vector;
}
