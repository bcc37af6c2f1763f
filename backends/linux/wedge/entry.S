/* kvm-wedge: the fixed part of the entry window (docs/wedge-abi.md) and the boot entry.
 *   window + 64*k     entry(k): pushfq; cli; pushq $k; jmp wedge_common
 *   window + 0x10000  slot table: slot(k) = &entry(k)
 *   window + 0x20000  vCPU page (virtual IF, pending)
 * The guest runs in ring 0 under KVM, so an entry runs on the guest's own stack: it saves
 * the flags and masks interrupts (the wedge's devices are not re-entrant; a guest interrupt
 * handler may itself do port I/O), saves every general register, calls wedge_dispatch(frame)
 * which emulates the site and rewrites frame->ret to the END of the site span, restores, and
 * returns there. The guest is built -mno-red-zone (kernel code), so the call a site became
 * may push below RSP. */

#include "afterburn/gpr_sequences.S.h"
        .set WINDOW, 0xffffffffffe00000
        .set KIND_COUNT, 71                 /* site_kind_count (static_assert in kvm_wedge.cpp) */

        .section .wedge.entry, "ax"
        .globl wedge_entries
wedge_entries:
        .set k, 0
        .rept KIND_COUNT
        .balign 64
        pushfq
        cli
        pushq $k
        jmp wedge_common
        .set k, k + 1
        .endr

        .text
wedge_common:
        /* frame (low to high): r15 .. r8, rdi, rsi, rbp, rbx, rdx, rcx, rax, kind, rflags, ret */
        WEDGE_PUSH_GPRS
        movq %rsp, %rdi
        movq %rsp, %rbx
        andq $-16, %rsp
        cld
        call wedge_dispatch
        movq %rbx, %rsp
        WEDGE_POP_GPRS
        addq $8, %rsp                      /* kind */
        popfq
        ret                                /* to the end of the site span (frame->ret) */

        /* Boot: RDI = guest-physical handoff (identity-mapped). */
        .globl wedge_start
wedge_start:
        cli
        cld
        leaq wedge_stack_top(%rip), %rsp
        call wedge_main                    /* returns only if the guest can be entered */
        movq wedge_guest_rsp(%rip), %rsp
        movq wedge_guest_boot_params(%rip), %rsi
        movq wedge_guest_entry(%rip), %rax
        xorl %ebx, %ebx
        xorl %ecx, %ecx
        xorl %edx, %edx
        xorl %edi, %edi
        xorl %ebp, %ebp
        xorl %r8d, %r8d
        xorl %r9d, %r9d
        xorl %r10d, %r10d
        xorl %r11d, %r11d
        xorl %r12d, %r12d
        xorl %r13d, %r13d
        xorl %r14d, %r14d
        xorl %r15d, %r15d
        pushq $0x2                         /* RFLAGS: IF = 0, as the boot protocol says */
        popfq
        jmp *%rax

        .section .wedge.slots, "a"
        .globl wedge_slots
wedge_slots:
        .set k, 0
        .rept KIND_COUNT
        .quad WINDOW + 64 * k
        .set k, k + 1
        .endr

        .section .wedge.vcpu, "aw"
        .globl wedge_vcpu_page
wedge_vcpu_page:
        .byte 1, 0                         /* virtual IF (unused under KVM: IF is real), pending */
        .balign 4096, 0

        .bss
        .balign 16
wedge_stack:
        .fill 16384, 1, 0
wedge_stack_top:

        .section .note.GNU-stack, "", @progbits
