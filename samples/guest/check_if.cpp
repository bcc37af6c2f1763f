// The interrupt flag: cli/sti, pushf/popf, iretq. A self-IPI is made pending while IF=0;
// it must be delivered exactly where IF becomes 1: after the one-instruction shadow of
// sti, right after popf, right after iretq. The IPI handler snapshots two markers the
// probe writes, which shows how far the probe got when the interrupt was taken.
#include "checks.h"
#include "kernel.h"

extern "C" {
void if_sti_probe(int do_sti);
void if_popf_probe(u64 rflags);
void if_iret_probe(u64 rflags);
extern u8 if_iret_target[];
extern volatile u64 if_m1, if_m2;
}

namespace {
volatile u64 g_seen, g_seen_m1, g_seen_m2, g_seen_rip;
void ipi_handler(trap_frame* f) {
    if (!g_seen) {
        g_seen_m1 = if_m1;
        g_seen_m2 = if_m2;
        g_seen_rip = f->rip;
    }
    g_seen = g_seen + 1;
    lapic::eoi();
}

// IF=0, then a self-IPI that stays pending until IF is set.
bool make_pending() {
    x86::cli();
    g_seen = 0;
    traps_set_handler(VEC_IPI, ipi_handler);
    lapic::self_ipi(VEC_IPI);
    for (int i = 0; i < 1000000; i++)
        if (lapic::irr(VEC_IPI)) return true;
    fail("self-IPI never became pending in IRR");
    return false;
}
}  // namespace

void check_if_cli_sti() {
    u64 a, b, c;
    if (broken())   // break: a nop where the sti should be
        asm volatile("cli; pushfq; popq %0; nop; pushfq; popq %1; cli; pushfq; popq %2" : "=r"(a), "=r"(b), "=r"(c)::"memory");
    else
        asm volatile("cli; pushfq; popq %0; sti; pushfq; popq %1; cli; pushfq; popq %2" : "=r"(a), "=r"(b), "=r"(c)::"memory");
    expect_eq("IF after cli", a & x86::rf_if, 0);
    expect_eq("IF after sti", b & x86::rf_if, x86::rf_if);
    expect_eq("IF after cli again", c & x86::rf_if, 0);
}

void check_if_sti_shadow() {
    if (!make_pending()) return;
    if_sti_probe(!broken());                        // break: IF is never set
    if (g_seen != 1) return fail("pending interrupt taken %lu times after sti", g_seen);
    if (g_seen_m1 != 1) return fail("interrupt taken inside the sti shadow (before the next instruction)");
    if (g_seen_m2 != 0) fail("interrupt taken late: two instructions after sti");
}

void check_if_popf() {
    // pushf sees IF; popf puts it back.
    x86::sti();
    u64 saved = x86::rflags();
    x86::cli();
    u64 masked = x86::rflags();
    x86::set_rflags(saved);
    u64 restored = x86::rflags();
    x86::cli();
    expect_eq("pushf IF after sti", saved & x86::rf_if, x86::rf_if);
    expect_eq("pushf IF after cli", masked & x86::rf_if, 0);
    expect_eq("IF after popf of the saved flags", restored & x86::rf_if, x86::rf_if);
    if (!make_pending()) return;
    if_popf_probe(broken() ? 0x2 : 0x202);          // break: popf an image without IF
    if (g_seen != 1) return fail("pending interrupt taken %lu times after popf set IF", g_seen);
    if (g_seen_m1 != 0) fail("interrupt taken late: after the instruction following popf");
}

void check_if_iretq() {
    if (!make_pending()) return;
    if_iret_probe(broken() ? 0x2 : 0x202);          // break: the frame's RFLAGS lacks IF
    if (g_seen != 1) return fail("pending interrupt taken %lu times after iretq set IF", g_seen);
    if (g_seen_m1 != 0) fail("interrupt taken late: after the first instruction at the iretq target");
    expect_eq("RIP of the interrupted instruction", g_seen_rip, (u64)if_iret_target);
}
