/* The 64-bit entry (ELF e_entry, physical), per Linux's 64-bit boot protocol:
 * long mode, interrupts off, RSI = physical address of boot_params, low memory
 * identity-mapped. We may also be entered through a mapping of the image at its link
 * address (a wedge may map us there): all addressing here is RIP-relative, so this code
 * works at either address. We build our own tables and switch to them:
 *   PML4[0]   -> temporary identity map of 0..4 GiB (dropped in kmain)
 *   PML4[273] -> direct map of 0..4 GiB at 0xffff888000000000 (Linux's place)
 *   PML4[511] -> PDPT[510]: the image, 0xffffffff80000000 + phys (1 GiB) */
#include "layout.h"

        .section .head.text, "ax"
        .code64
        .globl startup_64
startup_64:
        cli
        cld
        movq %rsi, %r15                    /* boot_params (physical), kept for kmain */

        leaq __bss_start(%rip), %rdi
        leaq __bss_stop(%rip), %rcx
        subq %rdi, %rcx
        xorl %eax, %eax
        rep stosb
        leaq boot_stack_top(%rip), %rsp

        /* direct map: 2048 x 2 MiB; the 3..4 GiB hole (LAPIC, IOAPIC, ...) uncached */
        leaq early_pd_direct(%rip), %rdi
        xorl %ecx, %ecx
1:      movq %rcx, %rax
        shlq $21, %rax
        orq $0x83, %rax
        cmpq $1536, %rcx
        jb 2f
        orq $0x18, %rax                    /* PWT | PCD */
2:      movq %rax, (%rdi,%rcx,8)
        incq %rcx
        cmpq $2048, %rcx
        jb 1b
        leaq early_pdpt_direct(%rip), %rdi
        movq $(PA(early_pd_direct) + 3), %rax
        movq %rax, 0(%rdi)
        addq $4096, %rax
        movq %rax, 8(%rdi)
        addq $4096, %rax
        movq %rax, 16(%rdi)
        addq $4096, %rax
        movq %rax, 24(%rdi)

        /* image map: 512 x 2 MiB at KERNEL_MAP */
        leaq early_pd_kernel(%rip), %rdi
        xorl %ecx, %ecx
3:      movq %rcx, %rax
        shlq $21, %rax
        orq $0x83, %rax
        movq %rax, (%rdi,%rcx,8)
        incq %rcx
        cmpq $512, %rcx
        jb 3b
        leaq early_pdpt_kernel(%rip), %rdi
        movq $(PA(early_pd_kernel) + 3), %rax
        movq %rax, 510*8(%rdi)

        leaq early_pml4(%rip), %rdi
        movq $(PA(early_pdpt_direct) + 3), %rax
        movq %rax, 0(%rdi)
        movq %rax, 273*8(%rdi)
        movq $(PA(early_pdpt_kernel) + 3), %rax
        movq %rax, 511*8(%rdi)
        movq $PA(early_pml4), %rax
        movq %rax, %cr3

        movabsq $startup_64_high, %rax     /* continue at the link address */
        jmp *%rax
startup_64_high:
        leaq boot_stack_top(%rip), %rsp
        movq %r15, %rdi
        call kmain
4:      cli
        hlt
        jmp 4b

        .bss
        .balign 4096
        .globl early_pml4
early_pml4:             .fill 4096, 1, 0
early_pdpt_direct:      .fill 4096, 1, 0
early_pd_direct:        .fill 4*4096, 1, 0
early_pdpt_kernel:      .fill 4096, 1, 0
early_pd_kernel:        .fill 4096, 1, 0
boot_stack:             .fill 16384, 1, 0
boot_stack_top:
