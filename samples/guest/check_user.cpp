// User mode: into ring 3 with iretq and sysretq, back with an interrupt (DPL 3 gate) and
// syscall (swapgs, stack switch); privileged instructions and kernel pages fault there.
#include "checks.h"
#include "kernel.h"

extern "C" u8 user_int80[], user_int80_int[], user_cli[], user_out[], user_hlt[],
    user_int_kernel[], user_read[], user_write[], user_syscall[], user_syscall_ret[];

void check_user_iretq() {
    if (broken()) idt_set_gate(VEC_SYSCALL_INT, 0);   // break: gate not reachable from ring 3
    run_user(user_int80, VEC_SYSCALL_INT);
    const trap_frame& f = g_expect.got;
    expect_eq("RIP pushed by int $0x80 (its end)", f.rip, user_va(user_int80_int) + 2);
    expect_eq("CS pushed by int $0x80", f.cs, USER_CS);
    expect_eq("SS pushed by int $0x80", f.ss, USER_DS);
    expect_eq("RSP pushed by int $0x80", f.rsp, USER_STACK_TOP);
    expect_eq("IF in the ring-3 RFLAGS", f.rflags & x86::rf_if, x86::rf_if);
    expect_eq("%cs read in ring 3", f.rbx & 0xffff, USER_CS);
    expect_eq("rax from ring 3", f.rax, 0x1234);
}

// ---- syscall / sysretq ----
struct syscall_frame { u64 self, rflags, rdi, rsi, rax, rcx, r11, user_rsp; };
namespace {
syscall_frame g_sc1, g_sc2;
u64 g_sc1_kgs;
jump_buffer g_sys_jb;
}  // namespace

extern "C" u64 syscall_dispatch(syscall_frame* f) {
    switch (f->rax) {
    case 1:   // echo: rdi + 1
        g_sc1 = *f;
        g_sc1_kgs = x86::rdmsr(x86::msr_kernel_gs_base);
        return f->rdi + 1;
    case 2:   // exit to the check, still on the kernel GS
        g_sc2 = *f;
        guest_longjmp(&g_sys_jb, 1);
    case 3:   // benchmark: return at once
        return 0;
    default:
        return ~0ul;
    }
}

void check_user_sysret() {
    constexpr u64 user_gs = 0x12340000;
    u64 efer = x86::rdmsr(x86::msr_efer);
    x86::wrmsr(x86::msr_gs_base, user_gs);
    x86::wrmsr(x86::msr_kernel_gs_base, (u64)&g_percpu);
    memset(&g_sc1, 0, sizeof g_sc1);
    memset(&g_sc2, 0, sizeof g_sc2);
    u64 fmask = x86::rdmsr(x86::msr_fmask);
    if (broken()) x86::wrmsr(x86::msr_fmask, fmask & ~x86::rf_if);   // break: syscall keeps IF
    if (guest_setjmp(&g_sys_jb) == 0) enter_sysret(user_va(user_syscall), USER_STACK_TOP, 0x202, 0);
    x86::write_ss(KERNEL_DS);
    x86::write_ds(KERNEL_DS);
    x86::write_es(KERNEL_DS);
    x86::swapgs();                                  // the exit path skipped the return swapgs
    u64 gs = x86::rdmsr(x86::msr_gs_base), kgs = x86::rdmsr(x86::msr_kernel_gs_base);
    x86::wrmsr(x86::msr_gs_base, 0);
    x86::wrmsr(x86::msr_kernel_gs_base, 0);
    x86::wrmsr(x86::msr_efer, efer);
    x86::wrmsr(x86::msr_fmask, fmask);
    expect_eq("%gs:self at syscall entry (after swapgs)", g_sc1.self, (u64)&g_percpu);
    expect_eq("KERNEL_GS_BASE at syscall entry", g_sc1_kgs, user_gs);
    expect_eq("RCX at syscall (return RIP)", g_sc1.rcx, user_va(user_syscall_ret));
    expect_eq("R11 at syscall (user RFLAGS)", g_sc1.r11 & ~x86::rf_rf, 0x202);
    expect_eq("IF in the kernel after syscall (FMASK)", g_sc1.rflags & x86::rf_if, 0);
    expect_eq("user RSP at syscall", g_sc1.user_rsp, USER_STACK_TOP);
    expect_eq("echo result seen by ring 3 after sysretq", g_sc2.rdi, 42);
    expect_eq("%cs in ring 3 after sysretq", g_sc2.rsi & 0xffff, USER_CS);
    expect_eq("GS_BASE after the swapgs round trip", gs, user_gs);
    expect_eq("KERNEL_GS_BASE after the swapgs round trip", kgs, (u64)&g_percpu);
}

