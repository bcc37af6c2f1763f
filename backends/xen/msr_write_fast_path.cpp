#include "msr_write_fast_path.h"

#include "switch_fast_path.h"
#include "wedge/guest_memory.h"
#include "wedge/msrs.h"

namespace xw {

void try_msr_write_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (!kernel_fast_path_open(c, fr)) return;  // CPL > 0 is the core's #GP
    const auto index = static_cast<uint32_t>(fr.gpr[wedge::rcx]);
    if (index != wedge::msr::fs_base && index != wedge::msr::gs_base && index != wedge::msr::kernel_gs_base) return;
    const uint64_t value = (fr.gpr[wedge::rdx] << 32) | (fr.gpr[wedge::rax] & 0xffffffffu);
    // A non-canonical base is the core's #GP(0): write_msr refuses it before changing anything.
    if (!wedge::is_canonical(value)) return;
    // The core's own write (the vCPU's base and the backend's state_changed: Xen's FS base for
    // FS, GS's slot on the way back in for GS), so the two cannot disagree.
    if (!wedge::write_msr(c, platform().be, index, value)) return;
    ++g_run_stats.msr_write_fast;
    finish_switch_fast(c, fr, s, resume_at);
}

} // namespace xw
