/* SPDX-License-Identifier: Apache-2.0 */
/* Guest port I/O to the ports xhv intercepts; what each does is in xhv/guest_io.h. */
#include "xhv/guest_io.h"

#include "xhv/cpu_ops.h"
#include "xhv/guest.h"
#include "xhv/hypapp.h"
#include "xhv/log.h"
#include "xhv/quiesce.h"
#include "xhv/serial.h"
#include "xhv/vmcs.h"

#define UART_PORTS 8U
#define PM1_CNT_BYTES 2U
#define PM1_SLP_EN (1U << 13)
#define RFLAGS_DF (1U << 10)
#define QUAL_SIZE(q) ((uint32_t)((q) & 7U) + 1U)
#define QUAL_IN (1U << 3)
#define QUAL_STRING (1U << 4)
#define QUAL_REP (1U << 5)
#define QUAL_PORT(q) ((uint16_t)((q) >> 16))
/* VM-exit instruction information for INS/OUTS: bits 9:7 address size. */
#define INFO_ADDR_SIZE(i) (((i) >> 7) & 7U)

static uint16_t pm1a_cnt;
static uint32_t uart_writes_dropped;

void guest_io_watch_pm1(uint16_t port) { pm1a_cnt = port; }

uint32_t guest_io_uart_writes_dropped(void) {
  return __atomic_load_n(&uart_writes_dropped, __ATOMIC_RELAXED);
}

static bool in_range(uint16_t port, uint32_t size, uint16_t base, uint32_t count) {
  return (uint32_t)port + size > base && port < (uint32_t)base + count;
}

/* The bits of PM1a_CNT an access of `size` bytes at `port` writes, from `value`. */
static uint32_t pm1_bits(uint16_t port, uint32_t size, uint32_t value) {
  uint32_t bits = 0;
  for (uint32_t i = 0; i < size; i++) {
    uint32_t at = (uint32_t)port + i;
    if (at >= pm1a_cnt && at < (uint32_t)pm1a_cnt + PM1_CNT_BYTES) {
      bits |= ((value >> (8U * i)) & 0xFFU) << (8U * (at - pm1a_cnt));
    }
  }
  return bits;
}

static void power_off_notice(struct cpu *cpu, uint16_t port, uint32_t value) {
  log_printf("vmx: CPU %u: guest enters ACPI sleep (PM1 control 0x%04x <- 0x%04x)\n", cpu->index,
             port, value);
  if (xhv_hypapp.shutdown) {
    quiesce_begin(cpu);
    xhv_hypapp.shutdown(cpu);
    quiesce_end(cpu);
  }
  vmexit_print_summary();
  log_flush();
}

/* One access of `size` bytes; *value is what an OUT writes or what an IN returns. */
static void port_access(struct cpu *cpu, uint16_t port, uint32_t size, bool in, uint32_t *value) {
  uint32_t mask = size == 4U ? 0xFFFFFFFFU : (1U << (8U * size)) - 1U;
  if (in_range(port, size, SERIAL_COM1, UART_PORTS)) {
    if (in) {
      *value = mask; /* no UART here, as far as the guest can tell */
    } else {
      __atomic_add_fetch(&uart_writes_dropped, 1U, __ATOMIC_RELAXED);
    }
    return;
  }
  if (in) {
    *value = size == 1U ? cpu_inb(port) : size == 2U ? cpu_inw(port) : cpu_inl(port);
    return;
  }
  uint32_t v = *value & mask;
  if (pm1a_cnt != 0U && in_range(port, size, pm1a_cnt, PM1_CNT_BYTES) &&
      (pm1_bits(port, size, v) & PM1_SLP_EN)) {
    power_off_notice(cpu, port, v);
  }
  if (size == 1U) {
    cpu_outb(port, (uint8_t)v);
  } else if (size == 2U) {
    cpu_outw(port, (uint16_t)v);
  } else {
    cpu_outl(port, v);
  }
}

/* reg += delta within the instruction's address size (a 32-bit one zero-extends, as writes do). */
static uword_t step(uword_t reg, sword_t delta, uint32_t addr_size) {
  if (addr_size == 0U) {
    return (reg & ~(uword_t)0xFFFFU) | ((reg + (uword_t)delta) & 0xFFFFU);
  }
  if (addr_size == 1U) {
    return (uword_t)(uint32_t)(reg + (uword_t)delta);
  }
  return reg + (uword_t)delta;
}

static uword_t count_of(uword_t rcx, uint32_t addr_size) {
  return addr_size == 0U ? rcx & 0xFFFFU : addr_size == 1U ? (uword_t)(uint32_t)rcx : rcx;
}

/*
 * INS/OUTS: one element per exit. A REP with more to do leaves RIP on the
 * instruction, which runs (and exits) again, interruptibly, as the CPU
 * itself lets interrupts in between iterations.
 */
static enum vmexit_action string_io(struct cpu *cpu, struct cpu_regs *regs, uword_t q) {
  uint32_t size = QUAL_SIZE(q);
  bool in = (q & QUAL_IN) != 0;
  bool rep = (q & QUAL_REP) != 0;
  uint32_t addr_size = INFO_ADDR_SIZE(vmcs_read32(VMCS_VM_EXIT_INSTRUCTION_INFO));
  if (rep && count_of(regs->cx, addr_size) == 0U) {
    return VMEXIT_HANDLED_ADVANCE;
  }
  uint64_t la = vmcs_readnw(VMCS_GUEST_LINEAR_ADDRESS);
  uint32_t access = guest_cpl() == 3U ? GPT_ACC_USER : 0U;
  uint32_t value = 0;
  if (in) {
    port_access(cpu, QUAL_PORT(q), size, true, &value);
    if (!guest_linear_write(la, &value, size, access)) {
      return VMEXIT_HANDLED; /* the fault is injected */
    }
  } else {
    if (!guest_linear_read(la, &value, size, access)) {
      return VMEXIT_HANDLED;
    }
    port_access(cpu, QUAL_PORT(q), size, false, &value);
  }
  sword_t delta = (vmcs_readnw(VMCS_GUEST_RFLAGS) & RFLAGS_DF) ? -(sword_t)size : (sword_t)size;
  if (in) {
    regs->di = step(regs->di, delta, addr_size);
  } else {
    regs->si = step(regs->si, delta, addr_size);
  }
  if (rep) {
    regs->cx = step(regs->cx, -1, addr_size);
    if (count_of(regs->cx, addr_size) != 0U) {
      return VMEXIT_HANDLED;
    }
  }
  return VMEXIT_HANDLED_ADVANCE;
}

enum vmexit_action guest_io_exit(struct cpu *cpu, struct cpu_regs *regs, struct vmexit_info *exit) {
  uword_t q = vmexit_qualification(exit);
  uint32_t size = QUAL_SIZE(q);
  if (size != 1U && size != 2U && size != 4U) {
    return VMEXIT_FATAL; /* the CPU reports no other sizes */
  }
  if (q & QUAL_STRING) {
    return string_io(cpu, regs, q);
  }
  uword_t mask = size == 4U ? 0xFFFFFFFFU : (1U << (8U * size)) - 1U;
  uint32_t value = (uint32_t)(regs->ax & mask);
  bool in = (q & QUAL_IN) != 0;
  port_access(cpu, QUAL_PORT(q), size, in, &value);
  if (in) {
    /* A 32-bit IN zero-extends into RAX, narrower ones merge (SDM "IN"). */
    regs->ax = size == 4U ? (uword_t)value : (regs->ax & ~mask) | value;
  }
  return VMEXIT_HANDLED_ADVANCE;
}
