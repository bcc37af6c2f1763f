/*
 * The ThreadControl system call through the kernel's amd64 stub, whose address the KIP gives
 * (l4_abi.h, kip_thread_control). The stub takes %rdi dest, %rsi pager, %rdx scheduler,
 * %r8 space specifier, %r9 UTCB location, returns the result (1: success) in %rax, and
 * clobbers everything else but %rsp.
 *
 * uint64_t l4_thread_control(uint64_t dest, uint64_t space, uint64_t scheduler,
 *                            uint64_t pager, uint64_t utcb_location, uint64_t entry)
 */
#include "stub_macros.h"

	.text
	.globl l4_thread_control
	.type l4_thread_control, @function
l4_thread_control:
	save_callee_saved
	movq	%r9, %rax		/* the stub's address */
	movq	%r8, %r9		/* utcb location */
	movq	%rsi, %r8		/* space specifier */
	movq	%rcx, %rsi		/* pager */
	call	*%rax
	restore_callee_saved
	ret
	.size l4_thread_control, . - l4_thread_control
