# census.selftest, 64-bit half: every class the x86-64 decoder can produce, in several forms.
# Each "#= CLASS N" line declares how many instructions of CLASS the lines after it hold;
# "#= none" opens lines that must not be counted at all. The test sums these declarations
# and compares them with objdump-census.sh's output, class by class, and per section
# ("#= section NAME TOTAL").
#= section .text 195
    .text
#= cli 2
    cli
    .byte 0xfa
#= sti 1
    sti
#= pushf 3
    pushf
    pushfw
    pushfq
#= popf 3
    popf
    popfw
    popfq
#= mov_to_cr 3
    mov %rax, %cr0
    mov %rax, %cr3
    mov %rax, %cr8
#= mov_from_cr 2
    mov %cr2, %rax
    mov %cr4, %rdi
#= mov_to_dr 1
    mov %rax, %db7
#= mov_from_dr 2
    mov %db6, %rax
    mov %db0, %rcx
#= lgdt 1
    lgdt (%rax)
#= lidt 1
    lidt 8(%rsp)
#= lldt 2
    lldt %ax
    lldt (%rax)
#= ltr 1
    ltr %ax
#= sgdt 1
    sgdt (%rax)
#= sidt 1
    sidt (%rax)
#= sldt 2
    sldt %ax
    sldt (%rax)
#= str 2
    str %ax
    str %eax
#= in 5
    in $0x60, %al
    in %dx, %al
    inw %dx, %ax
    inl %dx, %eax
    in $0x61, %eax
#= out 4
    out %al, $0x80
    out %al, %dx
    outw %ax, %dx
    outl %eax, %dx
#= ins 4
    insb
    insw
    insl
    rep insb
#= outs 3
    outsb
    rep outsw
    outsl
#= hlt 1
    hlt
#= invlpg 1
    invlpg (%rax)
#= invpcid 1
    invpcid (%rax), %rbx
#= wbinvd 1
    wbinvd
#= rdmsr 1
    rdmsr
#= wrmsr 1
    wrmsr
#= rdtsc 1
    rdtsc
#= rdtscp 1
    rdtscp
#= rdpmc 1
    rdpmc
#= cpuid 1
    cpuid
#= swapgs 1
    swapgs
#= sysret 2
    sysretq
    sysretl
#= iret 3
    iretq
    iretl
    iretw
#= xsetbv 1
    xsetbv
#= xgetbv 1
    xgetbv
#= wrpkru 1
    wrpkru
#= rdpkru 1
    rdpkru
#= monitor 1
    monitor
#= mwait 1
    mwait
#= lar 2
    lar %ax, %bx
    lar (%rax), %rbx
#= lsl 1
    lsl %ax, %bx
#= verr 1
    verr %ax
#= verw 2
    verw (%rax)
    verw %cx
#= mov_to_seg 6
    mov %ax, %ds
    mov %eax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov (%rax), %ds
#= mov_from_seg 6
    mov %ds, %ax
    mov %es, %eax
    mov %fs, %rax
    mov %gs, (%rax)
    mov %ss, %ax
    mov %cs, %ax
#= push_seg 3
    push %fs
    push %gs
    pushw %fs
#= pop_seg 3
    pop %fs
    pop %gs
    popw %gs
#= wrfsbase 1
    wrfsbase %rax
#= wrgsbase 1
    wrgsbase %rax
#= rdfsbase 1
    rdfsbase %rax
#= rdgsbase 1
    rdgsbase %rax
#= clac 1
    clac
#= stac 1
    stac
#= smsw 2
    smsw %ax
    smsw (%rax)
#= lmsw 1
    lmsw %ax
#= clts 1
    clts
#= invd 1
    invd
#= sysexit 2
    sysexitl
    sysexitq
#= sysenter 1
    sysenter
#= int 2
    int $0x80
    .byte 0xcd, 0x03
#= int3 1
    int3
#= int1 1
    .byte 0xf1
#= lret 4
    lretl
    lretq
    lretw
    lretl $8
#= ljmp 1
    ljmp *(%rax)
