/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rt_kexec STAGE: boots the ring-0 red-team stage (ring0.c) in place of the
 * running kernel, with kexec_load and reboot(LINUX_REBOOT_CMD_KEXEC), as a
 * hostile root can. The stage is an i386 ELF linked at RING0_BASE; this
 * loader lends it [RING0_BASE, RING0_LOAD_END) and fills in its parameters:
 * the CPUs' NMI counts now (the judge balances the hypervisor's injected
 * NMIs against them plus the stage's own), the ACPI PM1a control port from
 * the FADT, the hypervisor image's address from the kernel command line.
 * Returns only if the kexec fails; the stage powers the machine off.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <elf.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "redteam/ring0.h"
#include "tools/nmi_counts.h"

/*
 * System call numbers by hand: the i686 guest toolchain finds no i386
 * <asm/unistd.h>, so <sys/syscall.h> does not compile there.
 */
#if defined(__x86_64__)
#define NR_KEXEC_LOAD 246
#define NR_REBOOT 169
#else
#define NR_KEXEC_LOAD 283
#define NR_REBOOT 88
#endif
/*
 * The running kernel's own architecture, which a 32-bit process under a
 * 64-bit kernel must name (the compat call refuses KEXEC_ARCH_DEFAULT).
 */
#define KEXEC_ARCH_386 (3UL << 16)
#define KEXEC_ARCH_X86_64 (62UL << 16)
#define LINUX_REBOOT_MAGIC1 0xfee1dead
#define LINUX_REBOOT_MAGIC2 672274793
#define LINUX_REBOOT_CMD_KEXEC 0x45584543
#define FADT_PM1A_CNT_BLK 64

struct kexec_segment {
  const void *buf;
  size_t bufsz;
  const void *mem;
  size_t memsz;
};

static int die(const char *what) {
  printf("XHV-RESULT: FAIL redteam rt_kexec: %s\n", what);
  fflush(stdout);
  return 1;
}

/*
 * Where the hypervisor's image sits (xhv moves it at boot): xhv's CPUID
 * leaf 0x40000001, EAX:EBX. 0 if there is none or it is out of the stage's
 * 32-bit reach.
 */
static uint32_t hv_image(void) {
  unsigned a, b, c, d;
  __cpuid(0x40000001U, a, b, c, d);
  (void)c;
  (void)d;
  return b == 0 ? a : 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: rt_kexec STAGE.elf\n");
    return 2;
  }
  static uint8_t image[RING0_LOAD_END - RING0_BASE];
  FILE *f = fopen(argv[1], "rb");
  static uint8_t file[256 * 1024];
  size_t size = f ? fread(file, 1, sizeof(file), f) : 0;
  if (f) {
    fclose(f);
  }
  const Elf32_Ehdr *eh = (const Elf32_Ehdr *)file;
  if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
      eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf32_Phdr) > size) {
    return die("the stage is no i386 ELF");
  }
  const Elf32_Phdr *ph = (const Elf32_Phdr *)(file + eh->e_phoff);
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD) {
      continue;
    }
    if (ph[i].p_paddr < RING0_BASE || ph[i].p_paddr + ph[i].p_memsz > RING0_LOAD_END ||
        ph[i].p_offset + ph[i].p_filesz > size) {
      return die("a stage segment lies outside the range it is given");
    }
    memcpy(image + (ph[i].p_paddr - RING0_BASE), file + ph[i].p_offset, ph[i].p_filesz);
  }

  struct ring0_params *p = (struct ring0_params *)(image + (RING0_PARAMS - RING0_BASE));
  p->magic = RING0_PARAMS_MAGIC;
  unsigned long nmis[RING0_MAX_CPUS];
  p->cpus = nmi_counts(nmis, RING0_MAX_CPUS);
  for (unsigned c = 0; c < p->cpus; c++) {
    p->nmis[c] = (uint32_t)nmis[c];
  }
  p->hv_image = hv_image();
  if (p->hv_image == 0) {
    return die("xhv's CPUID leaf 0x40000001 names no image below 4 GiB");
  }
  p->com = 0x2F8; /* the guest console, ttyS1 */
  uint8_t fadt[FADT_PM1A_CNT_BLK + 4];
  int fd = open("/sys/firmware/acpi/tables/FACP", O_RDONLY);
  if (fd < 0 || read(fd, fadt, sizeof(fadt)) != (ssize_t)sizeof(fadt)) {
    return die("cannot read the FADT for the power-off port");
  }
  close(fd);
  memcpy(&p->pm1a_cnt, fadt + FADT_PM1A_CNT_BLK, 4);

  struct utsname u;
  uname(&u);
  bool kernel64 = strcmp(u.machine, "x86_64") == 0;
  unsigned long entry = kernel64 ? RING0_ENTRY64 : RING0_ENTRY32;
  struct kexec_segment seg = {image, sizeof(image), (const void *)(uintptr_t)RING0_BASE,
                              sizeof(image)};
  printf("XHV-GUEST: redteam_kexec=loading entry=0x%lx kernel=%s cpus=%u pm1a_cnt=0x%x\n", entry,
         u.machine, p->cpus, p->pm1a_cnt);
  fflush(stdout);
  if (syscall(NR_KEXEC_LOAD, entry, 1UL, &seg, kernel64 ? KEXEC_ARCH_X86_64 : KEXEC_ARCH_386) !=
      0) {
    perror("kexec_load");
    return die("kexec_load refused the stage");
  }
  sync();
  syscall(NR_REBOOT, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, 0);
  perror("reboot");
  return die("the kexec reboot returned");
}
