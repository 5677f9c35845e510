/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i386 entry from GRUB: own GDT, a stack, PAE paging with an identity map of
 * the low 4 GiB in 2 MiB pages (VMX operation needs CR0.PG = 1), then
 * xhv_main(magic, mbi).
 */
#define CR0_PG          (1 << 31)
#define CR4_PAE         (1 << 5)
#define PDPTE_P         0x1             /* PAE PDPTEs have no RW/US bits */
#define PDE_2M          0x83            /* present, writable, page size */
        .code32
        .section .text.entry, "ax"
        .global _start
_start:
        cli
        cld
        /* Multiboot leaves EAX = loader magic, EBX = info; keep them. */
        movl    %eax, %edi
        movl    %ebx, %esi
        lgdt    gdt_ptr
        ljmp    $0x08, $1f
1:      movw    $0x10, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $boot_stack_top, %esp

        /* PDPT[0..3] -> PD0..PD3; PDn[i] = 2 MiB page (all below 4 GiB). */
        xorl    %ecx, %ecx
3:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $boot_pd, %eax
        orl     $PDPTE_P, %eax
        movl    %eax, boot_pdpt(, %ecx, 8)
        incl    %ecx
        cmpl    $4, %ecx
        jne     3b
        xorl    %ecx, %ecx
4:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $PDE_2M, %eax
        movl    %eax, boot_pd(, %ecx, 8)
        incl    %ecx
        cmpl    $2048, %ecx
        jne     4b
        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $boot_pdpt, %eax
        movl    %eax, %cr3
        movl    %cr0, %eax
        orl     $CR0_PG, %eax
        movl    %eax, %cr0

        xorl    %ebp, %ebp
        /*
         * Move high (xhv/relocate.h), then go on in the copy: its GDT, its
         * page tables, its stack. ESI and EDI survive the call (cdecl).
         */
        pushl   %esi
        pushl   %edi
        call    image_relocate
        addl    $8, %esp
        movl    $relocated, %ecx
        addl    %eax, %ecx
        jmp     *%ecx
relocated:
        lgdt    gdt_ptr
        movl    $boot_pdpt, %eax
        movl    %eax, %cr3
        movl    $boot_stack_top, %esp
        pushl   %esi
        pushl   %edi
        call    xhv_main
2:      cli
        hlt
        jmp     2b

        .section .rodata
        .align 8
gdt:
        .quad   0                       /* null */
        .quad   0x00cf9a000000ffff      /* 0x08: 32-bit code, flat */
        .quad   0x00cf92000000ffff      /* 0x10: data, flat */
gdt_end:
gdt_ptr:
        .word   gdt_end - gdt - 1
        .long   gdt

        .section .bss
        .align 4096
        .global boot_pdpt
boot_pdpt:
        .skip   4096
        .global boot_pd
boot_pd:
        .skip   4 * 4096
boot_stack:
        .skip   16384
boot_stack_top:

        .text
/* void arch_load_gdt(const struct dt_ptr *gdt): load it, reload every segment. */
        .global arch_load_gdt
arch_load_gdt:
        movl    4(%esp), %eax
        lgdt    (%eax)
        ljmp    $0x08, $1f
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
        movl    4(%esp), %eax
        movl    8(%esp), %ecx
        movl    12(%esp), %edx
        movl    %eax, %esp
        xorl    %ebp, %ebp
        pushl   %edx
        call    *%ecx
1:      cli
        hlt
        jmp     1b

/* void cpu_nmi_unblock(void): IRET to the next instruction ends NMI blocking. */
        .global cpu_nmi_unblock
cpu_nmi_unblock:
        pushfl
        pushl   %cs
        pushl   $1f
        iret
1:      ret
