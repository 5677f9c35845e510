/* SPDX-License-Identifier: Apache-2.0 */
/* xhv's version string and banner. */
#ifndef XHV_VERSION_H
#define XHV_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "xhv/compiler.h"

XHV_BEGIN_DECLS

#define XHV_VERSION "0.1.0"

/* What the banner reports about the CPU; filled from CPUID. */
struct cpu_summary {
  char vendor[13];
  char brand[49];
  uint32_t family_model_stepping; /* CPUID.1:EAX */
  uint8_t vmx;                    /* CPUID.1:ECX[5] */
  uint8_t pae;                    /* CPUID.1:EDX[6] */
  uint8_t apic;                   /* CPUID.1:EDX[9] */
  uint8_t x2apic;                 /* CPUID.1:ECX[21] */
  uint8_t long_mode;              /* CPUID.80000001h:EDX[29] */
  uint8_t nx;                     /* CPUID.80000001h:EDX[20] */
  uint8_t hypervisor;             /* CPUID.1:ECX[31]: we are someone's guest */
};

/* Reads CPUID into `out`. */
void cpu_summary_read(struct cpu_summary *out);

/*
 * Formats the banner ("xhv <version> <arch> <bits>-bit" plus the CPU
 * summary) into `buf`; returns the full length as snprintf does.
 */
int banner_format(char *buf, size_t size, const struct cpu_summary *cpu);

XHV_END_DECLS

#endif /* XHV_VERSION_H */
