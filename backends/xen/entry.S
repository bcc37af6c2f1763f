/*
 * The PV entry point (XEN_ELFNOTE_ENTRY). Xen starts us in 64-bit mode, ring 3 (guest kernel
 * mode), on its bootstrap page tables, with
 *   %rsi = virtual address of start_info,
 *   %rsp = a bootstrap stack at the end of the initial mapping (xen/xen.h "Start-of-day").
 * Events are masked (vcpu_info.evtchn_upcall_mask = 1). We move to our own stack in .bss so
 * the wedge's stack does not depend on where Xen put things, and call C++.
 */
	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	cld
	movq	%rsi, %rdi		/* arg 1: start_info */
	movq	%rsp, %rsi		/* arg 2: Xen's stack pointer, reported for the notes */
	leaq	boot_stack_top(%rip), %rsp
	xorl	%ebp, %ebp		/* terminate frame-pointer chains */
	call	wedge_main
	call	wedge_main_returned	/* does not return */
1:	ud2
	jmp	1b
	.size _start, . - _start

	.section .bss.stack, "aw", @nobits
	.balign 4096
	.globl boot_stack
boot_stack:
	.skip 16384
	.globl boot_stack_top
boot_stack_top:
