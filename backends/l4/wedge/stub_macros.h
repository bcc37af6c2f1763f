/*
 * Included by the system-call stubs (*.S). Pistachio's amd64 stubs clobber every register but
 * %rsp, so each C-callable wrapper keeps the SysV callee-saved ones around the call; the
 * stubs that carry a message take MR0-7 in %r9, %rax, %rbx, %r10, %r12-%r15.
 */
	.macro	save_callee_saved
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	.endm

	.macro	restore_callee_saved
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	.endm

	/* MR0-7 from the UTCB's message registers at \utcb into the stub's registers. */
	.macro	load_message_registers utcb
	movq	0(\utcb), %r9
	movq	8(\utcb), %rax
	movq	16(\utcb), %rbx
	movq	24(\utcb), %r10
	movq	32(\utcb), %r12
	movq	40(\utcb), %r13
	movq	48(\utcb), %r14
	movq	56(\utcb), %r15
	.endm
