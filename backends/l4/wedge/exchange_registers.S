/*
 * The ExchangeRegisters system call through the kernel's amd64 stub (l4_abi.h,
 * kip_exchange_registers). The stub takes %rax the destination, %rsi control, %rdx sp, %r8 ip,
 * %r9 flags, %r10 the user-defined handle, %rdi the pager; it returns the old values in the
 * same registers (%rax the thread id, nil on failure) and clobbers everything else but %rsp.
 *
 * uint64_t l4_exchange_registers(uint64_t dest, uint64_t control, uint64_t *sp_ip_flags,
 *                                uint64_t entry, uint64_t handle)
 *   sp_ip_flags[4]: in, what `control` sets (sp, ip, flags); out, the thread's old values and
 *   [3] its old control (halted 1, receiving 2, sending 4)
 */
#include "stub_macros.h"

	.text
	.globl l4_exchange_registers
	.type l4_exchange_registers, @function
l4_exchange_registers:
	save_callee_saved
	movq	%r8, %r10		/* the user-defined handle (fix 0018: a segment base) */
	pushq	%rdx			/* sp_ip_flags */
	pushq	%rcx			/* the stub's address */
	movq	%rdi, %rax
	movq	8(%rdx), %r8
	movq	16(%rdx), %r9
	movq	0(%rdx), %rdx
	xorl	%edi, %edi
	popq	%rcx
	call	*%rcx
	popq	%rcx
	movq	%rdx, 0(%rcx)
	movq	%r8, 8(%rcx)
	movq	%r9, 16(%rcx)
	movq	%rsi, 24(%rcx)
	restore_callee_saved
	ret
	.size l4_exchange_registers, . - l4_exchange_registers