void check_user_gp() {
    // IOPL 0: cli and out fault in ring 3; hlt always does; so does int to a DPL 0 gate.
    u64 rflags = broken() ? 0x3202 : 0x202;          // break: IOPL 3 allows cli and out
    const struct { const char* what; u8* code; u64 err; } cases[] = {
        {"cli", user_cli, 0}, {"out", user_out, 0}, {"hlt", user_hlt, 0},
        {"int $0x81 (DPL 0 gate)", user_int_kernel, VEC_KERNEL_INT * 8 + 2},
    };
    for (const auto& c : cases) {
        run_user(c.code, 13, rflags);
        const trap_frame& f = g_expect.got;
        u64 start = user_va(c.code);
        if (f.cs != USER_CS || f.rip < start || f.rip >= start + 8)
            return fail("ring-3 %s: #GP at cs 0x%lx rip 0x%lx", c.what, f.cs, f.rip);
        // An IDT error code is (vector << 3) | IDT-bit. QEMU TCG pushes (vector << 4) | 2
        // (its 16-byte gate offset): accept that too so native TCG and real CPUs agree.
        bool qemu_tcg_quirk = c.err && f.error == (u64)VEC_KERNEL_INT * 16 + 2;
        if (f.error != c.err && !qemu_tcg_quirk)
            return fail("ring-3 %s: #GP error 0x%lx, want 0x%lx", c.what, f.error, c.err);
    }
}

void check_user_pf() {
    u64 va = TEST_VA + 0x8000;
    u64 flags = pte_p | pte_w | (broken() ? pte_u : 0);   // break: page user-accessible
    map_page(kernel_cr3(), va, page_pa(alloc_page()), flags);
    run_user(user_read, 14, 0x202, va);
    expect_eq("CR2 (ring-3 read of a kernel page)", g_expect.cr2, va);
    expect_eq("#PF error code (user, read, present)", g_expect.got.error, 5);
    expect_eq("#PF CS", g_expect.got.cs, USER_CS);
    run_user(user_write, 14, 0x202, USER_TEXT_VA);
    expect_eq("CR2 (ring-3 write to its read-only text)", g_expect.cr2, USER_TEXT_VA);
    expect_eq("#PF error code (user, write, present)", g_expect.got.error, 7);
}

void check_user_isolation() {
    // Ring 3 reads and writes the top 2 MiB, which this guest never maps: natively nothing is
    // there; under a wedge its entry window, slot table and vCPU page are (WEDGE_WINDOW_VA).
    // Either way user code gets a #PF in this kernel, at the address, as a user access of
    // the right kind. The P bit may be 1: the KVM wedge shares the address space in ring 0,
    // so ring 3 meets its supervisor-only pages (docs/wedge-core.md, "Isolation").
    const struct { const char* what; u8* code; u64 va; bool write; } cases[] = {
        {"read of the entry window", user_read, WEDGE_WINDOW_VA, false},
        {"read of the slot table", user_read, WEDGE_WINDOW_VA + 0x10000, false},
        {"write to the entry window", user_write, WEDGE_WINDOW_VA + 0x40, true},
        {"write to the vCPU page", user_write, WEDGE_WINDOW_VA + 0x20000, true},
        {"read of the vCPU page", user_read, WEDGE_WINDOW_VA + 0x20000, false},
    };
    for (const auto& c : cases) {
        u64 va = broken() ? USER_STACK_VA : c.va;  // break: the guest's own user stack (no #PF)
        run_user(c.code, 14, 0x202, va);
        u64 err = g_expect.got.error, want = 4 | (c.write ? 2 : 0);
        if (g_expect.cr2 != va) return fail("ring-3 %s: CR2 0x%lx, want 0x%lx", c.what, g_expect.cr2, va);
        if ((err & ~1ul) != want)
            return fail("ring-3 %s: #PF error 0x%lx, want 0x%lx (P either)", c.what, err, want);
        if (g_expect.got.cs != USER_CS) return fail("ring-3 %s: #PF CS 0x%lx", c.what, g_expect.got.cs);
    }
}
