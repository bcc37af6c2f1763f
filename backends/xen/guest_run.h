// Running the loaded guest through the wedge core (docs/xen-backend.md, milestones 3-4): the
// vCPU in the vCPU page, the platform devices on the core's I/O bus, the site table built
// from the guest's notes, the sites rewritten in guest memory, the entry stubs' dispatch into
// run_site(), and the guest's exceptions (delivered by Xen to the wedge's trap table)
// reflected into the guest's IDT through the core's deliver().
#pragma once

#include <stdint.h>

#include "guest_loader.h"
#include "traps.h"

namespace xw {

// Builds the vCPU, the devices and the site table, and rewrites the sites. `cr3` is the
// guest's current CR3 (the boot tables). Prints what it did; false (with why) on failure.
bool guest_prepare(const LoadedGuest &g, uint64_t cr3);

// Enters the guest at its 64-bit entry (link address), RSI = boot_params. Does not return:
// the run ends with the guest's verdict (port 0xf4) or a wedge failure.
[[noreturn]] void guest_enter(const LoadedGuest &g);

// True once the guest runs: traps at non-wedge addresses are the guest's.
bool guest_running();

// trap_dispatch hands over an exception Xen delivered while the guest ran (frame->rip outside
// the wedge). Returns to retry the instruction (a shadow fill); otherwise it delivers the
// exception into the guest through the core and does not return.
void guest_trap(TrapFrame *frame);

} // namespace xw
