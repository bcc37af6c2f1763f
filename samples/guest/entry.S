/* Kernel entry points: one IDT stub per vector, the common trap path (ends in iretq),
 * and the syscall entry (swapgs, stack switch, sysretq). */
#include "layout.h"

        .text
        /* 256 stubs, 16 bytes apart: isr_stubs + 16 * vector. Vectors without a CPU
         * error code push a 0 so every frame has the same layout (struct trap_frame). */
        .balign 16
        .globl isr_stubs
isr_stubs:
        .set vec, 0
        .rept 256
        .balign 16
        .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        pushq $0
        .endif
        pushq $vec
        jmp trap_common
        .set vec, vec + 1
        .endr

trap_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        cld
        movq %rsp, %rdi                    /* struct trap_frame * (16-byte aligned here) */
        call trap_dispatch
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        addq $16, %rsp                     /* vector, error code */
        iretq

        /* syscall: RCX = user RIP, R11 = user RFLAGS, RSP still the user's.
         * swapgs makes %gs the per-CPU block, which holds the kernel stack. */
        .globl syscall_entry
syscall_entry:
        swapgs
        movq %rsp, %gs:PERCPU_USER_RSP
        movq %gs:PERCPU_KSTACK, %rsp
        pushq %gs:PERCPU_USER_RSP          /* struct syscall_frame, from the top: */
        pushq %r11                         /*   user rsp, r11, rcx, rax, rsi, rdi, */
        pushq %rcx                         /*   kernel rflags, %gs:self             */
        pushq %rax
        pushq %rsi
        pushq %rdi
        pushfq
        pushq %gs:PERCPU_SELF
        movq %rsp, %rdi
        subq $8, %rsp                      /* 8 pushes from an aligned top: realign */
        call syscall_dispatch              /* returns the user's rax */
        addq $8, %rsp
        addq $40, %rsp                     /* self, rflags, rdi, rsi, rax (result in rax) */
        popq %rcx
        popq %r11
        popq %rsp
        swapgs
        sysretq
