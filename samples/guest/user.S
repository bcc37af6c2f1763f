/* Ring transitions (iretq and sysretq into ring 3) and the ring-3 code snippets.
 * Snippets live in .user.text, which guest.ld page-aligns; user.cpp maps those pages
 * user-accessible at USER_TEXT_VA. Snippets end either in the trap under test or in
 * `int $0x80` (DPL 3 gate) to come back; a trailing ud2 catches a missing trap. */
#include "layout.h"

        .text
        /* enter_ring(rip, rsp, rflags, cs, ss, rdi): build an iretq frame */
        .globl enter_ring
enter_ring:
        pushq %r8
        pushq %rsi
        pushq %rdx
        pushq %rcx
        pushq %rdi
        movq %r9, %rdi
        iretq

        /* enter_ring_swapgs(rip, rsp, rflags, cs, ss, rdi): enter_ring with Linux's way out
         * (swapgs, jmps and the ESPFIX test on the way to iretq: the Xen wedge runs the swapgs
         * and the iretq in one entry, user_return.cpp) */
        .globl enter_ring_swapgs
enter_ring_swapgs:
        pushq %r8
        pushq %rsi
        pushq %rdx
        pushq %rcx
        pushq %rdi
        movq %r9, %rdi
        swapgs
        jmp 1f
        ud2
1:      testb $4, 0x20(%rsp)
        jnz 3f
        jmp 2f
        ud2
2:      iretq
3:      ud2

        /* enter_sysret(rip, rsp, rflags, rdi): sysretq takes RIP from RCX, RFLAGS from R11 */
        .globl enter_sysret
enter_sysret:
        movq %rcx, %rax
        movq %rdi, %rcx
        movq %rdx, %r11
        movq %rsi, %rsp
        movq %rax, %rdi
        sysretq

        .section .user.text, "ax"
        .globl user_int80, user_int80_int
user_int80:
        movl %cs, %ebx
        movl $0x1234, %eax
user_int80_int:
        int $VEC_SYSCALL_INT
        ud2

        .globl user_cli, user_out, user_hlt, user_int_kernel, user_read, user_write
user_cli:
        cli
        ud2
user_out:
        movw $0x80, %dx
        outb %al, %dx
        ud2
user_hlt:
        hlt
        ud2
user_int_kernel:
        int $VEC_KERNEL_INT
        ud2
user_read:
        movq (%rdi), %rax
        ud2
user_write:
        movq %rax, (%rdi)
        ud2

        .globl user_rdtsc, user_rdpmc, user_wbinvd
user_rdtsc:
        rdtsc
        int $VEC_SYSCALL_INT
        ud2
user_rdpmc:
        xorl %ecx, %ecx
        rdpmc
        int $VEC_SYSCALL_INT
        ud2
user_wbinvd:
        wbinvd
        ud2

        /* user_return.cpp: the RFLAGS ring 3 starts with, then RDI turns of a loop (an
         * interrupt handler may end it by setting the frame's RDI to 1), back via int $0x80 */
        .globl user_return_flags
user_return_flags:
        pushfq
        popq %rbx
1:      decq %rdi
        jnz 1b
        int $VEC_SYSCALL_INT
        ud2

        /* syscall 1 (echo rdi+1), then syscall 2 (exit) with the echo and %cs */
        .globl user_syscall, user_syscall_ret
user_syscall:
        movl $1, %eax
        movl $41, %edi
        syscall
user_syscall_ret:
        movq %rax, %rdi
        movl %cs, %esi
        movl $2, %eax
        syscall
        ud2

        /* bench: RDI syscalls in a loop (syscall 3 returns at once), then back via int $0x80.
         * The count lives in RBX: the kernel's C dispatcher may clobber RDI. */
        .globl user_bench_syscall
user_bench_syscall:
        movq %rdi, %rbx
1:      movl $3, %eax
        syscall
        decq %rbx
        jnz 1b
        int $VEC_SYSCALL_INT
        ud2

        .text
        /* bench: one load that faults; the #PF handler resumes at bench_pf_resume */
        .globl bench_pf_touch, bench_pf_resume
bench_pf_touch:
        movq (%rdi), %rax
bench_pf_resume:
        ret
