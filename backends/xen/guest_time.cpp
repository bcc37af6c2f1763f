#include "guest_time.h"

#include "console.h"
#include "events.h"
#include "guest.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "hypercall.h"
#include "pv_shadow.h"
#include "run_stats.h"
#include "shared_info.h"
#include "user_mode.h"
#include "wedge/interrupts.h"

namespace xw {

namespace {

struct timer_state {
    uint32_t port = ~0u;
    uint64_t armed_ns = 0;  // what set_timer_op was last given (0: none)
    bool blocking = false;  // in wait_halted's SCHEDOP_block
};
constinit timer_state g_timer{};

constexpr uint64_t halt_limit_ns = 5000000000ull;
// A guest that runs no site, takes no exception and gets no interrupt for this long is stuck
// (a spin loop that waits for something the wedge does not provide): the run ends with where.
constexpr uint64_t stall_limit_ns = 10000000000ull;

struct progress {
    uint64_t events = ~0ull;  // site entries (fast paths too) + exceptions + deliveries + user entries, last seen
    uint64_t since_ns = 0;    // when they last changed
    uint64_t beat_ns = 0;     // the last heartbeat line
};
constinit progress g_progress{};
constexpr uint64_t heartbeat_ns = 5000000000ull;

// Called from the periodic upcalls that strike guest code.
void check_progress(const trap_frame *f) {
    fold_fast_path_counts();
    const run_stats &s = g_run_stats;
    uint64_t events =
        s.entries + fast_path_completions() + s.traps_delivered + s.upcall_deliveries + s.user_entries;
    uint64_t now = platform().be.now_ns();
    if (s.heartbeat && now - g_progress.beat_ns >= heartbeat_ns) {
        g_progress.beat_ns = now;
        char sym[96], last[96];
        print("xen-wedge: heartbeat: rip 0x%lx%s, %lu site entries (last %s at 0x%lx%s), %lu exceptions, %lu shadow "
              "faults, %lu upcalls\n",
              f->rip, guest_symbol(f->rip, sym, sizeof sym), s.entries,
              afterburn::site_kind_name(static_cast<afterburn::site_kind>(s.last_kind)), s.last_site,
              guest_symbol(s.last_site, last, sizeof last), s.traps_delivered, s.shadow_faults, s.upcalls);
    }
    if (events != g_progress.events) {
        g_progress = {events, now};
        return;
    }
    if (now - g_progress.since_ns < stall_limit_ns) return;
    frame_from_trap(f);
    wedge::vcpu &c = cpu();
    print("xen-wedge: guest: stuck: rsp 0x%lx rflags 0x%lx, virtual IF %u, CPL %u, CR3 0x%lx\n", f->rsp, f->rflags,
          c.virtual_if() ? 1u : 0u, static_cast<unsigned>(c.cpl), c.cr3);
    fail_run("no site, exception or interrupt for 10 s: the guest spins on something the wedge does not provide");
}
constexpr uint64_t retry_in_wedge_ns = 50000;

uint64_t next_deadline() {
    guest_platform &p = platform();
    uint64_t a = p.pit.next_deadline_ns(), b = p.apic.next_deadline_ns();
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

void arm_timer_at(uint64_t ns) {
    set_timer_op(ns);
    g_timer.armed_ns = ns;
    g_timer_off_deadline = true;
}

} // namespace

constinit bool g_timer_off_deadline = false;

void retry_delivery_soon() { arm_timer_at(platform().be.now_ns() + retry_in_wedge_ns); }

void arm_timer() {
    uint64_t d = next_deadline();
    if (d != g_timer.armed_ns) arm_timer_at(d);
    g_timer_off_deadline = false;
}

// Into the guest with events open: an event that became pending while they were masked would
// wait for Xen's next entry, so a hypercall makes Xen deliver it now (the upcall then strikes
// the wedge here, and guest_event retries a moment later).
void unmask_events() {
    vcpu_info_t *v = this_vcpu();
    __atomic_store_n(&v->evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_SEQ_CST)) xen_version(XENVER_version, nullptr);
}

bool bind_timer() {
    evtchn_bind_virq bind{};
    bind.virq = VIRQ_TIMER;
    bind.vcpu = 0;
    long rc = event_channel_op(EVTCHNOP_bind_virq, &bind);
    if (rc) {
        print("xen-wedge: guest: EVTCHNOP_bind_virq(VIRQ_TIMER) failed: %ld\n", rc);
        return false;
    }
    evtchn_unmask unmask{};
    unmask.port = bind.port;
    rc = event_channel_op(EVTCHNOP_unmask, &unmask);
    if (rc) {
        print("xen-wedge: guest: EVTCHNOP_unmask(%u) failed: %ld\n", bind.port, rc);
        return false;
    }
    g_timer.port = bind.port;
    return true;
}

void wait_halted() {
    xen_backend &be = platform().be;
    uint64_t start = be.now_ns();
    g_timer.blocking = true;
    while (cpu().halted) {
        poll_devices();
        if (wedge::deliver_pending(cpu(), g_guest_run.frame, be)) break;
        uint64_t now = be.now_ns();
        if (now - start > halt_limit_ns) fail_run("hlt: no interrupt within 5 s");
        uint64_t d = next_deadline();
        if (!d || d > start + halt_limit_ns) d = start + halt_limit_ns + 1;
        arm_timer_at(d);
        sched_op(SCHEDOP_block, nullptr);  // unmasks events; their upcall strikes the wedge
        mask_events();
    }
    g_timer.blocking = false;
    cpu().halted = false;
}

void guest_event(trap_frame *f) {
    ++g_run_stats.upcalls;
    handle_events(f->rip);  // acknowledge every pending port (only VIRQ_TIMER is bound)
    if (is_wedge_address(f->rip)) {
        // The wedge was running (a site, a resume, SCHEDOP_block): it polls the timers on its
        // own way out, except in the short stretch after that; look again shortly.
        ++g_run_stats.upcalls_in_wedge;
        if (!g_timer.blocking) retry_delivery_soon();
        return;
    }
    check_progress(f);
    wedge::vcpu &c = cpu();
    bool from_user = (f->cs & 3) == 3;
    if (from_user) left_user_mode(f->rsp);
    poll_devices();
    if (c.virtual_if() && wedge::refresh_pending_hint(c)) {
        frame_from_trap(f);
        // Right after an sti the entry window finished (sti_fast_path.S) the next instruction
        // has not run: its interrupt shadow holds the interrupt.
        if (!from_user) wedge::note_inline_sti_shadow(c, f->rip);
        if (wedge::deliver_pending(c, g_guest_run.frame, platform().be)) {
            ++g_run_stats.upcall_deliveries;
            after_core();
            resume();
        }
        if (!from_user && c.interrupt_shadow && c.shadow_rip == g_guest_run.frame.rip) {
            // Held by a shadow (that sti's, or one the core set): resume() single-steps the
            // shadowed instruction and delivers after it, instead of waiting for the next upcall.
            ++g_run_stats.upcalls_in_sti_shadow;
            after_core();
            resume();
        }
    }
    arm_timer();
    if (from_user) returning_to_user_mode(c);
    // Back through the frame: HYPERVISOR_iret restores the interrupted event mask (open).
}

} // namespace xw
