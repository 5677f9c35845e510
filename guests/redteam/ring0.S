/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ring-0 red-team stage's machine-level half: its two entries (kexec
 * starts it in 64-bit mode under a 64-bit kernel, in 32-bit protected mode
 * without paging under a 32-bit one), its 64-bit attacks, the way down to
 * 32-bit protected mode, the fault, NMI and task entry points, the attack
 * instructions the C half (ring0.c) calls, and the trip to real mode for
 * the E820 hook. Every attack runs with a recovery address armed: a fault
 * lands in fault32/fault64, which records it and resumes there.
 */
#include "redteam/ring0.h"

#define CR4_PAE 0x20
#define CR4_VMXE 0x2000
#define CR0_NE 0x20
#define MSR_EFER 0xC0000080
#define MSR_APIC_BASE 0x1B
#define MSR_MTRR_DEF_TYPE 0x2FF

/* Arm recovery at `label`; the fault handler resumes there with fault_vec set. */
#define TRY(label) movl $-1, fault_vec; movl $label, recover_eip

        .section .head, "ax"
        .code32
        .globl ring0_entry32
ring0_entry32:                          /* RING0_BASE: a 32-bit kernel's kexec lands here */
        jmp     entry32
        .org    0x10
        .code64
ring0_entry64:                          /* RING0_BASE + 0x10: a 64-bit kernel's */
        jmp     entry64
        .org    0x40
        .globl ring0_params
ring0_params:
        .space  0x40

/* ---- real mode, for the E820 hook (its offsets are from RING0_BASE: this section) ---- */

        .code16
pm16:
        movl    %cr0, %eax
        andl    $~1, %eax
        movl    %eax, %cr0
        ljmp    $RING0_RM_SEG, $(rm16 - ring0_entry32)
rm16:
        movw    $RING0_RM_SEG, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        movw    $RING0_RM_STACK, %sp
        lidt    (rm_idt_ptr - ring0_entry32)
        movl    $0xE820, %eax
        xorl    %ebx, %ebx
        movl    $20, %ecx
        movl    $0x534D4150, %edx
        xorw    %di, %di
        int     $0x15
        pushfw
        popw    %si
        movl    %eax, (e820_eax - ring0_entry32)
        movl    %ebx, (e820_ebx - ring0_entry32)
        movl    %ecx, (e820_ecx - ring0_entry32)
        movw    %si, (e820_flags - ring0_entry32)
        cli
        lgdtl   (gdt_ptr32 - ring0_entry32)
        movl    %cr0, %eax
        orl     $1, %eax
        movl    %eax, %cr0
        ljmpl   $SEL_CODE32, $pm32_back


/* What the 16-bit code reaches DS-relative (DS = RING0_RM_SEG): it lives in this section. */
        .balign 8
gdt_ptr32:
        .word   GDT_BYTES - 1
        .long   gdt
rm_idt_ptr:
        .word   0x3FF
        .long   0
        .balign 4
        .globl e820_eax, e820_ebx, e820_ecx, e820_flags
e820_eax:       .long 0
e820_ebx:       .long 0
e820_ecx:       .long 0
e820_flags:     .long 0

/* ---- 64-bit: long mode as kexec left it, paging on ---- */

        .section .text64, "ax"
        .code64
entry64:
        cli
        lgdt    gdt_ptr64
        pushq   $SEL_CODE64
        pushq   $1f
        lretq
1:      movw    $SEL_DATA32, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movw    %ax, %fs
        movw    %ax, %gs
        movl    $stack64_top, %esp
        /* Our own identity map of the low 4 GiB: kexec's maps RAM only, not the APIC or the hypervisor. */
        movl    $pdpt, %eax
        orl     $3, %eax
        movl    %eax, pml4
        xorl    %ecx, %ecx
2:      movl    %ecx, %eax
        shll    $12, %eax
        addl    $pd, %eax
        orl     $3, %eax
        movl    %eax, pdpt(, %ecx, 8)
        incl    %ecx
        cmpl    $4, %ecx
        jne     2b
        xorl    %ecx, %ecx
3:      movl    %ecx, %eax
        shll    $21, %eax
        orl     $0x83, %eax
        movl    %eax, pd(, %ecx, 8)
        incl    %ecx
        cmpl    $2048, %ecx
        jne     3b
        movl    $pml4, %eax
        movq    %rax, %cr3
        call    setup64
        call    attacks64
        /* Down to 32-bit protected mode: compatibility mode, paging off (long mode off), LME off. */
        pushq   $SEL_CODE32
        pushq   $compat32
        lretq

