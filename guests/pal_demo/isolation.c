/* SPDX-License-Identifier: Apache-2.0 */
/*
 * isolation: shows that a registered PAL's data cannot be read from outside.
 *
 * A PAL writes a secret pattern into its own DATA page. While it is
 * registered, the page is read three ways from outside the PAL: by this
 * process directly (user mode), through /proc/self/mem (the guest kernel
 * copies it) and through /dev/mem at its guest-physical address (from
 * /proc/self/pagemap). Each read must fail or find no word of the pattern.
 * After TV_HC_UNREG the page must be scrubbed: all zero.
 * Prints XHV-GUEST: isolation_* lines; XHV-RESULT: FAIL on a leak.
 */
#define _FILE_OFFSET_BITS 64
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pal_demo/caller.h"
#include "pal_demo/pagemap.h"
#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

#define PAGE_BYTES 4096U
#define WORDS (PAGE_BYTES / sizeof(uintptr_t))
#define SECRET ((uintptr_t)0x1EC2E7A5C0FFEE11ULL & ~(uintptr_t)PAL_FLAG_MASK)

static unsigned matches(const uintptr_t *words) {
  unsigned n = 0;
  for (uintptr_t i = 0; i < WORDS; i++) {
    n += words[i] == (SECRET ^ i);
  }
  return n;
}

static int fail(const char *what, unsigned n) {
  printf("XHV-RESULT: FAIL isolation: %s read %u words of the PAL's secret\n", what, n);
  return 1;
}

int main(void) {
  tv_require_present();
  struct tv_pal_params params = {3, 0, {{TV_PAL_ARG_INTEGER, 0, 0}, {TV_PAL_ARG_INTEGER, 0, 0},
                                        {TV_PAL_ARG_INTEGER, 0, 0}}};
  struct pal_handle pal;
  register_pal(&pal, &params, (uintptr_t)pal_stash, (uintptr_t)begin_pal_c, (uintptr_t)end_pal_c,
               false);
  uintptr_t *data = pal.pages[PAL_PAGE_DATA];
  uint64_t gpa = gpa_of(data);
  uintptr_t expect = 0;
  for (uintptr_t i = 0; i < WORDS; i++) {
    expect += SECRET ^ i;
  }
  uintptr_t sum = ((pal_stash_fn)pal.entry)(SECRET | PAL_FLAG_MASK, data, WORDS);
  if (sum != expect) {
    printf("XHV-RESULT: FAIL isolation: the PAL returned 0x%" PRIxPTR ", not 0x%" PRIxPTR "\n",
           sum, expect);
    return 1;
  }
  printf("XHV-GUEST: isolation_pal_data=%p gpa 0x%llx\n", (void *)data, (unsigned long long)gpa);

  unsigned n = matches(data);
  printf("XHV-GUEST: isolation_user_read=%u secret words of %u\n", n, (unsigned)WORDS);
  if (n) {
    return fail("this process", n);
  }

  static uintptr_t copy[WORDS];
  int fd = open("/proc/self/mem", O_RDONLY);
  ssize_t got = fd < 0 ? -1 : pread(fd, copy, PAGE_BYTES, (off_t)(uintptr_t)data);
  if (got == (ssize_t)PAGE_BYTES) {
    n = matches(copy);
    printf("XHV-GUEST: isolation_proc_mem_read=%u secret words of %u\n", n, (unsigned)WORDS);
    if (n) {
      return fail("/proc/self/mem", n);
    }
  } else {
    printf("XHV-GUEST: isolation_proc_mem_read=refused\n");
  }
  if (fd >= 0) {
    close(fd);
  }

  fd = gpa ? open("/dev/mem", O_RDONLY) : -1;
  got = fd < 0 ? -1 : pread(fd, copy, PAGE_BYTES, (off_t)gpa);
  if (got == (ssize_t)PAGE_BYTES) {
    n = matches(copy);
    printf("XHV-GUEST: isolation_dev_mem_read=%u secret words of %u\n", n, (unsigned)WORDS);
    if (n) {
      return fail("/dev/mem", n);
    }
  } else {
    printf("XHV-GUEST: isolation_dev_mem_read=refused%s\n",
           gpa ? "" : " (no guest-physical address)");
  }
  if (fd >= 0) {
    close(fd);
  }

  /* Unregister by hand: unregister_pal would unmap the page before we look. */
  uintptr_t ret = tv_vmcall(TV_HC_UNREG, pal.entry, 0, 0, 0);
  if (ret != 0U) {
    printf("XHV-RESULT: FAIL isolation: TV_HC_UNREG returned 0x%" PRIxPTR "\n", ret);
    return 1;
  }
  unsigned nonzero = 0;
  for (uintptr_t i = 0; i < WORDS; i++) {
    nonzero += data[i] != 0U;
  }
  printf("XHV-GUEST: isolation_after_unregister=%u nonzero words of %u\n", nonzero,
         (unsigned)WORDS);
  if (nonzero) {
    printf("XHV-RESULT: FAIL isolation: the DATA page was not scrubbed on unregister\n");
    return 1;
  }
  printf("XHV-GUEST: isolation=ok\n");
  return 0;
}
