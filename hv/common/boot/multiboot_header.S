/* SPDX-License-Identifier: Apache-2.0 */
/* Multiboot v1 header: page-aligned modules, memory map wanted, ELF load addresses. */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003
        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
