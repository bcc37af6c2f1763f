/*
 * Included by the system-call stubs (*.S): Pistachio's amd64 stubs clobber every register but
 * %rsp, so each C-callable wrapper keeps the SysV callee-saved ones around the call.
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
