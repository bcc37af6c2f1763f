/* Register sequences the wedges' entry stubs share (assembler only; include from a .S).
 * The guest's general-purpose registers, saved and restored the same way by every backend. */
#ifndef AFTERBURN_GPR_SEQUENCES_S_H
#define AFTERBURN_GPR_SEQUENCES_S_H

/* Pushes rax, rcx, rdx, rbx, rbp, rsi, rdi, r8..r15: r15 ends lowest. rsp is not saved. */
.macro WEDGE_PUSH_GPRS
        pushq %rax
        pushq %rcx
        pushq %rdx
        pushq %rbx
        pushq %rbp
        pushq %rsi
        pushq %rdi
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
.endm

/* The reverse of WEDGE_PUSH_GPRS. */
.macro WEDGE_POP_GPRS
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rdi
        popq %rsi
        popq %rbp
        popq %rbx
        popq %rdx
        popq %rcx
        popq %rax
.endm

/* Loads every GPR but rsp from the wedge::frame at %rdi (gpr[] by hardware number, wedge/
 * frame.h); %rdi itself last. */
.macro WEDGE_LOAD_FRAME_GPRS
        movq 0*8(%rdi), %rax
        movq 1*8(%rdi), %rcx
        movq 2*8(%rdi), %rdx
        movq 3*8(%rdi), %rbx
        movq 5*8(%rdi), %rbp
        movq 6*8(%rdi), %rsi
        movq 8*8(%rdi), %r8
        movq 9*8(%rdi), %r9
        movq 10*8(%rdi), %r10
        movq 11*8(%rdi), %r11
        movq 12*8(%rdi), %r12
        movq 13*8(%rdi), %r13
        movq 14*8(%rdi), %r14
        movq 15*8(%rdi), %r15
        movq 7*8(%rdi), %rdi
.endm

#endif
