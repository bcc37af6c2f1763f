/*
 * One L4 X.2 IPC through the kernel's amd64 system call stub, whose address the KIP gives
 * (l4_abi.h, kip_ipc). The stub takes the message registers in registers:
 *   %rsi to, %rdx from specifier, %r8 timeouts, %rdi the UTCB,
 *   MR0 %r9, MR1 %rax, MR2 %rbx, MR3 %r10, MR4-7 %r12-%r15 (both ways; MR8 and up stay in
 *   the UTCB), and returns the sender in %rsi.
 * It clobbers everything else but %rsp, so every callee-saved register is kept here.
 *
 * uint64_t l4_ipc(uint64_t to, uint64_t from, uint64_t timeouts, uint64_t *utcb,
 *                 uint64_t *sender, uint64_t entry)   returns MR0 (the message tag)
 */
#include "stub_macros.h"

	.text
	.globl l4_ipc
	.type l4_ipc, @function
l4_ipc:
	save_callee_saved
	pushq	%r8			/* sender out */
	pushq	%rcx			/* utcb */
	pushq	%r9			/* the stub's address */
	movq	%rdx, %r8
	movq	%rsi, %rdx
	movq	%rdi, %rsi
	movq	%rcx, %rdi
	load_message_registers %rdi
	popq	%rcx
	call	*%rcx
	popq	%rcx			/* utcb */
	movq	%r9, 0(%rcx)
	movq	%rax, 8(%rcx)
	movq	%rbx, 16(%rcx)
	movq	%r10, 24(%rcx)
	movq	%r12, 32(%rcx)
	movq	%r13, 40(%rcx)
	movq	%r14, 48(%rcx)
	movq	%r15, 56(%rcx)
	popq	%r8
	testq	%r8, %r8
	jz	1f
	movq	%rsi, (%r8)
1:	movq	%r9, %rax
	restore_callee_saved
	ret
	.size l4_ipc, . - l4_ipc
