/* Page-table sites without the full wedge entry (page_table_fast_path.h). The entry window's
 * entries for page_table_store and page_table_load push their kind as every entry does and
 * jump here: [rsp] = the kind, [rsp+8] = the site's return address. The registers are saved
 * on the site stack exactly as wedge_site_entry saves them (site_frame), and page_table_fast()
 * either finishes the site (it may change the saved registers and the return address; a mov or
 * xchg changes no flags, which popfq restores) or changes nothing: then the same stack goes to
 * wedge_site_entry, as if the window had jumped there directly.
 *
 * Events are open, as in the window's other fast paths: an upcall here finds a wedge address
 * and is retried (guest_event). The site stack is the full entry's, which is not in use
 * while the guest runs (site_dispatch never returns, every way back to the guest leaves it). */
#include "site_stack.S.h"

        .text
        .globl wedge_page_table_fast
wedge_page_table_fast:
        SITE_ENTER_STACK
        SITE_PUSH_CALLEE_SAVED
        movq %rsp, %rdi
        cld
        call page_table_fast
        testb %al, %al
        jz 1f
        SITE_POP_FRAME
        movq wedge_site_guest_rsp(%rip), %rsp
        leaq 8(%rsp), %rsp                 /* past the kind: `ret` to the resume address */
        ret
1:      SITE_POP_FRAME
        movq wedge_site_guest_rsp(%rip), %rsp
        jmp wedge_site_entry

        .section .note.GNU-stack, "", @progbits
