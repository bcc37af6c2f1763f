// The ways back into the guest: from the core's frame (g_guest_run.frame) into Xen's kernel
// mode (virtual CPL 0: a plain jump) or user mode (virtual CPL 3: HYPERVISOR_iret), with the
// wedge's own single step when an interrupt waits behind an interrupt shadow.
#pragma once

#include <stdint.h>

#include "traps.h"
#include "wedge/event.h"
#include "wedge/site_table.h"

namespace xw {

// The trap frame's registers into g_guest_run.frame.
void frame_from_trap(const trap_frame *f);

// After the core ran: the shadow follows CR0.WP/EFER.NXE.
void after_core();

// What the entry window's fast paths may rely on for the whole run (wedge/fast_paths.h),
// once the sites are rewritten; resume() publishes the rest on every way into the guest.
void find_fast_path_facts();

// Into the guest from g_guest_run.frame.
[[noreturn]] void resume();

// Into guest kernel mode after a fast path that polled no device, delivered nothing and left
// no interrupt shadow or single step to arm (swapgs_fast_path.h): resume() without the parts
// only those need (the timer's next deadline, the single step, the pages under a new rsp).
[[noreturn]] void resume_kernel_fast();
// The same from a trap frame the caller changed in place into the guest's state (registers,
// rip, the real RFLAGS bits, rsp): loaded straight into the guest, the core's frame is not used
// (every way into the wedge fills it afresh; only its rip is set, for a failure report).
[[noreturn]] void resume_kernel_fast_from(trap_frame *f);
// Polls the devices, delivers what is pending and deliverable, resumes.
[[noreturn]] void deliver_pending_and_resume();

// Delivers `ev` through the guest's IDT, then as deliver_pending_and_resume.
[[noreturn]] void deliver_and_resume(const afterburn::wedge::event &ev);

// Runs the site's instruction at `site_addr` (its link address, or for a ring-3 site its
// user-mode address: the core's end-of-span rip follows it) and continues the guest.
// `fallback`: a record decoded at a trap, not counted as a site entry. `resume_at`: where the
// site's call returned (wedge::emulate; 0: the end of the span).
[[noreturn]] void run_site_and_resume(const afterburn::wedge::site &s, uint64_t site_addr, bool fallback = false,
                                      uint64_t resume_at = 0);

} // namespace xw
