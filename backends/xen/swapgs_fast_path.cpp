#include "swapgs_fast_path.h"

#include "kernel_fast_path.h"
#include "user_mode.h"

namespace xw {

void try_swapgs_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (!kernel_fast_path_open(c, fr)) return;
    ++g_run_stats.swapgs_fast;
    c.swap_gs_bases();  // as the core's emulate()
    finish_kernel_fast(c, fr, s, resume_at);
}

} // namespace xw
