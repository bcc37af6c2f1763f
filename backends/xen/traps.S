/*
 * Exception and event entry stubs.
 *
 * A 64-bit PV kernel gets exceptions on a "bounce frame" that Xen builds on the guest kernel
 * stack: the hardware iret frame (ss, rsp, rflags, cs, rip), the error code for vectors that
 * have one, and on top of that %r11 and %rcx, which Xen needed for its own return path
 * (SYSRET clobbers them). The event upcall gets the same frame without an error code. Each
 * stub pops rcx/r11 back into their registers (leaving a hardware-shaped frame), pushes a
 * dummy error code where the CPU would not, the vector, and all GPRs: struct trap_frame in
 * traps.h. The way back is HYPERVISOR_iret, whose argument block sits on the stack
 * (struct iret_context in xen/arch-x86/xen-x86_64.h): rax, r11, rcx, flags above the same
 * five-word iret frame; the hypercall page's iret stub pushes the first three. (xen-x86_64.h allows a plain `iretq` for kernel-to-kernel returns,
 * but only HYPERVISOR_iret restores the event mask from the saved IF atomically with the
 * return, which the event upcall needs.)
 */
#include <xen/xen.h>

#include "afterburn/gpr_sequences.S.h"

#define EVENT_VECTOR 256	/* not a CPU vector: marks the event upcall in trap_frame */
#define SYSCALL_VECTOR 257	/* nor this: Xen's syscall callback (guest user mode) */

.macro ENTRY_STUB name, vector, has_error
	.globl \name
	.type \name, @function
\name:
	popq	%rcx
	popq	%r11
	.if \has_error == 0
	pushq	$0
	.endif
	pushq	$\vector
	jmp	trap_common
	.size \name, . - \name
.endm

	.text
	ENTRY_STUB trap_de,   0, 0
	ENTRY_STUB trap_db,   1, 0
	ENTRY_STUB trap_bp,   3, 0
	ENTRY_STUB trap_of,   4, 0
	ENTRY_STUB trap_br,   5, 0
	ENTRY_STUB trap_ud,   6, 0
	ENTRY_STUB trap_nm,   7, 0
	ENTRY_STUB trap_ts,  10, 1
	ENTRY_STUB trap_np,  11, 1
	ENTRY_STUB trap_ss,  12, 1
	ENTRY_STUB trap_gp,  13, 1
	ENTRY_STUB trap_pf,  14, 1
	ENTRY_STUB trap_mf,  16, 0
	ENTRY_STUB trap_ac,  17, 1
	ENTRY_STUB trap_mc,  18, 0
	ENTRY_STUB trap_xm,  19, 0
	ENTRY_STUB event_upcall, EVENT_VECTOR, 0

/*
 * Xen's syscall callback (a `syscall` in guest user mode): the same frame as the upcall,
 * rcx/r11 (the values the syscall left: return rip, user rflags) on top of an iret frame whose
 * rip is the return address. Only guest user mode makes one.
 *
 * First the fast path (syscall_fast_path.h): only the registers a C++ call may clobber are
 * saved (struct syscall_entry_frame); the callee-saved ones stay live in the CPU, as the
 * SysV ABI guarantees across the call. When it finished the system call it has written the
 * guest's rcx/r11 into the frame, the guest's real RFLAGS into the iret frame and the rsp and
 * rip to continue at into wedge_resume_rsp/rip: the registers are popped and the guest
 * continues in kernel mode, nothing written to its stack. Else every register is as at the
 * callback's entry again and the general path builds the full trap frame for
 * syscall_dispatch (traps.cpp), which does not return.
 */
	.globl syscall_entry
	.type syscall_entry, @function
syscall_entry:
	pushq	%rax		/* below Xen's rcx and r11 words, which stay where Xen wrote them */
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	cld
	movq	%rsp, %rdi		/* syscall_entry_frame *, 16-byte aligned (Xen's frame: 5 words below kernel_sp) */
	call	syscall_fast
	testb	%al, %al
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rax
	popq	%rcx
	popq	%r11
	jz	1f
	pushq	16(%rsp)		/* the guest's real RFLAGS (the iret frame's) */
	popfq
	movq	wedge_resume_rsp(%rip), %rsp
	jmp	*wedge_resume_rip(%rip)
1:	pushq	$0
	pushq	$SYSCALL_VECTOR
	WEDGE_PUSH_GPRS
	cld
	movq	%rsp, %rdi		/* trap_frame * */
	andq	$-16, %rsp
	call	syscall_dispatch
2:	ud2
	jmp	2b
	.size syscall_entry, . - syscall_entry

trap_common:
	WEDGE_PUSH_GPRS
	cld
	movq	%rsp, %rdi		/* trap_frame * */
	movq	%rsp, %rbx		/* callee-saved: the frame, for after the call */
	andq	$-16, %rsp		/* the SysV ABI wants a 16-byte aligned call */
	call	trap_dispatch
	movq	%rbx, %rsp
	WEDGE_POP_GPRS
	addq	$16, %rsp		/* vector and error code */
	/*
	 * The iret stub in the hypercall page is jumped to, not called: it pushes rcx, r11
	 * and rax itself, completing struct iret_context, then enters Xen. We supply only
	 * `flags` on top of the iret frame.
	 */
	pushq	$0			/* iret_context.flags: not returning from a syscall */
	jmp	hypercall_page + __HYPERVISOR_iret * 32

/*
 * The failsafe callback: Xen calls it when it cannot return to us (it failed to load a
 * segment register from the frame we gave HYPERVISOR_iret). Its frame is rcx, r11, ds, es,
 * fs, gs, then the iret frame. There is nothing sane to return to: report and exit.
 */
	.globl failsafe_callback
	.type failsafe_callback, @function
failsafe_callback:
	cld
	movq	%rsp, %rdi
	andq	$-16, %rsp
	call	failsafe_report		/* does not return */
1:	ud2
	jmp	1b
	.size failsafe_callback, . - failsafe_callback
