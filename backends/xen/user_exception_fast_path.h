// An exception from guest user mode (virtual CPL 3) delivered to the guest kernel without the
// core's generic deliver() and resume(): docs/xen-backend.md, "A user-mode exception without
// the core". The same decisions as wedge::deliver, on the same bytes (the gate, the handler's
// code descriptor and TSS.RSP0 read through the CPU, guest_probe.h; the frame written in one
// store), with the core's own helpers (wedge/interrupts.h); anything else is left to the core.
#pragma once

#include "wedge/event.h"

namespace xw {

// For the guest in g_guest_run.frame at virtual CPL 3 and the exception `ev` (an event of type
// exception): delivers it and continues the guest kernel at its handler, not returning, when
// wedge::deliver would deliver it at the first attempt through a present 64-bit interrupt gate
// with IST 0 to a CPL-0 handler on TSS.RSP0, and nothing would be deliverable after it. Returns
// having changed nothing else (the probe reads may have filled the shadow, as the core's reads
// do) in every other case.
void try_deliver_user_exception_fast(const afterburn::wedge::event &ev);

} // namespace xw
