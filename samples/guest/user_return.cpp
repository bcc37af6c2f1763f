// `user-return` on the command line: iretq from ring 0 to ring 3 while an interrupt is
// pending. Natively the CPU takes it right after the iretq, before the first ring-3
// instruction, when the popped RFLAGS has IF set, and not before the kernel's next sti when IF
// is clear. On the Xen wedge the return to ring 3 may skip the core (user_return_fast_path.cpp),
// which must not happen while an interrupt waits, nor give ring 3 the wrong virtual IF. Two
// ways out: a plain iretq, and Linux's swapgs; jmp; testb; jnz; jmp; iretq (the wedge runs the
// two sites in one entry). Three sources: nothing, a self-IPI pending before the iretq, and a
// one-shot APIC timer that expires while ring 3 spins (taken there only with IF set). Also
// checks the arithmetic flags ring 3 starts with and the GS bases the swapgs exchanged. Prints
// "PASS user_return.delivery" or "FAIL user_return.delivery: ...".
#include "kernel.h"

extern "C" u8 user_return_flags[];

namespace {

volatile u64 g_ipis, g_ipi_rip, g_ipi_cs;

void ipi(trap_frame* f)
{
    if ((f->cs & 3) == 3) f->rdi = 1;  // ring 3's loop ends after this turn
    if (!g_ipis) {
        g_ipi_rip = f->rip;
        g_ipi_cs = f->cs;
    }
    g_ipis = g_ipis + 1;
    lapic::eoi();
}

constexpr u64 arith = x86::rf_cf | 0x4 | 0x10 | x86::rf_zf | 0x80 | 0x800;  // CF PF AF ZF SF OF
constexpr u64 gs_a = 0x1111000, gs_b = 0x2222000;

enum source { nothing, ipi_before, timer_in_ring3 };

// Ring 3's loop under the timer: with IF set it runs until the interrupt ends it; with IF
// clear long enough (~10 ms natively) for the timer (~1 ms) to expire in ring 3 most times.
constexpr u64 forever = ~0ull, long_spin = 3000000;
constexpr u32 timer_count = 60000;  // 1 GHz APIC clock / 16: ~1 ms

// One trip to ring 3 and back (int $0x80). Returns what went wrong, or null.
const char* trip(bool via_swapgs, source src, u64 rflags)
{
    bool pending = src != nothing;
    x86::cli();
    g_ipis = 0;
    g_ipi_rip = 0;
    g_ipi_cs = 0;
    u64 gs = x86::rdmsr(x86::msr_gs_base), kgs = x86::rdmsr(x86::msr_kernel_gs_base);
    x86::wrmsr(x86::msr_gs_base, gs_a);
    x86::wrmsr(x86::msr_kernel_gs_base, gs_b);
    const u64 spin = src != timer_in_ring3 ? 1 : (rflags & x86::rf_if) ? forever : long_spin;
    if (src == timer_in_ring3) {
        lapic::timer(VEC_IPI, timer_count, false);
    } else if (pending) {
        lapic::self_ipi(VEC_IPI);
        for (int spin = 0; spin < 1000000 && !lapic::irr(VEC_IPI); ++spin) {}
        if (!lapic::irr(VEC_IPI)) return "the self-IPI never became pending";
    }
    expect_arm(VEC_SYSCALL_INT);
    if (guest_setjmp(&g_expect.jb) == 0) {
        if (via_swapgs) enter_ring_swapgs(user_va(user_return_flags), USER_STACK_TOP, rflags, USER_CS, USER_DS, spin);
        enter_ring(user_va(user_return_flags), USER_STACK_TOP, rflags, USER_CS, USER_DS, spin);
    }
    x86::write_ss(KERNEL_DS);
    x86::write_ds(KERNEL_DS);
    x86::write_es(KERNEL_DS);
    u64 ipis_in_user = g_ipis, ipi_rip = g_ipi_rip, ipi_cs = g_ipi_cs;
    u64 gs_after = x86::rdmsr(x86::msr_gs_base), kgs_after = x86::rdmsr(x86::msr_kernel_gs_base);
    x86::wrmsr(x86::msr_gs_base, gs);
    x86::wrmsr(x86::msr_kernel_gs_base, kgs);
    for (int i = 0; i < 10000000 && g_ipis < (pending ? 1u : 0u); ++i) x86::sti();
    x86::cli();
    lapic::timer(0, 0, false);
    if ((g_expect.got.rbx & arith) != (rflags & arith)) return "ring 3 started with other arithmetic flags";
    if (via_swapgs ? (gs_after != gs_b || kgs_after != gs_a) : (gs_after != gs_a || kgs_after != gs_b))
        return "the GS bases are not what the swapgs (or none) left";
    if (!pending) return g_ipis ? "an interrupt arrived that was never sent" : nullptr;
    if (g_ipis != 1) return "the interrupt was taken other than once";
    if ((rflags & x86::rf_if) && src == timer_in_ring3) {
        if (ipis_in_user != 1 || ipi_cs != USER_CS) return "the timer was not taken in ring 3";
    } else if (rflags & x86::rf_if) {
        if (ipis_in_user != 1 || ipi_cs != USER_CS || ipi_rip != user_va(user_return_flags))
            return "the interrupt was not taken right after the iretq, before ring 3's first instruction";
    } else if (ipis_in_user || g_ipi_cs != KERNEL_CS) {
        return "the interrupt was taken in ring 3 although the popped RFLAGS had IF clear";
    }
    return nullptr;
}

}  // namespace

void run_user_return()
{
    constexpr int rounds = 5;
    const u64 flag_sets[] = {0x202, 0x202 | arith, 0x002};
    int trips = 0, failed = 0;
    traps_set_handler(VEC_IPI, ipi);
    for (int r = 0; r < rounds; ++r)
        for (int via = 0; via < 2; ++via)
            for (int src = nothing; src <= timer_in_ring3; ++src)
                for (u64 rflags : flag_sets) {
                    ++trips;
                    const char* why = trip(via, (source)src, rflags);
                    if (!why) continue;
                    if (!failed)
                        kprintf("USER-RETURN %s, %s, RFLAGS 0x%lx: %s (IPIs %lu, first at %lx:0x%lx)\n",
                                via ? "swapgs+iretq" : "iretq",
                                src == nothing ? "nothing pending" : src == ipi_before ? "IPI pending" : "timer in ring 3",
                                rflags, why, g_ipis, g_ipi_cs, g_ipi_rip);
                    ++failed;
                }
    kprintf("USER-RETURN %d trips to ring 3: %d wrong\n", trips, failed);
    if (failed)
        kprintf("FAIL user_return.delivery: a return to ring 3 did not deliver as the CPU does\n");
    else
        kprintf("PASS user_return.delivery\n");
}