/* The 64-bit TSS (IST1 for every fault: some attacks point RSP at nonsense) and IDT. */
setup64:
        movl    $tss64, %eax
        movw    $0x67, gdt + SEL_TSS64
        movw    %ax, gdt + SEL_TSS64 + 2
        shrl    $16, %eax
        movb    %al, gdt + SEL_TSS64 + 4
        movb    $0x89, gdt + SEL_TSS64 + 5
        movb    $0, gdt + SEL_TSS64 + 6
        movb    %ah, gdt + SEL_TSS64 + 7
        movl    $ist_top, tss64 + 36    /* IST1 */
        movw    $SEL_TSS64, %ax
        ltr     %ax
        xorl    %ecx, %ecx
1:      movl    isr64_table(, %ecx, 4), %eax
        movl    %ecx, %edx
        shll    $4, %edx
        movw    %ax, idt64(%edx)
        movw    $SEL_CODE64, idt64 + 2(%edx)
        movb    $1, idt64 + 4(%edx)     /* IST1 */
        movb    $0x8E, idt64 + 5(%edx)
        shrl    $16, %eax
        movw    %ax, idt64 + 6(%edx)
        movl    $0, idt64 + 8(%edx)
        incl    %ecx
        cmpl    $32, %ecx
        jne     1b
        lidt    idt64_ptr
        call    enable_sse_xsave
        ret

/* CR4.OSFXSR, OSXMMEXCPT, and OSXSAVE where the CPU has XSAVE (kexec cleared them). */
enable_sse_xsave:
        pushq   %rbx
        movl    $1, %eax
        cpuid
        movq    %cr4, %rax
        orl     $0x600, %eax
        btl     $26, %ecx
        jnc     1f
        orl     $0x40000, %eax
        movl    $1, have_xsave
1:      movq    %rax, %cr4
        popq    %rbx
        ret

/* The 64-bit attacks; results into r64 (ring0.c reads them). */
attacks64:
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        /* MOV to CR4 from RSP, with VMXE: #GP (the old exit handler could not decode RSP). */
        TRY(1f)
        movq    %rsp, %rbx
        movq    %cr4, %rax
        orq     $CR4_VMXE, %rax
        movq    %rax, %rsp
        movq    %rsp, %cr4
1:      movq    %rbx, %rsp
        movl    fault_vec, %eax
        movl    %eax, r64_cr4_rsp
        /* MOV to CR0 from RSP, NE cleared: emulated, the guest reads NE = 0 back. */
        TRY(2f)
        movq    %rsp, %rbx
        movq    %cr0, %r12
        movq    %r12, %rax
        andq    $~CR0_NE, %rax
        movq    %rax, %rsp
        movq    %rsp, %cr0
        movq    %cr0, %r13
2:      movq    %rbx, %rsp
        movq    %r12, %cr0
        movl    fault_vec, %eax
        movl    %eax, r64_cr0_rsp
        movl    %r13d, r64_cr0_readback
        /* CR0 bit 32, NE flipped so the write exits: #GP, not a value VM entry rejects. */
        TRY(3f)
        movq    %cr0, %rax
        btsq    $32, %rax
        xorq    $CR0_NE, %rax
        movq    %rax, %cr0
3:      movl    fault_vec, %eax
        movl    %eax, r64_cr0_high
        /* A fetch from the hypervisor's image: #GP at that address. */
        TRY(4f)
        movl    ring0_params + 44, %eax /* ring0_params.hv_image */
        jmpq    *%rax
4:      movl    fault_vec, %eax
        movl    %eax, r64_hidden
        movl    fault_eip, %eax
        movl    %eax, r64_hidden_rip
        /* IA32_APIC_BASE with x2APIC enabled: #GP, RF in the frame. */
        TRY(5f)
        movl    $MSR_APIC_BASE, %ecx
        rdmsr
        orl     $0x400, %eax
        wrmsr
