/* SPDX-License-Identifier: Apache-2.0 */
/* helloworld: the smallest hypapp; its one hypercall proves every other CPU is stopped. */
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/smp.h"

/* RAX/EAX = HELLO_HC_QUIESCE: returns how many other CPUs were parked. */
#define HELLO_HC_QUIESCE 0x58480001U

static void hello_init(struct cpu *cpu) {
  log_printf("helloworld: CPU %u ready\n", cpu->index);
}

static bool hello_hypercall(struct cpu *cpu, struct cpu_regs *regs) {
  (void)cpu;
  if ((uint32_t)regs->ax != HELLO_HC_QUIESCE) {
    return false;
  }
  /* The core quiesced every other CPU before calling us: count them. */
  uint32_t parked = 0;
  for (uint32_t i = 0; i < smp_cpu_count(); i++) {
    const struct cpu *c = cpu_by_index(i);
    if (c != cpu && __atomic_load_n(&c->quiesced, __ATOMIC_ACQUIRE)) {
      parked++;
    }
  }
  regs->ax = parked;
  return true;
}

const struct hypapp xhv_hypapp = {
    .name = "helloworld",
    .init = hello_init,
    .hypercall = hello_hypercall,
    .shutdown = 0,
};
