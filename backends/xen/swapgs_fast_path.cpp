#include "swapgs_fast_path.h"

#include "guest_platform.h"
#include "guest_resume.h"
#include "run_stats.h"
#include "user_mode.h"

namespace xw {

void try_swapgs_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (c.cpl != 0) return;                          // the core raises #GP(0)
    if (fr.rflags & wedge::flags::tf) return;        // the guest's own single step: resume() sets it
    // The core delivers what is pending and deliverable at the site's exit. `pending` is
    // exact here: a vector is raised only inside the wedge, and every raise sets it. The core
    // also polls the emulated timers first; an expired one is not missed, only later: its
    // deadline is Xen's timer too (arm_timer), whose upcall delivers it.
    if (c.virtual_if() && c.page.pending) return;
    ++g_run_stats.kind_entries[s.rec.kind];
    ++g_run_stats.swapgs_fast;
    // As the core's emulate(): the instruction ends an interrupt shadow, and swaps the bases.
    c.interrupt_shadow = false;
    uint64_t t = c.gs_base;
    c.gs_base = c.kernel_gs_base;
    c.kernel_gs_base = t;
    fr.rip = resume_at;
    resume_kernel_fast();
}

} // namespace xw
