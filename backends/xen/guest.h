// The guest through the wedge core on Xen (docs/xen-backend.md): what main.cpp and the trap
// table (traps.cpp) call. The guest kernel runs in the PV kernel mode the wedge itself runs
// in, on the shadow page tables (pv_shadow.cpp), in the same address space as the wedge. Its
// rewritten sites call the entry window (site_entry.cpp); the exceptions it takes reach the
// wedge's trap table (guest_traps.cpp); the timer upcall polls the emulated timers
// (guest_time.cpp); its user mode runs in Xen's user mode (user_mode.cpp).
#pragma once

#include <stdint.h>

#include "guest_loader.h"
#include "traps.h"

namespace xw {

// Builds the vCPU, the devices and the site table, and rewrites the sites. `cr3` is the
// guest's current CR3 (the boot tables). Prints what it did; false (with why) on failure.
bool guest_prepare(const loaded_guest &g, uint64_t cr3);

// The wedge option fallback-trace=N: report the first N trap-and-emulate fallbacks.
void guest_trace_fallbacks(uint64_t n);
// Wedge option trap-trace=N: print the first N guest exceptions and site entries.
void guest_trace_traps(uint64_t n);
// Wedge option heartbeat: a line every 5 s (Xen time) with where the guest is.
void guest_heartbeat();

// Enters the guest at its 64-bit entry (link address), RSI = boot_params. Does not return:
// the run ends with the guest's verdict (port 0xf4) or a wedge failure.
[[noreturn]] void guest_enter(const loaded_guest &g);

// True once the guest runs: traps at non-wedge addresses are the guest's.
bool guest_running();

// The wedge's own single step (the interrupt shadow, guest_resume.cpp): true if it was (TF
// is cleared in the frame; return through it); otherwise the #DB is the guest's.
bool guest_single_step(trap_frame *frame);

// An exception Xen delivered while the guest ran (frame->rip outside the wedge). Returns to
// retry the instruction (a shadow fill); otherwise it delivers the exception into the guest
// through the core and does not return.
void guest_trap(trap_frame *frame);

// The event upcall while the guest runs (VIRQ_TIMER): polls the emulated timers and
// delivers what the virtual IF allows, or returns (through the frame) if nothing is.
void guest_event(trap_frame *frame);

// A `syscall` in guest user mode (Xen's syscall callback): emulated into the guest kernel.
[[noreturn]] void guest_syscall(trap_frame *frame);

} // namespace xw
