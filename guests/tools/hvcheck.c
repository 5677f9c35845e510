/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-side checks of the hypervisor underneath, its quiesce hypercalls, and their costs. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pal_demo/pagemap.h"
#include "pal_demo/vmcall.h"

#define HV_CPUID_LEAF 0x40000000U
#define HV_CPUID_IMAGE 0x40000001U
#define XHV_SIGNATURE "XhvXhvXhvXhv"

/* Answered by the hypervisor core without quiescing: returns 0. */
#define XHV_HC_NOP 0x58480000U

/*
 * helloworld's hypercalls (hypapps/helloworld/helloworld.c has the ABI):
 * QUIESCE returns how many other CPUs are parked; STOPPED (RBX: the
 * guest-physical address of a 32-bit counter, RCX: TSC ticks) watches the
 * counter for that long with every other CPU quiesced and returns the CPUs
 * parked in RAX, the counter's change meanwhile in RBX, the value it read
 * first in RCX.
 */
#define HELLO_HC_QUIESCE 0x58480001U
#define HELLO_HC_STOPPED 0x58480002U

/*
 * Under TrustVisor the quiescing hypercall timed is TV_HC_UNREG of an entry
 * nothing registered: TrustVisor answers it (error class TV_ERR_TABLE, as
 * hypapps/trustvisor/trustvisor.h defines it) without logging or scrubbing.
 */
#define TV_ERR_TABLE 0x200U

/* An unknown hypercall number: the hypervisor must answer with an error, not halt. */
#define BAD_HYPERCALL 0x7FFF0001U

static unsigned long vmcall(unsigned long nr) {
  unsigned long ret = nr;
  __asm__ volatile("vmcall" : "+a"(ret) : : "memory");
  return ret;
}

static int usage(void) {
  fprintf(stderr,
          "usage: hvcheck              the hypervisor's CPUID leaf and a bad hypercall\n"
          "       hvcheck identify     which hypervisor and hypapp run beneath, if any;\n"
          "                            safe without a hypervisor (no VMCALL then)\n"
          "       hvcheck image        where xhv's image sits in physical memory\n"
          "       hvcheck tsc          the time stamp counter now (since power-on: xhv\n"
          "                            does not offset it); safe without a hypervisor\n"
          "       hvcheck quiesce N    then N quiescing hypercalls, each checking that\n"
          "                            every other CPU was parked\n"
          "       hvcheck stopped N    then N times: a counter the other CPUs increment\n"
          "                            in guest mode must not move while they are\n"
          "                            quiesced (and must move while they are not)\n"
          "       hvcheck bench N      then cost per operation in TSC ticks, median of N\n"
          "                            batches\n");
  return 2;
}

static void hv_signature(char sig[13], unsigned *max_leaf) {
  unsigned b, c, d;
  __cpuid(HV_CPUID_LEAF, *max_leaf, b, c, d);
  memcpy(sig, &b, 4);
  memcpy(sig + 4, &c, 4);
  memcpy(sig + 8, &d, 4);
  sig[12] = '\0';
}

enum hypapp { HYPAPP_NONE, HYPAPP_HELLOWORLD, HYPAPP_TRUSTVISOR, HYPAPP_UNKNOWN };

static const char *const hypapp_names[] = {"none", "helloworld", "trustvisor", "unknown"};

/*
 * Which hypapp runs: TrustVisor answers its CPUID leaf; helloworld answers
 * its QUIESCE hypercall with a CPU count (any other hypapp with -1). Only
 * under xhv: without it, VMCALL is an invalid opcode.
 */
static enum hypapp which_hypapp(void) {
  char sig[13];
  unsigned max_leaf;
  hv_signature(sig, &max_leaf);
  if (strcmp(sig, XHV_SIGNATURE) != 0) {
    return HYPAPP_NONE;
  }
  uint32_t r[4];
  tv_cpuid(TV_CPUID_LEAF, r);
  if (r[0] == TV_CPUID_SIGNATURE) {
    return HYPAPP_TRUSTVISOR;
  }
  return vmcall(HELLO_HC_QUIESCE) != (unsigned long)-1 ? HYPAPP_HELLOWORLD : HYPAPP_UNKNOWN;
}

