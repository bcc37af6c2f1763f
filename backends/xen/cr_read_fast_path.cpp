#include "cr_read_fast_path.h"

#include "kernel_fast_path.h"

namespace xw {

namespace {

bool read_cr(const wedge::vcpu &c, unsigned n, uint64_t &v) {
    switch (n) {
    case 0: v = c.cr0; return true;
    case 2: v = c.cr2; return true;
    case 3: v = c.cr3; return true;
    case 4: v = c.cr4; return true;
    default: return false;
    }
}

} // namespace

void try_cr_read_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (!kernel_fast_path_open(c, fr)) return;
    unsigned reg = s.rec.reg & 15;
    if (reg == wedge::rsp) return;
    uint64_t v;
    if (!read_cr(c, s.rec.special, v)) return;
    ++g_run_stats.cr_read_fast;
    fr.gpr[reg] = v;
    finish_kernel_fast(c, fr, s, resume_at);
}

} // namespace xw
