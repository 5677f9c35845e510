/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lent_page_write: another CPU writes a page lent to a PAL while the PAL
 * runs on this one.
 *
 * Thread A (CPU 0) calls a PAL that spends a while writing a secret into
 * its DATA page. Thread B (CPU 1) waits until A is in the call, then writes
 * its own value into that same page (its process's memory, in its eyes)
 * and reads the whole page back. TrustVisor must revoke the PAL before B's
 * write lands: the page is scrubbed and given back, the PAL can no longer
 * reach it, and it ends with TV_ERR_REVOKED for A. B must find its own
 * value there and not one word of the PAL's secret, then or later.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pal_demo/vmcall.h"
#include "redteam/rt.h"

#define PAGE_WORDS (4096U / sizeof(uintptr_t))
#define SECRET ((uintptr_t)0x5EC7E75EC7E75EC7ULL)
#define MINE ((uintptr_t)0x0B0B0B0B0B0B0B0BULL)
#define WRITER_SLOT (PAGE_WORDS / 2U)
#define PAL_DONE 0x600DU
#define TRIES 3

/*
 * pal(data, iterations): fills the first half of `data` with SECRET, over
 * and over, `iterations` times; returns PAL_DONE. Hand-written for each ABI.
 */
#if defined(__x86_64__)
static const uint8_t pal_code[] = {
    0x48, 0xB8, 0xC7, 0x5E, 0xE7, 0xC7, 0x5E, 0xE7, 0xC7, 0x5E, /* movabs $SECRET, %rax */
    0x48, 0x89, 0xF1,                                           /* mov %rsi, %rcx */
    0x48, 0x89, 0xFA,                                           /* 1: mov %rdi, %rdx */
    0x41, 0xB8, 0x00, 0x01, 0x00, 0x00,                         /* mov $256, %r8d */
    0x48, 0x89, 0x02,                                           /* 2: mov %rax, (%rdx) */
    0x48, 0x83, 0xC2, 0x08,                                     /* add $8, %rdx */
    0x41, 0xFF, 0xC8,                                           /* dec %r8d */
    0x75, 0xF4,                                                 /* jnz 2b */
    0x48, 0xFF, 0xC9,                                           /* dec %rcx */
    0x75, 0xE6,                                                 /* jnz back to mov %rdi, %rdx */
    0xB8, 0x0D, 0x60, 0x00, 0x00,                               /* mov $PAL_DONE, %eax */
    0xC3,                                                       /* ret */
};
#else
static const uint8_t pal_code[] = {
    0xB8, 0xC7, 0x5E, 0xE7, 0xC7,       /* mov $SECRET, %eax (its low word) */
    0x8B, 0x4C, 0x24, 0x08,             /* mov 8(%esp), %ecx: iterations */
    0x8B, 0x54, 0x24, 0x04,             /* 1: mov 4(%esp), %edx: data */
    0x53,                               /* push %ebx */
    0xBB, 0x00, 0x02, 0x00, 0x00,       /* mov $512, %ebx */
    0x89, 0x02,                         /* 2: mov %eax, (%edx) */
    0x83, 0xC2, 0x04,                   /* add $4, %edx */
    0x4B,                               /* dec %ebx */
    0x75, 0xF8,                         /* jnz 2b */
    0x5B,                               /* pop %ebx */
    0x49,                               /* dec %ecx */
    0x75, 0xEA,                         /* jnz 1b */
    0xB8, 0x0D, 0x60, 0x00, 0x00,       /* mov $PAL_DONE, %eax */
    0xC3,                               /* ret */
};
#endif

static struct pal_handle pal;
static volatile int writer_ready, in_call;
static volatile uintptr_t *data;
static unsigned secret_seen, mine_seen;

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

static void *writer(void *arg) {
  (void)arg;
  writer_ready = 1;
  while (!in_call) {
  }
  struct timespec ts = {0, 2000000}; /* well inside the PAL's run */
  nanosleep(&ts, NULL);
  data[WRITER_SLOT] = MINE;
  for (unsigned i = 0; i < PAGE_WORDS; i++) {
    secret_seen += data[i] == SECRET;
    mine_seen += data[i] == MINE;
  }
  return NULL;
}

int main(void) {
  tv_require_present();
  pin(0);
  static const struct tv_pal_params params = {
      2, 0, {{TV_PAL_ARG_INTEGER, 0, 0}, {TV_PAL_ARG_INTEGER, 0, 0}}};
  uintptr_t iterations = 4000;
  for (int attempt = 0; attempt < TRIES; attempt++, iterations *= 4U) {
    uintptr_t entry = rt_register(&pal, pal_code, sizeof(pal_code), &params);
    data = pal.pages[PAL_PAGE_DATA];
    in_call = writer_ready = 0;
    secret_seen = mine_seen = 0;
    /* The writer starts on CPU 1 (created with this thread's mask it would wait behind the PAL). */
    pthread_attr_t attr;
    cpu_set_t other;
    CPU_ZERO(&other);
    CPU_SET(1, &other);
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof(other), &other);
    pthread_t t;
    pthread_create(&t, &attr, writer, NULL);
    while (!writer_ready) {
    }
    in_call = 1;
    uintptr_t ret = ((uintptr_t(*)(uintptr_t, uintptr_t))entry)((uintptr_t)data, iterations);
    pthread_join(t, NULL);
    unsigned secret_later = 0;
    for (unsigned i = 0; i < PAGE_WORDS; i++) {
      secret_later += data[i] == SECRET;
    }
    /* Revoked: the PAL is gone; unregistering it must say so, and nothing is left to give back. */
    uintptr_t unreg = tv_vmcall(TV_HC_UNREG, pal.entry, 0, 0, 0);
    if (secret_seen || secret_later || !mine_seen) {
      rt_fail("lent_page_write", "the writer saw %u of the PAL's secret words (%u later) and %u "
              "of its own (PAL returned 0x%lx)",
              secret_seen, secret_later, mine_seen, (unsigned long)ret);
    }
    if (ret == TV_ERR_REVOKED) {
      if (TV_ERR_CLASS(unreg) != TV_ERR_TABLE) {
        rt_fail("lent_page_write", "the revoked PAL could still be unregistered (0x%lx)",
                (unsigned long)unreg);
      }
      rt_evidence("lent_page_write", "revoked",
                  "pal_result=0x%lx writer_saw_own=%u pal_secret_words_seen=0 iterations=%lu "
                  "attempt=%d",
                  (unsigned long)ret, mine_seen, (unsigned long)iterations, attempt + 1);
      return 0;
    }
    if (ret != PAL_DONE) {
      rt_fail("lent_page_write", "the PAL returned 0x%lx", (unsigned long)ret);
    }
    /* The write came after the PAL: that revoked an idle PAL. Longer next time. */
    printf("XHV-GUEST: redteam_lent_page_write_try=%d the PAL finished first\n", attempt + 1);
  }
  rt_fail("lent_page_write", "the writer never caught the PAL running");
}
