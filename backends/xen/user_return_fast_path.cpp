#include "user_return_fast_path.h"

#include "guest_platform.h"
#include "guest_probe.h"
#include "guest_resume.h"
#include "guest_time.h"
#include "fault_prefill.h"
#include "return_chain.h"
#include "run_stats.h"
#include "site_frame.h"
#include "user_mode.h"
#include "wedge/descriptor.h"

extern "C" {
// window.S: the iret context HYPERVISOR_iret takes into guest user mode (flags 0, rip, cs,
// rflags, rsp, ss: struct iret_context above the three words the hypercall page's stub
// pushes), which the swapgs entry loads after swapgs_fused_return. Its flags, cs and ss words
// are set there once (0, Xen's flat ring-3 selectors) and never written.
extern uint64_t wedge_user_iret_context[6];
// The swapgs entry (window.S) calls it with the caller-saved registers saved in `f` (the
// callee-saved ones still in the CPU, their slots not yet written and, during the call, below
// the stack pointer: nothing reads them): true, the fused return is
// done up to HYPERVISOR_iret (the context written); false, nothing changed, and the entry
// fills the other slots and calls site_dispatch.
bool swapgs_fused_return(xw::site_frame *f);
}

namespace xw {

namespace {

constexpr uint64_t user_half_end = 0x0000800000000000ull;
constexpr auto iret_kind = static_cast<unsigned>(afterburn::site_kind::iret);
constexpr auto swapgs_kind = static_cast<unsigned>(afterburn::site_kind::swapgs);

// What the iretq pops, once checked.
struct user_frame {
    uint64_t rip, rflags, rsp;
    uint16_t cs, ss;
};

// The descriptors `cs` and `ss` name in the GDT (their 8 bytes: segment_descriptor's low), as
// the core's read_descriptor reads them (an LDT selector is left to the core): in one read
// when SS's is right below CS's (Linux's __USER_DS and __USER_CS). Raw words: the usual case
// compares them with the known ones and builds no descriptor.
bool gdt_descriptors(const wedge::vcpu &c, uint16_t cs, uint16_t ss, uint64_t &dcs, uint64_t &dss) {
    uint32_t ics = cs & 0xfff8u, iss = ss & 0xfff8u;
    if (((cs | ss) & 4) || ics + 7 > c.gdtr.limit || iss + 7 > c.gdtr.limit) return false;
    if (ics == iss + 8) {
        uint64_t both[2];
        if (!guest_probe_read(c.gdtr.base + iss, both, sizeof both)) return false;
        dss = both[0];
        dcs = both[1];
        return true;
    }
    return guest_probe_read(c.gdtr.base + ics, &dcs, 8) && guest_probe_read(c.gdtr.base + iss, &dss, 8);
}

// No 16-bit GDTR.limit equals it: nothing is known.
constexpr uint32_t no_gdt_limit = 0x10000;

// The descriptors check_user_frame last found good, with the selectors and the GDT they were
// read under: the same bytes pass the same checks again, which depend on nothing else. A
// return to user mode reads the same two descriptors every time.
struct known_descriptors {
    uint64_t gdt_base = 0;
    // Where SS's descriptor starts when CS's follows it in the same page (Linux's __USER_DS,
    // __USER_CS), and those 16 bytes (SS's, then CS's): known_frame_good compares them there.
    uint64_t pair_va = 0, pair[2] = {};
    uint32_t gdt_limit = no_gdt_limit;  // no_gdt_limit: nothing known, or the two not a pair
    uint16_t cs = 0, ss = 0;
};
constinit known_descriptors g_known{};

// check_user_frame's case for the selectors `cs` and `ss` under the GDT it last found good
// (`k`, a pair): what it checks of the selectors alone (RPL 3, not null, not the
// LDT, within the GDT's limit) depends on nothing but the selectors and GDTR.limit, all equal
// to what passed then; the descriptors are guest memory the wedge does not watch, so they are
// read again, from the same address (GDTR.base is the same too), and must be the same bytes.
// False: not this case, or other bytes (check_user_frame then decides in full).
inline bool known_frame_good(const wedge::vcpu &c, const known_descriptors &k, uint16_t cs, uint16_t ss) {
    if (c.gdtr.limit != k.gdt_limit || cs != k.cs || ss != k.ss || c.gdtr.base != k.gdt_base) return false;
    // The range passed guest_probe_read's address checks when it was recorded, and they
    // depend on the address alone (guest_probe.cpp: g_probe_allowed), so it still does.
    return guest_probe_same16(k.pair_va, k.pair);
}

// The checks the core's iret makes of the two descriptors (CS a present 64-bit code segment
// of DPL 3, or conforming of DPL <= 3; SS a present writable data segment of DPL 3).
bool user_descriptors_good(const wedge::segment_descriptor &dcs, const wedge::segment_descriptor &dss) {
    if (!dcs.code() || (dcs.conforming() ? dcs.dpl() > 3 : dcs.dpl() != 3) || !dcs.present() || !dcs.long_mode())
        return false;
    return dss.writable() && dss.dpl() == 3 && dss.present();
}

// The core's iret (wedge/emulate_transfers.cpp) on its way to CPL 3 succeeding with nothing
// to deliver after it, for the guest at a 64-bit iretq (the caller checked the site: a chain
// ends only at one, return_chain.cpp) with real flags `rflags` and stack `rsp`:
// every check it makes, on the same bytes (guest_probe.h reads them as the core's supervisor
// reads do; a read may fill the shadow, as the core's does; nothing else changes). False:
// anything the core would answer otherwise (a fault, a kernel frame, a compatibility-mode CS, a
// delivery at the exit) or that the fast path leaves to it (the guest's or the popped TF, NT,
// IF clear, an LDT selector, a kernel-half rip).
bool check_user_frame(uint64_t rflags, uint64_t rsp, user_frame &out) {
    wedge::vcpu &c = cpu();
    if (c.cpl != 0) return false;
    if (rflags & (wedge::flags::nt | wedge::flags::tf)) return false;
    // An interrupt pending now is delivered at the exit once IF is set (the popped IF must be).
    if (c.page.pending) return false;
    uint64_t image[5];
    if (!guest_probe_read(rsp, image, sizeof image)) return false;
    out.rip = image[0];
    out.cs = static_cast<uint16_t>(image[1]);
    out.rflags = image[2];
    out.rsp = image[3];
    out.ss = static_cast<uint16_t>(image[4]);
    if (!(out.rflags & wedge::flags::if_) || (out.rflags & (wedge::flags::tf | wedge::flags::nt))) return false;
    if (out.rip >= user_half_end) return false;  // also the canonical check
    known_descriptors &k = g_known;
    if (known_frame_good(c, k, out.cs, out.ss)) return true;
    if ((out.cs & 3) != 3 || (out.ss & 3) != 3 || !(out.cs & 0xfffc) || !(out.ss & 0xfffc)) return false;
    uint64_t cs_bytes, ss_bytes;
    if (!gdt_descriptors(c, out.cs, out.ss, cs_bytes, ss_bytes)) return false;
    wedge::segment_descriptor dcs, dss;
    dcs.low = cs_bytes;
    dss.low = ss_bytes;
    if (!user_descriptors_good(dcs, dss)) return false;
    // gdt_descriptors read a pair with one guest_probe_read (its address checks passed).
    const uint64_t ss_va = c.gdtr.base + (out.ss & 0xfff8u);
    const bool pair = (out.cs & 0xfff8u) == (out.ss & 0xfff8u) + 8 && (ss_va >> 12) == ((ss_va + 15) >> 12);
    k = {c.gdtr.base, ss_va, {ss_bytes, cs_bytes}, pair ? c.gdtr.limit : no_gdt_limit, out.cs, out.ss};
    return true;
}

// The rest of the core's iret (load_rflags at CPL 0, enter_cpl) on the vCPU; returns the real
// RFLAGS bits user mode starts with, from the guest's `rflags` at the iretq.
uint64_t enter_user(const user_frame &u, uint64_t rflags) {
    wedge::vcpu &c = cpu();
    c.interrupt_shadow = false;  // as emulate(): the instruction ends a shadow
    constexpr uint64_t writable = wedge::flags::real | wedge::flags::rf;
    c.set_virtual_if(true);
    c.iopl = static_cast<uint8_t>((u.rflags >> wedge::flags::iopl_shift) & 3);
    c.selector[1] = u.cs;
    c.selector[2] = u.ss;
    c.cpl = 3;
    // state_changed(privilege) as xen_backend's does it for CPL 3, without the calls.
    prefill_user_fault();
    return (rflags & ~writable) | (u.rflags & writable) | wedge::flags::fixed1;
}

// The run's end after enter_user through the core's frame: no device was polled (an expired
// timer is Xen's timer upcall, armed at its deadline), nothing is pending, and resume() takes
// CPL 3 through HYPERVISOR_iret.
[[noreturn]] void resume_user(const user_frame &u, uint64_t rflags) {
    wedge::frame &fr = g_guest_run.frame;
    fr.rflags = rflags;
    fr.rip = u.rip;
    fr.gpr[wedge::rsp] = u.rsp;
    resume();
}

// The fused return's end before the swapgs entry's HYPERVISOR_iret: resume()'s way to user
// mode without what it does for the core. The fast-path bytes of the vCPU page are not
// published (only guest kernel code reaches the entry window, and every way back into it
// publishes them first), and the timer is not re-armed (no emulated device changed since the
// last arm_timer, unless someone armed it elsewhere since).
void resume_user_from(const user_frame &u, uint64_t rflags) {
    wedge::vcpu &c = cpu();
    sync_gs_at(c, true);  // enter_user set CPL 3
    if (timer_off_deadline()) arm_timer();
    returning_to_user_mode(c);
    g_guest_run.frame.rip = u.rip;  // for a failure report only
    // IF in the frame is the event mask Xen restores: events open in user mode. Flags (0:
    // not VGCF_in_syscall), cs (0xe033) and ss (0xe02b) are window.S's constant words.
    uint64_t *ctx = wedge_user_iret_context;
    ctx[1] = u.rip;
    ctx[3] = rflags | wedge::flags::if_;
    ctx[4] = u.rsp;
}

// A swapgs whose call's return address has the kept chain `k` to an iretq site (iret_chain_of:
// the slow path checked the call and followed the code once), with the guest's registers in
// `f`: both finished here when try_swapgs_user_return_fast would finish them.
// Not inlined into swapgs_fused_return: a swapgs without a chain (Linux's context switch runs
// two) then pays no prologue for the registers this one needs.
[[gnu::flatten, gnu::noinline]] bool try_fused_return(const site_frame *f, const kept_chain *k) {
    run_stats &st = g_run_stats;
    mask_events();  // events were open in the guest (resume)
    const uint64_t rflags = (f->rflags & wedge::flags::real) | wedge::flags::fixed1;
    user_frame u;
    // The chain's ESPFIX test (ss_test) needs no check: check_user_frame passes no LDT SS (TI
    // set), so the `jnz` to Linux's ESPFIX exit is not taken.
    if (!check_user_frame(rflags, wedge_site_guest_rsp + 16, u)) return false;
    // site_dispatch's, try_swapgs_user_return_fast's, enter_user's and resume_user_from's
    // counts in one (run_stats.h: fold_fast_path_counts).
    ++st.fused_returns_unfolded;
    st.last_site = k->swapgs->insn;
    st.last_kind = swapgs_kind;
    wedge::vcpu &c = cpu();
    c.swap_gs_bases();
    resume_user_from(u, enter_user(u, rflags));
    return true;
}

} // namespace

void try_user_return_fast(const wedge::site &s) {
    const wedge::frame &fr = g_guest_run.frame;
    user_frame u;
    if (afterburn::annotation::operand_bits(s.rec.flags) != 64 || !check_user_frame(fr.rflags, fr.gpr[wedge::rsp], u))
        return;
    ++g_run_stats.user_return_fast;
    ++g_run_stats.kind_entries[iret_kind];
    resume_user(u, enter_user(u, fr.rflags));
}

void try_swapgs_user_return_fast(const wedge::site &s, uint64_t ret) {
    wedge::vcpu &c = cpu();
    const wedge::frame &fr = g_guest_run.frame;
    // The swapgs fast path's conditions (swapgs_fast_path.h); the iretq's include them.
    return_chain chain = return_chain_of(s, ret);
    if (!chain.iret) return;
    user_frame u;
    // No ss_test check: check_user_frame passes no LDT SS (try_fused_return).
    if (!check_user_frame(fr.rflags, fr.gpr[wedge::rsp], u)) return;
    ++g_run_stats.kind_entries[s.rec.kind];
    ++g_run_stats.swapgs_user_return_fast;
    ++g_run_stats.kind_entries[iret_kind];
    c.swap_gs_bases();
    resume_user(u, enter_user(u, fr.rflags));
}

} // namespace xw

extern "C" bool swapgs_fused_return(xw::site_frame *f) {
    using namespace xw;
    // The entry stub pushed the kind above the call's return address.
    const kept_chain *k = iret_chain_of(reinterpret_cast<const uint64_t *>(wedge_site_guest_rsp)[1]);
    if (!k || g_run_stats.trace_traps) return false;  // site_dispatch prints a traced entry
    return try_fused_return(f, k);
}
