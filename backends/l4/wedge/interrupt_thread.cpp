#include "interrupt_thread.h"

#include "console.h"
#include "l4_abi.h"

namespace lw {

namespace {

const uint8_t *g_kip;
uint64_t g_main;
volatile uint64_t g_deadline_ns;  // written by the main thread, read here
volatile bool g_pending;
alignas(4096) uint8_t g_stack[16384];

// Pistachio's timeslice donation: after each reply the guest thread runs on the wedge's time
// slice, so a wake-up preempts it only from above the wedge's priority (the root task starts
// at 255). Guest below wedge below this thread; the guest's slice of a millisecond keeps a
// spinning guest from holding the CPU for the default 10 ms.
constexpr uint64_t thread_priority = 200, wedge_priority = 150, guest_priority = 50;
constexpr unsigned guest_slice_us = 1000;
constexpr unsigned longest_sleep_us = 1000;  // a deadline published while it sleeps is seen that late

uint64_t now_us() { return l4::l4_system_clock(l4::kip_word(g_kip, l4::kip_system_clock)); }

[[noreturn]] void interrupt_thread_main() {
    uint64_t *u = l4::utcb();
    const uint64_t ipc = l4::kip_word(g_kip, l4::kip_ipc), me = u[l4::tcr_my_global_id];
    for (;;) {
        uint64_t now = now_us(), deadline = g_deadline_ns / 1000;
        if (g_pending || (deadline && now >= deadline)) {
            u[0] = l4::tag(tick_label, 0, 0);
            // Blocks until the main thread receives it: while it serves the guest, it is busy.
            l4::l4_ipc(g_main, l4::nil_thread, 0, u, nullptr, ipc);
            now = now_us();
            deadline = g_deadline_ns / 1000;
        }
        const uint64_t wait = deadline > now && deadline - now < longest_sleep_us ? deadline - now : longest_sleep_us;
        // A receive from ourselves that nobody sends: only the timeout ends it.
        l4::l4_ipc(l4::nil_thread, me, l4::relative_timeout(0, static_cast<unsigned>(wait)), u, nullptr, ipc);
    }
}

} // namespace

void publish_wakeup(uint64_t deadline_ns, bool pending) {
    g_deadline_ns = deadline_ns;
    g_pending = pending;
}

bool start_interrupt_thread(const uint8_t *kip, uint64_t guest) {
    g_kip = kip;
    uint64_t *u = l4::utcb();
    g_main = u[l4::tcr_my_global_id];
    const uint64_t t = l4::global_id(l4::thread_no(g_main) + 2, 1);
    // Its UTCB follows ours in our UTCB area.
    const uint64_t area = l4::kip_word(kip, l4::kip_utcb_area_info);
    const uint64_t utcb_size = (area & 0x3ff) << ((area >> 10) & 0x3f);
    const uint64_t mine = reinterpret_cast<uint64_t>(u) & ~(utcb_size - 1);
    // Touched now, so that sigma0 maps the stack for our space: the thread, whose pager we are,
    // never faults (the rest it touches, we have).
    for (uint64_t p = 0; p < sizeof g_stack; p += 4096) g_stack[p] = 0;
    if (l4::l4_thread_control(t, g_main, g_main, g_main, mine + utcb_size,
                              l4::kip_word(kip, l4::kip_thread_control)) != 1) {
        print("l4-wedge: interrupt thread: ThreadControl failed (error code %lu)\n", u[l4::tcr_error_code]);
        return false;
    }
    const uint64_t sched = l4::kip_word(kip, l4::kip_schedule);
    if (!l4::l4_schedule(t, thread_priority, l4::schedule_unchanged, sched) ||
        !l4::l4_schedule(g_main, wedge_priority, l4::schedule_unchanged, sched) ||
        !l4::l4_schedule(guest, guest_priority, l4::relative_timeout(0, guest_slice_us) << 16, sched)) {
        print("l4-wedge: interrupt thread: Schedule failed (error code %lu)\n", u[l4::tcr_error_code]);
        return false;
    }
    // Started by its pager's start message (MR1 ip, MR2 sp), which waits until the thread takes
    // it. (Cutting its wait with ExchangeRegisters instead raced with the thread's first run:
    // when that came later, the thread waited for a start message for ever.)
    u[0] = l4::tag(0, 0, 2);
    u[1] = reinterpret_cast<uint64_t>(&interrupt_thread_main);
    u[2] = reinterpret_cast<uint64_t>(g_stack + sizeof g_stack - 8);
    if (l4::tag_failed(l4::l4_ipc(t, l4::nil_thread, 0, u, nullptr, l4::kip_word(kip, l4::kip_ipc)))) {
        print("l4-wedge: interrupt thread: the start message failed (error code %lu)\n", u[l4::tcr_error_code]);
        return false;
    }
    print("l4-wedge: interrupt thread %lx.%lx: ticks the wedge at the emulated timers' deadlines\n", l4::thread_no(t),
          t & 0xffffffff);
    return true;
}

} // namespace lw
