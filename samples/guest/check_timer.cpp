// Timers: periodic PIT interrupts through the 8259, periodic local APIC timer interrupts,
// and hlt waking on the next interrupt (a one-shot APIC timer is the fallback wake-up).
#include "checks.h"
#include "kernel.h"

namespace {
volatile u64 g_pit_ticks, g_apic_ticks, g_watchdog;
void pit_handler(trap_frame*) { g_pit_ticks = g_pit_ticks + 1; pic::eoi(0); }
void apic_handler(trap_frame*) { g_apic_ticks = g_apic_ticks + 1; lapic::eoi(); }
void watchdog_handler(trap_frame*) { g_watchdog = g_watchdog + 1; lapic::eoi(); }
}  // namespace

void check_timer_pit() {
    traps_set_handler(VEC_PIC_BASE + 0, pit_handler);
    g_pit_ticks = 0;
    pic::pit_periodic(1000);
    pic::mask(0, broken());                          // break: IRQ0 stays masked
    x86::sti();
    bool ok = wait_until(&g_pit_ticks, 10);
    x86::cli();
    if (!ok) fail("%lu PIT ticks (IRQ0 via the 8259), want 10", g_pit_ticks);
}

void check_timer_lapic() {
    traps_set_handler(VEC_LAPIC_TIMER, apic_handler);
    g_apic_ticks = 0;
    lapic::timer(VEC_LAPIC_TIMER, 20000, true);
    if (broken()) lapic::write(lapic::reg_lvt_timer, lapic::read(lapic::reg_lvt_timer) | 1u << 16);  // break: mask
    u32 c1 = lapic::read(lapic::reg_timer_cur);
    x86::sti();
    bool ok = wait_until(&g_apic_ticks, 10);
    x86::cli();
    u32 c2 = lapic::read(lapic::reg_timer_cur);
    // A periodic count repeats every period: c2 may legitimately equal c1 (same phase, ten or
    // more periods later: seen once on Xen, where ticks and count come from the same clock, so
    // the clock had moved ten periods). Two reads in a row are far less than a
    // period apart and more than one count apart (each read is an exit or a trap), so a
    // working counter never gives the same value three times.
    u32 c3 = lapic::read(lapic::reg_timer_cur);
    lapic::timer(0, 0, false);
    if (!ok) return fail("%lu local APIC timer ticks (%s), want 10", g_apic_ticks, lapic::x2apic() ? "x2APIC" : "xAPIC");
    // A periodic count never rests at 0. Reading 0 three times while the timer ticks is KVM's
    // in-kernel APIC answering for a host timer that is overdue, which in a nested L1 under
    // QEMU TCG it nearly always is (docs/wedge-core.md): not a count this guest can judge.
    // Only afterburn-kvm alone allows the SKIP (test-nested-guest.sh); everywhere else
    // expected.txt wants PASS.
    if (c1 == 0 && c2 == 0 && c3 == 0)
        return skip("the current count reads 0 while the timer ticks (a host APIC answering for an overdue timer)");
    if (c1 == c2 && c2 == c3) fail("APIC timer current count did not move (0x%x)", c1);
}

void check_hlt() {
    traps_set_handler(VEC_PIC_BASE + 0, pit_handler);
    traps_set_handler(VEC_WATCHDOG, watchdog_handler);
    pic::pit_periodic(200);
    pic::mask(0, broken());                          // break: no PIT interrupt to wake hlt
    for (int i = 0; i < 3; i++) {
        g_watchdog = 0;
        lapic::timer(VEC_WATCHDOG, 0x1000000, false);   // ~270 ms at a 1 GHz APIC clock
        u64 before = g_pit_ticks;
        asm volatile("sti; hlt; cli" ::: "memory");
        lapic::timer(0, 0, false);
        if (g_pit_ticks == before)
            return fail("hlt %d did not end with a PIT interrupt (watchdog fired: %lu)", i, g_watchdog);
    }
}
