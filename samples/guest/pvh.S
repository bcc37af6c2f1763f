/* PVH entry: how QEMU (-kernel guest.elf) and Xen start an ELF kernel directly.
 * The loader finds the Xen ELF note PHYS32_ENTRY, loads the PT_LOAD segments at their
 * physical addresses and enters here in 32-bit protected mode, paging off,
 * with EBX = physical address of struct hvm_start_info.
 * We translate hvm_start_info into a Linux boot_params (e820 map, command line),
 * enter long mode on a temporary identity map and call the 64-bit entry, i.e. we
 * become a "64-bit boot protocol" loader for ourselves. */
#include "layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

        /* The note gets its own output section and PT_NOTE (see guest.ld): QEMU reads the
         * descriptor at an offset aligned to the segment's p_align, so that must stay 4. */
        .pushsection .note.Xen, "a", @note
        .balign 4
        .long 4, 8, XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .balign 4
        .quad PA(pvh_start)
        .balign 4
        .popsection

        .section .head.text, "ax"
        .code32
        .globl pvh_start
pvh_start:
        cli
        cld
        movl $PA(pvh_stack_top), %esp
        cmpl $HVM_START_MAGIC, (%ebx)
        jne pvh_halt

        /* boot_params = zeroes + the fields we fill */
        movl $PA(pvh_boot_params), %edi
        xorl %eax, %eax
        movl $1024, %ecx
        rep stosl
        movl $PA(pvh_boot_params), %edi
        movw $0xaa55, 0x1fe(%edi)          /* hdr.boot_flag */
        movl $0x53726448, 0x202(%edi)      /* hdr.header = "HdrS" */
        movw $0x020f, 0x206(%edi)          /* hdr.version 2.15 */
        movb $0xff, 0x210(%edi)            /* hdr.type_of_loader: undefined */
        movl 24(%ebx), %eax                /* cmdline_paddr */
        movl %eax, 0x228(%edi)             /* hdr.cmd_line_ptr */
        movl 28(%ebx), %eax
        movl %eax, 0x0c8(%edi)             /* ext_cmd_line_ptr */

        /* memmap (hvm_start_info version >= 1): 24-byte entries -> 20-byte e820 entries */
        cmpl $1, 4(%ebx)
        jb 3f
        movl 48(%ebx), %ecx                /* memmap_entries */
        cmpl $128, %ecx
        jbe 1f
        movl $128, %ecx
1:      movb %cl, 0x1e8(%edi)              /* e820_entries */
        movl 40(%ebx), %esi                /* memmap_paddr */
        leal 0x2d0(%edi), %edx             /* e820_table */
        testl %ecx, %ecx
        jz 3f
2:      movl 0(%esi), %eax
        movl %eax, 0(%edx)
        movl 4(%esi), %eax
        movl %eax, 4(%edx)
        movl 8(%esi), %eax
        movl %eax, 8(%edx)
        movl 12(%esi), %eax
        movl %eax, 12(%edx)
        movl 16(%esi), %eax
        movl %eax, 16(%edx)
        addl $24, %esi
        addl $20, %edx
        decl %ecx
        jnz 2b
3:
        /* "highentry" on the command line: call startup_64 through the image's link
         * address instead of its physical one (tests that the 64-bit entry copes with
         * both, as the boot protocol allows). EBP = 1 selects it. */
        xorl %ebp, %ebp
        movl 24(%ebx), %esi
        testl %esi, %esi
        jz 6f
5:      cmpb $0, (%esi)
        je 6f
        cmpl $0x68676968, (%esi)           /* "high" */
        jne 7f
        cmpl $0x72746e65, 4(%esi)          /* "entr" */
        jne 7f
        cmpb $0x79, 8(%esi)                /* "y" */
        jne 7f
        movl $1, %ebp
        jmp 6f
7:      incl %esi
        jmp 5b
6:
        /* Temporary page tables: identity-map the first 1 GiB with 2 MiB pages, and
         * map the same 1 GiB at KERNEL_MAP (PML4[511], PDPT[510]) for highentry. */
        movl $PA(pvh_pd), %edi
        xorl %ecx, %ecx
4:      movl %ecx, %eax
        shll $21, %eax
        orl $0x83, %eax                    /* present, writable, 2 MiB */
        movl %eax, (%edi,%ecx,8)
        movl $0, 4(%edi,%ecx,8)
        incl %ecx
        cmpl $512, %ecx
        jb 4b
        movl $(PA(pvh_pd) + 3), PA(pvh_pdpt)
        movl $(PA(pvh_pdpt) + 3), PA(pvh_pml4)
        movl $(PA(pvh_pd) + 3), PA(pvh_pdpt_high) + 510*8
        movl $(PA(pvh_pdpt_high) + 3), PA(pvh_pml4) + 511*8

        movl %cr4, %eax
        orl $0x20, %eax                    /* PAE */
        movl %eax, %cr4
        movl $PA(pvh_pml4), %eax
        movl %eax, %cr3
        movl $0xc0000080, %ecx             /* EFER.LME */
        rdmsr
        orl $0x100, %eax
        wrmsr
        lgdt PA(pvh_gdt_desc)
        movl %cr0, %eax
        orl $0x80000001, %eax              /* PG | PE */
        movl %eax, %cr0
        ljmp $KERNEL_CS, $PA(pvh_long)

pvh_halt:
        hlt
        jmp pvh_halt

        .code64
pvh_long:
        movl $KERNEL_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        movl $PA(pvh_boot_params), %esi
        movl $PA(startup_64), %eax
        testl %ebp, %ebp
        jz 1f
        movabsq $startup_64, %rax
1:      jmp *%rax

        /* In .data, not .bss: startup_64 clears .bss while these are still in use. */
        .data
        .balign 8
pvh_gdt:
        .quad 0
        .quad 0x00af9a000000ffff           /* 64-bit code */
        .quad 0x00cf92000000ffff           /* data */
pvh_gdt_desc:
        .word pvh_gdt_desc - pvh_gdt - 1
        .long PA(pvh_gdt)
        .balign 4096
pvh_boot_params:
        .fill 4096, 1, 0
pvh_pml4:
        .fill 4096, 1, 0
pvh_pdpt:
        .fill 4096, 1, 0
pvh_pd:
        .fill 4096, 1, 0
pvh_pdpt_high:
        .fill 4096, 1, 0
pvh_stack:
        .fill 256, 1, 0
pvh_stack_top:
