#include "user_return_fast_path.h"

#include "guest_platform.h"
#include "guest_probe.h"
#include "guest_resume.h"
#include "return_chain.h"
#include "run_stats.h"
#include "wedge/descriptor.h"

namespace xw {

namespace {

constexpr uint64_t user_half_end = 0x0000800000000000ull;

// What the iretq pops, once checked.
struct user_frame {
    uint64_t rip, rflags, rsp;
    uint16_t cs, ss;
};

// The descriptor `selector` names in the GDT, as the core's read_descriptor reads it (an LDT
// selector is left to the core).
bool gdt_descriptor(const wedge::vcpu &c, uint16_t selector, wedge::segment_descriptor &d) {
    uint32_t index = selector & 0xfff8u;
    if ((selector & 4) || index + 7 > c.gdtr.limit) return false;
    return guest_probe_read(c.gdtr.base + index, &d.low, 8);
}

// The core's iret (wedge/emulate_transfers.cpp) on its way to CPL 3 succeeding with nothing
// to deliver after it: every check it makes, on the same bytes (guest_probe.h reads them as
// the core's supervisor reads do; a read may fill the shadow, as the core's does; nothing
// else changes). False: anything the core would answer otherwise (a fault, a kernel frame, a
// compatibility-mode CS, a delivery at the exit) or that the fast path leaves to it (the
// guest's or the popped TF, NT, IF clear, an LDT selector, a kernel-half rip).
bool check_user_frame(const wedge::site &iret, user_frame &out) {
    wedge::vcpu &c = cpu();
    const wedge::frame &fr = g_guest_run.frame;
    if (c.cpl != 0 || afterburn::annotation::operand_bits(iret.rec.flags) != 64) return false;
    if (fr.rflags & (wedge::flags::nt | wedge::flags::tf)) return false;
    // An interrupt pending now is delivered at the exit once IF is set (the popped IF must be).
    if (c.page.pending) return false;
    uint64_t image[5];
    if (!guest_probe_read(fr.gpr[wedge::rsp], image, sizeof image)) return false;
    out.rip = image[0];
    out.cs = static_cast<uint16_t>(image[1]);
    out.rflags = image[2];
    out.rsp = image[3];
    out.ss = static_cast<uint16_t>(image[4]);
    if ((out.cs & 3) != 3 || (out.ss & 3) != 3 || !(out.cs & 0xfffc) || !(out.ss & 0xfffc)) return false;
    if (!(out.rflags & wedge::flags::if_) || (out.rflags & (wedge::flags::tf | wedge::flags::nt))) return false;
    if (out.rip >= user_half_end) return false;  // also the canonical check
    wedge::segment_descriptor d;
    if (!gdt_descriptor(c, out.cs, d)) return false;
    if (!d.code() || (d.conforming() ? d.dpl() > 3 : d.dpl() != 3) || !d.present() || !d.long_mode()) return false;
    if (!gdt_descriptor(c, out.ss, d)) return false;
    if (!d.writable() || d.dpl() != 3 || !d.present()) return false;
    return true;
}

// The rest of the core's iret (load_rflags at CPL 0, enter_cpl) and the run's end: no device
// was polled (an expired timer is Xen's upcall, armed at its deadline), nothing is pending,
// and resume() takes CPL 3 through HYPERVISOR_iret.
[[noreturn]] void enter_user(const user_frame &u) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    c.interrupt_shadow = false;  // as emulate(): the instruction ends a shadow
    uint64_t writable = wedge::flags::real | wedge::flags::rf;
    fr.rflags = (fr.rflags & ~writable) | (u.rflags & writable) | wedge::flags::fixed1;
    c.set_virtual_if(true);
    c.iopl = static_cast<uint8_t>((u.rflags >> wedge::flags::iopl_shift) & 3);
    fr.rip = u.rip;
    fr.gpr[wedge::rsp] = u.rsp;
    c.selector[1] = u.cs;
    c.selector[2] = u.ss;
    c.cpl = 3;
    platform().be.state_changed(c, wedge::state_change::privilege);
    ++g_run_stats.kind_entries[static_cast<unsigned>(afterburn::site_kind::iret)];
    resume();
}

} // namespace

void try_user_return_fast(const wedge::site &s) {
    user_frame u;
    if (!check_user_frame(s, u)) return;
    ++g_run_stats.user_return_fast;
    enter_user(u);
}

void try_swapgs_user_return_fast(const wedge::site &s, uint64_t ret) {
    wedge::vcpu &c = cpu();
    // The swapgs fast path's conditions (swapgs_fast_path.h); the iretq's include them.
    return_chain chain = return_chain_of(s, ret);
    if (!chain.iret) return;
    user_frame u;
    if (!check_user_frame(*chain.iret, u)) return;
    if (chain.ss_test && (u.ss & 4)) return;  // Linux's ESPFIX exit: an LDT stack segment
    ++g_run_stats.kind_entries[s.rec.kind];
    ++g_run_stats.swapgs_user_return_fast;
    uint64_t t = c.gs_base;
    c.gs_base = c.kernel_gs_base;
    c.kernel_gs_base = t;
    enter_user(u);
}

} // namespace xw
