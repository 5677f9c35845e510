/* SPDX-License-Identifier: Apache-2.0 */
/* xhv_main: the common C entry point both images jump to from their boot stub. */
#include "xhv/acpi.h"
#include "xhv/boot.h"
#include "xhv/cpu_ops.h"
#include "xhv/log.h"
#include "xhv/multiboot.h"
#include "xhv/percpu.h"
#include "xhv/version.h"

#define POWEROFF_GRACE_SPINS 50000000U

static const struct multiboot_info *boot_info;

static XHV_NORETURN void power_off(void) {
  struct acpi_s5 s5;
  if (acpi_find_s5(&s5)) {
    log_printf("xhv: done, powering off (ACPI S5 via port 0x%x)\n", s5.pm1a_cnt);
    log_flush();
    acpi_poweroff(&s5);
    /* Emulators act on the S5 write a moment later; don't report failure early. */
    for (uint32_t i = 0; i < POWEROFF_GRACE_SPINS; i++) {
      cpu_pause();
    }
  }
  log_printf("xhv: done, ACPI power-off unavailable, halting\n");
  log_flush();
  cpu_halt_forever();
}

/* The BSP's life after the boot stack: on its own per-CPU host stack. */
static void bsp_main(struct cpu *cpu) {
  cpu_tables_load(cpu);
  const struct multiboot_info *mbi = boot_info;
  if (mbi->flags & MULTIBOOT_INFO_CMDLINE) {
    log_printf("boot: command line \"%s\"\n", (const char *)(uword_t)mbi->cmdline);
  }
  if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
    log_printf("boot: %u KiB low memory, %u KiB above 1 MiB\n", mbi->mem_lower, mbi->mem_upper);
  }
  power_off();
}

void xhv_main(uint32_t magic, uint32_t mbi_addr) {
  log_init();

  struct cpu_summary cpu;
  char banner[512];
  cpu_summary_read(&cpu);
  banner_format(banner, sizeof(banner), &cpu);
  log_printf("%s", banner);

  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
    log_printf("boot: not started by a multiboot loader (magic 0x%08x), halting\n", magic);
    log_flush();
    cpu_halt_forever();
  }
  boot_info = (const struct multiboot_info *)(uword_t)mbi_addr;
  cpu_tables_init();
  struct cpu *bsp = percpu_init(0, 0);
  arch_call_on_stack(cpu_stack_top(bsp), bsp_main, bsp);
}