static int identify(void) {
  char sig[13];
  unsigned max_leaf;
  hv_signature(sig, &max_leaf);
  int xhv = strcmp(sig, XHV_SIGNATURE) == 0;
  printf("XHV-GUEST: hypervisor=%s\n", xhv ? "xhv" : "none");
  printf("XHV-GUEST: hypapp=%s\n", hypapp_names[which_hypapp()]);
  return 0;
}

/* Where xhv's image sits (CPUID 0x40000001: it moves at boot), for the probes of hidden memory. */
static int image(void) {
  char sig[13];
  unsigned max_leaf;
  hv_signature(sig, &max_leaf);
  if (strcmp(sig, XHV_SIGNATURE) != 0 || max_leaf < HV_CPUID_IMAGE) {
    fprintf(stderr, "hvcheck image: no xhv beneath\n");
    return 1;
  }
  unsigned a, b, c, d;
  __cpuid(HV_CPUID_IMAGE, a, b, c, d);
  (void)d;
  printf("0x%llx\n", (unsigned long long)b << 32 | a);
  return c != 0 ? 0 : 1;
}

static int check_signature(void) {
  char sig[13];
  unsigned a;
  hv_signature(sig, &a);
  printf("XHV-GUEST: hv_signature=%s\n", sig);
  printf("XHV-GUEST: hv_max_leaf=0x%08x\n", a);
  if (strcmp(sig, XHV_SIGNATURE) != 0) {
    printf("XHV-RESULT: FAIL CPUID 0x40000000 signature is \"%s\"\n", sig);
    return 1;
  }
  unsigned long ret = vmcall(BAD_HYPERCALL);
  printf("XHV-GUEST: bad_hypercall_returned=0x%lx\n", ret);
  if (ret != (unsigned long)-1) {
    printf("XHV-RESULT: FAIL an unknown hypercall returned 0x%lx, not -1\n", ret);
    return 1;
  }
  return 0;
}

static int quiesce(long rounds) {
  unsigned long others = (unsigned long)sysconf(_SC_NPROCESSORS_ONLN) - 1UL;
  for (long i = 0; i < rounds; i++) {
    unsigned long parked = vmcall(HELLO_HC_QUIESCE);
    if (parked != others) {
      printf("XHV-RESULT: FAIL quiesce hypercall %ld parked %lu CPUs, not %lu\n", i, parked,
             others);
      return 1;
    }
  }
  printf("XHV-GUEST: quiesce_hypercalls=%ld\n", rounds);
  return 0;
}

static inline uint64_t tsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
  return ((uint64_t)hi << 32) | lo;
}

/*
 * How long each side watches the counter, in TSC ticks: thousands of a
 * spinner's increments (a few instructions each), yet short enough that
 * the whole check stays well under a second of guest time.
 */
#define WATCH_TICKS 100000UL

/* The page the spinners and the hypervisor share: the counter, and when to stop. */
struct watched {
  volatile uint32_t counter;
  volatile uint32_t stop;
  volatile uint32_t started;
};

static void spin_on(struct watched *w, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    _exit(1);
  }
  __atomic_add_fetch(&w->started, 1U, __ATOMIC_SEQ_CST);
  while (!w->stop) {
    __atomic_add_fetch(&w->counter, 1U, __ATOMIC_RELAXED);
  }
  _exit(0);
}

static unsigned long stopped_call(uint64_t gpa, unsigned long ticks, unsigned long *moved,
                                  unsigned long *first) {
  unsigned long ax = HELLO_HC_STOPPED, bx = (unsigned long)gpa, cx = ticks;
  __asm__ volatile("vmcall" : "+a"(ax), "+b"(bx), "+c"(cx) : : "memory");
  *moved = bx;
  *first = cx;
  return ax;
}

/*
 * The quiesce's own proof: a process on every other CPU increments one
 * counter in guest mode. Each round first watches it from here for
 * WATCH_TICKS (it must move: the spinners run), then asks helloworld to
 * watch it as long with every other CPU quiesced: it must not move, and
 * the value helloworld read must lie between what this CPU read just
 * before and just after (so it read this counter, not a stale page).
 */
