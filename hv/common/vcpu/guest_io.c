/* SPDX-License-Identifier: Apache-2.0 */
/* Guest port I/O to the ports xhv intercepts; what each does is in xhv/guest_io.h. */
#include "xhv/guest_io.h"

#include "xhv/acpi.h"
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
#define PM1_SLP_TYP_SHIFT 10U
#define PM1_SLP_TYP_MASK 7U
#define PORT_SYSTEM_CONTROL_A 0x92U
#define SYSTEM_CONTROL_A_RESET 0x01U
#define PORT_KBC_COMMAND 0x64U
/* Commands F0h-FFh pulse the output port bits whose bit in the command is 0; bit 0 is reset. */
#define KBC_PULSE_MASK 0xF0U
#define KBC_PULSE_RESET 0x01U
#define KBC_PULSE 0xFEU
#define PORT_KBC_DATA 0x60U
#define KBC_WRITE_OUTPUT_PORT 0xD1U /* the next data byte is the output port */
#define KBC_OUTPUT_PORT_RESET 0x01U /* bit 0 low: the CPU's reset line asserted */
#define PORT_RESET_CONTROL 0xCF9U
#define RESET_CONTROL_SYS_RST 0x02U
#define RESET_CONTROL_RST_CPU 0x04U
#define RESET_CONTROL_HARD 0x08U
#define RFLAGS_DF (1U << 10)
#define QUAL_SIZE(q) ((uint32_t)((q) & 7U) + 1U)
#define QUAL_IN (1U << 3)
#define QUAL_STRING (1U << 4)
#define QUAL_REP (1U << 5)
#define QUAL_PORT(q) ((uint16_t)((q) >> 16))
/* VM-exit instruction information for INS/OUTS: bits 9:7 address size. */
#define INFO_ADDR_SIZE(i) (((i) >> 7) & 7U)

/* The sleep and reset ports this machine has (guest_io_watch_sleep, guest_io_watch_reset). */
static struct acpi_s5 sleep;
static bool have_sleep;
static struct acpi_reset acpi_reset;
static bool have_acpi_reset;
static uint32_t uart_writes_dropped;

void guest_io_watch_sleep(const struct acpi_s5 *s5) {
  sleep = *s5;
  have_sleep = true;
}

void guest_io_watch_reset(const struct acpi_reset *reset) {
  acpi_reset = *reset;
  have_acpi_reset = true;
}

uint32_t guest_io_uart_writes_dropped(void) {
  return __atomic_load_n(&uart_writes_dropped, __ATOMIC_RELAXED);
}

static bool in_range(uint16_t port, uint32_t size, uint16_t base, uint32_t count) {
  return (uint32_t)port + size > base && port < (uint32_t)base + count;
}

/* The bits of the 16-bit register at `reg` an access of `size` bytes at `port` writes. */
static uint32_t reg16_bits(uint16_t reg, uint16_t port, uint32_t size, uint32_t value) {
  uint32_t bits = 0;
  for (uint32_t i = 0; i < size; i++) {
    uint32_t at = (uint32_t)port + i;
    if (at >= reg && at < (uint32_t)reg + PM1_CNT_BYTES) {
      bits |= ((value >> (8U * i)) & 0xFFU) << (8U * (at - reg));
    }
  }
  return bits;
}

/*
 * The guest's end (power-off or reset): every other CPU quiesced, the
 * hypapp's shutdown, the exit summary. Returns with the others still
 * parked: the caller lets them go (a sleep write) or never does (a reset).
 */
static void end_of_guest(struct cpu *cpu) {
  quiesce_begin(cpu);
  if (xhv_hypapp.shutdown) {
    xhv_hypapp.shutdown(cpu);
  }
  vmexit_print_summary();
  log_flush();
}

/*
 * A write to a PM1 control register that sets SLP_EN: true to let it
 * through. S5 (power-off) ends the guest first. Any other sleep state is
 * refused: the hypervisor does not survive S1-S4 (its VMX state is gone
 * when the firmware wakes the machine, straight into the guest's waking
 * vector, with every PAL's memory intact), so the write is dropped, and
 * the guest stays awake as if its sleep had failed.
 */
static bool sleep_write(struct cpu *cpu, uint16_t port, uint32_t bits, uint8_t s5_type) {
  uint32_t type = (bits >> PM1_SLP_TYP_SHIFT) & PM1_SLP_TYP_MASK;
  if (type != s5_type) {
    log_printf("vmx: CPU %u: guest asked for ACPI sleep type %u (PM1 control 0x%04x <- 0x%04x): "
               "refused, only S5 (type %u) is let through\n",
               cpu->index, type, port, bits, s5_type);
    return false;
  }
  log_printf("vmx: CPU %u: guest enters ACPI sleep (PM1 control 0x%04x <- 0x%04x)\n", cpu->index,
             port, bits);
  end_of_guest(cpu);
  /*
   * If the machine does not go off (a PM1b block still to write, say), the
   * guest runs on without its PALs: they are scrubbed and gone.
   */
  quiesce_end(cpu);
  return true;
}

