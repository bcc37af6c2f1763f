/*
 * The SpaceControl system call through the kernel's amd64 stub, whose address the KIP gives
 * (l4_abi.h, kip_space_control). The stub takes %rdi the space specifier, %rsi control,
 * %rdx the KIP area, %r8 the UTCB area, %r9 the redirector, returns the result (1: success)
 * in %rax, and clobbers everything else but %rsp.
 *
 * uint64_t l4_space_control(uint64_t space, uint64_t control, uint64_t kip_area,
 *                           uint64_t utcb_area, uint64_t redirector, uint64_t entry)
 */
#include "stub_macros.h"

	.text
	.globl l4_space_control
	.type l4_space_control, @function
l4_space_control:
	save_callee_saved
	movq	%r9, %rax		/* the stub's address */
	movq	%r8, %r9		/* redirector */
	movq	%rcx, %r8		/* UTCB area */
	call	*%rax
	restore_callee_saved
	ret
	.size l4_space_control, . - l4_space_control
