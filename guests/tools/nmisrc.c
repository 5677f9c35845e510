/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nmisrc: NMIs from a device, at times no CPU chooses.
 *
 * The legacy PIT (channel 0, one-shot mode 0) raises its output when a count
 * runs out; the I/O APIC pin wired to it is reprogrammed for NMI delivery to
 * one CPU. Each programmed count is one NMI, arriving whatever that CPU is
 * doing then: in the guest, in an exit handler, parked by a quiesce. This
 * is the emulator-independent stand-in for an NMI button (QMP inject-nmi),
 * which Bochs lacks. Linux no longer uses the PIT once its local APIC
 * timers run; the pin's entry is restored at the end.
 *
 *   nmisrc COUNT SEED   COUNT NMIs, the i-th to CPU i mod CPUs, each after a
 *                       random 0.1-2.5 ms; prints what each CPU was sent.
 *
 * Each NMI is paced: the next is programmed only once the target's NMI
 * count has moved (or after a second), so two of ours never meet in one
 * CPU's NMI latch, where the hardware would merge them.
 */
#define _FILE_OFFSET_BITS 64 /* the I/O APIC is above 2 GiB: a 32-bit off_t cannot say it */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tools/nmi_counts.h"

#define MAX_CPUS 64
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CH0_LOHI_MODE0 0x30
#define PIT_READBACK_STATUS_CH0 0xE2
#define PIT_STATUS_OUT 0x80
#define IOAPIC_REDTBL(pin) (0x10U + 2U * (pin))
#define IOAPIC_DM_NMI (4U << 8)
#define IOAPIC_MASKED (1U << 16)

static volatile uint32_t *ioapic;

static uint32_t ioapic_read(uint32_t reg) {
  ioapic[0] = reg;
  return ioapic[4];
}

static void ioapic_write(uint32_t reg, uint32_t value) {
  ioapic[0] = reg;
  ioapic[4] = value;
}

static int die(const char *what) {
  printf("XHV-RESULT: FAIL nmisrc: %s\n", what);
  return 1;
}

/*
 * The I/O APIC's address from /proc/iomem ("fec00000-fec003ff : IOAPIC 0"),
 * else the address every PC puts the first one at.
 */
#define IOAPIC_DEFAULT_BASE 0xFEC00000UL
#define ISA_TIMER_PIN 2U

static int find_ioapic(unsigned long *base) {
  FILE *f = fopen("/proc/iomem", "r");
  char line[256];
  int found = 0;
  while (f && !found && fgets(line, sizeof(line), f)) {
    found = strstr(line, "IOAPIC 0") && sscanf(line, " %lx-", base) == 1;
  }
  if (f) {
    fclose(f);
  }
  return found;
}

/*
 * The I/O APIC pin of IRQ 0, from its /proc/interrupts line ("  0: ...
 * IO-APIC 2-edge timer"). A kernel that routed its timer through the 8259
 * instead leaves the pin unused; the PIT is wired to pin 2 on PCs.
 */
static int find_timer_pin(unsigned *pin) {
  FILE *f = fopen("/proc/interrupts", "r");
  char line[512];
  int found = 0;
  while (f && !found && fgets(line, sizeof(line), f)) {
    const char *chip = strstr(line, "IO-APIC");
    found = strncmp(line, "  0:", 4) == 0 && chip && sscanf(chip + 7, " %u-", pin) == 1;
  }
  if (f) {
    fclose(f);
  }
  return found;
}

/* Local APIC IDs by CPU number, from /proc/cpuinfo. */
static int apic_ids(unsigned *ids) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  int n = 0;
  while (f && fgets(line, sizeof(line), f) && n < MAX_CPUS) {
    unsigned id;
    if (sscanf(line, "apicid : %u", &id) == 1) {
      ids[n++] = id;
    }
  }
  if (f) {
    fclose(f);
  }
  return n;
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: nmisrc COUNT SEED\n");
    return 2;
  }
  long count = strtol(argv[1], 0, 10);
  uint64_t seed = strtoull(argv[2], 0, 0) | 1U;
  unsigned long base;
  unsigned pin;
  unsigned ids[MAX_CPUS];
  unsigned long sent[MAX_CPUS] = {0}, before[MAX_CPUS], seen[MAX_CPUS];
  int cpus = apic_ids(ids);
  if (cpus < 1 || (int)nmi_counts(before, MAX_CPUS) != cpus) {
    return die("cannot read the CPUs' APIC IDs and NMI counts");
  }
  const char *base_from = "/proc/iomem", *pin_from = "/proc/interrupts";
  if (!find_ioapic(&base)) {
    base = IOAPIC_DEFAULT_BASE;
    base_from = "default";
  }
  if (!find_timer_pin(&pin)) {
    pin = ISA_TIMER_PIN;
    pin_from = "default";
  }
  printf("XHV-GUEST: nmi_device_ioapic=0x%lx (%s) pin %u (%s)\n", base, base_from, pin,
         pin_from);
  if (iopl(3) != 0) {
    return die("iopl(3) failed (not root?)");
  }
  int fd = open("/dev/mem", O_RDWR | O_SYNC);
  void *map = fd < 0 ? MAP_FAILED
                     : mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
  if (map == MAP_FAILED) {
    return die("cannot map the I/O APIC through /dev/mem");
  }
  ioapic = map;
  uint32_t saved_lo = ioapic_read(IOAPIC_REDTBL(pin));
  uint32_t saved_hi = ioapic_read(IOAPIC_REDTBL(pin) + 1U);
  long lost = 0;
  for (long i = 0; i < count; i++) {
    int cpu = (int)(i % cpus);
    nmi_counts(seen, MAX_CPUS);
    unsigned long target = seen[cpu];
    /* Masked while retargeting; the PIT's output is high (idle) here. */
    ioapic_write(IOAPIC_REDTBL(pin), IOAPIC_MASKED);
    ioapic_write(IOAPIC_REDTBL(pin) + 1U, ids[cpu] << 24);
    /* Mode 0: the output drops now and rises (one edge) when the count runs out. */
    unsigned ticks = 120U + (unsigned)(xorshift(&seed) % 2900U);
    outb(PIT_CH0_LOHI_MODE0, PIT_CMD);
    outb((uint8_t)ticks, PIT_CH0);
    ioapic_write(IOAPIC_REDTBL(pin), IOAPIC_DM_NMI | 2U);
    outb((uint8_t)(ticks >> 8), PIT_CH0);
    double deadline = now() + 1.0;
    do {
      outb(PIT_READBACK_STATUS_CH0, PIT_CMD);
    } while (!(inb(PIT_CH0) & PIT_STATUS_OUT) && now() < deadline);
    sent[cpu]++;
    while ((int)nmi_counts(seen, MAX_CPUS) == cpus && seen[cpu] == target && now() < deadline) {
      usleep(50);
    }
    lost += seen[cpu] == target;
  }
  ioapic_write(IOAPIC_REDTBL(pin), saved_lo | IOAPIC_MASKED);
  ioapic_write(IOAPIC_REDTBL(pin) + 1U, saved_hi);
  ioapic_write(IOAPIC_REDTBL(pin), saved_lo);
  printf("XHV-GUEST: nmi_device_sent=");
  for (int c = 0; c < cpus; c++) {
    printf("%s%lu", c ? " " : "", sent[c]);
  }
  printf("\nXHV-GUEST: nmi_device_unconfirmed=%ld\nXHV-GUEST: nmi_device_seed=%s\n", lost,
         argv[2]);
  return 0;
}
