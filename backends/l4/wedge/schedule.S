/*
 * The Schedule system call through the kernel's amd64 stub (l4_abi.h, kip_schedule): %rdi the
 * destination, %rsi the priority, %rdx time control, %r8 processor control, %r9 preemption
 * control (all ones: unchanged); the result in %rax (0 on failure). Priority and time control
 * are set, the rest unchanged.
 *
 * uint64_t l4_schedule(uint64_t dest, uint64_t priority, uint64_t time_control, uint64_t entry)
 */
#include "stub_macros.h"

	.text
	.globl l4_schedule
	.type l4_schedule, @function
l4_schedule:
	save_callee_saved
	movq	%rcx, %rax
	movq	$-1, %r8
	movq	$-1, %r9
	call	*%rax
	restore_callee_saved
	ret
	.size l4_schedule, . - l4_schedule
