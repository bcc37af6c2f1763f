/* The entry window (docs/wedge-abi.md), linked at 0xffffffffffe00000 and loaded inside the
 * image (xen-wedge.ld: .window); pv_shadow.cpp aliases its pages into the window's L1:
 *   window + 64*k     entry(k): pushq $k; jmp wedge_site_entry (sti, pushf, popf, rdtsc,
 *                     rdtscp: their fast paths in sti_fast_path.S, flags_fast_path.S and
 *                     tsc_fast_path.S, which fall back to that; page_table_store and
 *                     _load push k and try page_table_fast_path.S first)
 *   window + 0x10000  slot table: slot(k) = &entry(k)
 *   window + 0x20000  vCPU page (wedge_vcpu_page, the first page of the wedge::vcpu object in
 *                     guest_platform.cpp, aliased writable)
 * wedge_site_entry (in .text) is where a rewritten site lands (docs/xen-backend.md). */
#include "afterburn/gpr_sequences.S.h"
#include "site_stack.S.h"
        .set WINDOW, 0xffffffffffe00000
        .set KIND_COUNT, 71                 /* site_kind_count */

        .section .wedge.entry, "ax"
        .globl wedge_entries
wedge_entries:
        .set k, 0
        .rept KIND_COUNT
        .balign 64
        .if k == 2                          /* sti: sti_fast_path.S */
        jmp wedge_sti_fast
        .elseif k == 3                      /* pushf, popf: flags_fast_path.S */
        jmp wedge_pushf_fast
        .elseif k == 4
        jmp wedge_popf_fast
        .elseif k == 27                     /* rdtsc, rdtscp: tsc_fast_path.S */
        jmp wedge_rdtsc_fast
        .elseif k == 28
        jmp wedge_rdtscp_fast
        .elseif k == 69 || k == 70          /* page_table_store, _load: page_table_fast_path.S first */
        pushq $k
        jmp wedge_page_table_fast
        .elseif k == 31                     /* swapgs: the fused return first (user_return_fast_path.cpp) */
        pushq $k
        jmp wedge_swapgs_entry
        .else
        pushq $k
        jmp wedge_site_entry
        .endif
        .set k, k + 1
        .endr

        .section .wedge.slots, "a"
        .globl wedge_slots
wedge_slots:
        .set k, 0
        .rept KIND_COUNT
        .quad WINDOW + 64 * k
        .set k, k + 1
        .endr

        .text
        /* A rewritten site called entry(k): the guest's stack holds k and the return address
         * (inside the site span). The guest runs in the same PV kernel mode as the wedge, on
         * its own stack, which the emulated instruction may write (pushf, an interrupt frame),
         * so the wedge switches to its own stack first: the guest's registers are saved there
         * (struct site_frame in site_entry.cpp) and site_dispatch() never returns here; it
         * leaves through wedge_resume with the frame the core produced. Events are open
         * while the guest runs (docs/xen-backend.md, "Time and interrupts"): an upcall
         * striking here only acknowledges and re-arms the timer (guest_event), and
         * site_dispatch masks them first thing; nothing re-enters this path. */

        .globl wedge_site_entry
wedge_site_entry:
        SITE_ENTER_STACK
        SITE_PUSH_CALLEE_SAVED
        movq %rsp, %rdi
        cld
        call site_dispatch                 /* does not return */
1:      ud2
        jmp 1b

        /* The swapgs sites' entry: the same frame, but swapgs_fused_return (the swapgs with
         * the iretq its code leads to: the return to user mode) is called with only the
         * registers a call clobbers saved; the callee-saved ones are still the guest's when
         * it returns, as the SysV ABI guarantees. Done: those nine are restored and
         * HYPERVISOR_iret takes the context it wrote. Declined (nothing changed): the other
         * six slots are filled and site_dispatch goes on as for any site. The ten words pushed
         * keep the stack's 16-byte alignment for the first call, the 16 of the full frame for
         * the second. */
wedge_swapgs_entry:
        SITE_ENTER_STACK
        leaq -6*8(%rsp), %rdi              /* the frame: its six callee-saved slots not yet */
        cld                                /* claimed (the call may use them as its stack; */
        call swapgs_fused_return           /* it reads only the part above them) */
        testb %al, %al
        jz 2f
        SITE_POP_CALLER_SAVED
        leaq wedge_user_iret_context(%rip), %rsp
        jmp hypercall_page + 23*32         /* __HYPERVISOR_iret */
