/* Kernel-mode probes: one faulting (or trapping) instruction at a known address, and a
 * resume label the trap handler returns to with iretq. Each records RSP and RFLAGS just
 * before the instruction, so the check can compare them with the CPU-pushed frame. */
        .text
        /* PROBE name: entry label. RECORD name: load a distinctive RFLAGS image, record
         * RSP/RFLAGS; the next instruction is probe_<name>_insn. Setup goes in between
         * (it may clobber flags). END_PROBE: where the handler resumes. */
        .macro PROBE name
        .globl probe_\name, probe_\name\()_insn, probe_\name\()_resume
probe_\name:
        .endm
        .macro RECORD name
        pushq $0x8d7                       /* CF PF AF ZF SF OF + fixed bit */
        popfq
        movq %rsp, probe_rsp(%rip)
        pushfq
        popq probe_rflags(%rip)
probe_\name\()_insn:
        .endm
        .macro END_PROBE name
probe_\name\()_resume:
        pushq $2
        popfq
        ret
        .endm

        PROBE de
        movl $1, %eax
        xorl %edx, %edx
        xorl %ecx, %ecx
        RECORD de
        divl %ecx
        END_PROBE de

        PROBE ud
        RECORD ud
        ud2
        END_PROBE ud

        PROBE gp
        movw $0xfff8, %ax                  /* beyond the GDT limit: #GP(0xfff8) */
        RECORD gp
        movw %ax, %ds
        END_PROBE gp

        PROBE int3
        RECORD int3
        int3
        END_PROBE int3

        PROBE intn
        RECORD intn
        int $0x82
        END_PROBE intn

        PROBE nested
        RECORD nested
        int $0x83
        END_PROBE nested

        /* probe_load(addr) / probe_store(addr, v) / probe_exec(addr) for #PF checks */
        .globl probe_load, probe_store, probe_exec
probe_load:
        movq (%rdi), %rax
        ret
probe_store:
        movq %rsi, (%rdi)
        ret
probe_exec:
        call *%rdi
        ret

        .bss
        .balign 8
        .globl probe_rsp, probe_rflags
probe_rsp:      .quad 0
probe_rflags:   .quad 0
