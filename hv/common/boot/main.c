/* SPDX-License-Identifier: Apache-2.0 */
/* xhv_main: the common C entry point both images jump to from their boot stub. */
#include "xhv/acpi.h"
#include "xhv/apic_trap.h"
#include "xhv/boot.h"
#include "xhv/cpu_ops.h"
#include "xhv/e820.h"
#include "xhv/guest_bios.h"
#include "xhv/guest_io.h"
#include "xhv/guest_mem.h"
#include "xhv/heap.h"
#include "xhv/log.h"
#include "xhv/multiboot.h"
#include "xhv/panic.h"
#include "xhv/percpu.h"
#include "xhv/pvh_boot.h"
#include "xhv/relocate.h"
#include "xhv/serial.h"
#include "xhv/smp.h"
#include "xhv/string.h"
#include "xhv/vcpu.h"
#include "xhv/version.h"

#define POWEROFF_GRACE_SPINS 50000000U
#define MIB (1ULL << 20)
/* The hypervisor's heap (VMX pages, EPT, hypapp state), reserved high in RAM. */
#define HEAP_SIZE (16ULL * MIB)
#define HEAP_ALIGN (2ULL * MIB)
#define HEAP_LIMIT (1ULL << 32) /* the i386 image reaches only the low 4 GiB */
#define DEFAULT_BOOT_DRIVE 0x80U
#define MBR_SIZE 512U
#define UART_PORTS 8U
#define MSR_IA32_APIC_BASE 0x1BU
#define APIC_BASE_MASK 0xFFFFFF000ULL
#define APIC_BASE_X2APIC (1ULL << 10)
#define BSP_GUEST_STACK 0x7000U
#define BSP_GUEST_FLAGS 0x202U /* IF, as a BIOS leaves it */

extern const uint8_t __image_start[];
extern const uint8_t __image_end[];

static const struct multiboot_info *boot_info;
static struct e820_map firmware_map;
static struct e820_map guest_map;
static struct guest_boot guest;
static struct acpi_s5 s5;
static bool have_s5;
static struct pvh_boot pvh;

