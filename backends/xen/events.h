// Event channels: Xen's virtual interrupts. Delivered through the event upcall registered
// in install_traps() whenever vcpu_info.evtchn_upcall_mask is clear (the virtual IF).
#pragma once

#include <stdint.h>

namespace xw {

// Called by trap_dispatch on the event upcall (events masked) with the interrupted rip:
// acknowledges every pending, unmasked port and records it.
void handle_events(uint64_t interrupted_rip);

// Proves the upcall path end to end: binds an IPI port to ourselves, unmasks it, enables
// events, sends on it, and checks the upcall saw that port and returned here. Needs
// shared_info mapped. Returns false, having said why, on failure.
bool event_self_test();

} // namespace xw
