/* SPDX-License-Identifier: Apache-2.0 */
/* Guest-side checks of the hypervisor underneath, its quiesce hypercall, and its costs. */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HV_CPUID_LEAF 0x40000000U

/* Answered by the hypervisor core without quiescing: returns 0. */
#define XHV_HC_NOP 0x58480000U

/* helloworld's hypercall: quiesces every CPU, returns how many others were parked. */
#define HELLO_HC_QUIESCE 0x58480001U

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
          "       hvcheck quiesce N    then N quiescing hypercalls, each checking that\n"
          "                            every other CPU was parked\n"
          "       hvcheck bench N      then cost per operation in TSC ticks, median of N\n"
          "                            batches\n");
  return 2;
}

static int check_signature(void) {
  unsigned a, b, c, d;
  char sig[13];
  __cpuid(HV_CPUID_LEAF, a, b, c, d);
  memcpy(sig, &b, 4);
  memcpy(sig + 4, &c, 4);
  memcpy(sig + 8, &d, 4);
  sig[12] = '\0';
  printf("XHV-GUEST: hv_signature=%s\n", sig);
  printf("XHV-GUEST: hv_max_leaf=0x%08x\n", a);
  unsigned long ret = vmcall(BAD_HYPERCALL);
  printf("XHV-GUEST: bad_hypercall_returned=0x%lx\n", ret);
  if (strcmp(sig, "XhvXhvXhvXhv") != 0) {
    printf("XHV-RESULT: FAIL CPUID 0x40000000 signature is \"%s\"\n", sig);
    return 1;
  }
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

enum op { OP_PLAIN, OP_CPUID, OP_VMCALL_NOP, OP_VMCALL_QUIESCE, OP_COUNT };

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
      vmcall(HELLO_HC_QUIESCE);
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
  return usage();
}
