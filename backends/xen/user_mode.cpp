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

namespace {

struct user_mode_state {
    uint64_t xen_gs[2] = {~0ull, ~0ull};  // [0] kernel, [1] user: what Xen holds
    bool real_tsd = false;
};
constinit user_mode_state g_user{};

} // namespace

void sync_gs(const wedge::vcpu &c) {
    unsigned user = c.cpl == 3;
    if (g_user.xen_gs[user] == c.gs_base) return;
    set_segment_base(user ? SEGBASE_GS_USER : SEGBASE_GS_KERNEL, c.gs_base);
    g_user.xen_gs[user] = c.gs_base;
    ++g_run_stats.gs_slot_writes;
}

void sync_gs_for_resume(const wedge::vcpu &c, uint64_t rip, uint64_t rsp) {
    if (c.cpl == 0 && g_user.xen_gs[0] != c.gs_base && gs_unused_until_swapgs(rip, rsp)) {
        ++g_run_stats.gs_slot_writes_deferred;
        return;
    }
    sync_gs(c);
}

void set_real_tsd(bool on) {
    if (on == g_user.real_tsd) return;
    uint64_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    v = on ? v | wedge::cr4::tsd : v & ~wedge::cr4::tsd;
    asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
    g_user.real_tsd = on;
}

void left_user_mode(uint64_t user_rsp) {
    set_real_tsd(false);
    note_user_stack(user_rsp);
}

// The guest's TSC is the real one plus the vCPU's offset (its wrmsr to IA32_TSC moved it;
// the core adds the offset at every kernel rdtsc site). A ring-3 rdtsc runs on the real CPU
// and would read the real TSC, ahead of or behind the kernel's clock. So user mode also runs
// with the real TSD set while the offset is not zero: its rdtsc/rdtscp trap, and the core
// emulates them with the offset (or raises #GP when the guest's own TSD is set).
void returning_to_user_mode(const wedge::vcpu &c) {
    set_real_tsd((c.cr4 & wedge::cr4::tsd) != 0 || c.tsc_offset != 0);
}

// `syscall` in guest user mode reached Xen's syscall callback (on the wedge's kernel_sp): do
// what the CPU does with the guest's (virtual) MSRs: RCX = the return rip, R11 = RFLAGS,
// CS/SS from STAR[47:32], RFLAGS &= ~FMASK (IF and IOPL are virtual), rip = LSTAR, CPL 0.
// No swapgs and no stack switch, as on the CPU. EFER.SCE clear: #UD at the instruction.
void guest_syscall(trap_frame *f) {
    // Xen entered the callback with events masked (install_traps: CALLBACKF_mask_events), and
    // the fast path leaves them so (the guest runs on the user's stack).
    try_syscall_fast(f);  // returns only when that path does not apply
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