#= lcall 2
    lcall *(%rax)
    rex.W lcall *(%rax)
#= xsaves 2
    xsaves (%rdi)
    xsaves64 (%rdi)
#= xrstors 2
    xrstors (%rdi)
    xrstors64 (%rdi)
#= rdpid 1
    rdpid %rax
# The CPUID-gated classes (gated_class.h): never annotated, explained by the CPUID policy.
#= vmcall 1
    vmcall
#= vmmcall 2
    vmmcall
    .byte 0xf3, 0x0f, 0x01, 0xd9  # vmgexit
#= vmx 14
    vmlaunch
    vmresume
    vmxon (%rax)
    vmxoff
    vmptrld (%rax)
    vmptrst (%rax)
    vmclear (%rax)
    vmread %rax, %rbx
    vmread %rax, 8(%rbx)
    vmwrite %rax, %rbx
    vmwrite (%rax), %rbx
    invept (%rax), %rbx
    invvpid (%rax), %rbx
    vmfunc
#= svm 7
    vmrun
    vmload
    vmsave
    stgi
    clgi
    skinit
    invlpga
#= monitorx 1
    monitorx
#= mwaitx 1
    mwaitx
#= umonitor 1
    umonitor %rax
#= umwait 1
    umwait %eax
#= tpause 1
    tpause %eax
#= sgx 3
    encls
    enclu
    enclv
#= cet_ss 12
    incsspq %rax
    incsspd %eax
    rdsspq %rax
    rdsspd %eax
    saveprevssp
    rstorssp (%rax)
    wrssq %rax, (%rbx)
    wrssd %eax, (%rbx)
    wrussq %rax, (%rbx)
    wrussd %eax, (%rbx)
    setssbsy
    clrssbsy (%rax)
#= wbnoinvd 1
    wbnoinvd
#= invlpgb 1
    invlpgb
#= tlbsync 1
    tlbsync
#= rdpru 1
    rdpru
#= pconfig 1
    pconfig
#= ptwrite 2
    ptwriteq %rax
    ptwritel (%rax)
#= enqcmd 2
    enqcmd (%rax), %rbx
    enqcmds (%rax), %rbx
#= uintr 5
    uiret
    clui
    stui
    testui
    senduipi %rax
#= loadiwkey 1
    loadiwkey %xmm1, %xmm2
#= hreset 1
    hreset $1
#= tsxldtrk 2
    xsusldtrk
    xresldtrk
#= sev_snp 4
    pvalidate
    rmpadjust
    rmpupdate
    psmash
#= tdx 4
    tdcall
    seamcall
    seamops
    seamret
#= rdrand 3
    rdrand %rax
    rdrand %eax
    rdrand %ax
#= rdseed 2
    rdseed %rax
    rdseed %eax
#= none
    mov %fs:0x28, %rax
    mov %rax, %gs:0x10
    mov %rax, %rbx
    movq $0, (%rax)
    cs nopw 0x0(%rax,%rax,1)
    push %rax
    pop %rbx
    ret
    nop
    ud2
    syscall
    # Look-alikes of gated forms (same opcode bytes, another prefix or ModRM): not sensitive.
    serialize
    endbr64
    extrq $1, $2, %xmm1
    mfence
    xsaveopt (%rdi)
    clwb (%rdi)
    movdir64b (%rax), %rbx
    lock incl (%rax)
    # 0xcc fill between functions: a run of int3 is padding, not sites (--all-int3 counts it).
    int3
    int3
    int3
    xsave (%rdi)
    xrstor (%rdi)
    call 1f
1:  jmp 1b
    mov %rsp, %rbp
    lea 0x10(%rip), %rax

# A second executable section, like Linux's alternatives replacements.
#= section .altinstr_replacement 4
    .section .altinstr_replacement, "ax", @progbits
#= clac 1
    clac
#= stac 1
    stac
#= cli 1
    cli
#= pushf 1
    pushfq

# Data is not code: these bytes (cli, sti, hlt, cpuid) must not be counted.
#= none
    .data
    .byte 0xfa, 0xfb, 0xf4, 0x0f, 0xa2
