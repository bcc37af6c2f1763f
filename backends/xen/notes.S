/*
 * The Xen ELF notes: how Xen's domain builder (libelf) learns where this PV kernel wants to
 * be mapped and entered. Note types and their meaning: xen/elfnote.h. Each note is the
 * standard ELF note record: namesz, descsz, type, "Xen\0", then the descriptor, each field
 * padded to 4 bytes. Numeric descriptors are 8 bytes (libelf accepts 4 or 8).
 */
#include <xen/elfnote.h>
#include <xen/features.h>

.macro XEN_NOTE type, directive, value
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long \type
1:	.asciz "Xen"
2:	.balign 4
3:	\directive \value
4:	.balign 4
.endm

/* gas strips the quotes from a macro argument, so strings get their own macro. */
.macro XEN_NOTE_STR type, value
	.balign 4
	.long 2f - 1f
	.long 4f - 3f
	.long \type
1:	.asciz "Xen"
2:	.balign 4
3:	.asciz "\value"
4:	.balign 4
.endm

	.section .note.Xen, "a", @note
	XEN_NOTE_STR XEN_ELFNOTE_GUEST_OS,      "afterburn-wedge"
	XEN_NOTE_STR XEN_ELFNOTE_GUEST_VERSION, "0.1"
	/* The PV ABI generation every 64-bit PV kernel speaks. */
	XEN_NOTE_STR XEN_ELFNOTE_XEN_VERSION,   "xen-3.0"
	/* "generic": not Linux, so Xen must not apply Linux-specific quirks. */
	XEN_NOTE_STR XEN_ELFNOTE_LOADER,        "generic"
	/* Mapped at VIRT_BASE; ELF p_paddr = vaddr - VIRT_BASE, so PADDR_OFFSET is 0. */
	XEN_NOTE XEN_ELFNOTE_VIRT_BASE,      .quad,  WEDGE_VIRT_BASE	/* set in xen-wedge.ld */
	XEN_NOTE XEN_ELFNOTE_PADDR_OFFSET,   .quad,  0
	XEN_NOTE XEN_ELFNOTE_ENTRY,          .quad,  _start
	XEN_NOTE XEN_ELFNOTE_HYPERCALL_PAGE, .quad,  hypercall_page
	/*
	 * Features: we require none and support running as the initial domain. Xen 4.17
	 * refuses to build dom0 from a kernel whose SUPPORTED_FEATURES note lacks XENFEAT_dom0.
	 */
	XEN_NOTE_STR XEN_ELFNOTE_FEATURES,      "dom0"
	XEN_NOTE XEN_ELFNOTE_SUPPORTED_FEATURES, .long, (1 << XENFEAT_dom0)
