#include "syscall_fast_path.h"

#include "afterburn/site_kind.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "run_stats.h"
#include "user_mode.h"
#include "wedge/interrupts.h"

namespace xw {

uint64_t enter_kernel_by_syscall(wedge::vcpu &c, uint64_t user_rflags) {
    uint64_t r11 = wedge::visible_rflags(c, user_rflags) & ~wedge::flags::rf;
    // Linux returns from a syscall with `popq %rsp; swapgs; sysretq`: its two sites would run
    // on the *user* stack, and their calls push below the user's rsp (its red zone, maybe a
    // read-only copy-on-write page: a fault there kills the domain). RF in the saved flags
    // makes Linux take its iret exit instead (do_syscall_64 refuses sysret with RF/TF set),
    // which runs on its entry stack. Only for Linux images (the head code marks them).
    if (g_guest_run.guest->head_hi) r11 |= wedge::flags::rf;
    uint16_t cs = static_cast<uint16_t>(c.star >> 32) & 0xfffc;
    c.selector[1] = cs;
    c.selector[2] = static_cast<uint16_t>(cs + 8);
    c.cpl = 0;
    c.set_virtual_if(syscall_kernel_if(c));
    if (c.fmask & wedge::flags::iopl)
        c.iopl = static_cast<uint8_t>(c.iopl & ~((c.fmask & wedge::flags::iopl) >> wedge::flags::iopl_shift));
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

// flatten: enter_kernel_by_syscall inlined here (as a call it measured 14 instructions a
// system call more).
[[gnu::flatten]] void try_syscall_fast(trap_frame *f) {
    wedge::vcpu &c = cpu();
    const wedge::site *s = lstar_site(c.lstar);
    if (!s || s->rec.kind != static_cast<uint8_t>(afterburn::site_kind::swapgs)) return;
    if (c.cpl != 3 || !(c.efer & wedge::efer::sce)) return;  // guest_syscall fails the run / raises #UD
    // The CPU's syscall with the guest's MSRs (above), then the swapgs fast path's
    // conditions: the guest not single-stepping itself, nothing to deliver at the swapgs' exit.
    const uint64_t kernel_rflags = syscall_kernel_rflags(c, f->rflags);
    if ((kernel_rflags & wedge::flags::tf) || (syscall_kernel_if(c) && c.page.pending)) return;

    left_user_mode(f->rsp);
    g_run_stats.last_vector = syscall_vector;
    g_run_stats.last_trap_rip = f->rip;
    f->r11 = enter_kernel_by_syscall(c, f->rflags);
    f->rcx = f->rip;
    // The swapgs at LSTAR (swapgs_fast_path.cpp), continuing after its span.
    ++g_run_stats.kind_entries[s->rec.kind];
    ++g_run_stats.swapgs_fast;
    c.interrupt_shadow = false;
    c.swap_gs_bases();
    f->rip = s->end;
    f->rflags = kernel_rflags;
    resume_kernel_fast_from(f);
}

} // namespace xw
