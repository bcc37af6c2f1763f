// What the kernel-mode sites the wedge finishes without the core (swapgs, mov from CRn) share:
// when the core would do nothing more than the instruction, and how such a site ends.
#pragma once

#include <stdint.h>

#include "guest_platform.h"
#include "guest_resume.h"
#include "run_stats.h"

namespace xw {

// False where the core would do more: raise #GP (virtual CPL > 0), take the guest's own single
// step (resume() sets TF), or deliver at the site's exit. `pending` is exact here: a vector is
// raised only inside the wedge, and every raise sets it. The core also polls the emulated
// timers first; an expired one is not missed, only later: its deadline is Xen's timer too
// (arm_timer), whose upcall delivers it.
inline bool kernel_fast_path_open(const wedge::vcpu &c, const wedge::frame &fr) {
    return c.cpl == 0 && !(fr.rflags & wedge::flags::tf) && !(c.virtual_if() && c.page.pending);
}

// Ends site `s` as the core's emulate() would (the instruction ends an interrupt shadow) and
// continues the guest at `resume_at`.
[[noreturn]] inline void finish_kernel_fast(wedge::vcpu &c, wedge::frame &fr,
                                            const wedge::site &s, uint64_t resume_at) {
    ++g_run_stats.kind_entries[s.rec.kind];
    c.interrupt_shadow = false;
    fr.rip = resume_at;
    resume_kernel_fast();
}

} // namespace xw
