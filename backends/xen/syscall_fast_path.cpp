#include "syscall_fast_path.h"

#include "afterburn/site_kind.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "guest_stacks.h"
#include "run_stats.h"
#include "user_mode.h"
#include "wedge/interrupts.h"

extern "C" uint64_t wedge_resume_rsp, wedge_resume_rip;  // window.S

namespace xw {

namespace {

constexpr uint64_t user_half_end = 0x0000800000000000ull;
constexpr auto swapgs_kind = static_cast<unsigned>(afterburn::site_kind::swapgs);

// Linux returns from a syscall with `popq %rsp; swapgs; sysretq`: its two sites would run on
// the *user* stack, and their calls push below the user's rsp (its red zone, maybe a
// read-only copy-on-write page: a fault there kills the domain). RF in the saved flags makes
// Linux take its iret exit instead (do_syscall_64 refuses sysret with RF/TF set), which runs
// on its entry stack. Only for Linux images (the head code marks them).
uint64_t saved_rflags_extra() { return g_guest_run.guest->head_hi ? wedge::flags::rf : 0; }

// The CPU's syscall on the vCPU, after the checks: the part enter_kernel_by_syscall and the
// fast path share.
inline void commit_syscall(wedge::vcpu &c) {
    uint16_t cs = static_cast<uint16_t>(c.star >> 32) & 0xfffc;
    c.selector[1] = cs;
    c.selector[2] = static_cast<uint16_t>(cs + 8);
    c.cpl = 0;
    // syscall_kernel_if: FMASK's IF clears the virtual IF, else it stays (one store, no read).
    if (c.fmask & wedge::flags::if_) c.set_virtual_if(false);
    if (c.fmask & wedge::flags::iopl)
        c.iopl = static_cast<uint8_t>(c.iopl & ~((c.fmask & wedge::flags::iopl) >> wedge::flags::iopl_shift));
}

// What the fast path needs of the site at LSTAR, kept per LSTAR value: where a rewritten
// swapgs there ends (0: no such site), and the RF bit for R11.
struct lstar_facts {
    uint64_t lstar = 0, swapgs_end = 0, r11_extra = 0;
};
constinit lstar_facts g_lstar{};

} // namespace

uint64_t enter_kernel_by_syscall(wedge::vcpu &c, uint64_t user_rflags) {
    uint64_t r11 = (wedge::visible_rflags(c, user_rflags) & ~wedge::flags::rf) | saved_rflags_extra();
    commit_syscall(c);
    platform().be.state_changed(c, wedge::state_change::privilege);
    return r11;
}

const wedge::site *lstar_site(uint64_t lstar) {
    static uint64_t cached = 0;
    static const wedge::site *site = nullptr;
    if (lstar != cached || !cached) {
        const wedge::site *s = guest_sites().find_by_insn(lstar);
        site = s && s->rewritten && s->start == s->insn ? s : nullptr;
        cached = lstar;
    }
    return site;
}

} // namespace xw

extern "C" bool syscall_fast(xw::syscall_entry_frame *f) {
    using namespace xw;
    wedge::vcpu &c = cpu();
    lstar_facts &l = g_lstar;
    // No check for the first call: the initial facts (LSTAR 0) say no swapgs there, so a
    // guest whose LSTAR is 0 takes the general path as it should.
    if (c.lstar != l.lstar) {
        const wedge::site *s = lstar_site(c.lstar);
        l = {c.lstar, s && s->rec.kind == swapgs_kind ? s->end : 0, saved_rflags_extra()};
    }
    if (!l.swapgs_end) return false;
    if (c.cpl != 3 || !(c.efer & wedge::efer::sce)) return false;  // guest_syscall fails the run / raises #UD
    // The CPU's syscall with the guest's MSRs (above), then the swapgs fast path's
    // conditions: the guest not single-stepping itself, nothing to deliver at the swapgs' exit.
    const uint64_t kernel_rflags = syscall_kernel_rflags(c, f->rflags);
    if ((kernel_rflags & wedge::flags::tf) || (syscall_kernel_if(c) && c.page.pending)) return false;

    left_user_mode(f->rsp);
    run_stats &st = g_run_stats;
    st.last_vector = syscall_vector;
    st.last_trap_rip = f->rip;
    f->r11 = (wedge::visible_rflags(c, f->rflags) & ~wedge::flags::rf) | l.r11_extra;
    f->rcx = f->rip;
    // No state_changed(privilege): xen_backend's does nothing on the way into CPL 0.
    commit_syscall(c);
    // The swapgs at LSTAR (swapgs_fast_path.cpp), continuing after its span.
    ++st.syscall_fast_unfolded;  // a swapgs site entry and swapgs_fast (run_stats.h)
    c.interrupt_shadow = false;
    c.swap_gs_bases();
    f->rflags = kernel_rflags;
    // resume_kernel_fast_from's work (guest_resume.h), the registers left to the stub.
    prepare_kernel_fast_return(c, f->rsp, l.swapgs_end);
    wedge_resume_rsp = f->rsp;
    wedge_resume_rip = l.swapgs_end;
    return true;
}
