/* SPDX-License-Identifier: Apache-2.0 */
/* The ring-0 red-team stage: what its loader hands it, and what its assembly and C share. */
#ifndef REDTEAM_RING0_H
#define REDTEAM_RING0_H

/* Where the stage runs (physical = linear), and its fixed places below 1 MiB. */
#define RING0_BASE 0x10000
#define RING0_ENTRY32 (RING0_BASE + 0x00)
#define RING0_ENTRY64 (RING0_BASE + 0x10)
#define RING0_PARAMS (RING0_BASE + 0x40)
#define RING0_RM_SEG 0x1000       /* real-mode CS = DS = SS: the stage's first 64 KiB */
#define RING0_RM_STACK 0xFFF0     /* real-mode SP (linear 0x1FFF0) */
#define RING0_E820_BUF 0x1F000    /* a page of ours for the E820 hook to write */
#define RING0_LOAD_END 0x50000    /* the loader lends [RING0_BASE, here): image, bss, scratch */
#define RING0_PARAMS_MAGIC 0x50303052 /* "R00P" */
#define RING0_MAX_CPUS 8

/* GDT selectors. */
#define SEL_CODE64 0x08
#define SEL_CODE32 0x10
#define SEL_DATA32 0x18
#define SEL_CODE16 0x20
#define SEL_DATA16 0x28
#define SEL_UNREAL 0x30
#define SEL_TSS64 0x38 /* two slots */
#define SEL_TSS_MAIN 0x48
#define SEL_TSS_JMP 0x50
#define SEL_TSS_CALL 0x58
#define SEL_TSS_DF 0x60
#define SEL_TSS_INT 0x68
#define SEL_TSS_SMALL 0x70
#define GDT_BYTES 0x78

#define TASK_GATE_VECTOR 0x40

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Filled in by the loader (rt_kexec) before kexec_load; the stage reads it at RING0_PARAMS. */
struct ring0_params {
  uint32_t magic;
  uint32_t cpus;
  uint32_t nmis[RING0_MAX_CPUS]; /* each CPU's NMI count in /proc/interrupts at the kexec */
  uint32_t pm1a_cnt;             /* ACPI PM1a control port, for the power-off */
  uint32_t hv_image;             /* the hypervisor's image (xhv.hv_image=) */
  uint32_t com;                  /* the guest console's UART */
};
#endif

#endif /* REDTEAM_RING0_H */
