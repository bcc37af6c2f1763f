/*
 * The root task's entry point. Pistachio starts the root task at its ELF entry in user mode
 * with sigma0 as its pager; the stack pointer it gives is not ours to rely on, so we move to
 * a stack in .bss (sigma0 maps its pages on first touch) and call C++.
 */
	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	cld
	leaq	boot_stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	call	wedge_main
1:	ud2			/* wedge_main does not return */
	jmp	1b
	.size _start, . - _start

	.section .bss.stack, "aw", @nobits
	.balign 4096
boot_stack:
	.skip 65536
boot_stack_top:
