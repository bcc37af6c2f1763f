#include "cr_read_fast_path.h"

#include "guest_platform.h"
#include "guest_resume.h"
#include "run_stats.h"

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
    if (c.cpl != 0) return;                      // the core raises #GP(0)
    if (fr.rflags & wedge::flags::tf) return;    // the guest's own single step: resume() sets it
    // As try_swapgs_fast: `pending` is exact here, the core would deliver it at the exit.
    if (c.virtual_if() && c.page.pending) return;
    unsigned reg = s.rec.reg & 15;
    if (reg == wedge::rsp) return;
    uint64_t v;
    if (!read_cr(c, s.rec.special, v)) return;
    ++g_run_stats.kind_entries[s.rec.kind];
    ++g_run_stats.cr_read_fast;
    c.interrupt_shadow = false;  // as the core's emulate(): the instruction ends a shadow
    fr.gpr[reg] = v;
    fr.rip = resume_at;
    resume_kernel_fast();
}

} // namespace xw
