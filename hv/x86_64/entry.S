/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86_64 entry from GRUB. Multiboot starts us in 32-bit protected mode with
 * paging off; build an identity map of the low 4 GiB with 2 MiB pages,
 * enable PAE + EFER.LME + paging, and far-jump into 64-bit code.
 */
#define CR0_PE          (1 << 0)
#define CR0_PG          (1 << 31)
#define CR4_PAE         (1 << 5)
#define MSR_EFER        0xC0000080
#define EFER_LME        (1 << 8)
#define PTE_P_RW        0x3
#define PDE_2M          0x83            /* present, writable, page size */

        .code32
        .section .text.entry, "ax"
        .global _start
_start:
        cli
        cld
        movl    %eax, %edi              /* multiboot magic */
        movl    %ebx, %esi              /* multiboot info */
        movl    $boot_stack_top, %esp

        /* PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; PDn[i] = 2 MiB page. */
        movl    $boot_pdpt, %eax
        orl     $PTE_P_RW, %eax
        movl    %eax, boot_pml4
        xorl    %ecx, %ecx
1:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $boot_pd, %eax
        orl     $PTE_P_RW, %eax
        movl    %eax, boot_pdpt(, %ecx, 8)
        incl    %ecx
        cmpl    $4, %ecx
        jne     1b
        xorl    %ecx, %ecx              /* 2048 PDEs cover 4 GiB */
2:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $PDE_2M, %eax
        movl    %eax, boot_pd(, %ecx, 8)
        movl    %ecx, %eax
        shrl    $11, %eax               /* bits 63:32 of the 2 MiB frame */
        movl    %eax, boot_pd + 4(, %ecx, 8)
        incl    %ecx
        cmpl    $2048, %ecx
        jne     2b

        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $boot_pml4, %eax
        movl    %eax, %cr3
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        wrmsr
        movl    %cr0, %eax
        orl     $(CR0_PG | CR0_PE), %eax
        movl    %eax, %cr0
        lgdt    gdt_ptr
        ljmp    $0x08, $long_mode

        .code64
long_mode:
        movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movq    $boot_stack_top, %rsp
        xorl    %ebp, %ebp
        /*
         * Move high (xhv/relocate.h), then go on in the copy: its GDT, its
         * page tables, its stack. EDI = magic, ESI = info: the SysV
         * argument registers, kept across the call in R12/R13.
         */
        movl    %edi, %r12d
        movl    %esi, %r13d
        call    image_relocate
        leaq    relocated(%rip), %rcx
        addq    %rax, %rcx
        jmpq    *%rcx
relocated:
        lgdt    gdt_ptr(%rip)
        leaq    boot_pml4(%rip), %rax
        movq    %rax, %cr3
        leaq    boot_stack_top(%rip), %rsp
        movl    %r12d, %edi
        movl    %r13d, %esi
        call    xhv_main
3:      cli
        hlt
        jmp     3b

        .section .rodata
        .align 8
gdt:
        .quad   0                       /* null */
        .quad   0x00af9a000000ffff      /* 0x08: 64-bit code */
        .quad   0x00cf92000000ffff      /* 0x10: data */
gdt_end:
gdt_ptr:
        .word   gdt_end - gdt - 1
        .quad   gdt

        .section .bss
        .align 4096
        .global boot_pml4, boot_pdpt
boot_pml4:
        .skip   4096
boot_pdpt:
        .skip   4096
boot_pd:
        .skip   4 * 4096
boot_stack:
        .skip   16384
boot_stack_top:

        .text
/* void arch_load_gdt(const struct dt_ptr *gdt): load it, reload every segment. */
        .global arch_load_gdt
arch_load_gdt:
        lgdt    (%rdi)
        /* A far return is the way to reload CS in 64-bit mode. */
        pushq   $0x08
        leaq    1f(%rip), %rax
        pushq   %rax
        lretq
1:      movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        ret

/* arch_call_on_stack(stack_top, fn, arg): fn(arg) on a new stack, no return. */
        .global arch_call_on_stack
arch_call_on_stack:
        movq    %rdi, %rsp
        xorl    %ebp, %ebp
        movq    %rdx, %rdi
        /* stack_top is 16-aligned minus one word: the call pushes the 16th byte. */
        andq    $-16, %rsp
        call    *%rsi
1:      cli
        hlt
        jmp     1b

/* void cpu_nmi_unblock(void): IRETQ to the next instruction ends NMI blocking. */
        .global cpu_nmi_unblock
cpu_nmi_unblock:
        movq    %rsp, %rax
        pushq   $0x10                   /* SS */
        pushq   %rax                    /* RSP as it was */
        pushfq
        pushq   $0x08                   /* CS */
        leaq    1f(%rip), %rax
        pushq   %rax
        iretq
1:      ret
