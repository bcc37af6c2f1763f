/*
 * The entry window's code as the guest's address space sees it at 0x7fe00000
 * (entry_window.h; docs/l4-backend.md): the wedge maps these pages there and never runs them
 * itself. Entry k, at +64k, names its kind and joins the common path, which saves the
 * guest's registers in the frame page, pops the site call's return address, and calls the
 * wedge by IPC (label "site"); the wedge runs the site with the core and replies, and the
 * path loads the frame the wedge left (rsp, rflags, the GPRs) and jumps to its rip.
 * Everything is addressed absolutely (the window's fixed place), nothing relative to the
 * wedge's own link address except the jumps inside these pages.
 */
#define W		0x7fe00000
#define F		(W + 0x21000)
#define GPR(n)		(F + 8 * (n))
#define F_RIP		(F + 128)
#define F_RFLAGS	(F + 136)
#define F_KIND		(F + 144)
#define F_RET		(F + 152)
#define F_WEDGE		(F + 160)
#define F_IPC		(F + 168)
#define SITE_TAG	(0x5173 << 16)	/* label "site", no words */
#define IRQ_TAG		(0x5175 << 16)	/* label "interrupted", no words */
#define F_STACK		(F + 4096)	/* the interrupted path's own stack: the frame page's top */
#define KINDS		128

/* Every GPR but %rsp into the frame page, by hardware number (each path saves %rsp its way). */
.macro SAVE_GPRS_BUT_RSP
	movq	%rax, GPR(0)
	movq	%rcx, GPR(1)
	movq	%rdx, GPR(2)
	movq	%rbx, GPR(3)
	movq	%rbp, GPR(5)
	movq	%rsi, GPR(6)
	movq	%rdi, GPR(7)
	movq	%r8, GPR(8)
	movq	%r9, GPR(9)
	movq	%r10, GPR(10)
	movq	%r11, GPR(11)
	movq	%r12, GPR(12)
	movq	%r13, GPR(13)
	movq	%r14, GPR(14)
	movq	%r15, GPR(15)
.endm

	.section .window, "ax"
	.balign 4096
	.globl window_code
window_code:
	.set kind, 0
	.rept KINDS
	movq	$kind, F_KIND
	jmp	window_common
	.balign 64, 0xcc
	.set kind, kind + 1
	.endr

window_common:
	SAVE_GPRS_BUT_RSP
	popq	%rax			/* the site call's return address */
	movq	%rax, F_RET
	movq	%rsp, GPR(4)		/* the guest's rsp as before the call */
	pushfq
	popq	%rax
	movq	%rax, F_RFLAGS
	movq	F_WEDGE, %rsi		/* to */
	movq	%rsi, %rdx		/* from: the reply */
	xorl	%r8d, %r8d		/* no timeouts */
	movq	$SITE_TAG, %r9
	callq	*F_IPC
	jmp	window_restore

	/* Where the wedge sends the guest thread to take an interrupt (ExchangeRegisters, its
	 * old rip, rsp and rflags already in the frame page): the GPRs saved, the wedge called on
	 * a stack of the window's, so that nothing below the guest's rsp changes (user code's
	 * red zone); the wedge delivers, and the restore path goes on at the handler. */
	.globl window_interrupted
window_interrupted:
	SAVE_GPRS_BUT_RSP
	movq	$F_STACK, %rsp
	movq	F_WEDGE, %rsi
	movq	%rsi, %rdx
	xorl	%r8d, %r8d
	movq	$IRQ_TAG, %r9
	callq	*F_IPC
	jmp	window_restore

	/* The thread's first instructions: the wedge is its exception handler (the UTCB's
	 * thread control register -11, which only the thread itself can write). */
	.globl window_start
window_start:
	movq	%gs:0, %rax
	movq	F_WEDGE, %rcx
	movq	%rcx, -88(%rax)
	.globl window_restore
window_restore:
	movq	GPR(4), %rsp
	/* Pistachio runs user threads with IOPL 3 (no IO flexpages configured), where this
	 * popfq loads IF for real. The guest's IF is virtual (the frame's is clear); the real one
	 * must stay set, or no timer interrupt reaches the kernel while the thread runs. (The
	 * wedge lowers the guest thread to IOPL 0, fix 0017; this holds without it too.) */
	pushq	F_RFLAGS
	orq	$0x200, (%rsp)
	popfq
	movq	GPR(0), %rax
	movq	GPR(1), %rcx
	movq	GPR(2), %rdx
	movq	GPR(3), %rbx
	movq	GPR(5), %rbp
	movq	GPR(6), %rsi
	movq	GPR(7), %rdi
	movq	GPR(8), %r8
	movq	GPR(9), %r9
	movq	GPR(10), %r10
	movq	GPR(11), %r11
	movq	GPR(12), %r12
	movq	GPR(13), %r13
	movq	GPR(14), %r14
	movq	GPR(15), %r15
	jmpq	*F_RIP
	.balign 4096, 0xcc
	.globl window_code_end
window_code_end:
