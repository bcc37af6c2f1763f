/*
 * The SystemClock system call through the kernel's amd64 stub (l4_abi.h, kip_system_clock):
 * microseconds in %rax; the stub clobbers everything else but %rsp.
 *
 * uint64_t l4_system_clock(uint64_t entry)
 */
	.text
	.globl l4_system_clock
	.type l4_system_clock, @function
l4_system_clock:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	call	*%rdi
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret
	.size l4_system_clock, . - l4_system_clock
