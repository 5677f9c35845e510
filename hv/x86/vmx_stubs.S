/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i386 VM entry/exit stubs. The guest's GPRs are kept in a struct cpu_regs
 * (field n = GPR n) on the host stack while the exit is handled.
 */
#define CPU_VMX_OK              0
#define CPU_VMX_FAIL_INVALID    1
#define CPU_VMX_FAIL_VALID      2

        .code32
#include "gprs.inc"

        .text

/* int arch_vmlaunch(const struct cpu_regs *regs): returns only on failure. */
        .global arch_vmlaunch
arch_vmlaunch:
        pushl   %ebx
        pushl   %ebp
        pushl   %esi
        pushl   %edi
        movl    20(%esp), %edi
        movl    0x00(%edi), %eax
        movl    0x04(%edi), %ecx
        movl    0x08(%edi), %edx
        movl    0x0c(%edi), %ebx
        movl    0x14(%edi), %ebp
        movl    0x18(%edi), %esi
        movl    0x1c(%edi), %edi
        vmlaunch
        /* Still here: VMfailInvalid sets CF, VMfailValid sets ZF. */
        movl    $CPU_VMX_FAIL_INVALID, %eax
        movl    $CPU_VMX_FAIL_VALID, %ecx
        cmovzl  %ecx, %eax
        popl    %edi
        popl    %esi
        popl    %ebp
        popl    %ebx
        ret

/* HOST_RIP. HOST_RSP is this CPU's stack top, just below its struct cpu * slot. */
        .global arch_vmexit_entry
arch_vmexit_entry:
        SAVE_GPRS
        movl    %esp, %eax
        pushl   %eax
        call    vmexit_dispatch
        addl    $4, %esp
        RESTORE_GPRS
        vmresume
        /* VMRESUME failed: report with the flags it left. */
        movl    $CPU_VMX_FAIL_INVALID, %eax
        movl    $CPU_VMX_FAIL_VALID, %ecx
        cmovzl  %ecx, %eax
        pushl   %eax
        call    vmx_vmresume_failed
1:      cli
        hlt
        jmp     1b
