/* SPDX-License-Identifier: Apache-2.0 */
/* i386 exception stubs: build a struct exception_frame, call xhv_exception. */
        .code32
#include "gprs.inc"

        .text

.macro STUB vec, has_error_code
        .align 16
stub_\vec:
        .if \has_error_code == 0
        pushl   $0
        .endif
        pushl   $\vec
        jmp     exception_common
.endm

/* Vectors whose exceptions push an error code (SDM "Exception Classifications"). */
STUB 0, 0;  STUB 1, 0;  STUB 2, 0;  STUB 3, 0;  STUB 4, 0;  STUB 5, 0
STUB 6, 0;  STUB 7, 0;  STUB 8, 1;  STUB 9, 0;  STUB 10, 1; STUB 11, 1
STUB 12, 1; STUB 13, 1; STUB 14, 1; STUB 15, 0; STUB 16, 0; STUB 17, 1
STUB 18, 0; STUB 19, 0; STUB 20, 0; STUB 21, 1; STUB 22, 0; STUB 23, 0
STUB 24, 0; STUB 25, 0; STUB 26, 0; STUB 27, 0; STUB 28, 0; STUB 29, 1
STUB 30, 1; STUB 31, 0

exception_common:
        /* struct cpu_regs, lowest address first: ax cx dx bx sp bp si di */
        SAVE_GPRS
        movl    %esp, %eax
        pushl   %eax
        call    xhv_exception
        addl    $4, %esp
        RESTORE_GPRS
        addl    $8, %esp                /* vector, error code */
        iret

        .section .rodata
        .align 4
        .global xhv_exception_stubs
xhv_exception_stubs:
        .irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .long   stub_\vec
        .endr