5:      movl    fault_vec, %eax
        movl    %eax, r64_apic
        movl    fault_eflags, %eax
        movl    %eax, r64_apic_rflags
        /* MTRRs off (a write of IA32_MTRR_DEF_TYPE): dropped, the hardware keeps its value. */
        movl    $MSR_MTRR_DEF_TYPE, %ecx
        rdmsr
        movl    %eax, %r12d
        movl    %edx, %r13d
        TRY(6f)
        xorl    $0x800, %eax
        wrmsr
6:      movl    fault_vec, %eax
        movl    %eax, r64_mtrr
        movl    $MSR_MTRR_DEF_TYPE, %ecx
        rdmsr
        xorl    %r12d, %eax
        movl    %eax, r64_mtrr_changed
        movl    %r12d, %eax
        movl    %r13d, %edx
        wrmsr                           /* put back, had it changed */
        /* XSETBV of AVX without SSE: #GP. */
        movl    $-2, r64_xsetbv
        cmpl    $0, have_xsave
        je      8f
        TRY(7f)
        xorl    %ecx, %ecx
        movl    $5, %eax
        xorl    %edx, %edx
        xsetbv
7:      movl    fault_vec, %eax
        movl    %eax, r64_xsetbv
        /* A #GP the CPU raises itself, for RF: a selector beyond the GDT. */
8:      TRY(9f)
        movw    $0xFFF8, %ax
        movw    %ax, %ds
9:      movw    $SEL_DATA32, %ax
        movw    %ax, %ds
        movl    fault_vec, %eax
        movl    %eax, r64_native
        movl    fault_eflags, %eax
        movl    %eax, r64_native_rflags
        movl    $1, r64_ran
        popq    %r13
        popq    %r12
        popq    %rbx
        ret

/* Faults in 64-bit mode: vector and error code pushed by the stub, then the CPU's frame. */
fault64:
        pushq   %rax
        movq    8(%rsp), %rax
        movl    %eax, fault_vec
        movq    16(%rsp), %rax
        movl    %eax, fault_err
        movq    24(%rsp), %rax
        movl    %eax, fault_eip
        movq    40(%rsp), %rax
        movl    %eax, fault_eflags
        movl    recover_eip, %eax
        testl   %eax, %eax
        jz      1f
        movq    %rax, 24(%rsp)
        popq    %rax
        addq    $16, %rsp
        iretq
1:      cli                             /* no recovery armed: nothing sensible to do */
        hlt
        jmp     1b

        .macro ISR64 vec, err
isr64_\vec:
        .if \err == 0
        pushq   $0
        .endif
        pushq   $\vec
        jmp     fault64
        .endm
        ISR64 0, 0
        ISR64 1, 0
        ISR64 2, 0
        ISR64 3, 0
        ISR64 4, 0
        ISR64 5, 0
        ISR64 6, 0
        ISR64 7, 0
        ISR64 8, 1
        ISR64 9, 0
        ISR64 10, 1
        ISR64 11, 1
        ISR64 12, 1
        ISR64 13, 1
        ISR64 14, 1
        ISR64 15, 0
        ISR64 16, 0
        ISR64 17, 1
        ISR64 18, 0
        ISR64 19, 0
        ISR64 20, 0
        ISR64 21, 1
        ISR64 22, 0
        ISR64 23, 0
        ISR64 24, 0
        ISR64 25, 0
        ISR64 26, 0
        ISR64 27, 0
        ISR64 28, 0
        ISR64 29, 1
        ISR64 30, 1
        ISR64 31, 0

        .code32
compat32:
        movl    %cr0, %eax
        andl    $0x7FFFFFFF, %eax
        movl    %eax, %cr0
        movl    $MSR_EFER, %ecx
        rdmsr
        andl    $~0x100, %eax
        wrmsr
        movl    %cr4, %eax
        andl    $~CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $1, came_from_long_mode
        jmp     entry32

/* ---- 32-bit protected mode, paging off ---- */

        .section .text32, "ax"
        .code32
entry32:
        cli
        lgdt    gdt_ptr32
        ljmp    $SEL_CODE32, $1f
1:      movw    $SEL_DATA32, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $stack32_top, %esp
        call    ring0_setup32           /* ring0.c: TSS descriptors, the IDT */
        lidt    idt32_ptr
        movw    $SEL_TSS_MAIN, %ax
        ltr     %ax
        call    ring0_main
2:      cli
        hlt
        jmp     2b

