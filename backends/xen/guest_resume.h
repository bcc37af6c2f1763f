// The ways back into the guest: from the core's frame (g_guest_run.frame) into Xen's kernel
// mode (virtual CPL 0: a plain jump) or user mode (virtual CPL 3: HYPERVISOR_iret), with the
// wedge's own single step when an interrupt waits behind an interrupt shadow.
#pragma once

#include <stdint.h>

#include "guest_platform.h"
#include "guest_stacks.h"
#include "guest_time.h"
#include "traps.h"
#include "user_mode.h"
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
// What the vCPU page's fast-path bytes were last published for: kernel mode (CPL 0) with this
// IOPL. Their other inputs (CR4.TSD, the TSC offset and TSC_AUX) change only in the core,
// whose every run ends in resume(), which publishes.
struct published_view {
    bool kernel = false;
    uint8_t iopl = 0;
};
extern published_view g_published;
void publish_fast_paths(afterburn::wedge::vcpu &c);
// The page's bytes for the fast paths' callers (CPL 0), unless they already are.
inline void publish_for_kernel(afterburn::wedge::vcpu &c) {
    if (c.cpl != 0 || !g_published.kernel || g_published.iopl != c.iopl) publish_fast_paths(c);
}

// What resume_kernel_fast does before it jumps, for a fast path that continues the guest in
// kernel mode at `rip` on stack `rsp` by itself (syscall_fast_path.h), having set CPL 0 itself:
// the fast-path bytes for CPL 0, the GS slot, the kept stacks; events opened unless rsp is in
// the user half. Inline: the system call's way in passes here.
inline void prepare_kernel_fast_return(afterburn::wedge::vcpu &c, uint64_t rsp, uint64_t rip) {
    // The fused return to user mode leaves the page as kernel mode had it (user mode does not
    // reach the entry window): a system call that comes back with the same IOPL finds it right.
    // publish_for_kernel and sync_gs without their reads of c.cpl, which the caller set to 0.
    if (!g_published.kernel || g_published.iopl != c.iopl) publish_fast_paths(c);
    sync_gs_at(c, false);
    refill_forgotten_stacks();
    if (rsp >= 0x0000800000000000ull) unmask_events();  // a kernel-half stack (as resume_kernel_fast)
    g_guest_run.frame.rip = rip;  // for a failure report only
}
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
