/* SPDX-License-Identifier: Apache-2.0 */
/* register_pal / unregister_pal: page setup, SIGINT blocking and the two hypercalls. */
#include "pal_demo/caller.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pal_demo/vmcall.h"

#define PAGE_BYTES 4096U

/*
 * Written over every fresh page so it is present and private before
 * TrustVisor walks the page tables to it; NOPs are a harmless code filler.
 */
#define PAGE_FILL 0x90

static const uint32_t page_section_type[PAL_PAGE_COUNT] = {
    [PAL_PAGE_CODE] = TV_PAL_SECTION_CODE,
    [PAL_PAGE_DATA] = TV_PAL_SECTION_DATA,
    [PAL_PAGE_STACK] = TV_PAL_SECTION_STACK,
    [PAL_PAGE_PARAM] = TV_PAL_SECTION_PARAM,
};

/* PALs registered and not yet unregistered: SIGINT is blocked while this is nonzero. */
static unsigned registered_pals;

/*
 * perror rather than strerror(errno): the i686 guest toolchain finds no
 * i386 <asm/errno.h>, so <errno.h> does not compile there.
 */
static void die_errno(const char *what) {
  fflush(stdout);
  perror(what);
  exit(1);
}

/*
 * A PAL's pages belong to the hypervisor until it is unregistered: if
 * Ctrl-C ended the process then, the kernel would reuse pages the guest
 * may no longer touch.
 */
static void block_sigint(bool block) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  if (sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL) != 0) {
    die_errno("Error: sigprocmask");
  }
}

/* One private RWX page, pinned: the lent page must keep its physical address until unregistered. */
static void *map_pinned_page(void) {
  void *p = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) {
    die_errno("Error: mmap");
  }
  if (mlock(p, PAGE_BYTES) != 0) {
    die_errno("Error: mlock");
  }
  memset(p, PAGE_FILL, PAGE_BYTES);
  return p;
}

uintptr_t register_pal(struct pal_handle *pal, const struct tv_pal_params *params, uintptr_t entry,
                       uintptr_t begin, uintptr_t end, bool verbose) {
  if (end <= begin || end - begin > PAGE_BYTES || entry < begin || entry >= end) {
    printf("Error: PAL code range 0x%" PRIxPTR "..0x%" PRIxPTR " (entry 0x%" PRIxPTR
           ") is empty, over a page, or misses the entry\n",
           begin, end, entry);
    exit(1);
  }
  struct tv_pal_sections sections;
  memset(&sections, 0, sizeof(sections));
  sections.num_sections = PAL_PAGE_COUNT;
  for (unsigned i = 0; i < PAL_PAGE_COUNT; i++) {
    pal->pages[i] = map_pinned_page();
    sections.sections[i].type = page_section_type[i];
    sections.sections[i].page_num = 1;
    sections.sections[i].start_addr = (uintptr_t)pal->pages[i];
    if (verbose) {
      printf("Mmap: %" PRIu32 " %p %" PRIu32 "\n", sections.sections[i].type, pal->pages[i],
             sections.sections[i].page_num);
    }
  }
  memcpy(pal->pages[PAL_PAGE_CODE], (const void *)begin, end - begin);
  pal->entry = (uintptr_t)pal->pages[PAL_PAGE_CODE] + (entry - begin);

  if (registered_pals++ == 0U) {
    block_sigint(true);
  }
  uintptr_t ret = tv_vmcall(TV_HC_REG, (uintptr_t)&sections, 0, (uintptr_t)params, pal->entry);
  if (ret != 0U) {
    printf("Error: TV_HC_REG for entry 0x%" PRIxPTR " returned 0x%" PRIxPTR "\n", pal->entry, ret);
    exit(1);
  }
  return pal->entry;
}

void unregister_pal(struct pal_handle *pal) {
  uintptr_t ret = tv_vmcall(TV_HC_UNREG, pal->entry, 0, 0, 0);
  if (ret != 0U) {
    /* The pages may still be lent: leave them alone. */
    printf("Error: TV_HC_UNREG for entry 0x%" PRIxPTR " returned 0x%" PRIxPTR "\n", pal->entry,
           ret);
    exit(1);
  }
  for (unsigned i = 0; i < PAL_PAGE_COUNT; i++) {
    if (munmap(pal->pages[i], PAGE_BYTES) != 0) {
      die_errno("Error: munmap");
    }
    pal->pages[i] = NULL;
  }
  pal->entry = 0;
  if (--registered_pals == 0U) {
    block_sigint(false);
  }
}

bool pal_interrupt_pending(void) {
  sigset_t pending;
  if (sigpending(&pending) != 0) {
    die_errno("Error: sigpending");
  }
  return sigismember(&pending, SIGINT) == 1;
}