static int stopped(long rounds) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int self = sched_getcpu();
  struct watched *w = mmap(NULL, PAGEMAP_PAGE_BYTES, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED || mlock((void *)w, PAGEMAP_PAGE_BYTES) != 0 || cpus < 2 || self < 0) {
    printf("XHV-RESULT: FAIL hvcheck stopped: no pinned shared page, or fewer than 2 CPUs\n");
    return 1;
  }
  w->counter = 0;
  uint64_t gpa = gpa_of(w);
  if (gpa == 0) {
    printf("XHV-RESULT: FAIL hvcheck stopped: no guest-physical address for the counter\n");
    return 1;
  }
  pid_t pids[64];
  long spinners = 0;
  for (long cpu = 0; cpu < cpus && spinners < 64; cpu++) {
    if (cpu == self) {
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      spin_on(w, (int)cpu);
    }
    pids[spinners++] = pid;
  }
  while (w->started != (uint32_t)spinners) {
    sched_yield();
  }
  int failed = 0;
  unsigned long moved_total = 0, control_min = (unsigned long)-1;
  long i;
  for (i = 0; i < rounds && !failed; i++) {
    uint32_t c0 = w->counter;
    uint64_t t0 = tsc();
    while (tsc() - t0 < WATCH_TICKS) {
    }
    uint32_t before = w->counter;
    unsigned long control = (uint32_t)(before - c0);
    unsigned long moved, first;
    unsigned long parked = stopped_call(gpa, WATCH_TICKS, &moved, &first);
    uint32_t after = w->counter;
    control_min = control < control_min ? control : control_min;
    moved_total += moved;
    if (control == 0) {
      printf("XHV-RESULT: FAIL hvcheck stopped: round %ld: the counter did not move "
             "while the other CPUs ran (no spinner running: the check proves nothing)\n", i);
      failed = 1;
    } else if (parked != (unsigned long)(cpus - 1)) {
      printf("XHV-RESULT: FAIL hvcheck stopped: round %ld: helloworld returned 0x%lx, "
             "not %ld parked CPUs\n", i, parked, cpus - 1);
      failed = 1;
    } else if (moved != 0) {
      printf("XHV-RESULT: FAIL hvcheck stopped: round %ld: the counter moved by %lu while "
             "every other CPU was quiesced\n", i, moved);
      failed = 1;
    } else if ((uint32_t)(first - before) > (uint32_t)(after - before)) {
      printf("XHV-RESULT: FAIL hvcheck stopped: round %ld: helloworld read %lu, outside "
             "[%u, %u] that this CPU read around the call\n", i, first, before, after);
      failed = 1;
    }
  }
  w->stop = 1;
  for (long k = 0; k < spinners; k++) {
    waitpid(pids[k], NULL, 0);
  }
  if (!failed && gpa_of(w) != gpa) {
    printf("XHV-RESULT: FAIL hvcheck stopped: the counter's page moved during the check\n");
    failed = 1;
  }
  if (failed) {
    return 1;
  }
  printf("XHV-GUEST: stopped_rounds=%ld\n", i);
  printf("XHV-GUEST: stopped_moved=%lu\n", moved_total);
  printf("XHV-GUEST: stopped_control_min=%lu increments in %lu ticks\n", control_min,
         WATCH_TICKS);
  return 0;
}

enum op { OP_PLAIN, OP_CPUID, OP_VMCALL_NOP, OP_VMCALL_QUIESCE, OP_COUNT };

/* The quiescing hypercall bench times: one the running hypapp answers itself. */
static enum hypapp bench_hypapp;

static const char *const op_names[OP_COUNT] = {"plain", "cpuid", "vmcall_nop",
                                               "vmcall_quiesce"};

