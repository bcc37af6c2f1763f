/*
 * The Unmap system call through the kernel's amd64 stub (l4_abi.h, kip_unmap). The stub takes
 * %rdx the control word, %rdi the UTCB and MR0-7 in %r9, %rax, %rbx, %r10, %r12-%r15; it
 * leaves the flexpages' access bits in the UTCB's message registers and clobbers everything
 * else but %rsp.
 *
 * void l4_unmap(uint64_t control, uint64_t *utcb, uint64_t entry)
 */
#include "stub_macros.h"

	.text
	.globl l4_unmap
	.type l4_unmap, @function
l4_unmap:
	save_callee_saved
	movq	%rdx, %rcx		/* the stub's address */
	movq	%rdi, %rdx		/* control */
	movq	%rsi, %rdi		/* UTCB */
	load_message_registers %rdi
	call	*%rcx
	restore_callee_saved
	ret
	.size l4_unmap, . - l4_unmap
