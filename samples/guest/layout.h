/* Memory layout and selectors, shared by the C++ and the assembly files.
 * The layout follows Linux x86-64 so the wedge sees a familiar kernel:
 * the image is linked at 0xffffffff81000000 and loaded at physical 16 MiB. */
#pragma once

#define KERNEL_MAP      0xffffffff80000000  /* virtual = physical + KERNEL_MAP for the image */
#define DIRECT_MAP      0xffff888000000000  /* all of low physical memory (4 GiB), like Linux */
#define PA(x)           ((x) - KERNEL_MAP)  /* physical address of an image symbol */

/* GDT layout. The user selectors are ordered for syscall/sysret: STAR[63:48] = USER32_CS,
 * so sysretq loads SS = USER32_CS + 8 and CS = USER32_CS + 16. */
#define KERNEL_CS       0x08
#define KERNEL_DS       0x10
#define USER32_CS       0x18
#define USER_DS         0x23   /* 0x20 | RPL 3 */
#define USER_CS         0x2b   /* 0x28 | RPL 3 */
#define TSS_SEL         0x30   /* 16-byte descriptor: slots 6,7 */
#define TSS2_SEL        0x40   /* second TSS, used by break=desc.tss */
#define LDT_SEL         0x50   /* 16-byte descriptor: slots 10,11 */
#define BASED_DS        0x60   /* data segment with a non-zero base (segment checks) */
#define GDT_ENTRIES     13

/* Per-CPU block reached through %gs after swapgs (offsets used by entry.S). */
#define PERCPU_SELF     0
#define PERCPU_KSTACK   8
#define PERCPU_USER_RSP 16

/* Fixed virtual addresses used by the checks. */
#define USER_TEXT_VA    0x400000        /* user snippets (section .user.text) */
#define USER_STACK_VA   0x800000        /* two pages of user stack below USER_STACK_TOP */
#define USER_STACK_TOP  0x802000
#define TEST_VA         0xffffc90000000000  /* 4 KiB test window (Linux's vmalloc area) */
/* The top 2 MiB, which this guest never maps: under a wedge its entry window (entry points,
 * slot table at +0x10000, vCPU page at +0x20000; docs/wedge-abi.md) lives there, and ring 3
 * must find nothing (user.isolation). */
#define WEDGE_WINDOW_VA 0xffffffffffe00000

/* Interrupt vectors. */
#define VEC_PIC_BASE    0x20   /* 8259 IRQ0..15 -> 0x20..0x2f */
#define VEC_LAPIC_TIMER 0x30
#define VEC_WATCHDOG    0x31
#define VEC_IPI         0x40
#define VEC_SYSCALL_INT 0x80   /* DPL 3 gate: ring 3 -> ring 0 via int $0x80 */
#define VEC_KERNEL_INT  0x81   /* DPL 0 gate: int from ring 3 must #GP */
#define VEC_TEST_INT    0x82
#define VEC_NESTED      0x83
#define VEC_SPURIOUS    0xff
