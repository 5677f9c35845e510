/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvhboot entry from GRUB (multiboot, 32-bit protected mode, paging off):
 * own flat GDT, a stack, then pvhboot_main(magic, mbi); and the jump into
 * the kernel at its PVH entry, as the PVH boot ABI wants it (flat 32-bit
 * code and data, paging and interrupts off, EBX = start_info).
 */
        .code32
        .section .text.entry, "ax"
        .global _start
_start:
        cli
        cld
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
        movl    $stack_top, %esp
        xorl    %ebp, %ebp
        pushl   %esi
        pushl   %edi
        call    pvhboot_main
2:      hlt
        jmp     2b

/* void pvhboot_enter(uint32_t entry, uint32_t start_info): never returns. */
        .text
        .global pvhboot_enter
pvhboot_enter:
        movl    4(%esp), %eax
        movl    8(%esp), %ebx
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        xorl    %esi, %esi
        xorl    %edi, %edi
        xorl    %ebp, %ebp
        xorl    %esp, %esp
        jmp     *%eax

        .section .rodata
        .align 8
gdt:
        .quad   0
        .quad   0x00CF9A000000FFFF      /* 0x08: flat 32-bit code */
        .quad   0x00CF92000000FFFF      /* 0x10: flat 32-bit data */
gdt_end:
gdt_ptr:
        .word   gdt_end - gdt - 1
        .long   gdt

        .bss
        .align 16
        .space  16384
stack_top:
