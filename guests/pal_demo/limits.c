/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits: malformed and excessive registrations each get an error code,
 * and TrustVisor keeps working. Checks, in order:
 *   - a section not page aligned, an entry point outside the CODE section,
 *     a kernel address, 11 sections: refused;
 *   - a page already lent to another PAL: refused;
 *   - registering PALs until the table is full (at most 1000 tries): the
 *     first refusal must be "table full", after at least one success;
 *   - unregistering all of them works once; a second time is refused;
 *   - one PAL registered afterwards still runs.
 * Prints XHV-GUEST: limits_* lines; XHV-RESULT: FAIL on any surprise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

#define PAGE_BYTES 4096U
#define MAX_TRIES 1000

struct pal_pages {
  uint8_t *code, *data, *stack, *param;
  uintptr_t entry;
};

static void *page(void) {
  void *p = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mlock(p, PAGE_BYTES) != 0) {
    printf("XHV-RESULT: FAIL limits: cannot map a pinned page\n");
    exit(1);
  }
  memset(p, 0x90, PAGE_BYTES);
  return p;
}

static void make_pal(struct pal_pages *p) {
  p->code = page();
  p->data = page();
  p->stack = page();
  p->param = page();
  uintptr_t begin = (uintptr_t)begin_pal_c;
  memcpy(p->code, (const void *)begin, (uintptr_t)end_pal_c - begin);
  p->entry = (uintptr_t)p->code + ((uintptr_t)my_pal - begin);
}

static struct tv_pal_sections sections_of(const struct pal_pages *p) {
  struct tv_pal_sections s = {4, 0, {{TV_PAL_SECTION_CODE, 1, (uintptr_t)p->code},
                                     {TV_PAL_SECTION_DATA, 1, (uintptr_t)p->data},
                                     {TV_PAL_SECTION_STACK, 1, (uintptr_t)p->stack},
                                     {TV_PAL_SECTION_PARAM, 1, (uintptr_t)p->param}}};
  return s;
}

static const struct tv_pal_params params = {
    2, 0, {{TV_PAL_ARG_INTEGER, 0, 0}, {TV_PAL_ARG_POINTER, 0, 1}}};

static uintptr_t reg(const struct tv_pal_sections *s, uintptr_t entry) {
  return tv_vmcall(TV_HC_REG, (uintptr_t)s, 0, (uintptr_t)&params, entry);
}

static int refused(const char *what, uintptr_t ret, unsigned want_class) {
  printf("XHV-GUEST: limits_%s=0x%lx\n", what, (unsigned long)ret);
  if (ret == 0U || (want_class && TV_ERR_CLASS(ret) != want_class)) {
    printf("XHV-RESULT: FAIL limits: %s answered 0x%lx\n", what, (unsigned long)ret);
    return 0;
  }
  return 1;
}

int main(void) {
  tv_require_present();
  struct pal_pages a;
  make_pal(&a);
  struct tv_pal_sections s = sections_of(&a);

  s.sections[1].start_addr += 8;
  if (!refused("unaligned", reg(&s, a.entry), TV_ERR_REQUEST)) return 1;
  s = sections_of(&a);
  if (!refused("entry_outside_code", reg(&s, (uintptr_t)a.data), TV_ERR_REQUEST)) return 1;
  s.sections[1].start_addr = sizeof(void *) == 8 ? (uintptr_t)0xffff888000000000ULL : 0xC0000000U;
  if (!refused("kernel_address", reg(&s, a.entry), 0)) return 1;
  s = sections_of(&a);
  s.num_sections = 11;
  if (!refused("eleven_sections", reg(&s, a.entry), TV_ERR_REQUEST)) return 1;

  /* Lend a's pages, then offer a's DATA page again as b's. */
  s = sections_of(&a);
  uintptr_t ret = reg(&s, a.entry);
  if (ret != 0U) {
    printf("XHV-RESULT: FAIL limits: a good registration answered 0x%lx\n", (unsigned long)ret);
    return 1;
  }
  struct pal_pages b;
  make_pal(&b);
  struct tv_pal_sections sb = sections_of(&b);
  sb.sections[1].start_addr = (uintptr_t)a.data;
  if (!refused("page_of_another_pal", reg(&sb, b.entry), 0)) return 1;

  /* Fill the table. */
  static struct pal_pages many[MAX_TRIES];
  int registered = 1, tries = 0;
  ret = 0;
  while (tries < MAX_TRIES && ret == 0U) {
    make_pal(&many[tries]);
    struct tv_pal_sections sm = sections_of(&many[tries]);
    ret = reg(&sm, many[tries].entry);
    tries++;
    registered += ret == 0U;
  }
  printf("XHV-GUEST: limits_table=%d PALs, then 0x%lx\n", registered, (unsigned long)ret);
  if (ret == 0U || TV_ERR_CLASS(ret) != TV_ERR_TABLE) {
    printf("XHV-RESULT: FAIL limits: %d registrations and no table-full refusal\n", tries);
    return 1;
  }

  /* Everything back, once. */
  int bad = tv_vmcall(TV_HC_UNREG, a.entry, 0, 0, 0) != 0U;
  for (int i = 0; i < tries - 1; i++) {
    bad += tv_vmcall(TV_HC_UNREG, many[i].entry, 0, 0, 0) != 0U;
  }
  if (bad) {
    printf("XHV-RESULT: FAIL limits: %d unregistrations failed\n", bad);
    return 1;
  }
  if (!refused("unregister_twice", tv_vmcall(TV_HC_UNREG, a.entry, 0, 0, 0), TV_ERR_TABLE)) {
    return 1;
  }

  /* And a PAL still runs. */
  sb = sections_of(&b);
  ret = reg(&sb, b.entry);
  uintptr_t v = 1;
  uintptr_t sum = ret == 0U ? ((my_pal_fn)b.entry)(2U | PAL_FLAG_MASK, &v) : 0;
  uintptr_t unreg = tv_vmcall(TV_HC_UNREG, b.entry, 0, 0, 0);
  if (ret != 0U || sum != 3U || v != 2U || unreg != 0U) {
    printf("XHV-RESULT: FAIL limits: afterwards a PAL gave reg 0x%lx, %lu, %lu, unreg 0x%lx\n",
           (unsigned long)ret, (unsigned long)sum, (unsigned long)v, (unsigned long)unreg);
    return 1;
  }
  printf("XHV-GUEST: limits=ok\n");
  return 0;
}