2:      subq $6*8, %rsp
        movq %rbx, 0*8(%rsp)
        movq %rbp, 1*8(%rsp)
        movq %r12, 2*8(%rsp)
        movq %r13, 3*8(%rsp)
        movq %r14, 4*8(%rsp)
        movq %r15, 5*8(%rsp)
        movq %rsp, %rdi
        call site_dispatch                 /* does not return */
3:      ud2
        jmp 3b

        /* wedge_resume(const afterburn::wedge::frame *f): continue the guest with every GPR,
         * rip and the real RFLAGS bits from *f (gpr[] by hardware number, then rip, rflags).
         * The new rsp and rip go through two wedge globals so that nothing is written to the
         * guest's stack. IF and IOPL in RFLAGS are not the guest's (they are virtual); popfq
         * in PV kernel mode (ring 3) cannot change them anyway. */
        .globl wedge_resume
wedge_resume:
        movq 4*8(%rdi), %rax               /* rsp */
        movq %rax, wedge_resume_rsp(%rip)
        movq 16*8(%rdi), %rax              /* rip */
        movq %rax, wedge_resume_rip(%rip)
        pushq 17*8(%rdi)                   /* rflags */
        popfq
        WEDGE_LOAD_FRAME_GPRS
        movq wedge_resume_rsp(%rip), %rsp
        jmp *wedge_resume_rip(%rip)

        /* wedge_iret(const afterburn::wedge::frame *f, cs, ss): continue the guest with every
         * GPR, rip, rsp and the real RFLAGS bits from *f through HYPERVISOR_iret. With cs
         * FLAT_USER_CS (RPL 3) Xen switches to guest user mode and the shadow's user root
         * (virtual CPL 3); with RPL 0 it stays in kernel mode (used to set TF atomically). struct iret_context is built on a wedge
         * stack: ss, rsp, rflags, cs, rip, flags(0) here; the hypercall page's iret stub
         * pushes rcx, r11 and rax. IF in the frame is the event mask for user mode (the
         * guest's IF is virtual: events reach the vCPU through the wedge). */
        .globl wedge_iret
wedge_iret:
        leaq wedge_user_iret_top(%rip), %rsp
        pushq %rdx                         /* ss */
        pushq 4*8(%rdi)                    /* rsp */
        pushq 17*8(%rdi)                   /* rflags */
        pushq %rsi                         /* cs */
        pushq 16*8(%rdi)                   /* rip */
        pushq $0                           /* iret_context.flags: not VGCF_in_syscall */
        WEDGE_LOAD_FRAME_GPRS
        jmp hypercall_page + 23*32         /* __HYPERVISOR_iret */

        /* The swapgs entry's HYPERVISOR_iret context (struct iret_context above the three
         * words the hypercall page's iret stub pushes, with room below for them): flags, cs
         * and ss are the same for every fused return (not VGCF_in_syscall, Xen's flat ring-3
         * selectors), so they are set here once and resume_user_from writes only rip, rflags
         * and rsp. Nothing else writes this block. Below it as much room as wedge_iret's
         * stack has below its context (the stub's three words; anything Xen might push). */
        .data
        .balign 16
        .skip 256 - 6*8
        .globl wedge_user_iret_context
wedge_user_iret_context:
        .quad 0                            /* flags */
        .quad 0                            /* rip */
        .quad 0xe033                       /* cs: FLAT_RING3_CS64 */
        .quad 0                            /* rflags */
        .quad 0                            /* rsp */
        .quad 0xe02b                       /* ss: FLAT_RING3_SS64 */

        .bss
        .balign 16
wedge_user_iret_stack:                     /* wedge_iret's context, pushed */
        .skip 256
wedge_user_iret_top:
        .balign 16
        .globl wedge_user_trap_stack_top
wedge_user_trap_stack:                     /* stack_switch: Xen's kernel_sp for user mode */
        .skip 16384
wedge_user_trap_stack_top:
        .balign 16
        .globl wedge_site_guest_rsp, wedge_resume_rsp, wedge_resume_rip
wedge_site_guest_rsp:
        .skip 8
wedge_resume_rsp:
        .skip 8
wedge_resume_rip:
        .skip 8
        .balign 16
wedge_site_stack:
        .skip 16384
        .globl wedge_site_stack_top        /* page_table_fast_path.S saves the same frame here */
wedge_site_stack_top:

        .section .note.GNU-stack, "", @progbits
