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
    // The CPU's syscall with the guest's MSRs (user_mode.h), then the swapgs fast path's
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
