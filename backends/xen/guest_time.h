// Time and events while the guest runs (docs/xen-backend.md, "Time and interrupts"). The
// guest spins in loops without sites while it waits for a tick, so the wedge must get control
// on its own: VIRQ_TIMER is bound to an event channel, set_timer_op is armed at the earliest
// deadline of the emulated PIT and local APIC timer, and events are unmasked whenever the
// guest runs (its IF is virtual: an upcall that finds the virtual IF closed just returns).
#pragma once

#include <stdint.h>

#include "shared_info.h"

namespace xw {

// Binds VIRQ_TIMER and unmasks its port. False (with why) if Xen refuses.
bool bind_timer();

// Arms Xen's one-shot timer at the emulated timers' next deadline (if it changed).
void arm_timer();
// An upcall a moment from now (50 µs): for an interrupt that became deliverable where the
// wedge cannot deliver it (inside the wedge).
void retry_delivery_soon();
// Xen's timer may be armed elsewhere than arm_timer left it (retry_delivery_soon, hlt's
// wait): a way into the guest that skips arm_timer, because it changed no emulated device,
// must call it then.
// (armed_ns may not be next_deadline(): set_timer_op not from arm_timer.)
extern bool g_timer_off_deadline;
inline bool timer_off_deadline() { return g_timer_off_deadline; }

// Events are masked while the wedge runs and opened on every way into the guest.
inline void mask_events() { this_vcpu()->evtchn_upcall_mask = 1; }
void unmask_events();

// hlt with nothing deliverable: blocks in Xen until the next emulated-timer deadline (or any
// other event), polls, delivers; fails the run after 5 s without an interrupt.
void wait_halted();

} // namespace xw
