/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86_64 VM entry/exit stubs. The guest's GPRs are kept in a struct cpu_regs
 * (field n = GPR n) on the host stack while the exit is handled.
 */
#define CPU_VMX_OK              0
#define CPU_VMX_FAIL_INVALID    1
#define CPU_VMX_FAIL_VALID      2

        .code64
#include "gprs.inc"

        .text

/* int arch_vmlaunch(const struct cpu_regs *regs): returns only on failure. */
        .global arch_vmlaunch
arch_vmlaunch:
        pushq   %rbx
        pushq   %rbp
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        movq    0x00(%rdi), %rax
        movq    0x08(%rdi), %rcx
        movq    0x10(%rdi), %rdx
        movq    0x18(%rdi), %rbx
        movq    0x28(%rdi), %rbp
        movq    0x30(%rdi), %rsi
        movq    0x40(%rdi), %r8
        movq    0x48(%rdi), %r9
        movq    0x50(%rdi), %r10
        movq    0x58(%rdi), %r11
        movq    0x60(%rdi), %r12
        movq    0x68(%rdi), %r13
        movq    0x70(%rdi), %r14
        movq    0x78(%rdi), %r15
        movq    0x38(%rdi), %rdi
        vmlaunch
        /* Still here: VMfailInvalid sets CF, VMfailValid sets ZF. */
        movl    $CPU_VMX_FAIL_INVALID, %eax
        movl    $CPU_VMX_FAIL_VALID, %ecx
        cmovzl  %ecx, %eax
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbp
        popq    %rbx
        ret

/* HOST_RIP. HOST_RSP is this CPU's stack top, just below its struct cpu * slot. */
        .global arch_vmexit_entry
arch_vmexit_entry:
        SAVE_GPRS
        movq    %rsp, %rdi
        /* HOST_RSP is 8 off a 16-byte boundary; 16 pushes keep it so. */
        subq    $8, %rsp
        call    vmexit_dispatch
        addq    $8, %rsp
        RESTORE_GPRS
        vmresume
        /* VMRESUME failed: report with the flags it left. */
        movl    $CPU_VMX_FAIL_INVALID, %edi
        movl    $CPU_VMX_FAIL_VALID, %ecx
        cmovzl  %ecx, %edi
        andq    $-16, %rsp
        call    vmx_vmresume_failed
1:      cli
        hlt
        jmp     1b
