#include "user_mode.h"

#include "guest.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "guest_stacks.h"
#include "guest_time.h"
#include "gs_free_entry.h"
#include "hypercall.h"
#include "run_stats.h"
#include "swapgs_fast_path.h"
#include "syscall_fast_path.h"
#include "wedge/event.h"
#include "wedge/interrupts.h"

namespace xw {

constinit bool g_real_tsd = false;
constinit xen_gs_slots g_xen_gs{{~0ull, ~0ull}};

void write_gs_slot(const wedge::vcpu &c) {
    unsigned user = c.cpl == 3;
    set_segment_base(user ? SEGBASE_GS_USER : SEGBASE_GS_KERNEL, c.gs_base);
    g_xen_gs.base[user] = c.gs_base;
    ++g_run_stats.gs_slot_writes;
}

void sync_gs_for_resume(const wedge::vcpu &c, uint64_t rip, uint64_t rsp) {
    if (c.cpl == 0 && g_xen_gs.base[0] != c.gs_base && gs_unused_until_swapgs(rip, rsp)) {
        ++g_run_stats.gs_slot_writes_deferred;
        return;
    }
    sync_gs(c);
}

void write_real_tsd(bool on) {
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    v = on ? v | wedge::cr4::tsd : v & ~wedge::cr4::tsd;
    asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
    g_real_tsd = on;
}

// `syscall` in guest user mode reached Xen's syscall callback (on the wedge's kernel_sp): do
// what the CPU does with the guest's (virtual) MSRs: RCX = the return rip, R11 = RFLAGS,
// CS/SS from STAR[47:32], RFLAGS &= ~FMASK (IF and IOPL are virtual), rip = LSTAR, CPL 0.
// No swapgs and no stack switch, as on the CPU. EFER.SCE clear: #UD at the instruction.
void guest_syscall(trap_frame *f) {
    // Xen entered the callback with events masked (install_traps: CALLBACKF_mask_events); the
    // stub's fast path (syscall_fast_path.h) declined, having changed nothing.
    mask_events();
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    left_user_mode(f->rsp);
    frame_from_trap(f);
    g_run_stats.last_vector = syscall_vector;
    g_run_stats.last_trap_rip = f->rip;
    if (c.cpl != 3) fail_run("syscall callback while the guest is not in user mode");
    if (!(c.efer & wedge::efer::sce)) {
        fr.rip = f->rip - 2;
        deliver_and_resume(wedge::event::fault(wedge::vec::ud));
    }
    fr.gpr[wedge::rcx] = f->rip;
    const uint64_t kernel_rflags = syscall_kernel_rflags(c, fr.rflags);
    fr.gpr[wedge::r11] = enter_kernel_by_syscall(c, fr.rflags);
    fr.rflags = kernel_rflags;
    fr.rip = c.lstar;
    // The first instruction at LSTAR runs on the user's rsp (Linux: swapgs, before it loads
    // its kernel stack); a rewritten call there would push below the user's rsp. Run that site
    // here instead of jumping to its call.
    if (const wedge::site *s = lstar_site(c.lstar)) {
        if (s->rec.kind == static_cast<uint8_t>(afterburn::site_kind::swapgs)) try_swapgs_fast(*s, s->end);
        run_site_and_resume(*s, s->insn);
    }
    deliver_pending_and_resume();
}

} // namespace xw
