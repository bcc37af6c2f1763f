#include "guest_resume.h"

#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "guest.h"
#include "guest_platform.h"
#include "guest_sites.h"
#include "guest_stacks.h"
#include "guest_time.h"
#include "page_table_sites.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "run_stats.h"
#include "user_mode.h"
#include "wedge/dispatch.h"
#include "wedge/emulate.h"
#include "wedge/fast_paths.h"
#include "wedge/interrupts.h"

extern "C" {
[[noreturn]] void wedge_resume(const afterburn::wedge::frame *f);
// window.S: HYPERVISOR_iret into the guest with this cs/ss.
[[noreturn]] void wedge_iret(const afterburn::wedge::frame *f, uint64_t cs, uint64_t ss);
}

namespace xw {

using afterburn::site_kind;

namespace {

// Xen's flat selectors: user mode (RPL 3), and kernel mode (FLAT_KERNEL_CS with RPL 0).
constexpr uint64_t flat_user_cs = 0xe033, flat_user_ss = 0xe02b, flat_kernel_cs_rpl0 = 0xe030, flat_kernel_ss = 0xe02b;

// The interrupt shadow (sti, mov/pop ss) holds a deliverable interrupt back for exactly one
// instruction. The guest's next instructions may contain no site (a spin loop), so nothing
// would bring the wedge back: the wedge returns with the real TF set and takes the
// single-step #DB after that one instruction (wherever it lands: guest code, or the entry
// window if the instruction was a rewritten site), then delivers.
bool g_stepping;

wedge::fast_path_facts g_fast_path_facts;


constexpr uint64_t user_half_end = 0x0000800000000000ull;

bool want_step(wedge::vcpu &c) {
    return c.interrupt_shadow && c.shadow_rip == g_guest_run.frame.rip && c.virtual_if() &&
           wedge::refresh_pending_hint(c);
}

// Through HYPERVISOR_iret; IF in the iret frame is the event mask Xen restores: events open.
[[noreturn]] void iret_to_guest(uint64_t cs, uint64_t ss) {
    static wedge::frame out;
    out = g_guest_run.frame;
    out.rflags |= wedge::flags::if_;
    wedge_iret(&out, cs, ss);
}

} // namespace

constinit published_view g_published{};

void publish_fast_paths(wedge::vcpu &c) {
    wedge::publish_fast_paths(c, g_fast_path_facts);
    g_published = {c.cpl == 0, c.iopl};
}

void frame_from_trap(const trap_frame *f) {
    uint64_t regs[16] = {f->rax, f->rcx, f->rdx, f->rbx, f->rsp, f->rbp, f->rsi, f->rdi,
                         f->r8,  f->r9,  f->r10, f->r11, f->r12, f->r13, f->r14, f->r15};
    wedge::frame &fr = g_guest_run.frame;
    for (unsigned i = 0; i < 16; ++i) fr.gpr[i] = regs[i];
    fr.rip = f->rip;
    fr.rflags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
}

void after_core() { platform().be.sync_paging(); }

void find_fast_path_facts() { g_fast_path_facts = wedge::find_fast_path_facts(cpu(), flag_sites_all_64_bit()); }

void resume() {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    // Direct paging: the page-table stores the core queued reach Xen before the guest runs on
    // anything but the kernel fast paths' return (docs/xen-direct-paging.md, "Batched updates").
    direct_send_updates();
    // Every change of the state the entry window's fast paths (sti_fast_path.S,
    // flags_fast_path.S, tsc_fast_path.S) depend on is the core's and ends here. Virtual CPL 1
    // and 2 run in Xen's kernel mode too, where the window is mapped.
    publish_fast_paths(c);
    sync_gs_for_resume(c, fr.rip, fr.gpr[wedge::rsp]);
    if (c.cpl == 3) {
        ++g_run_stats.user_entries;
        // The user stack is noted (filled in the kernel root) on every way back in from user
        // mode (left_user_mode), before guest kernel code can run on it; not here.
        arm_timer();
        returning_to_user_mode(c);
        iret_to_guest(flat_user_cs, flat_user_ss);
    }
    set_real_tsd(false);
    ensure_stack_mapped(fr.gpr[wedge::rsp]);
    arm_timer();
    bool guest_tf = (fr.rflags & wedge::flags::tf) != 0;  // the guest single-steps itself
    if (guest_tf || (!g_stepping && want_step(c))) {
        // popfq in wedge_resume would trap on the wedge's own next instruction: return
        // through HYPERVISOR_iret, which sets TF with the jump into the guest. The guest's own
        // TF: its #DB then arrives at guest code and is reflected (guest_trap).
        if (!guest_tf) {
            g_stepping = true;
            ++g_run_stats.steps;
        }
        fr.rflags |= wedge::flags::tf;
        iret_to_guest(flat_kernel_cs_rpl0, flat_kernel_ss);
    }
    // Guest kernel code on a user-half stack (Linux's syscall entry before it loads its kernel
    // stack): an upcall would bounce onto that stack, below the user's rsp (its red zone, or
    // an unmapped page: the domain dies). Events stay masked until the next way into the
    // wedge; the timer is re-armed there.
    if (fr.gpr[wedge::rsp] >= user_half_end) unmask_events();
    wedge_resume(&fr);
}

void resume_kernel_fast() {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    publish_for_kernel(c);
    sync_gs_for_resume(c, fr.rip, fr.gpr[wedge::rsp]);
    refill_forgotten_stacks();
    if (fr.gpr[wedge::rsp] >= user_half_end) unmask_events();
    wedge_resume(&fr);
}

void deliver_pending_and_resume() {
    poll_devices();
    wedge::deliver_pending(cpu(), g_guest_run.frame, platform().be);
    after_core();
    resume();
}

void deliver_and_resume(const wedge::event &ev) {
    wedge::vcpu &c = cpu();
    if (wedge::deliver(c, g_guest_run.frame, ev, platform().be) == wedge::delivery::shutdown)
        fail_run("triple fault while delivering an exception");
    // Through an interrupt gate (Linux's exceptions) the handler starts with IF clear, and
    // deliver_pending would deliver nothing: the device poll before it only raises what Xen's
    // timer upcall, armed at the same deadline, raises too (as for the kernel fast paths), and
    // `pending` is still exact (a delivery raises nothing).
    if (!c.virtual_if()) {
        after_core();
        resume();
    }
    deliver_pending_and_resume();
}

bool guest_single_step(trap_frame *f) {
    if (!g_stepping || f->vector != wedge::vec::db) return false;
    g_stepping = false;
    f->rflags &= ~wedge::flags::tf;
    // Inside the wedge (the step landed in the entry window): the site's own exit delivers,
    // except an sti/pushf/popf fast path, which returns straight to the guest: a timer upcall
    // shortly after delivers then.
    if (is_wedge_address(f->rip)) {
        retry_delivery_soon();
        return true;
    }
    frame_from_trap(f);
    deliver_pending_and_resume();
}

void run_site_and_resume(const wedge::site &s, uint64_t site_addr, bool fallback, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    xen_backend &be = platform().be;
    if (!fallback) ++g_run_stats.kind_entries[s.rec.kind];
    poll_devices();
    const wedge::frame before = g_guest_run.frame;
    const wedge::site_exit done = afterburn::site_kind_is_page_table(static_cast<site_kind>(s.rec.kind))
                                      ? run_page_table_site(s, site_addr, resume_at)
                                      : wedge::run_site(c, g_guest_run.frame, s.rec, site_addr, be, resume_at);
    switch (done) {
    case wedge::site_exit::resume: break;
    case wedge::site_exit::halted: wait_halted(); break;
    case wedge::site_exit::shutdown: {
        // Say which event could not be delivered: emulate the site again on a copy (a raise
        // leaves the vCPU as it was).
        wedge::frame again = before;
        auto r = wedge::emulate(c, again, s.rec, site_addr, be, resume_at);
        console_flush();
        print("xen-wedge: guest: the %s site at 0x%lx: action %u, vector %u error 0x%x (IDTR base 0x%lx limit 0x%x)\n",
              afterburn::site_kind_name(static_cast<site_kind>(s.rec.kind)), s.insn, static_cast<unsigned>(r.what),
              r.ev.vector, r.ev.error_code, c.idtr.base, c.idtr.limit);
        fail_run("triple fault (shutdown)");
    }
    case wedge::site_exit::bad_record: {
        console_flush();
        print("xen-wedge: guest: the core cannot emulate the %s site at 0x%lx\n",
              afterburn::site_kind_name(static_cast<site_kind>(s.rec.kind)), s.insn);
        exit_with(verdict_fail);
    }
    }
    after_core();
    resume();
}

} // namespace xw
