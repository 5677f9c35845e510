/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i386 AP start-up trampoline, copied to AP_TRAMPOLINE_BASE (0x8000) and
 * entered by SIPI in real mode at 0800:0000. It switches to protected mode,
 * turns on the BSP's PAE paging, takes its host stack and calls
 * entry(cpu) from struct ap_boot_params (filled in by the BSP).
 */
#define BASE            0x8000
#define ABS(x)          (BASE + (x) - ap_trampoline_start)
#define CR0_PE          (1 << 0)
#define CR0_PG          (1 << 31)

        .section .rodata
        .global ap_trampoline_start, ap_trampoline_end, ap_trampoline_params_offset
        .code16
ap_trampoline_start:
        cli
        cld
        movw    %cs, %ax
        movw    %ax, %ds
        lgdtl   tramp_gdt_ptr - ap_trampoline_start
        movl    %cr0, %eax
        orl     $CR0_PE, %eax
        movl    %eax, %cr0
        ljmpl   $0x08, $ABS(pm32)

        .code32
pm32:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    ABS(params + 4), %eax           /* cr4 */
        movl    %eax, %cr4
        movl    ABS(params + 0), %eax           /* cr3 */
        movl    %eax, %cr3
        movl    %cr0, %eax
        orl     $CR0_PG, %eax
        movl    %eax, %cr0
        movl    ABS(params + 8), %esp           /* stack_top */
        pushl   ABS(params + 16)                /* cpu */
        call    *ABS(params + 12)               /* entry */
1:      cli
        hlt
        jmp     1b

        .align 8
tramp_gdt:
        .quad   0
        .quad   0x00cf9a000000ffff              /* 0x08: 32-bit code */
        .quad   0x00cf92000000ffff              /* 0x10: data */
tramp_gdt_ptr:
        .word   tramp_gdt_ptr - tramp_gdt - 1
        .long   ABS(tramp_gdt)
        .align 8
params:                                         /* struct ap_boot_params */
        .skip   20
ap_trampoline_end:

        .align 4
ap_trampoline_params_offset:
        .long   params - ap_trampoline_start