/* Faults in 32-bit mode, at CPL 0: no stack switch, the frame is vector, error, EIP, CS, EFLAGS. */
        .globl fault32
fault32:
        pushl   %eax
        movl    4(%esp), %eax
        movl    %eax, fault_vec
        movl    8(%esp), %eax
        movl    %eax, fault_err
        movl    12(%esp), %eax
        movl    %eax, fault_eip
        movl    20(%esp), %eax
        movl    %eax, fault_eflags
        movl    recover_eip, %eax
        testl   %eax, %eax
        jz      1f
        movl    %eax, 12(%esp)
        popl    %eax
        addl    $8, %esp
        iret
1:      popl    %eax
        addl    $8, %esp
        movl    $SEL_DATA32, %eax       /* a fault nobody armed for: report and stop */
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    $stack32_top, %esp
        call    ring0_unexpected
2:      cli
        hlt
        jmp     2b

        .macro ISR32 vec, err
        .globl isr32_\vec
isr32_\vec:
        .if \err == 0
        pushl   $0
        .endif
        pushl   $\vec
        jmp     fault32
        .endm
        ISR32 0, 0
        ISR32 1, 0
        ISR32 3, 0
        ISR32 4, 0
        ISR32 5, 0
        ISR32 6, 0
        ISR32 7, 0
        ISR32 8, 1
        ISR32 9, 0
        ISR32 10, 1
        ISR32 11, 1
        ISR32 12, 1
        ISR32 13, 1
        ISR32 14, 1
        ISR32 15, 0
        ISR32 16, 0
        ISR32 17, 1
        ISR32 18, 0
        ISR32 19, 0
        ISR32 20, 0
        ISR32 21, 1

/* NMIs: the handler's first run sends this CPU more NMIs (ring0.c). */
        .globl nmi32
nmi32:
        pushal
        incl    nmi_runs
        cmpl    $1, nmi_runs
        jne     1f
        call    ring0_nmi_storm
1:      popal
        iret

/* Tasks the switch tests run; each starts on its own TSS, stack and EFLAGS = 2. */
        .globl task_jmp_entry
task_jmp_entry:
        pushfl
        popl    task_jmp_eflags
        movl    $1, task_jmp_ran
        ljmp    $SEL_TSS_MAIN, $0       /* back by JMP: the main task is not busy any more */

        .globl task_call_entry
task_call_entry:
        pushfl
        popl    task_call_eflags
        movl    $1, task_call_ran
        iret                            /* NT is set: back along the link */

        .globl task_int_entry
task_int_entry:
        pushfl
        popl    task_int_eflags
        movl    $1, task_int_ran
        iret

        .globl task_df_entry
task_df_entry:
        popl    task_df_error           /* #DF's error code, pushed on this task's stack */
        movl    %esp, task_df_esp
        movl    $1, task_df_ran
        orb     $0x80, idt32 + 13 * 8 + 5 /* #GP's gate present again */
        iret                            /* the faulting instruction runs again, and just #GPs */

/* ---- attack instructions for ring0.c; each returns the fault vector, or -1 ---- */

/* int ring0_mov_cr4_from_esp(void): MOV to CR4 from ESP, with VMXE. */
        .globl ring0_mov_cr4_from_esp
ring0_mov_cr4_from_esp:
        pushl   %ebx
        TRY(1f)
        movl    %esp, %ebx
        movl    %cr4, %eax
        orl     $CR4_VMXE, %eax
        movl    %eax, %esp
        movl    %esp, %cr4
1:      movl    %ebx, %esp
        movl    fault_vec, %eax
        popl    %ebx
        ret

/* int ring0_mov_cr0_from_esp(uint32_t *readback): MOV to CR0 from ESP, NE cleared, then back. */
        .globl ring0_mov_cr0_from_esp
ring0_mov_cr0_from_esp:
        pushl   %ebx
        pushl   %esi
        pushl   %edi
        TRY(1f)
        movl    %esp, %ebx
        movl    %cr0, %esi
        movl    %esi, %eax
        andl    $~CR0_NE, %eax
        movl    %eax, %esp
        movl    %esp, %cr0
        movl    %cr0, %edi
1:      movl    %ebx, %esp
        movl    %esi, %cr0
        movl    16(%esp), %eax
        movl    %edi, (%eax)
        movl    fault_vec, %eax
        popl    %edi
        popl    %esi
        popl    %ebx
        ret

