# census.selftest, 32-bit half: what only exists (or only decodes) in 32-bit code.
# Assembled with `as --32`, so objdump decodes it as i386. Same "#=" declarations as selftest64.s.
#= section .text 9
    .text
#= into 1
    into
#= push_seg 2
    push %ds
    push %es
#= pop_seg 1
    pop %ds
#= sysexit 1
    sysexit
#= iret 1
    iret
#= ljmp 1
    ljmp $0x10, $0x1000
#= lcall 1
    lcall $0x10, $0x1000
#= pushf 1
    pushfl
#= none
    push %eax
    mov %eax, %ebx
    movl %fs:0x10, %eax
