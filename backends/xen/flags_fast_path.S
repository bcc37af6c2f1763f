/* pushf and popf without the core (docs/wedge-abi.md, "Fast paths"). Linux runs ~440,000
 * pushf sites in one workload run (local_irq_save); through site_dispatch each costs ~5,800
 * instructions (find the site, copy the frame, poll the devices, emulate the stack access
 * through a page walk, resume). Here: the real flags with the virtual IF, in a few dozen.
 *
 * The entry window's stubs for pushf and popf jump here with the site's call as the only
 * thing on the guest's stack: [rsp] = the return address, which is inside the site span
 * (call + NOPs, no padding in front), so `ret` continues after the site. Anything this path
 * does not cover goes to the core through the ordinary entry, with the stack and the flags
 * as they came: the vCPU page's inline_flags byte clear (virtual IOPL not 0, or a 16-bit
 * pushf/popf in the image), a popf loading TF or IOPL, and a popf that opens interrupts
 * while one may be pending (the core delivers it).
 *
 * Everything stays at or above rsp: an upcall striking here writes its bounce frame below
 * rsp and returns (guest_event: the wedge is running). popfq in PV kernel mode (ring 3)
 * leaves IF and IOPL alone, so it restores exactly the guest's own flags. The path uses up
 * to 32 bytes below the call's return address on the guest's stack, which the instruction
 * itself would not touch: a guest at the very bottom of a stack its own tables do not extend
 * would end the run there (a wedge fault) instead of taking its #PF. */
        .set VCPU_PAGE, 0xffffffffffe20000  /* wedge_abi::vcpu_page */
        .set VIRTUAL_IF, VCPU_PAGE + 0
        .set PENDING, VCPU_PAGE + 1
        .set INLINE_FLAGS, VCPU_PAGE + 2
        .set KIND_PUSHF, 3                  /* site_kind::pushf, popf (static_assert in site_entry.cpp) */
        .set KIND_POPF, 4
        /* flags::real (wedge/frame.h): CF PF AF ZF SF TF DF OF NT AC ID, the guest's own */
        .set REAL_FLAGS, 0x244dd5
        .set FLAG_IF, 0x200
        .set FLAG_TF, 0x100
        .set FLAG_IOPL, 0x3000

        .text
        /* pushf: the image is the real flags (REAL_FLAGS), bit 1, and the virtual IF; it
         * goes where pushfq would put it, the call's return address moves below it. */
        .globl wedge_pushf_fast
wedge_pushf_fast:                       /* r = rsp on entry: [r] = return address */
        pushfq                          /* [r-8]  = F, the guest's flags */
        testb $1, INLINE_FLAGS
        jz 9f
        incq wedge_inline_pushf_count(%rip)
        leaq -8(%rsp), %rsp             /* [r-16] = for popfq */
        pushq %rax                      /* [r-24] */
        pushq %rcx                      /* [r-32] */
        movq 24(%rsp), %rax             /* F */
        andq $REAL_FLAGS, %rax
        orq $2, %rax
        testb $1, VIRTUAL_IF
        jz 1f
        orq $FLAG_IF, %rax
1:      movq 32(%rsp), %rcx             /* the return address */
        movq %rax, 32(%rsp)             /* [r]    = the image: rsp after the site is r */
        movq %rcx, 24(%rsp)             /* [r-8]  = the return address */
        movq %rax, 16(%rsp)             /* [r-16] = the guest's flags again (IF, IOPL ignored) */
        popq %rcx
        popq %rax
        popfq
        ret
9:      popfq
        pushq $KIND_PUSHF
        jmp wedge_site_entry

        /* popf: the image's IF becomes the virtual IF, its real bits the real flags, and the
         * call's return address moves over it. */
        .globl wedge_popf_fast
wedge_popf_fast:                        /* [r] = return address, [r+8] = the image */
        pushfq                          /* [r-8] */
        testb $1, INLINE_FLAGS
        jz 9f
        pushq %rax                      /* [r-16] */
        pushq %rcx                      /* [r-24] */
        movq 32(%rsp), %rax             /* the image */
        testq $(FLAG_TF | FLAG_IOPL), %rax
        jnz 8f
        testl $FLAG_IF, %eax
        jz 2f
        cmpb $0, PENDING                /* opening: the core delivers what may be waiting */
        jne 8f
        movb $1, VIRTUAL_IF
        jmp 3f
2:      movb $0, VIRTUAL_IF
3:      incq wedge_inline_popf_count(%rip)
        movq 24(%rsp), %rcx             /* the return address */
        movq %rax, 24(%rsp)             /* [r]   = the image, for popfq */
        movq %rcx, 32(%rsp)             /* [r+8] = the return address: rsp after the site is r+16 */
        popq %rcx
        popq %rax
        leaq 8(%rsp), %rsp              /* F is not needed: the image's real bits replace it */
        popfq
        ret
8:      popq %rcx
        popq %rax
9:      popfq
        pushq $KIND_POPF
        jmp wedge_site_entry

        .bss
        .balign 8
        .globl wedge_inline_pushf_count, wedge_inline_popf_count
wedge_inline_pushf_count:
        .skip 8
wedge_inline_popf_count:
        .skip 8

        .section .note.GNU-stack, "", @progbits
