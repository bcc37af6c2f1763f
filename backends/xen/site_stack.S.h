/* The site stack's frame (struct site_frame, site_frame.h), shared by the entry window's
 * entries (window.S) and the page-table sites' fast entry (page_table_fast_path.S), so that
 * every path that saves the guest's registers there saves them in the one layout the C++ side
 * reads. High to low below the pushfq: the registers a C++ call may clobber, then the
 * callee-saved ones. */
#pragma once

        /* Onto the site stack, the guest's rsp kept in wedge_site_guest_rsp; rflags and the
         * caller-saved registers pushed. */
        .macro SITE_ENTER_STACK
        movq %rsp, wedge_site_guest_rsp(%rip)
        leaq wedge_site_stack_top(%rip), %rsp
        pushfq
        pushq %rax
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        .endm

        /* The callee-saved registers, completing the frame. */
        .macro SITE_PUSH_CALLEE_SAVED
        pushq %r15
        pushq %r14
        pushq %r13
        pushq %r12
        pushq %rbp
        pushq %rbx
        .endm

        /* The caller-saved registers SITE_ENTER_STACK pushed, back from the stack
         * (rflags stays on the stack). */
        .macro SITE_POP_CALLER_SAVED
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rax
        .endm

        /* The whole frame back into the registers and rflags (the guest's rsp stays in
         * wedge_site_guest_rsp). */
        .macro SITE_POP_FRAME
        popq %rbx
        popq %rbp
        popq %r12
        popq %r13
        popq %r14
        popq %r15
        SITE_POP_CALLER_SAVED
        popfq
        .endm
