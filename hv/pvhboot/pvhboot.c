/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvhboot: the bare-metal twin of xhv's direct boot. GRUB multiboots it
 * with the same kernel and initramfs modules as xhv; it builds the same
 * start_info (from hv/common/boot/pvh*.c), with the firmware's memory map
 * unedited, and jumps to the kernel's PVH entry. The baseline cells boot
 * through it, so bare and hypervisor runs start the kernel the same way.
 */
#include <stdarg.h>

#include "xhv/acpi.h"
#include "xhv/compiler.h"
#include "xhv/cpu_ops.h"
#include "xhv/e820.h"
#include "xhv/format.h"
#include "xhv/multiboot.h"
#include "xhv/pvh_boot.h"
#include "xhv/serial.h"
#include "xhv/version.h"

extern const uint8_t __image_start[];
extern const uint8_t __image_end[];

XHV_NORETURN void pvhboot_enter(uint32_t entry, uint32_t start_info);
XHV_NORETURN void pvhboot_main(uint32_t magic, uint32_t mbi_addr);

static void com1_putc(void *ctx, char c) {
  (void)ctx;
  if (c == '\n') {
    serial_putc(SERIAL_COM1, '\r');
  }
  serial_putc(SERIAL_COM1, c);
}

static void say(const char *fmt, ...) XHV_PRINTF(1, 2);
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  xhv_vformat(com1_putc, 0, fmt, ap);
  va_end(ap);
}

static XHV_NORETURN void stop(const char *fmt, ...) XHV_PRINTF(1, 2);
static XHV_NORETURN void stop(const char *fmt, ...) {
  va_list ap;
  say("pvhboot: PANIC: ");
  va_start(ap, fmt);
  xhv_vformat(com1_putc, 0, fmt, ap);
  va_end(ap);
  say("\n");
  serial_drain(SERIAL_COM1);
  for (;;) {
    __asm__ volatile("cli; hlt");
  }
}

static struct e820_map firmware_map;
static struct e820_map place_map;
static struct pvh_boot boot;

void pvhboot_main(uint32_t magic, uint32_t mbi_addr) {
  serial_init(SERIAL_COM1);
  say("pvhboot %s: PVH direct boot without a hypervisor\n", XHV_VERSION);
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
    stop("not started by a multiboot loader (magic 0x%08x)", magic);
  }
  const struct multiboot_info *mbi = (const struct multiboot_info *)(uword_t)mbi_addr;
  if (!(mbi->flags & MULTIBOOT_INFO_MMAP) ||
      e820_from_multiboot(&firmware_map, (const void *)(uword_t)mbi->mmap_addr,
                          mbi->mmap_length) != E820_OK ||
      e820_normalize(&firmware_map) != E820_OK) {
    stop("the boot loader passed no usable memory map");
  }
  /* The kernel gets the firmware's map; nothing may be put where pvhboot runs. */
  place_map = firmware_map;
  uint64_t image = (uword_t)__image_start;
  if (e820_hide_range(&place_map, image, (uword_t)__image_end - image) != E820_OK) {
    stop("the memory map has no room for pvhboot's own entry");
  }
  uint32_t rsdp = acpi_rsdp_address();
  enum pvh_status st = pvh_boot_prepare(mbi, &place_map, &firmware_map, rsdp, true, &boot);
  if (st != PVH_OK) {
    stop("direct boot: %s", pvh_status_name(st));
  }
  say("pvh: kernel ELF%u, entry 0x%x, %u segments [0x%llx, 0x%llx), initramfs [0x%llx, 0x%llx), "
      "rsdp 0x%x, start_info 0x%x\n",
      boot.kernel.elf64 ? 64U : 32U, boot.kernel.entry, boot.kernel.segment_count,
      (unsigned long long)boot.kernel.low, (unsigned long long)boot.kernel.high,
      (unsigned long long)boot.plan.initrd_dest,
      (unsigned long long)(boot.plan.initrd_dest + boot.modules.initrd_len), rsdp,
      boot.start_info);
  say("pvh: command line \"%s\"\n", boot.modules.cmdline);
  say("pvhboot: entering the kernel\n");
  serial_drain(SERIAL_COM1);
  pvhboot_enter(boot.kernel.entry, boot.start_info);
}
