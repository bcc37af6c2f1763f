// Exceptions the guest takes (guest_trap in guest.h): Xen delivers them to the wedge's trap
// table. A #PF the shadow can fill is retried; a ring-3 site's trap is resolved to its record;
// an unannotated sensitive instruction goes through the fallback; everything else is
// reflected into the guest's IDT through the core.
#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "fallback.h"
#include "fault_prefill.h"
#include "guest.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "guest_sites.h"
#include "guest_stacks.h"
#include "guest_walk.h"
#include "pv_direct.h"
#include "pv_memory.h"
#include "pv_shadow.h"
#include "shadow_costs.h"
#include "run_stats.h"
#include "shared_info.h"
#include "user_exception_fast_path.h"
#include "user_mode.h"
#include "wedge/event.h"
#include "xapic_mmio.h"

namespace xw {

namespace pf_error = wedge::pf_error;
namespace vec = wedge::vec;

namespace {

constexpr uint8_t int_n_opcode = 0xcd;  // int imm8

// A #GP whose error code names an IDT entry (bit 1): `int $n` without a DPL-3 gate.
bool idt_error(uint64_t error) { return (error & 3) == 2; }

// user-mode address -> the image's link address of the same byte (the guest maps its .user
// pages a second time for ring 3), through the guest's tables.
bool user_to_link(uint64_t va, uint64_t &link) {
    auto r = guest_walk(va, xs::access_type{false, true, true});
    if (r.status != xs::walk_status::ok) return false;
    const loaded_guest &g = *g_guest_run.guest;
    if (r.t.gpa < g.image_lo || r.t.gpa >= g.image_hi) return false;
    link = r.t.gpa + g.virt_minus_phys;
    return true;
}

// A ring-3 site (user code is never rewritten) whose instruction is at user address `va`:
// runs it at virtual CPL 3 and does not return; returns if there is none.
void run_user_site(uint64_t va, bool int3_only) {
    uint64_t link;
    if (!user_to_link(va, link)) return;
    if (const wedge::site *s = find_user_site(link, int3_only)) {
        g_guest_run.frame.rip = va;
        run_site_and_resume(*s, va);
    }
}

// A #PF under direct paging: Xen ran the guest's own tables, so the fault is the guest's,
// except a write to a page the core made read-only (a table frame, or one that was: retried)
// and an access to a frame outside guest RAM (the xAPIC, or nothing). Returns true to retry,
// false with the guest's error code in `pf`.
bool handle_direct_page_fault(trap_frame *f, bool from_user, xs::fault_result &pf) {
    wedge::vcpu &c = cpu();
    const uint64_t cr2 = this_vcpu()->arch.cr2;
    // Xen ran entries older than the guest's while stores were queued (a page the guest just
    // mapped, or made writable): sent, the access runs again and faults only if it must.
    if (direct_send_updates()) {
        ++g_run_stats.queued_update_faults;
        if (from_user) returning_to_user_mode(c);
        return true;
    }
    if ((f->error & (pf_error::present | pf_error::write)) == (pf_error::present | pf_error::write)) {
        xd::direct_mmu::write_fault wf;
        {
            cost_scope t(shadow_phase::direct_fault);
            wf = direct().on_write_fault(cr2);
        }
        switch (wf) {
        case xd::direct_mmu::write_fault::retry:
            ++g_run_stats.shadow_faults;
            if (from_user) returning_to_user_mode(c);
            return true;
        case xd::direct_mmu::write_fault::live_table: {
            console_flush();
            char sym[96];
            print("xen-wedge: guest: direct paging: an unannotated write to a page table at 0x%lx (rip 0x%lx%s): "
                  "the compiler pass missed a page-table store\n", cr2, f->rip, guest_symbol(f->rip, sym, sizeof sym));
            exit_with(verdict_fail);
        }
        case xd::direct_mmu::write_fault::not_ours: break;
        }
    }
    const uint32_t mode_bits = (f->error & (pf_error::write | pf_error::fetch)) | (c.cpl == 3 ? pf_error::user : 0u);
    uint64_t entry = 0;
    if (!(f->error & pf_error::present) && direct().unreachable_at(cr2, entry)) {
        const uint64_t gpa = (entry & xs::pte::addr_mask) | (cr2 & 0xfff);
        if (xapic_mmio(f, cr2, gpa)) {
            frame_from_trap(f);
            g_guest_run.frame.rip = f->rip;  // xapic_mmio moved it past the access
            resume();
        }
        // A frame outside guest RAM behind the guest's entry: the wedge has nothing to map
        // there, so the access gets what a reserved bit in that entry would give.
        ++g_run_stats.unreachable_faults;
        pf = {xs::fault_outcome::inject_pf, mode_bits | pf_error::present | pf_error::reserved, cr2, gpa};
        return false;
    }
    // Xen ran the guest's own tables, so its error code is the guest's, but for the user bit:
    // the guest kernel runs in ring 3 (its virtual CPL decides). A protection fault the core
    // did not cause (not a former table's alias) is the guest's as well. Guest user mode runs
    // on the user root, which has no kernel half: there the guest's walk decides (P is set
    // where the guest maps the page for the kernel only).
    const bool kernel_half_from_user = c.cpl == 3 && cr2 >= 0xffff800000000000ull;
    if (!kernel_half_from_user &&
        (!(f->error & pf_error::present) || (f->error & pf_error::write) || (f->error & pf_error::fetch))) {
        pf = {xs::fault_outcome::inject_pf, mode_bits | (static_cast<uint32_t>(f->error) & pf_error::present), cr2, 0};
        return false;
    }
    // A read of a present page refused: the guest's tables may allow it (a privileged
    // instruction's own access checked against the real ring 3, see handle_page_fault):
    // emulated by the fallback; else the guest's walk says what the CPU would raise.
    const xs::access_type acc{(f->error & pf_error::write) != 0, (f->error & pf_error::fetch) != 0, c.cpl == 3};
    const xs::walk_result r = guest_walk(cr2, acc);
    if (r.status == xs::walk_status::page_fault) {
        pf = {xs::fault_outcome::inject_pf, r.error_code, cr2, 0};
        return false;
    }
    if (r.status == xs::walk_status::ok) {
        frame_from_trap(f);
        try_fallback(f, from_user);
    }
    console_flush();
    print("xen-wedge: guest: direct paging: #PF at 0x%lx (rip 0x%lx, error 0x%lx) that the guest's tables allow "
          "(walk status %u)\n", cr2, f->rip, f->error, static_cast<unsigned>(r.status));
    exit_with(verdict_fail);
}

// A #PF: filled by the shadow (returns true: retry), an xAPIC access (does not return), or the
// guest's own (returns false with the error code its tables give in `pf`).
bool handle_page_fault(trap_frame *f, bool from_user, xs::fault_result &pf) {
    if (direct_active()) return handle_direct_page_fault(f, from_user, pf);
    wedge::vcpu &c = cpu();
    uint64_t cr2 = this_vcpu()->arch.cr2;
    xs::access_type acc{(f->error & pf_error::write) != 0, (f->error & pf_error::fetch) != 0, c.cpl == 3};
    const uint64_t flushes = shadow().stats().flushes;
    {
        cost_scope t(shadow_phase::fault, shadow_phase::fault_hv);
        pf = shadow().handle_fault(cr2, acc);
    }
    if (shadow().stats().flushes != flushes) {
        // The pool was full and the shadow forgot everything, the stacks Xen delivers
        // events onto too: fill them before the guest runs on (a retry does not pass resume()).
        stacks_forgotten();
        ensure_stack_mapped(f->rsp);
    }
    if (pf.outcome == xs::fault_outcome::fixed && (f->error & pf_error::present) && !(f->error & pf_error::fetch)) {
        // A protection fault on a page the guest may access: under Xen the CPU checks a
        // privileged instruction's own accesses (lretq's pops to an RPL-0 CS, seen under QEMU
        // TCG with Xen's SMAP) against the real ring 3, and retrying would fault forever. An
        // unannotated sensitive instruction there is emulated (fallback).
        frame_from_trap(f);
        try_fallback(f, from_user);
    }
    if (pf.outcome == xs::fault_outcome::fixed) {
        ++g_run_stats.shadow_faults;
        if (from_user) returning_to_user_mode(c);
        return true;
    }
    if (pf.outcome == xs::fault_outcome::no_machine_frame && xapic_mmio(f, cr2, pf.gpa)) {
        frame_from_trap(f);
        g_guest_run.frame.rip = f->rip;  // xapic_mmio moved it past the access
        resume();
    }
    if (pf.outcome != xs::fault_outcome::inject_pf) {
        console_flush();
        print("xen-wedge: guest: #PF at 0x%lx (rip 0x%lx, error 0x%lx): shadow outcome %u, gpa 0x%lx\n", cr2, f->rip,
              f->error, static_cast<unsigned>(pf.outcome), pf.gpa);
        exit_with(verdict_fail);
    }
    return false;
}

} // namespace

void guest_trap(trap_frame *f) {
    wedge::vcpu &c = cpu();
    bool from_user = (f->cs & 3) == 3;  // Xen's bounce frame: RPL 3 = guest user mode
    if (from_user) left_user_mode(f->rsp);
    if (g_run_stats.trace_traps) {
        --g_run_stats.trace_traps;
        char sym[96];
        print("xen-wedge: trace: vector %lu error 0x%lx at rip 0x%lx%s rsp 0x%lx cr2 0x%lx\n", f->vector, f->error,
              f->rip, guest_symbol(f->rip, sym, sizeof sym), f->rsp, this_vcpu()->arch.cr2);
    }
    xs::fault_result pf{};
    if (f->vector == vec::pf && handle_page_fault(f, from_user, pf)) return;  // retry through HYPERVISOR_iret

    // Reflect into the guest's IDT. The trap frame lies on the guest's stack right where the
    // guest's own interrupt frame goes: copy it out first, then deliver and leave through
    // wedge_resume (not back through the trap frame).
    frame_from_trap(f);
    // int3 placed on a ring-3 site by the plan: the site, at the int3 (Xen reports the #BP
    // after it).
    if (f->vector == vec::bp && from_user && c.cpl == 3) run_user_site(f->rip - 1, true);
    if (f->vector == vec::bp && c.cpl == 0) {
        // An int3 the wedge put on a kernel site (at its link address or, for Linux's head
        // code, its physical alias): run the site there.
        uint64_t at = f->rip - 1;
        if (const wedge::site *s = find_kernel_int3_site(g_guest_run.guest->link_address(at))) {
            g_guest_run.frame.rip = at;
            run_site_and_resume(*s, at);
        }
    }
    if (f->vector == vec::gp && from_user && c.cpl == 3 && !idt_error(f->error)) {
        // A ring-3 site that faulted in Xen's user mode (cli, sti, in/out, hlt, rdtsc with TSD,
        // rdpmc, wbinvd...): Xen's verdict is made with the real IOPL 0 and Xen's CR4, the
        // guest's may differ (user.gp's break: IOPL 3 allows cli and out). The core emulates
        // the record at virtual CPL 3 and raises #GP itself where the CPU would.
        run_user_site(f->rip, false);
    }
    if (f->vector == vec::ud || (f->vector == vec::gp && !idt_error(f->error))) try_fallback(f, from_user);

    auto mode = from_user ? wedge::access_mode::user : wedge::access_mode::supervisor;
    wedge::event ev;
    uint8_t insn[2] = {};
    wedge::page_fault rf;
    if (f->vector == vec::bp) {
        // int3 (or `int $3`) through the trap table's DPL-3 gate: Xen reports it as a trap
        // (rip after it). Deliver it as the software interrupt it is, from the instruction, so
        // that a fault while delivering (a not-present gate) is reported there, as the CPU
        // does, and the guest gate's DPL is checked against the virtual CPL.
        uint64_t len = 1;
        if (platform().be.read(f->rip - 2, insn, 2, mode, rf) && insn[0] == int_n_opcode && insn[1] == vec::bp) len = 2;
        g_guest_run.frame.rip = f->rip - len;
        ev = wedge::event::software_interrupt(vec::bp, f->rip);
    } else if (f->vector == vec::pf) {
        ev = wedge::event::page_fault(pf.error_code, pf.address);
        if (from_user) note_user_fault_delivered(pf.address);
    } else if (f->vector == vec::gp && idt_error(f->error) && platform().be.read(f->rip, insn, 2, mode, rf) &&
               insn[0] == int_n_opcode) {
        // `int $n` (guest kernel or user mode: both run in ring 3 under Xen PV): Xen's trap
        // table has no DPL-3 gate for n, so it reported #GP(IDT). The guest's IDT decides, as
        // the CPU would: the core checks the gate's DPL against the virtual CPL (a DPL-0 gate
        // from user mode gives #GP(n*8+2) in the guest). The vector comes from the
        // instruction, not the error code: QEMU TCG reports n*16+2, which Xen reads as vector
        // 2n (mod 256).
        ev = wedge::event::software_interrupt(insn[1], f->rip + 2);
    } else if (wedge::pushes_error_code(static_cast<uint8_t>(f->vector))) {
        ev = wedge::event::fault(static_cast<uint8_t>(f->vector), static_cast<uint32_t>(f->error));
    } else {
        ev = wedge::event::fault(static_cast<uint8_t>(f->vector));
    }
    ++g_run_stats.traps_delivered;
    g_run_stats.last_vector = f->vector;
    g_run_stats.last_trap_rip = f->rip;
    // From user mode to Linux's interrupt gates: without the core when nothing is unusual
    // (user_exception_fast_path.h). The trap frame `f` is not read after this point: the
    // guest's interrupt frame is written over it.
    if (from_user) try_deliver_user_exception_fast(ev);
    deliver_and_resume(ev);
}

} // namespace xw
