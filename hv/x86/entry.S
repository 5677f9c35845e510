/* SPDX-License-Identifier: Apache-2.0 */
/* i386 entry from GRUB: own GDT, a stack, then xhv_main(magic, mbi). */
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
        xorl    %ebp, %ebp
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
boot_stack:
        .skip   16384
boot_stack_top:
