/* SPDX-License-Identifier: Apache-2.0 */
/* Each CPU's NMI count as the guest kernel reports it (the NMI row of /proc/interrupts). */
#ifndef TOOLS_NMI_COUNTS_H
#define TOOLS_NMI_COUNTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills counts[0 .. max) from the NMI row; returns how many CPUs it named (0 if none). */
static inline unsigned nmi_counts(unsigned long *counts, unsigned max) {
  FILE *f = fopen("/proc/interrupts", "r");
  char line[1024];
  unsigned n = 0;
  while (f && fgets(line, sizeof(line), f)) {
    char *p = line;
    while (*p == ' ') {
      p++;
    }
    if (strncmp(p, "NMI:", 4) != 0) {
      continue;
    }
    p += 4;
    char *end;
    for (unsigned long v = strtoul(p, &end, 10); end != p && n < max; v = strtoul(p, &end, 10)) {
      counts[n++] = v;
      p = end;
    }
    break;
  }
  if (f) {
    fclose(f);
  }
  return n;
}

#endif /* TOOLS_NMI_COUNTS_H */
