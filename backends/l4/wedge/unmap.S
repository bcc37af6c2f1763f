/*
 * The Unmap system call through the kernel's amd64 stub (l4_abi.h, kip_unmap). The stub takes
 * %rdx the control word, %rdi the UTCB and MR0-7 in %r9, %rax, %rbx, %r10, %r12-%r15; it
 * leaves the flexpages' access bits in the UTCB's message registers and clobbers everything
 * else but %rsp.
 *
 * void l4_unmap(uint64_t control, uint64_t *utcb, uint64_t entry)
 */
#include "callee_saved.h"

	.text
	.globl l4_unmap
	.type l4_unmap, @function
l4_unmap:
	save_callee_saved
	movq	%rdx, %rcx		/* the stub's address */
	movq	%rdi, %rdx		/* control */
	movq	%rsi, %rdi		/* UTCB */
	movq	0(%rdi), %r9
	movq	8(%rdi), %rax
	movq	16(%rdi), %rbx
	movq	24(%rdi), %r10
	movq	32(%rdi), %r12
	movq	40(%rdi), %r13
	movq	48(%rdi), %r14
	movq	56(%rdi), %r15
	call	*%rcx
	restore_callee_saved
	ret
	.size l4_unmap, . - l4_unmap