/* int ring0_jmp_to(uint32_t target): a fetch at `target`. */
        .globl ring0_jmp_to
ring0_jmp_to:
        movl    4(%esp), %eax
        TRY(1f)
        jmp     *%eax
1:      movl    fault_vec, %eax
        ret

/* int ring0_wrmsr(uint32_t msr, uint32_t lo, uint32_t hi) */
        .globl ring0_wrmsr
ring0_wrmsr:
        movl    4(%esp), %ecx
        movl    8(%esp), %eax
        movl    12(%esp), %edx
        TRY(1f)
        wrmsr
1:      movl    fault_vec, %eax
        ret

/* int ring0_rdmsr(uint32_t msr, uint64_t *value) */
        .globl ring0_rdmsr
ring0_rdmsr:
        pushl   %ebx
        movl    8(%esp), %ecx
        movl    12(%esp), %ebx
        xorl    %eax, %eax
        xorl    %edx, %edx
        TRY(1f)
        rdmsr
1:      movl    %eax, (%ebx)
        movl    %edx, 4(%ebx)
        movl    fault_vec, %eax
        popl    %ebx
        ret

/* int ring0_xsetbv(uint32_t lo, uint32_t hi) */
        .globl ring0_xsetbv
ring0_xsetbv:
        movl    4(%esp), %eax
        movl    8(%esp), %edx
        xorl    %ecx, %ecx
        TRY(1f)
        xsetbv
1:      movl    fault_vec, %eax
        ret

/* int ring0_native_gp(void): a #GP the CPU raises itself (a selector beyond the GDT). */
        .globl ring0_native_gp
ring0_native_gp:
        TRY(1f)
        movw    $0xFFF8, %ax
        movw    %ax, %ds
1:      movw    $SEL_DATA32, %ax
        movw    %ax, %ds
        movl    fault_vec, %eax
        ret

/* int ring0_jmp_task(uint32_t selector) / ring0_call_task: far JMP / CALL to a TSS. */
        .globl ring0_jmp_task
ring0_jmp_task:
        movl    4(%esp), %eax
        movw    %ax, far_ptr + 4
        pushal
        TRY(1f)
        ljmp    *far_ptr
1:      popal
        movl    fault_vec, %eax
        ret

        .globl ring0_call_task
ring0_call_task:
        movl    4(%esp), %eax
        movw    %ax, far_ptr + 4
        pushal
        TRY(1f)
        lcall   *far_ptr
1:      popal
        movl    fault_vec, %eax
        ret

/* int ring0_int_task(void): INT through the IDT's task gate. */
        .globl ring0_int_task
ring0_int_task:
        pushal
        TRY(1f)
        int     $TASK_GATE_VECTOR
1:      popal
        movl    fault_vec, %eax
        ret

/*
 * int ring0_double_fault(void): #GP with #GP's gate not present is #NP
 * during its delivery: a double fault, through the IDT's task gate. The
 * #DF task restores the gate and IRETs; the instruction runs again and
 * faults plainly. Returns that last fault's vector.
 */
        .globl ring0_double_fault
ring0_double_fault:
        pushal
        andb    $0x7F, idt32 + 13 * 8 + 5
        TRY(1f)
        movw    $0xFFF8, %ax
        movw    %ax, %ds
1:      movw    $SEL_DATA32, %ax
        movw    %ax, %ds
        popal
        movl    fault_vec, %eax
        ret

/*
 * void ring0_e820_unreal(uint32_t es_base): real mode with ES's cached base
 * at es_base (unreal mode: loaded in protected mode, kept across PE = 0),
 * then INT 15h E820 for entry 0 at ES:0. What the call returned lands in
 * e820_eax, e820_ebx, e820_ecx, e820_flags.
 */
        .globl ring0_e820_unreal
ring0_e820_unreal:
        movl    4(%esp), %eax
        pushal
        movw    %ax, gdt + SEL_UNREAL + 2
        shrl    $16, %eax
        movb    %al, gdt + SEL_UNREAL + 4
        movb    %ah, gdt + SEL_UNREAL + 7
        movl    %esp, saved_esp32
        movw    $SEL_UNREAL, %ax
        movw    %ax, %es                /* base es_base, limit 4 GiB: kept in real mode */
        movw    $SEL_DATA16, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        ljmp    $SEL_CODE16, $(pm16 - RING0_BASE) /* 16-bit offsets: from the segment base */

        .section .text32, "ax"
        .code32
