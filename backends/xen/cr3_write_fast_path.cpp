#include "cr3_write_fast_path.h"

#include "switch_fast_path.h"
#include "pv_direct.h"

namespace xw {

// The core's write_cr (wedge/emulate.cpp, CR3): #GP for a bit above the physical address width,
// else CR3 takes the value and the backend loads it (direct paging: load_root, which sends the
// queued updates first and has Xen flush the TLB; shadow paging: the shadow's kept load, which
// switches address spaces). What the core's return adds after a CR3 load under shadow paging,
// the fast return does too: the stacks the shadow forgot are refilled (resume_kernel_fast) and
// the pages under rsp filled (finish_switch_fast).
void try_cr3_write_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (s.rec.special != 3 || !kernel_fast_path_open(c, fr)) return;
    const uint64_t v = fr.gpr[s.rec.reg & 15];
    if (v & ~((1ull << c.cpuid.physical_address_bits()) - 1)) return;
    c.cr3 = v;
    platform().be.load_cr3(v);
    ++g_run_stats.cr3_write_fast;
    finish_switch_fast(c, fr, s, resume_at);
}

} // namespace xw
