/* rdtsc and rdtscp without the core (docs/wedge-abi.md, "Fast paths"). Linux reads its
 * clocksource with them ~215,000 times in one workload run (read_tsc, whose alternative is
 * rdtscp); through site_dispatch each costs a full entry. The guest's TSC is the real one plus
 * the vCPU's offset (an IA32_TSC write moves it: one clock for kernel sites, ring-3 reads and
 * the MSR, issue 9), which the vCPU page keeps a copy of, with TSC_AUX. The real TSC is
 * readable here: the wedge runs in Xen's kernel mode, where the real CR4.TSD is clear
 * (user_mode.cpp sets it only for the guest's user mode), and reads it the same way
 * (xen_backend::read_tsc).
 *
 * The stubs jump here with [rsp] = the call's return address, inside the span (no padding in
 * front), so `ret` continues after the site. While the page's inline_tsc bit for the kind is
 * clear (virtual CPL 3 with CR4.TSD: #GP; rdtscp hidden by CPUID: #UD) they go to the core,
 * stack and flags untouched. The 8 bytes below the return address hold the flags. */
        .set VCPU_PAGE, 0xffffffffffe20000  /* wedge_abi::vcpu_page */
        .set INLINE_TSC, VCPU_PAGE + 4
        .set TSC_OFFSET, VCPU_PAGE + 16
        .set TSC_AUX, VCPU_PAGE + 24
        .set INLINE_RDTSC, 1                /* wedge_abi::inline_tsc_rdtsc, _rdtscp */
        .set INLINE_RDTSCP, 2
        .set KIND_RDTSC, 27                 /* site_kind::rdtsc, rdtscp (static_assert in site_entry.cpp) */
        .set KIND_RDTSCP, 28

        /* EDX:EAX = the real TSC + the offset, RAX and RDX zero-extended as rdtsc leaves them */
        .macro ADD_OFFSET
        shlq $32, %rdx
        orq %rdx, %rax
        addq TSC_OFFSET, %rax
        movq %rax, %rdx
        shrq $32, %rdx
        movl %eax, %eax
        .endm

        .text
        .globl wedge_rdtsc_fast
wedge_rdtsc_fast:                       /* [r] = the return address */
        pushfq                          /* [r-8] = the guest's flags */
        testb $INLINE_RDTSC, INLINE_TSC
        jz 9f
        rdtsc
        ADD_OFFSET
        incq wedge_inline_rdtsc_count(%rip)
        popfq
        ret
9:      popfq
        pushq $KIND_RDTSC
        jmp wedge_site_entry

        .globl wedge_rdtscp_fast
wedge_rdtscp_fast:
        pushfq
        testb $INLINE_RDTSCP, INLINE_TSC
        jz 9f
        rdtscp                          /* waits for earlier instructions, as the guest's would */
        ADD_OFFSET
        movl TSC_AUX, %ecx
        incq wedge_inline_rdtscp_count(%rip)
        popfq
        ret
9:      popfq
        pushq $KIND_RDTSCP
        jmp wedge_site_entry

        .bss
        .balign 8
        .globl wedge_inline_rdtsc_count, wedge_inline_rdtscp_count
wedge_inline_rdtsc_count:
        .skip 8
wedge_inline_rdtscp_count:
        .skip 8

        .section .note.GNU-stack, "", @progbits
