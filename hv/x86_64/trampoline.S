/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86_64 AP start-up trampoline, copied to AP_TRAMPOLINE_BASE (0x8000) and
 * entered by SIPI in real mode at 0800:0000. It goes through protected mode
 * to long mode on the BSP's page tables, takes its host stack and calls
 * entry(cpu) from struct ap_boot_params (filled in by the BSP).
 */
#define BASE            0x8000
#define ABS(x)          (BASE + (x) - ap_trampoline_start)
#define CR0_PE          (1 << 0)
#define CR0_PG          (1 << 31)
#define MSR_EFER        0xC0000080
#define EFER_LME        (1 << 8)

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
        movl    ABS(params + 4), %eax           /* cr4 (has PAE) */
        movl    %eax, %cr4
        movl    ABS(params + 0), %eax           /* cr3 */
        movl    %eax, %cr3
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        wrmsr
        movl    %cr0, %eax
        orl     $CR0_PG, %eax
        movl    %eax, %cr0
        ljmpl   $0x18, $ABS(lm64)

        .code64
lm64:
        movq    ABS(params + 8), %rsp           /* stack_top */
        andq    $-16, %rsp
        movq    ABS(params + 24), %rdi          /* cpu */
        movq    ABS(params + 16), %rax          /* entry */
        call    *%rax
1:      cli
        hlt
        jmp     1b

        .align 8
tramp_gdt:
        .quad   0
        .quad   0x00cf9a000000ffff              /* 0x08: 32-bit code */
        .quad   0x00cf92000000ffff              /* 0x10: data */
        .quad   0x00af9a000000ffff              /* 0x18: 64-bit code */
tramp_gdt_ptr:
        .word   tramp_gdt_ptr - tramp_gdt - 1
        .long   ABS(tramp_gdt)
        .align 8
params:                                         /* struct ap_boot_params */
        .skip   32
ap_trampoline_end:

        .align 4
ap_trampoline_params_offset:
        .long   params - ap_trampoline_start
