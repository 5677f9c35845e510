/* SPDX-License-Identifier: Apache-2.0 */
/*
 * isolation: shows that a registered PAL's data cannot be read from outside.
 *
 * A PAL writes a secret pattern into its own DATA page. While it is
 * registered, the page is read three ways from outside the PAL:
 *   - by this process directly (user mode);
 *   - through /proc/self/mem (the guest kernel copies the page for us);
 *   - as root through /proc/kcore, the kernel's own direct map of the frame
 *     /proc/self/pagemap names (the red-team attack redteam_kcore_direct_map).
 *     A 32-bit kernel with highmem has no lasting mapping of its high
 *     frames (any above 4 GiB, say): kcore has no segment for them, and the
 *     kernel reaches such a frame only through a temporary mapping (kmap),
 *     which is how it serves the /proc/self/mem read. For such a frame that
 *     read is the attack, and must find nothing but zeros.
 * Each read path is first proven on a page this process owns, filled with a
 * pattern of its own: the read must succeed and find it. Then the read of
 * the PAL's page must succeed too (a refusal proves nothing, and fails the
 * check) and find no word of the secret. /dev/mem is no such path: both
 * guest kernels have CONFIG_STRICT_DEVMEM and refuse RAM there.
 * After TV_HC_UNREG the page must be scrubbed: all zero.
 * Prints XHV-GUEST: isolation_* lines; XHV-RESULT: FAIL on a leak or a refusal.
 */
#define _FILE_OFFSET_BITS 64
#include <elf.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pal_demo/caller.h"
#include "pal_demo/pagemap.h"
#include "pal_demo/pal.h"
#include "pal_demo/vmcall.h"

#define PAGE_BYTES 4096U
#define WORDS (PAGE_BYTES / sizeof(uintptr_t))
#define SECRET ((uintptr_t)0x1EC2E7A5C0FFEE11ULL & ~(uintptr_t)PAL_FLAG_MASK)
#define MINE ((uintptr_t)0x0123456789ABCDEFULL)

static unsigned matches(const uintptr_t *words, uintptr_t base) {
  unsigned n = 0;
  for (uintptr_t i = 0; i < WORDS; i++) {
    n += words[i] == (base ^ i);
  }
  return n;
}

static int fail(const char *what) {
  printf("XHV-RESULT: FAIL isolation: %s\n", what);
  return 1;
}

/* Reads the page at user address `va` through /proc/self/mem; false if refused. */
static bool read_proc_mem(const void *va, uintptr_t *out) {
  int fd = open("/proc/self/mem", O_RDONLY);
  ssize_t got = fd < 0 ? -1 : pread(fd, out, PAGE_BYTES, (off_t)(uintptr_t)va);
  if (fd >= 0) {
    close(fd);
  }
  return got == (ssize_t)PAGE_BYTES;
}

/*
 * /proc/kcore is an ELF core of the kernel's address space; its PT_LOAD
 * segments for RAM say in p_paddr which physical range they map. The
 * direct map is the lowest kernel mapping that holds a frame (the kernel
 * image's own mapping may hold it too, higher up). Returns the file offset
 * of `gpa` there, -1 if no segment maps it, KCORE_UNREADABLE if kcore is
 * not an ELF file this process can read.
 */
#define KCORE_UNREADABLE ((off_t)-2)