pm32_back:
        movw    $SEL_DATA32, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    saved_esp32, %esp
        lidt    idt32_ptr
        popal
        ret

/* ---- data ---- */

        .section .data
        .balign 8
        .globl gdt
gdt:
        .quad   0
        .quad   0x00AF9A000000FFFF      /* SEL_CODE64 */
        .quad   0x00CF9A000000FFFF      /* SEL_CODE32 */
        .quad   0x00CF92000000FFFF      /* SEL_DATA32 */
        .quad   0x00009A010000FFFF      /* SEL_CODE16: base RING0_BASE, 64 KiB */
        .quad   0x000092010000FFFF      /* SEL_DATA16 */
        .quad   0x008F92000000FFFF      /* SEL_UNREAL: base patched, 4 GiB */
        .quad   0, 0                    /* SEL_TSS64 */
        .quad   0, 0, 0, 0, 0, 0        /* the 32-bit TSSs, filled by ring0_setup32 */
gdt_end:
        .balign 8
/* 64-bit bases as two longs: an i386 object has no 64-bit relocations. */
gdt_ptr64:
        .word   GDT_BYTES - 1
        .long   gdt, 0
        .globl idt32_ptr
idt32_ptr:
        .word   256 * 8 - 1
        .long   idt32
idt64_ptr:
        .word   32 * 16 - 1
        .long   idt64, 0
far_ptr:
        .long   0
        .word   0
        .balign 4
isr64_table:
        .long   isr64_0, isr64_1, isr64_2, isr64_3, isr64_4, isr64_5, isr64_6, isr64_7
        .long   isr64_8, isr64_9, isr64_10, isr64_11, isr64_12, isr64_13, isr64_14, isr64_15
        .long   isr64_16, isr64_17, isr64_18, isr64_19, isr64_20, isr64_21, isr64_22, isr64_23
        .long   isr64_24, isr64_25, isr64_26, isr64_27, isr64_28, isr64_29, isr64_30, isr64_31

saved_esp32:    .long 0

        .globl fault_vec, fault_err, fault_eip, fault_eflags, recover_eip, nmi_runs
fault_vec:      .long 0
fault_err:      .long 0
fault_eip:      .long 0
fault_eflags:   .long 0
recover_eip:    .long 0
nmi_runs:       .long 0
have_xsave:     .long 0
        .globl came_from_long_mode
came_from_long_mode: .long 0
        .globl task_jmp_ran, task_jmp_eflags, task_call_ran, task_call_eflags
        .globl task_int_ran, task_int_eflags, task_df_ran, task_df_error, task_df_esp
task_jmp_ran:   .long 0
task_jmp_eflags: .long 0
task_call_ran:  .long 0
task_call_eflags: .long 0
task_int_ran:   .long 0
task_int_eflags: .long 0
task_df_ran:    .long 0
task_df_error:  .long 0xFFFFFFFF
task_df_esp:    .long 0
        .globl r64_ran, r64_cr4_rsp, r64_cr0_rsp, r64_cr0_readback, r64_cr0_high, r64_hidden
        .globl r64_hidden_rip, r64_apic, r64_apic_rflags, r64_mtrr, r64_mtrr_changed
        .globl r64_xsetbv, r64_native, r64_native_rflags
r64_ran:        .long 0
r64_cr4_rsp:    .long 0
r64_cr0_rsp:    .long 0
r64_cr0_readback: .long 0
r64_cr0_high:   .long 0
r64_hidden:     .long 0
r64_hidden_rip: .long 0
r64_apic:       .long 0
r64_apic_rflags: .long 0
r64_mtrr:       .long 0
r64_mtrr_changed: .long 0
r64_xsetbv:     .long 0
r64_native:     .long 0
r64_native_rflags: .long 0

        .section .bss
        .balign 4096
pml4:   .skip   4096
pdpt:   .skip   4096
pd:     .skip   4 * 4096
        .globl idt32
idt32:  .skip   256 * 8
idt64:  .skip   32 * 16
tss64:  .skip   104
        .balign 16
        .skip   4096
ist_top:
        .skip   8192
stack64_top:
        .skip   8192
        .globl stack32_top
stack32_top:
