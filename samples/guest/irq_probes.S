/* Exact instruction sequences for the interrupt-flag checks. A self-IPI is already
 * pending (IF=0) when these run; the IPI handler snapshots if_m1/if_m2, which tells
 * the check which instructions ran before the interrupt was taken. */
#include "layout.h"

        .text
        /* if_sti_probe(do_sti): sti must hold the interrupt for exactly one instruction */
        .globl if_sti_probe
if_sti_probe:
        movq $0, if_m1(%rip)
        movq $0, if_m2(%rip)
        testl %edi, %edi
        jz 1f
        sti
        movq $1, if_m1(%rip)               /* runs inside the sti shadow */
        movq $1, if_m2(%rip)               /* the interrupt must come before this */
        cli
        ret
1:      nop                                /* break: IF never set */
        movq $1, if_m1(%rip)
        movq $1, if_m2(%rip)
        ret

        /* if_popf_probe(rflags): popf that sets IF delivers before the next instruction */
        .globl if_popf_probe
if_popf_probe:
        movq $0, if_m1(%rip)
        pushq %rdi
        popfq
        movq $1, if_m1(%rip)
        cli
        ret

        /* if_iret_probe(rflags): iretq to if_iret_target with IF from the frame */
        .globl if_iret_probe, if_iret_target
if_iret_probe:
        movq $0, if_m1(%rip)
        movq %rsp, %rax
        pushq $KERNEL_DS
        pushq %rax
        pushq %rdi
        pushq $KERNEL_CS
        leaq if_iret_target(%rip), %rax
        pushq %rax
        iretq
if_iret_target:
        movq $1, if_m1(%rip)
        cli
        ret

        /* iretq_probe(rflags, rsp): iretq within ring 0 to a new stack, record what arrived */
        .globl iretq_probe, iretq_probe_target
iretq_probe:
        movq %rsp, iret_saved_rsp(%rip)
        pushq $KERNEL_DS
        pushq %rsi
        pushq %rdi
        pushq $KERNEL_CS
        leaq iretq_probe_target(%rip), %rax
        pushq %rax
        iretq
iretq_probe_target:
        movq %rsp, iret_got_rsp(%rip)
        pushfq
        popq iret_got_rflags(%rip)
        movl %ss, %eax
        movq %rax, iret_got_ss(%rip)
        movl %cs, %eax
        movq %rax, iret_got_cs(%rip)
        pushq $2
        popfq
        movq iret_saved_rsp(%rip), %rsp
        ret

        /* sti_stress_loop(iterations): sti with IF=0, again and again, while a timer ticks
         * (sti_stress.cpp): no interrupt may be taken at sti_stress_after */
        .globl sti_stress_loop, sti_stress_after
sti_stress_loop:
1:      cli
        sti
sti_stress_after:
        nop                                /* inside the sti shadow */
        decq %rdi
        jnz 1b
        cli
        ret

        /* swapgs_shadow_probe(): a pending interrupt after sti is taken right after the
         * instruction in sti's shadow, also when that instruction is swapgs (swapgs_shadow.cpp) */
        .globl swapgs_shadow_probe, swapgs_shadow_site, swapgs_shadow_after
swapgs_shadow_probe:
        movq $0, if_m1(%rip)
        sti
swapgs_shadow_site:
        swapgs                             /* inside the sti shadow */
swapgs_shadow_after:
        movq $1, if_m1(%rip)               /* the interrupt must come before this */
        swapgs
        cli
        ret

        .bss
        .balign 8
        .globl if_m1, if_m2, iret_got_rsp, iret_got_rflags, iret_got_ss, iret_got_cs
if_m1:                  .quad 0
if_m2:                  .quad 0
iret_saved_rsp:         .quad 0
iret_got_rsp:           .quad 0
iret_got_rflags:        .quad 0
iret_got_ss:            .quad 0
iret_got_cs:            .quad 0
