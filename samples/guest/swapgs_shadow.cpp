// `swapgs-shadow` on the command line: an interrupt that is pending when sti sets IF is taken
// after the one instruction in sti's shadow, here a swapgs, and before the next. On the Xen
// wedge swapgs may finish without the core (swapgs_fast_path.cpp), which must not do so while
// an interrupt waits to be delivered at its end. Prints "PASS swapgs.shadow_pending" or "FAIL
// swapgs.shadow_pending: ..." after the checks.
#include "kernel.h"

extern "C" {
void swapgs_shadow_probe();  // irq_probes.S
extern u8 swapgs_shadow_site[], swapgs_shadow_after[];
extern volatile u64 if_m1;
}

namespace {

volatile u64 g_seen, g_seen_m1, g_seen_rip;

void ipi(trap_frame* f)
{
    if (!g_seen) {
        g_seen_m1 = if_m1;
        g_seen_rip = f->rip;
    }
    g_seen = g_seen + 1;
    lapic::eoi();
}

}  // namespace

void run_swapgs_shadow()
{
    constexpr int rounds = 20;
    int late = 0, other = 0;
    traps_set_handler(VEC_IPI, ipi);
    for (int i = 0; i < rounds; ++i) {
        x86::cli();
        g_seen = 0;
        lapic::self_ipi(VEC_IPI);
        for (int spin = 0; spin < 1000000 && !lapic::irr(VEC_IPI); ++spin) {}
        swapgs_shadow_probe();
        for (int spin = 0; spin < 1000000 && !g_seen; ++spin) x86::sti();  // a late one arrives here
        x86::cli();
        if (g_seen_m1 != 0) ++late;
        // Natively the rip is the marker's. The Xen wedge's core delivers at a rewritten
        // site's exit with the call's return address, inside the swapgs's padded span (the
        // NOP fill runs after the handler): also after the swapgs, before the marker.
        else if (g_seen != 1 || g_seen_rip <= (u64)swapgs_shadow_site || g_seen_rip > (u64)swapgs_shadow_after) {
            if (!other) kprintf("SWAPGS-SHADOW taken %lu times, first at rip 0x%lx\n", g_seen, g_seen_rip);
            ++other;
        }
    }
    kprintf("SWAPGS-SHADOW %d rounds: %d interrupts taken late, %d elsewhere\n", rounds, late, other);
    if (late || other)
        kprintf("FAIL swapgs.shadow_pending: the interrupt was not taken right after the swapgs in sti's shadow\n");
    else
        kprintf("PASS swapgs.shadow_pending\n");
}
