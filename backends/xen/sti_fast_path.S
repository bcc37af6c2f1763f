/* sti without the core (docs/wedge-abi.md, "Fast paths"). Linux runs ~230,000 sti sites in
 * one workload run (local_irq_enable, local_irq_restore's sti); through site_dispatch each
 * costs ~900 instructions. Here: the virtual IF and the span's end, in about two dozen.
 *
 * The entry window's stub for sti jumps here with the site's call as the only thing on the
 * guest's stack: [rsp] = the call's return address. An sti span is the call, single-byte NOPs
 * and an int3 as its last byte (the instruction's own byte when the padding is in front, the
 * rewriter's guard byte for a prefixed sti: rewriter/site_rewriter.cpp), so the guest goes on
 * past that int3:
 * [ret] = 0xcc after `call *slot(sti)` (7 bytes), [ret] = 90 90 cc after `call rel32` (5).
 * Any other bytes there go to the core, which knows the span from the site's record.
 *
 * It finishes the sti itself only while the vCPU page's `inline_sti` is set (resume(): sti
 * cannot fault, virtual CPL <= IOPL) and `pending` is clear: then the core would set the
 * virtual IF and deliver nothing. With `pending` set the core runs it and delivers after the
 * interrupt shadow (want_step in guest_resume.cpp). The shadow itself: the span's end goes
 * to the vCPU page's `inline_sti_end`; an upcall that finds the guest there has not let the
 * instruction after the sti run yet and waits for it (guest_event, note_inline_sti_shadow);
 * an upcall striking in here finds the wedge running and only asks to be retried.
 *
 * Everything stays at or above rsp (an upcall's bounce frame goes below it); 16 bytes below
 * the call's return address are used, as flags_fast_path.S does. */
        .set VCPU_PAGE, 0xffffffffffe20000  /* wedge_abi::vcpu_page */
        .set VIRTUAL_IF, VCPU_PAGE + 0
        .set PENDING, VCPU_PAGE + 1
        .set INLINE_STI, VCPU_PAGE + 3
        .set INLINE_STI_END, VCPU_PAGE + 8
        .set KIND_STI, 2                    /* site_kind::sti (static_assert in site_entry.cpp) */
        .set INT3, 0xcc
        .set TWO_NOPS, 0x9090

        .text
        .globl wedge_sti_fast
wedge_sti_fast:                         /* [r] = the return address */
        pushfq                          /* [r-8] = the guest's flags */
        cmpb $0, INLINE_STI
        je 9f
        cmpb $0, PENDING
        jne 9f
        pushq %rax                      /* [r-16] */
        movq 16(%rsp), %rax             /* the return address */
        cmpb $INT3, (%rax)              /* call *slot: the int3 follows */
        je 1f
        cmpw $TWO_NOPS, (%rax)          /* call rel32: two NOPs, then the int3 */
        jne 8f
        cmpb $INT3, 2(%rax)
        jne 8f
        addq $2, %rax
1:      incq %rax                       /* past the int3: the end of the span */
        movq %rax, 16(%rsp)             /* where `ret` goes */
        movq %rax, INLINE_STI_END
        movb $1, VIRTUAL_IF
        incq wedge_inline_sti_count(%rip)
        popq %rax
        popfq
        ret
8:      popq %rax
9:      popfq
        pushq $KIND_STI
        jmp wedge_site_entry

        .bss
        .balign 8
        .globl wedge_inline_sti_count
wedge_inline_sti_count:
        .skip 8

        .section .note.GNU-stack, "", @progbits