/* The keyboard controller's next data byte is its output port (after command D1h). */
static bool kbc_output_port_next;

/* Whether a byte `value` written to `port` resets the machine, and how; 0 if not. */
static const char *reset_byte(uint16_t port, uint8_t value, bool byte_access) {
  if (have_acpi_reset && port == acpi_reset.port && value == acpi_reset.value) {
    return "ACPI reset register";
  }
  /* 0xCF9 is decoded for byte accesses only: a dword at 0xCF8 is PCI's address register. */
  if (port == PORT_RESET_CONTROL && byte_access && (value & RESET_CONTROL_RST_CPU)) {
    return "reset control register 0xcf9";
  }
  if (port == PORT_KBC_COMMAND) {
    kbc_output_port_next = value == KBC_WRITE_OUTPUT_PORT;
    if ((value & KBC_PULSE_MASK) == KBC_PULSE_MASK && !(value & KBC_PULSE_RESET)) {
      return "keyboard controller reset pulse";
    }
  }
  if (port == PORT_KBC_DATA && kbc_output_port_next) {
    kbc_output_port_next = false;
    if (!(value & KBC_OUTPUT_PORT_RESET)) {
      return "keyboard controller output port, reset line low";
    }
  }
  if (port == PORT_SYSTEM_CONTROL_A && (value & SYSTEM_CONTROL_A_RESET)) {
    return "fast reset, port 0x92";
  }
  return 0;
}

/*
 * Whether a write of `value` (`size` bytes at `port`) resets the machine:
 * each byte it covers, as the legacy bus splits a wide write into byte
 * cycles. 0 if not.
 */
static const char *reset_write(uint16_t port, uint32_t size, uint32_t value) {
  for (uint32_t i = 0; i < size; i++) {
    const char *how =
        reset_byte((uint16_t)(port + i), (uint8_t)(value >> (8U * i)), size == 1U);
    if (how) {
      return how;
    }
  }
  return 0;
}

void guest_reset_machine(struct cpu *cpu, const char *how) {
  log_printf("vmx: CPU %u: guest resets the machine (%s)\n", cpu->index, how);
  end_of_guest(cpu);
  /*
   * The scrub's zeros to memory: a reset empties the caches without
   * writing them back, and DRAM would keep the PALs' old contents. (The
   * other CPUs are parked; their caches are coherent with this one's.)
   */
  cpu_wbinvd();
  /*
   * Every PAL is scrubbed and every other CPU parked: now the reset, by
   * each way a PC has, in case one is missing. RAM keeps its contents
   * across a warm reset; nothing secret is left in it.
   */
  if (have_acpi_reset) {
    cpu_outb(acpi_reset.port, acpi_reset.value);
  }
  cpu_outb(PORT_RESET_CONTROL, RESET_CONTROL_HARD | RESET_CONTROL_SYS_RST);
  cpu_outb(PORT_RESET_CONTROL, RESET_CONTROL_HARD | RESET_CONTROL_SYS_RST | RESET_CONTROL_RST_CPU);
  cpu_outb(PORT_KBC_COMMAND, KBC_PULSE);
  cpu_outb(PORT_SYSTEM_CONTROL_A, SYSTEM_CONTROL_A_RESET);
  log_printf("vmx: CPU %u: the machine did not reset: halting, the other CPUs stay parked\n",
             cpu->index);
  log_flush();
  cpu_halt_forever();
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
  if (have_sleep) {
    const uint16_t regs[2] = {sleep.pm1a_cnt, sleep.pm1b_cnt};
    const uint8_t s5_types[2] = {sleep.slp_typ_a, sleep.slp_typ_b};
    for (uint32_t i = 0; i < 2U; i++) {
      uint32_t bits = regs[i] != 0U && in_range(port, size, regs[i], PM1_CNT_BYTES)
                          ? reg16_bits(regs[i], port, size, v)
                          : 0U;
      if ((bits & PM1_SLP_EN) && !sleep_write(cpu, regs[i], bits, s5_types[i])) {
        return;
      }
    }
  }
  const char *reset = reset_write(port, size, v);
  if (reset) {
    guest_reset_machine(cpu, reset);
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
  bool moved;
  /*
   * The memory side runs quiesced: its checks and its copy must see one
   * state of the EPT and of the hypapp's lent pages, not one from before a
   * park and one from after. The port side does not (power-off and reset
   * quiesce themselves).
   */
  if (in) {
    port_access(cpu, QUAL_PORT(q), size, true, &value);
    quiesce_begin(cpu);
    moved = guest_linear_write(la, &value, size, access);
    quiesce_end(cpu);
    if (!moved) {
      return VMEXIT_HANDLED; /* the fault is injected */
    }
  } else {
    quiesce_begin(cpu);
    moved = guest_linear_read(la, &value, size, access);
    quiesce_end(cpu);
    if (!moved) {
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