static XHV_NORETURN void power_off(void) {
  if (have_s5) {
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

static void print_map(const char *title, const struct e820_map *m) {
  static const char *const types[] = {"?", "usable", "reserved", "ACPI", "ACPI NVS", "bad"};
  log_printf("e820: %s (%u entries)\n", title, m->count);
  for (uint32_t i = 0; i < m->count; i++) {
    const struct e820_entry *e = &m->entry[i];
    log_printf("e820:   [0x%016llx, 0x%016llx) %s\n", (unsigned long long)e->base,
               (unsigned long long)(e->base + e->length),
               e->type < XHV_ARRAY_SIZE(types) ? types[e->type] : "other");
  }
}

/* "boot_drive=0xNN" on the multiboot command line names the guest's BIOS drive. */
static uint8_t parse_boot_drive(const char *cmdline) {
  const char *key = "boot_drive=";
  for (const char *p = cmdline; p && *p; p++) {
    if (strncmp(p, key, strlen(key)) != 0 || (p != cmdline && p[-1] != ' ')) {
      continue;
    }
    p += strlen(key);
    uint32_t value = 0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
      p += 2;
    }
    for (; *p && *p != ' '; p++) {
      char c = *p;
      uint32_t digit = (c >= '0' && c <= '9')   ? (uint32_t)(c - '0')
                       : (c >= 'a' && c <= 'f') ? (uint32_t)(c - 'a' + 10)
                       : (c >= 'A' && c <= 'F') ? (uint32_t)(c - 'A' + 10)
                                                : 0x100U;
      if (digit > 0xFU) {
        xhv_panic("boot: bad boot_drive value on the command line \"%s\"", cmdline);
      }
      value = value * 16U + digit;
    }
    if (value > 0xFFU) {
      xhv_panic("boot: boot_drive must be a BIOS drive number (0x80..0xff)");
    }
    return (uint8_t)value;
  }
  return DEFAULT_BOOT_DRIVE;
}

/* "guest=pvh" on the multiboot command line: boot the guest kernel directly. */
static bool wants_pvh(const char *cmdline) {
  const char *key = "guest=pvh";
  for (const char *p = cmdline; p && *p; p++) {
    if (strncmp(p, key, strlen(key)) == 0 && (p == cmdline || p[-1] == ' ') &&
        (p[strlen(key)] == '\0' || p[strlen(key)] == ' ')) {
      return true;
    }
  }
  return false;
}

/* Builds the guest's memory map: the firmware's minus everything xhv owns. */
static void reserve_memory(const struct multiboot_info *mbi) {
  if (!(mbi->flags & MULTIBOOT_INFO_MMAP) ||
      e820_from_multiboot(&firmware_map, (const void *)(uword_t)mbi->mmap_addr,
                          mbi->mmap_length) != E820_OK) {
    xhv_panic("boot: the boot loader passed no usable memory map");
  }
  if (e820_normalize(&firmware_map) != E820_OK) {
    xhv_panic("boot: the boot loader's memory map has more pieces than xhv keeps (%u)",
              E820_MAX_ENTRIES);
  }
  print_map("firmware memory map", &firmware_map);

  uint64_t image_base = (uword_t)__image_start & ~(uint64_t)(PAGE_SIZE - 1U);
  uint64_t image_end = ((uword_t)__image_end + PAGE_SIZE - 1U) & ~(uint64_t)(PAGE_SIZE - 1U);
  /*
   * The heap must not land on the image or on what GRUB handed over (the
   * guest kernel and initramfs, the multiboot information it reads later).
   */
  struct e820_range avoid[BOOT_RANGES_MAX];
  uint32_t n = boot_ranges_in_use(mbi, image_base, image_end - image_base, avoid);
  if (n > BOOT_RANGES_MAX) {
    xhv_panic("boot: %u ranges (the image, modules and their strings) to keep the heap off, "
              "at most %u", n, BOOT_RANGES_MAX);
  }
  uint64_t heap_base;
  if (!e820_find_free_outside(&firmware_map, HEAP_SIZE, HEAP_ALIGN, HEAP_LIMIT, avoid, n,
                              &heap_base)) {
    xhv_panic("boot: no %llu MiB of free RAM below 4 GiB for the hypervisor",
              (unsigned long long)(HEAP_SIZE / MIB));
  }
  heap_init(heap_base, HEAP_SIZE);
  guest_map = firmware_map;
  if (e820_hide_range(&guest_map, image_base, image_end - image_base) != E820_OK ||
      e820_hide_range(&guest_map, heap_base, HEAP_SIZE) != E820_OK) {
    xhv_panic("boot: the memory map has no room for the hypervisor's entries");
  }
  log_printf("e820: hypervisor image [0x%llx, 0x%llx), heap [0x%llx, 0x%llx) hidden from the "
             "guest\n",
             (unsigned long long)image_base, (unsigned long long)image_end,
             (unsigned long long)heap_base, (unsigned long long)(heap_base + HEAP_SIZE));
  print_map("guest memory map", &guest_map);
  for (uint32_t i = 0; i < guest_map.count; i++) {
    uint64_t end = guest_map.entry[i].base + guest_map.entry[i].length;
    guest.map_top = end > guest.map_top ? end : guest.map_top;
  }
  guest.hide_base = heap_base;
  guest.hide_size = HEAP_SIZE;
  guest.second_hide_base = image_base;
  guest.second_hide_size = image_end - image_base;
}

/* The guest's boot sector: the first multiboot module (GRUB: `module (hd1)+1`). */
static const uint8_t *find_guest_mbr(const struct multiboot_info *mbi) {
  if (!(mbi->flags & MULTIBOOT_INFO_MODS) || mbi->mods_count == 0) {
    return 0;
  }
  const struct multiboot_mod *mod = (const struct multiboot_mod *)(uword_t)mbi->mods_addr;
  if (mod->mod_end - mod->mod_start < MBR_SIZE) {
    xhv_panic("boot: the guest boot sector module is %u bytes, not %u",
              mod->mod_end - mod->mod_start, MBR_SIZE);
  }
  const uint8_t *mbr = (const uint8_t *)(uword_t)mod->mod_start;
  if (mbr[510] != 0x55U || mbr[511] != 0xAAU) {
    xhv_panic("boot: the guest boot sector has no 0x55AA signature");
  }
  return mbr;
}

/* An AP waits in the hypervisor until the guest's start-up IPI names its vector. */
static void ap_main(struct cpu *cpu) {
  log_printf("vmx: CPU %u (APIC ID %u) ready, waiting for the guest's SIPI\n", cpu->index,
             cpu->apic_id);
  uint32_t vector = apic_trap_wait_for_sipi(cpu);
  log_printf("vmx: CPU %u: guest start-up IPI, vector 0x%02x\n", cpu->index, vector);
  const struct guest_start start = {.cs = (uint16_t)(vector << 8)};
  vmx_cpu_launch(cpu, &start);
}

/* The BSP's life after the boot stack: on its own per-CPU host stack. */
static void bsp_main(struct cpu *cpu) {
  cpu_tables_load(cpu);
  log_enable_mux();
  cpu->apic_id = lapic_id();
  const struct multiboot_info *mbi = boot_info;
  const char *cmdline =
      (mbi->flags & MULTIBOOT_INFO_CMDLINE) ? (const char *)(uword_t)mbi->cmdline : "";
  log_printf("boot: command line \"%s\"\n", cmdline);
  have_s5 = acpi_find_s5(&s5);

  bool direct = wants_pvh(cmdline);
  if (!direct) {
    guest.mbr = find_guest_mbr(mbi);
    if (guest.mbr == 0) {
      log_printf("boot: no guest boot sector module, nothing to run\n");
      power_off();
    }
    guest.boot_drive = parse_boot_drive(cmdline);
  }
  reserve_memory(mbi);
  log_printf("paging: identity map of physical memory up to 0x%llx\n",
             (unsigned long long)cpu_map_phys(guest.map_top));
  if (direct) {
    /* The kernel goes into guest RAM and gets the map that hides xhv: no INT 15h hook. */
    uint32_t rsdp = acpi_rsdp_address();
    enum pvh_status st =
        pvh_boot_prepare(mbi, &guest_map, &guest_map, rsdp, XHV_BITS == 64, &pvh);
    if (st != PVH_OK) {
      xhv_panic("direct boot: %s", pvh_status_name(st));
    }
    log_printf("pvh: kernel ELF%u, entry 0x%x, %u segments [0x%llx, 0x%llx), initramfs "
               "[0x%llx, 0x%llx), rsdp 0x%x, start_info 0x%x\n",
               pvh.kernel.elf64 ? 64U : 32U, pvh.kernel.entry, pvh.kernel.segment_count,
               (unsigned long long)pvh.kernel.low, (unsigned long long)pvh.kernel.high,
               (unsigned long long)pvh.plan.initrd_dest,
               (unsigned long long)(pvh.plan.initrd_dest + pvh.modules.initrd_len), rsdp,
               pvh.start_info);
    log_printf("pvh: command line \"%s\"\n", pvh.modules.cmdline);
  }
  guest_mem_init(&guest_map);
  vmx_machine_init(&guest);
  if (have_s5) {
    /* Both bytes of each 16-bit register: a write of either can set SLP_EN. */
    const uint16_t pm1[2] = {s5.pm1a_cnt, s5.pm1b_cnt};
    for (uint32_t i = 0; i < 2U; i++) {
      if (pm1[i] != 0U) {
        vmx_io_intercept_port(pm1[i]);
        vmx_io_intercept_port((uint16_t)(pm1[i] + 1U));
      }
    }
    guest_io_watch_sleep(&s5);
  }
  /* The ways a PC resets (xhv/guest_io.h): PALs are scrubbed before any of them. */
  static const uint16_t reset_ports[] = {0x60U, 0x64U, 0x92U, 0xCF9U};
  for (uint32_t i = 0; i < sizeof(reset_ports) / sizeof(reset_ports[0]); i++) {
    vmx_io_intercept_port(reset_ports[i]);
  }
  struct acpi_reset reset;
  if (acpi_find_reset(&reset)) {
    vmx_io_intercept_port(reset.port);
    guest_io_watch_reset(&reset);
    log_printf("acpi: reset register: port 0x%x, value 0x%x\n", reset.port, reset.value);
  }
  /* The log's UART is the hypervisor's alone: the guest's accesses exit (xhv/guest_io.h). */
  for (uint16_t p = 0; p < UART_PORTS; p++) {
    vmx_io_intercept_port((uint16_t)(SERIAL_COM1 + p));
  }

  if (!direct && !guest_mem_write(0, GUEST_BOOT_SECTOR, guest.mbr, MBR_SIZE)) {
    xhv_panic("boot: the boot sector's place 0x%x is not guest RAM", GUEST_BOOT_SECTOR);
  }
  /*
   * The BIOS answers E820 with the map that hides xhv on either path: a
   * directly booted kernel has its map from start_info, but anything that
   * later calls INT 15h in real mode (a kexec'd loader, say) asks the BIOS.
   */
  guest_bios_install_e820(&guest_map);
  if (cpu_rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_X2APIC) {
    /* The quiesce's NMIs, the AP start-up and the APIC trap all use the xAPIC's MMIO page. */
    xhv_panic("boot: the firmware left the local APIC in x2APIC mode; xhv needs xAPIC mode "
              "(turn x2APIC off in the firmware setup)");
  }
  smp_start_aps(ap_main);
  if (direct) {
    log_printf("smp: %u CPUs; booting the guest kernel directly (PVH)\n", smp_cpu_count());
  } else {
    log_printf("smp: %u CPUs; booting the guest from BIOS drive 0x%02x\n", smp_cpu_count(),
               guest.boot_drive);
  }
  apic_trap_init(cpu_rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_MASK, smp_cpu_count());
  struct guest_start start;
  memset(&start, 0, sizeof(start));
  if (direct) {
    start.pvh = true;
    start.pvh_entry = pvh.kernel.entry;
    start.pvh_start_info = pvh.start_info;
  } else {
    /* As a BIOS hands over to a boot sector: CS:IP = 0:7C00, DL = drive, interrupts on. */
    start.ip = GUEST_BOOT_SECTOR;
    start.sp = BSP_GUEST_STACK;
    start.flags = BSP_GUEST_FLAGS;
    start.dl = guest.boot_drive;
  }
  vmx_cpu_launch(cpu, &start);
}

/* Why image_relocate left the image where GRUB loaded it, for the log. */
static const char *reloc_stay_reason(enum reloc_status status) {
  switch (status) {
  case RELOC_NO_ROOM:
    return "no free RAM for it higher up";
  case RELOC_TOO_MANY_MODULES:
    return "more boot modules than it keeps clear of";
  case RELOC_NO_MAP:
    return "the boot loader's memory map is missing or unreadable";
  default:
    return "?";
  }
}

void xhv_main(uint32_t magic, uint32_t mbi_addr) {
  log_init();

  struct cpu_summary summary;
  char banner[512];
  cpu_summary_read(&summary);
  banner_format(banner, sizeof(banner), &summary);
  log_printf("%s", banner);

  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
    log_printf("boot: not started by a multiboot loader (magic 0x%08x), halting\n", magic);
    log_flush();
    cpu_halt_forever();
  }
  uword_t loaded_at;
  uint32_t places;
  enum reloc_status moved = image_relocation(&loaded_at, &places);
  if (moved == RELOC_MOVED) {
    image_release_original((const struct multiboot_info *)(uword_t)mbi_addr);
    log_printf("boot: image moved from 0x%llx to 0x%llx (%u addresses in it moved along)\n",
               (unsigned long long)loaded_at, (unsigned long long)(uword_t)__image_start, places);
  } else if (moved == RELOC_BAD_TABLE) {
    log_printf("boot: the image's relocation table is missing or does not match it: a broken "
               "build (toolchains/reloc_table.py), halting\n");
    log_flush();
    cpu_halt_forever();
  } else if (moved != RELOC_NOT_RUN) {
    log_printf("boot: image stays at 0x%llx (%s)\n", (unsigned long long)(uword_t)__image_start,
               reloc_stay_reason(moved));
  }
  boot_info = (const struct multiboot_info *)(uword_t)mbi_addr;
  cpu_tables_init();
  struct cpu *bsp = percpu_init(0, 0);
  arch_call_on_stack(cpu_stack_top(bsp), bsp_main, bsp);
}
