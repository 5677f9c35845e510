/* SPDX-License-Identifier: Apache-2.0 */
/* helloworld: the smallest hypapp; its hypercalls prove every other CPU is stopped. */
#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/guest_mem.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/smp.h"

/*
 * The hypercall ABI (VMCALL, number in EAX/RAX; the core quiesces every
 * other CPU around each, guests/tools/hvcheck.c calls them):
 *
 * HELLO_HC_QUIESCE: returns in RAX how many other CPUs are marked quiesced.
 *
 * HELLO_HC_STOPPED: RBX = guest-physical address of a 32-bit counter (4-byte
 * aligned) that the guest keeps incrementing on the other CPUs, RCX = TSC
 * ticks to watch it (at most HELLO_MAX_WATCH). Reads the counter, waits,
 * reads it again. Returns RAX = other CPUs marked quiesced, RBX = how much
 * the counter moved meanwhile (0 if those CPUs really stopped running guest
 * code, which their marks alone cannot show), RCX = the value read first.
 * RAX = HELLO_ERR_ADDRESS if RBX is not ordinary guest memory.
 */
#define HELLO_HC_QUIESCE 0x58480001U
#define HELLO_HC_STOPPED 0x58480002U
#define HELLO_ERR_ADDRESS ((uword_t)-2)
#define HELLO_MAX_WATCH 10000000ULL

static void hello_init(struct cpu *cpu) {
  log_printf("helloworld: CPU %u ready\n", cpu->index);
}

static uint32_t others_quiesced(const struct cpu *self) {
  uint32_t parked = 0;
  for (uint32_t i = 0; i < smp_cpu_count(); i++) {
    const struct cpu *c = cpu_by_index(i);
    if (c != self && __atomic_load_n(&c->quiesced, __ATOMIC_ACQUIRE)) {
      parked++;
    }
  }
  return parked;
}

static void hello_stopped(struct cpu *cpu, struct cpu_regs *regs) {
  uint64_t gpa = regs->bx;
  uint64_t watch = regs->cx < HELLO_MAX_WATCH ? regs->cx : HELLO_MAX_WATCH;
  uint32_t first = 0;
  uint32_t last = 0;
  if ((gpa & 3U) != 0U || !guest_mem_read(0, gpa, &first, sizeof(first))) {
    regs->ax = HELLO_ERR_ADDRESS;
    return;
  }
  uint64_t t0 = cpu_rdtsc();
  while (cpu_rdtsc() - t0 < watch) {
    cpu_pause();
  }
  if (!guest_mem_read(0, gpa, &last, sizeof(last))) {
    regs->ax = HELLO_ERR_ADDRESS;
    return;
  }
  regs->ax = others_quiesced(cpu);
  regs->bx = (uint32_t)(last - first);
  regs->cx = first;
}

static bool hello_hypercall(struct cpu *cpu, struct cpu_regs *regs) {
  switch ((uint32_t)regs->ax) {
  case HELLO_HC_QUIESCE:
    regs->ax = others_quiesced(cpu);
    return true;
  case HELLO_HC_STOPPED:
    hello_stopped(cpu, regs);
    return true;
  default:
    return false;
  }
}

const struct hypapp xhv_hypapp = {
    .name = "helloworld",
    .init = hello_init,
    .hypercall = hello_hypercall,
    .shutdown = 0,
};
