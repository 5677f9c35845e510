/* SPDX-License-Identifier: Apache-2.0 */
/* A guest page's guest-physical address, from /proc/self/pagemap (root only). */
#ifndef PAL_DEMO_PAGEMAP_H
#define PAL_DEMO_PAGEMAP_H

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define PAGEMAP_PAGE_BYTES 4096U
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_PFN_MASK ((1ULL << 55) - 1U)

/*
 * The guest-physical address of the page at va, or 0 if pagemap does not
 * say (page not present, or not root: the kernel then reports PFN 0). The
 * caller keeps the page in place (mlock, vm.compact_unevictable_allowed=0)
 * for as long as it hands the address on.
 */
static inline uint64_t gpa_of(const void *va) {
  uint64_t entry = 0;
  int fd = open("/proc/self/pagemap", O_RDONLY);
  off_t at = (off_t)((uintptr_t)va / PAGEMAP_PAGE_BYTES * sizeof(entry));
  if (fd < 0 || pread(fd, &entry, sizeof(entry), at) != (ssize_t)sizeof(entry)) {
    entry = 0;
  }
  if (fd >= 0) {
    close(fd);
  }
  uint64_t pfn = entry & PAGEMAP_PFN_MASK;
  return (entry & PAGEMAP_PRESENT) && pfn ? pfn * PAGEMAP_PAGE_BYTES : 0;
}

#endif /* PAL_DEMO_PAGEMAP_H */