/* Ticks for `n` repetitions of `op`, loop overhead included (it is the same for every op). */
static uint64_t run_op(enum op op, unsigned n) {
  unsigned a, b, c, d;
  uint64_t t0 = tsc();
  for (unsigned i = 0; i < n; i++) {
    switch (op) {
    case OP_PLAIN:
      /* Ten dependent register adds: what "a few plain instructions" cost. */
      __asm__ volatile(".rept 10\n\tadd $1, %0\n\t.endr" : "+r"(a));
      break;
    case OP_CPUID:
      __cpuid(0, a, b, c, d);
      break;
    case OP_VMCALL_NOP:
      vmcall(XHV_HC_NOP);
      break;
    case OP_VMCALL_QUIESCE:
      if (bench_hypapp == HYPAPP_TRUSTVISOR) {
        tv_vmcall(TV_HC_UNREG, 0, 0, 0, 0);
      } else {
        vmcall(HELLO_HC_QUIESCE);
      }
      break;
    default:
      break;
    }
  }
  (void)b;
  (void)c;
  (void)d;
  return tsc() - t0;
}

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

/*
 * Self-calibrating, as kvm-unit-tests' vmexit tests do: the batch size of
 * each operation doubles until a batch takes at least MIN_BATCH_TICKS, so
 * cheap and dear operations are both timed well above the TSC's own
 * granularity; the figure is the median over `batches` batches, per op.
 */
#define MIN_BATCH_TICKS 200000ULL
#define MAX_BATCH 1048576U

static int bench(long batches) {
  if (batches < 1 || batches > 1001) {
    return usage();
  }
  bench_hypapp = which_hypapp();
  unsigned long answer;
  if (bench_hypapp == HYPAPP_TRUSTVISOR) {
    answer = tv_vmcall(TV_HC_UNREG, 0, 0, 0, 0);
    printf("XHV-GUEST: bench_vmcall_quiesce_hypercall=trustvisor TV_HC_UNREG, nothing "
           "registered: 0x%lx\n", answer);
    if ((answer & 0xF00UL) != TV_ERR_TABLE) {
      printf("XHV-RESULT: FAIL hvcheck bench: TrustVisor answered TV_HC_UNREG of nothing with "
             "0x%lx, not a TV_ERR_TABLE error\n", answer);
      return 1;
    }
  } else if (bench_hypapp == HYPAPP_HELLOWORLD) {
    answer = vmcall(HELLO_HC_QUIESCE);
    printf("XHV-GUEST: bench_vmcall_quiesce_hypercall=helloworld HELLO_HC_QUIESCE: %lu\n",
           answer);
  } else {
    printf("XHV-RESULT: FAIL hvcheck bench: no hypapp with a known quiescing hypercall (%s)\n",
           hypapp_names[bench_hypapp]);
    return 1;
  }
  uint64_t *per_op = calloc((size_t)batches, sizeof(*per_op));
  if (!per_op) {
    return 1;
  }
  for (int op = 0; op < OP_COUNT; op++) {
    unsigned n = 1;
    while (n < MAX_BATCH && run_op((enum op)op, n) < MIN_BATCH_TICKS) {
      n *= 2;
    }
    for (long i = 0; i < batches; i++) {
      per_op[i] = run_op((enum op)op, n) / n;
    }
    qsort(per_op, (size_t)batches, sizeof(*per_op), cmp_u64);
    printf("XHV-GUEST: bench_%s_ticks=%llu\n", op_names[op],
           (unsigned long long)per_op[batches / 2]);
    printf("XHV-GUEST: bench_%s_batch=%u\n", op_names[op], n);
  }
  free(per_op);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "identify") == 0) {
    return identify();
  }
  if (argc == 2 && strcmp(argv[1], "image") == 0) {
    return image();
  }
  if (argc == 2 && strcmp(argv[1], "tsc") == 0) {
    printf("XHV-GUEST: tsc_at_init=%llu\n", (unsigned long long)tsc());
    return 0;
  }
  if (argc != 1 && argc != 3) {
    return usage();
  }
  if (check_signature() != 0) {
    return 1;
  }
  if (argc == 1) {
    return 0;
  }
  char *end;
  long n = strtol(argv[2], &end, 10);
  if (*end != '\0' || n < 0) {
    return usage();
  }
  if (strcmp(argv[1], "quiesce") == 0) {
    return quiesce(n);
  }
  if (strcmp(argv[1], "bench") == 0) {
    return bench(n);
  }
  if (strcmp(argv[1], "stopped") == 0) {
    return stopped(n);
  }
  return usage();
}
