#include "syscall_fast_path.h"

#include "afterburn/site_kind.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "run_stats.h"
#include "user_mode.h"

namespace xw {

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

void try_syscall_fast(trap_frame *f) {
    wedge::vcpu &c = cpu();
    const wedge::site *s = lstar_site(c.lstar);
    if (!s || s->rec.kind != static_cast<uint8_t>(afterburn::site_kind::swapgs)) return;
    if (c.cpl != 3 || !(c.efer & wedge::efer::sce)) return;  // guest_syscall fails the run / raises #UD
    // The CPU's syscall with the guest's MSRs, as guest_syscall does it: RFLAGS &= ~FMASK (IF
    // and IOPL are virtual), then the swapgs fast path's conditions: the guest not
    // single-stepping itself, nothing to deliver at the swapgs' exit.
    const uint64_t user_flags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
    const uint64_t kernel_flags = (user_flags & ~(c.fmask & wedge::flags::real)) | wedge::flags::fixed1;
    const bool kernel_if = c.virtual_if() && !(c.fmask & wedge::flags::if_);
    if ((kernel_flags & wedge::flags::tf) || (kernel_if && c.page.pending)) return;

    left_user_mode(f->rsp);
    g_run_stats.last_vector = syscall_vector;
    g_run_stats.last_trap_rip = f->rip;
    // RCX = the return rip, R11 = the visible RFLAGS (wedge::visible_rflags) without RF, with
    // RF for Linux (guest_syscall says why).
    uint64_t r11 = user_flags | (c.virtual_if() ? wedge::flags::if_ : 0) |
                   static_cast<uint64_t>(c.iopl & 3) << wedge::flags::iopl_shift;
    r11 &= ~wedge::flags::rf;
    if (g_guest_run.guest->head_hi) r11 |= wedge::flags::rf;
    f->rcx = f->rip;
    f->r11 = r11;
    uint16_t cs = static_cast<uint16_t>(c.star >> 32) & 0xfffc;
    c.selector[1] = cs;
    c.selector[2] = static_cast<uint16_t>(cs + 8);
    c.cpl = 0;
    c.set_virtual_if(kernel_if);
    if (c.fmask & wedge::flags::iopl)
        c.iopl = static_cast<uint8_t>(c.iopl & ~((c.fmask & wedge::flags::iopl) >> wedge::flags::iopl_shift));
    platform().be.state_changed(c, wedge::state_change::privilege);
    // The swapgs at LSTAR (swapgs_fast_path.cpp), continuing after its span.
    ++g_run_stats.kind_entries[s->rec.kind];
    ++g_run_stats.swapgs_fast;
    c.interrupt_shadow = false;
    uint64_t t = c.gs_base;
    c.gs_base = c.kernel_gs_base;
    c.kernel_gs_base = t;
    f->rip = s->end;
    f->rflags = kernel_flags;
    resume_kernel_fast_from(f);
}

} // namespace xw