static off_t kcore_offset(int fd, uint64_t gpa, uint64_t *vaddr) {
  union {
    unsigned char ident[EI_NIDENT];
    Elf32_Ehdr e32;
    Elf64_Ehdr e64;
  } eh;
  if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
      memcmp(eh.ident, ELFMAG, SELFMAG) != 0) {
    return KCORE_UNREADABLE;
  }
  bool is64 = eh.ident[EI_CLASS] == ELFCLASS64;
  unsigned count = is64 ? eh.e64.e_phnum : eh.e32.e_phnum;
  off_t table = is64 ? (off_t)eh.e64.e_phoff : (off_t)eh.e32.e_phoff;
  size_t size = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
  off_t best = -1;
  for (unsigned i = 0; i < count; i++) {
    union {
      Elf32_Phdr p32;
      Elf64_Phdr p64;
    } ph;
    if (pread(fd, &ph, size, table + (off_t)(i * size)) != (ssize_t)size) {
      return KCORE_UNREADABLE;
    }
    uint32_t type = is64 ? ph.p64.p_type : ph.p32.p_type;
    uint64_t paddr = is64 ? ph.p64.p_paddr : ph.p32.p_paddr;
    uint64_t memsz = is64 ? ph.p64.p_memsz : ph.p32.p_memsz;
    uint64_t va = (is64 ? ph.p64.p_vaddr : ph.p32.p_vaddr) + (gpa - paddr);
    uint64_t none = is64 ? (uint64_t)-1 : (uint32_t)-1;
    if (type == PT_LOAD && paddr != none && gpa >= paddr && gpa - paddr < memsz &&
        (best < 0 || va < *vaddr)) {
      *vaddr = va;
      best = (off_t)((is64 ? ph.p64.p_offset : ph.p32.p_offset) + (gpa - paddr));
    }
  }
  return best;
}

/* Reads the frame at `gpa` through the kernel's direct map; false if refused or unmapped. */
static bool read_kcore(uint64_t gpa, uintptr_t *out, uint64_t *vaddr) {
  int fd = open("/proc/kcore", O_RDONLY);
  off_t at = fd < 0 || gpa == 0 ? -1 : kcore_offset(fd, gpa, vaddr);
  ssize_t got = at < 0 ? -1 : pread(fd, out, PAGE_BYTES, at);
  if (fd >= 0) {
    close(fd);
  }
  return got == (ssize_t)PAGE_BYTES;
}

/*
 * Whether the kernel keeps `gpa` in its direct map: /proc/kcore has a RAM
 * segment for it. Exits with a FAIL when kcore cannot be read at all (that
 * is a refusal, not an answer).
 */
static bool in_direct_map(uint64_t gpa) {
  uint64_t va = 0;
  int fd = open("/proc/kcore", O_RDONLY);
  off_t at = fd < 0 || gpa == 0 ? KCORE_UNREADABLE : kcore_offset(fd, gpa, &va);
  if (fd >= 0) {
    close(fd);
  }
  if (at == KCORE_UNREADABLE) {
    printf("XHV-RESULT: FAIL isolation: /proc/kcore cannot be read (or no frame for gpa 0x%llx)\n",
           (unsigned long long)gpa);
    exit(1);
  }
  return at >= 0;
}

static unsigned nonzero_words(const uintptr_t *words) {
  unsigned n = 0;
  for (uintptr_t i = 0; i < WORDS; i++) {
    n += words[i] != 0U;
  }
  return n;
}

/* Unregisters by hand (unregister_pal would unmap the page before we look): the page is zero. */
static int unregister_and_check(const struct pal_handle *pal, const uintptr_t *data) {
  uintptr_t ret = tv_vmcall(TV_HC_UNREG, pal->entry, 0, 0, 0);
  if (ret != 0U) {
    printf("XHV-RESULT: FAIL isolation: TV_HC_UNREG returned 0x%" PRIxPTR "\n", ret);
    return 1;
  }
  unsigned nonzero = nonzero_words(data);
  printf("XHV-GUEST: isolation_after_unregister=%u nonzero words of %u\n", nonzero,
         (unsigned)WORDS);
  if (nonzero) {
    return fail("the DATA page was not scrubbed on unregister");
  }
  printf("XHV-GUEST: isolation=ok\n");
  return 0;
}

