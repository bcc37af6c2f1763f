/* The entry window (docs/wedge-abi.md), linked at 0xffffffffffe00000 and loaded inside the
 * image (xen-wedge.ld: .window); pv_shadow.cpp aliases its pages into the window's L1:
 *   window + 64*k     entry(k): pushq $k; jmp wedge_site_entry
 *   window + 0x10000  slot table: slot(k) = &entry(k)
 *   window + 0x20000  vCPU page (wedge_vcpu_page below, aliased writable)
 * wedge_site_entry (in .text) is where a rewritten site lands; see docs/xen-backend.md for
 * what is and is not done yet. */
        .set WINDOW, 0xffffffffffe00000
        .set KIND_COUNT, 69                 /* site_kind_count */

        .section .wedge.entry, "ax"
        .globl wedge_entries
wedge_entries:
        .set k, 0
        .rept KIND_COUNT
        .balign 64
        pushq $k
        jmp wedge_site_entry
        .set k, k + 1
        .endr

        .section .wedge.slots, "a"
        .globl wedge_slots
wedge_slots:
        .set k, 0
        .rept KIND_COUNT
        .quad WINDOW + 64 * k
        .set k, k + 1
        .endr

        .text
        /* Stack: kind, return address (inside the site span). Not wired to the core yet:
         * report and stop with a failing verdict rather than run on wrongly. */
        .globl wedge_site_entry
wedge_site_entry:
        movq (%rsp), %rdi                  /* kind */
        movq 8(%rsp), %rsi                 /* return address */
        andq $-16, %rsp
        call site_entry_unwired            /* does not return */
1:      ud2
        jmp 1b

        .section .bss.vcpu, "aw", @nobits
        .balign 4096
        .globl wedge_vcpu_page
wedge_vcpu_page:
        .skip 4096

        .section .note.GNU-stack, "", @progbits
