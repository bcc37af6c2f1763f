// The wedge's second thread (docs/l4-backend.md, "Asynchronous interrupts"): it sleeps with
// IPC timeouts until the emulated timers' next deadline (a millisecond at most) and then, or
// while an interrupt waits for the guest to take it, sends the main thread a tick; the main
// thread interrupts the guest thread where it runs (guest_run.cpp). The core and the devices
// stay the main thread's alone: this thread reads two words and the clock.
#pragma once

#include <stdint.h>

namespace lw {

inline constexpr uint64_t tick_label = 0x5174;  // the tick's IPC label

// Creates the thread (number: ours + 2) in our space, we its pager, starts it, and sets
// the priorities: this thread above the wedge's main thread, the guest thread below both.
bool start_interrupt_thread(const uint8_t *kip, uint64_t guest);

// What the thread waits for: the nearest deadline (now_ns's clock; 0: none) and whether an
// interrupt is pending already (tick within a millisecond).
void publish_wakeup(uint64_t deadline_ns, bool pending);

} // namespace lw