int main(void) {
  tv_require_present();
  struct tv_pal_params params = {3, 0, {{TV_PAL_ARG_INTEGER, 0, 0}, {TV_PAL_ARG_INTEGER, 0, 0},
                                        {TV_PAL_ARG_INTEGER, 0, 0}}};
  /* The control: a page of ours, pinned, with our own pattern. */
  uintptr_t *own = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
  if (own == MAP_FAILED || mlock(own, PAGE_BYTES) != 0) {
    return fail("cannot map a pinned page");
  }
  for (uintptr_t i = 0; i < WORDS; i++) {
    own[i] = MINE ^ i;
  }
  static uintptr_t copy[WORDS];
  if (!read_proc_mem(own, copy) || matches(copy, MINE) != WORDS) {
    return fail("/proc/self/mem does not read this process's own page: the check would prove "
                "nothing");
  }
  uint64_t own_gpa = gpa_of(own), own_va = 0;
  bool own_direct = in_direct_map(own_gpa);
  if (own_direct && (!read_kcore(own_gpa, copy, &own_va) || matches(copy, MINE) != WORDS)) {
    printf("XHV-GUEST: isolation_kcore_control=gpa 0x%llx\n", (unsigned long long)own_gpa);
    return fail("/proc/kcore does not read this process's own frame through the direct map: "
                "the check would prove nothing");
  }
  if (own_direct) {
    printf("XHV-GUEST: isolation_controls=proc_mem and kcore read our own page (gpa 0x%llx at "
           "0x%llx)\n",
           (unsigned long long)own_gpa, (unsigned long long)own_va);
  } else {
    printf("XHV-GUEST: isolation_controls=proc_mem read our own page (gpa 0x%llx, outside the "
           "kernel's direct map: no kcore control)\n",
           (unsigned long long)own_gpa);
  }

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

  unsigned n = matches(data, SECRET);
  printf("XHV-GUEST: isolation_user_read=%u secret words of %u\n", n, (unsigned)WORDS);
  if (n) {
    return fail("this process read the PAL's secret");
  }

  if (!read_proc_mem(data, copy)) {
    printf("XHV-GUEST: isolation_proc_mem_read=refused\n");
    return fail("/proc/self/mem refused the PAL's page: nothing shown");
  }
  n = matches(copy, SECRET);
  unsigned nonzero = nonzero_words(copy);
  printf("XHV-GUEST: isolation_proc_mem_read=%u secret words of %u\n", n, (unsigned)WORDS);
  if (n) {
    return fail("/proc/self/mem read the PAL's secret");
  }

  uint64_t va = 0;
  if (!in_direct_map(gpa)) {
    printf("XHV-GUEST: isolation_kcore_read=none: gpa 0x%llx is outside the kernel's direct map\n",
           (unsigned long long)gpa);
    printf("XHV-GUEST: redteam_kcore_direct_map=no_direct_map frame=0x%llx kmap_read=proc_mem "
           "nonzero_words=%u secret_words=0 control_frame=0x%llx control_read=proc_mem\n",
           (unsigned long long)gpa, nonzero, (unsigned long long)own_gpa);
    if (nonzero) {
      return fail("the kernel's temporary mapping of the PAL's frame read bytes other than zeros");
    }
    return unregister_and_check(&pal, data);
  }
  if (!own_direct) {
    return fail("the PAL's frame is in the kernel's direct map, but our own was not: no control "
                "for the kcore read");
  }
  if (!read_kcore(gpa, copy, &va)) {
    printf("XHV-GUEST: isolation_kcore_read=refused (gpa 0x%llx)\n", (unsigned long long)gpa);
    return fail("/proc/kcore refused the PAL's frame: nothing shown");
  }
  n = matches(copy, SECRET);
  nonzero = nonzero_words(copy);
  printf("XHV-GUEST: isolation_kcore_read=%u secret words of %u\n", n, (unsigned)WORDS);
  if (n) {
    return fail("/proc/kcore read the PAL's secret through the kernel's direct map");
  }
  /* The guest's view of a lent frame is a blank page: anything but zeros is a leak. */
  printf("XHV-GUEST: redteam_kcore_direct_map=%s frame=0x%llx direct_map=0x%llx "
         "nonzero_words=%u secret_words=0 control_frame=0x%llx control_read=ok\n",
         nonzero ? "nonzero" : "zeros", (unsigned long long)gpa, (unsigned long long)va, nonzero,
         (unsigned long long)own_gpa);
  if (nonzero) {
    return fail("/proc/kcore read bytes other than zeros in the PAL's frame");
  }
  return unregister_and_check(&pal, data);
}
