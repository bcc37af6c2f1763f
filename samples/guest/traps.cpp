// Trap dispatch: every IDT stub lands in trap_dispatch. A check either installs a handler
// for a vector or arms an expectation (g_expect); anything else is unexpected and ends
// the running check with FAIL (or stops the guest outside a check).
#include "kernel.h"

expectation g_expect;
volatile u64 g_stray_irqs;

namespace {
trap_handler g_handlers[256];
}
[[noreturn]] void check_abandon(const trap_frame* f);   // main.cpp

void traps_set_handler(u8 vec, trap_handler h) { g_handlers[vec] = h; }

void expect_arm(u8 vec, u64 resume) {
    g_expect.vector = vec;
    g_expect.resume = resume;
    g_expect.hits = 0;
    g_expect.active = true;
}

void traps_reset() {
    g_expect.active = false;
    for (int v = 0; v < 256; v++) g_handlers[v] = nullptr;
}

extern "C" void trap_dispatch(trap_frame* f) {
    u8 v = (u8)f->vector;
    if (g_expect.active && g_expect.vector == v) {
        g_expect.got = *f;
        g_expect.cr2 = x86::read_cr2();
        g_expect.hits = g_expect.hits + 1;
        if (g_expect.resume) {
            if (g_expect.resume != resume_pushed) f->rip = g_expect.resume;
            g_expect.active = false;
            return;
        }
        g_expect.active = false;
        guest_longjmp(&g_expect.jb, 1);
    }
    if (g_handlers[v]) {
        g_handlers[v](f);
        return;
    }
    if (v >= 32) {
        // An interrupt nobody waits for (e.g. left pending by a broken check): acknowledge.
        g_stray_irqs = g_stray_irqs + 1;
        if (v >= VEC_PIC_BASE && v < VEC_PIC_BASE + 16) pic::eoi((u8)(v - VEC_PIC_BASE));
        else if (v != VEC_SPURIOUS) lapic::eoi();
        return;
    }
    check_abandon(f);
}
