/*
 * The hypercall page. XEN_ELFNOTE_HYPERCALL_PAGE names it; Xen overwrites it at domain build
 * time with 128 32-byte stubs, stub N making hypercall N (see hypercall.h). It starts out as
 * int3 so that a call into a page Xen failed to fill traps instead of running zeros.
 */
	.section .text.hypercall_page, "ax"
	.balign 4096
	.globl hypercall_page
	.type hypercall_page, @object
hypercall_page:
	.fill 4096, 1, 0xcc
	.size hypercall_page, 4096
