#include "swapgs_fast_path.h"

#include "kernel_fast_path.h"
#include "user_mode.h"

namespace xw {

void try_swapgs_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (!kernel_fast_path_open(c, fr)) return;
    ++g_run_stats.swapgs_fast;
    uint64_t t = c.gs_base;  // as the core's emulate(): the bases swap
    c.gs_base = c.kernel_gs_base;
    c.kernel_gs_base = t;
    finish_kernel_fast(c, fr, s, resume_at);
}

} // namespace xw
