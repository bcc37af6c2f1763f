/* guest_probe_copy(dst, src, len): the quadwords, then the bytes left, from guest memory; 1,
 * or 0 when a fault at a load could not be fixed (trap_dispatch moves rip to
 * guest_probe_failed: guest_probe.cpp). */
        .text
        .globl guest_probe_copy, guest_probe_load, guest_probe_load_tail, guest_probe_failed
guest_probe_copy:
        movq %rdx, %rcx
        shrq $3, %rcx
guest_probe_load:
        rep movsq
        movq %rdx, %rcx
        andq $7, %rcx
guest_probe_load_tail:
        rep movsb
        movl $1, %eax
        ret
/* guest_probe_store(dst, src, len): the quadwords, then the bytes left, into guest memory; 1,
 * or 0 as above. Quadwords: each iteration of a rep string instruction is an instruction, and
 * an exception's 40- or 48-byte frame was 48 byte stores. The caller keeps the range in one
 * page, so a page that refuses the store faults at the first one, before any byte is written,
 * at either label. */
        .globl guest_probe_store, guest_probe_store_load, guest_probe_store_tail
guest_probe_store:
        movq %rdx, %rcx
        shrq $3, %rcx
guest_probe_store_load:
        rep movsq
        movq %rdx, %rcx
        andq $7, %rcx
guest_probe_store_tail:
        rep movsb
        movl $1, %eax
        ret
/* guest_probe_same16(src, expected): 1 when the 16 bytes of guest memory at src equal
 * expected[0..1], 0 when not or as above (both loads are probe loads). */
        .globl guest_probe_same16, guest_probe_same16_low, guest_probe_same16_high
guest_probe_same16:
guest_probe_same16_low:
        movq (%rdi), %rax
guest_probe_same16_high:
        movq 8(%rdi), %rdx
        xorq (%rsi), %rax
        xorq 8(%rsi), %rdx
        orq %rdx, %rax
        sete %al
        movzbl %al, %eax
        ret
guest_probe_failed:
        xorl %eax, %eax
        ret

        .section .note.GNU-stack, "", @progbits
