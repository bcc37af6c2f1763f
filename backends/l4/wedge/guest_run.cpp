#include "guest_run.h"

#include "afterburn/site_kind.h"
#include "console.h"
#include "entry_window.h"
#include "guest_paging.h"
#include "guest_platform.h"
#include "guest_ram.h"
#include "guest_sites.h"
#include "guest_syscall.h"
#include "interrupt_thread.h"
#include "l4_abi.h"
#include "unrewritten_insn.h"
#include "wedge/dispatch.h"
#include "wedge/interrupts.h"

namespace lw {

namespace {

uint64_t g_sites_run, g_faults_served, g_halts, g_faults_delivered, g_exceptions, g_interrupted;
const uint8_t *g_kip;
bool g_stepping;  // the guest thread runs with TF for an interrupt shadow
uint64_t g_steps;
uint64_t g_me, g_guest;

[[noreturn]] void stop(const char *why) {
    print_run_counts();
    print("AFTERBURN-FAILURE: l4-wedge: %s\n", why);
    for (;;) l4::l4_ipc(l4::nil_thread, g_me, 0, l4::utcb(), nullptr, l4::kip_word(g_kip, l4::kip_ipc));
}

void sleep_us(uint64_t us) {
    unsigned e = 0;
    while (us > 1000) us >>= 1, ++e;  // m * 2^e microseconds, m < 1024
    l4::l4_ipc(l4::nil_thread, g_me, l4::relative_timeout(e, static_cast<unsigned>(us ? us : 1)), l4::utcb(),
               nullptr, l4::kip_word(g_kip, l4::kip_ipc));
}

// The guest halted (hlt, mwait) with nothing to deliver: wait for the emulated timers.
void wait_for_interrupt(wedge::frame &f) {
    ++g_halts;
    l4_backend &be = platform().be;
    for (unsigned idle = 0;;) {
        poll_devices();
        wedge::deliver_pending(cpu(), f, be);
        if (!cpu().halted) return;
        uint64_t now = be.now_ns(), next = next_deadline_ns();
        if (!next) {
            if (++idle > 2000) stop("the guest halted for good: no timer armed, nothing pending");
            sleep_us(1000);
            continue;
        }
        sleep_us(next > now ? (next - now) / 1000 + 1 : 1);
    }
}

// A #PF the guest's page tables give: the guest's handler runs it. The thread waits in its
// page-fault IPC; ExchangeRegisters (the pager may, X_PAGER_EXREGS) reads its rsp and rflags,
// the core delivers the fault through the guest's IDT, and ExchangeRegisters sets the user
// frame the thread returns to (rip, rsp, rflags) to the handler's; the empty reply then ends
// the fault there. Cancelling the IPC instead would make Pistachio stop in its debugger
// ("pagefault IPC error"). The other registers stay as they are in the thread.
bool deliver_page_fault(uint64_t va, uint32_t error) {
    const uint64_t entry = l4::kip_word(g_kip, l4::kip_exchange_registers);
    uint64_t regs[4] = {0, 0, 0, 0};  // sp, ip, flags; the old control
    if (!l4::l4_exchange_registers(g_guest, 0, regs, entry)) return false;
    wedge::frame f{};
    f.gpr[wedge::rsp] = regs[0];
    f.rip = regs[1];
    f.rflags = (regs[2] & wedge::flags::real) | wedge::flags::fixed1;
    if (wedge::deliver(cpu(), f, wedge::event::page_fault(error, va), platform().be) != wedge::delivery::delivered) {
        print("l4-wedge: guest: triple fault delivering #PF at 0x%lx\n", va);
        return false;
    }
    regs[0] = f.gpr[wedge::rsp];
    regs[1] = f.rip;
    regs[2] = (f.rflags & wedge::flags::real) | wedge::flags::fixed1 | wedge::flags::if_;
    if (!l4::l4_exchange_registers(g_guest, l4::exreg_set_sp_ip_flags, regs, entry)) return false;
    ++g_faults_delivered;
    return true;
}

enum class fault_outcome { mapped, delivered, stuck };

// A fault of the guest thread: map what its address is, deliver the guest's own #PF, or stop.
fault_outcome serve_fault(uint64_t va, uint64_t ip, uint64_t access, uint64_t *u) {
    uint64_t page;
    bool writable;
    if (window_page(va, page, writable)) {
        u[1] = l4::map_item_word0(va);
        u[2] = l4::fpage(page, 12) | (writable ? l4::rights_rwx : l4::rights_rx);
        return fault_outcome::mapped;
    }
    translation t;
    bool write = access & 2;
    if (va >= window_base && va < window_base + 0x200000) {
        print("l4-wedge: guest: fault at 0x%lx in the entry window, which has nothing there (rip 0x%lx)\n", va, ip);
        return fault_outcome::stuck;
    }
    bool user = cpu().cpl == 3;
    // The fetch bit: Pistachio passes the CPU's I/D bit on as X (with EFER.NXE, fix 0014).
    if (!translate(va, write, user, t, access & 1)) {
        if (deliver_page_fault(va, t.pf_error)) return fault_outcome::delivered;
        print("l4-wedge: guest: %s fault at 0x%lx from rip 0x%lx: the #PF (error 0x%x) cannot be delivered\n",
              write ? "write" : "read", va, ip, t.pf_error);
        return fault_outcome::stuck;
    }
    if (!guest_phys(t.gpa & ~uint64_t(0xfff), 4096)) {
        print("l4-wedge: guest: %s fault at 0x%lx from rip 0x%lx (link 0x%lx): %s (#PF error 0x%x, CR3 0x%lx); "
              "delivering it to the guest is not done yet\n",
              write ? "write" : "read", va, ip, ip + guest_virt_minus_phys(),
              t.pf_error & 1 ? "its page tables refuse the access" :
              (translate(va, write, cpu().cpl == 3, t) ? "not guest RAM (a device's MMIO?)" : "its page tables do not map it"),
              t.pf_error, cpu().cr3);
        return fault_outcome::stuck;
    }
    u[1] = l4::map_item_word0(va);
    // No execute right where the guest's tables say NX (fix 0014 makes it the PTE's NX bit).
    u[2] = l4::fpage(guest_ram_window + (t.gpa & ~uint64_t(0xfff)), 12) | l4::rights_r |
           (t.writable ? l4::rights_w : 0) | (t.executable ? l4::rights_x : 0);
    note_guest_ram_mapped(t.gpa);
    ++g_faults_served;
    return fault_outcome::mapped;
}

bool in_window(uint64_t ip) { return ip >= window_base && ip < window_base + 0x200000; }

// The interrupt shadow (sti) holds a deliverable interrupt back for exactly one instruction,
// and the guest's next ones may bring nothing back to the wedge (a spin loop): the site's
// exit returns with TF, the thread single-steps (#DB to the wedge, fix 0015) through the
// window's restore path and the shadowed instruction, and the wedge delivers at the next.
// A shadowed instruction that is a site needs none: its own exit delivers.
bool want_step(const wedge::frame &f) {
    wedge::vcpu &c = cpu();
    return c.interrupt_shadow && c.shadow_rip == f.rip && c.virtual_if() && wedge::refresh_pending_hint(c) &&
           !site_by_insn(f.rip + guest_virt_minus_phys());
}

// A #DB of the wedge's stepping, at `f`: false when it is the guest's own. TF stays in the
// thread's flags whatever the reply says (Pistachio keeps all but the arithmetic flags), so
// stepping ends through the restore path, whose popfq loads the frame's flags without TF;
// the steps until then are inside the window and go on.
bool single_step(wedge::frame &f) {
    const uint64_t kip = reinterpret_cast<uint64_t>(g_kip);
    if (in_window(f.rip) || (f.rip >= kip && f.rip < kip + 0x10000)) return true;  // on the way to or from a site
    if (!g_stepping) return false;
    ++g_steps;
    if (cpu().interrupt_shadow && cpu().shadow_rip == f.rip) return true;  // the shadowed instruction is next
    g_stepping = false;
    f.rflags &= ~wedge::flags::tf;
    poll_devices();
    bool dead = false;
    wedge::deliver_pending(cpu(), f, platform().be, &dead);
    if (dead) return false;
    frame_page().f = f;
    f.rip = window_restore_ip();
    return true;
}

// An exception of the guest thread (Pistachio's exception IPC, the wedge its handler): a
// trapping site (int3 on a site's instruction) runs in the core, an `int $n` the plan leaves
// is delivered as the software interrupt it is, an `int $n` or rdtsc in code no plan rewrote
// (ring 3's, unrewritten_insn.h) likewise or in the core, ring 3's `syscall` (#UD, fix 0019)
// enters the guest kernel at LSTAR; anything else is delivered through the guest's IDT. The
// reply carries the new registers.
bool run_exception(uint64_t *u, uint64_t vmp) {
    ++g_exceptions;
    wedge::frame f{};
    for (int i = 0; i < 18; ++i) {
        int r = l4::exception_mr_reg[i];
        if (r == 16) f.rip = u[i + 1];
        else if (r == 17) f.rflags = (u[i + 1] & wedge::flags::real) | wedge::flags::fixed1;
        else f.gpr[r] = u[i + 1];
    }
    const uint64_t vector = u[l4::exception_mr_vector], error = u[l4::exception_mr_error];
    l4_backend &be = platform().be;
    const wedge::site *s = nullptr;
    const bool stepped = vector == wedge::vec::db && single_step(f);
    if (vector == wedge::vec::bp) {
        s = site_by_insn(f.rip - 1 + vmp);
        if (s && !s->trapping) s = nullptr;
    } else if (vector == wedge::vec::gp) {
        s = site_by_insn(f.rip + vmp);
    }
    if (stepped) {
        // f goes on (or to the restore path)
    } else if (s && s->rec.kind == static_cast<uint8_t>(afterburn::site_kind::int_n) && !s->trapping) {
        // An `int $n` the plan leaves: Pistachio's IDT has no user gate for n, so it trapped
        // as #GP. The guest's IDT decides (the core checks the gate's DPL), and the return
        // address is the end of the instruction, not of the site's padded span.
        ++g_sites_run;
        wedge::event ev = wedge::event::software_interrupt(static_cast<uint8_t>(s->rec.imm), f.rip + s->rec.insn_len);
        if (wedge::deliver(cpu(), f, ev, be) != wedge::delivery::delivered) {
            print("l4-wedge: guest: triple fault delivering int $0x%x at 0x%lx\n", static_cast<unsigned>(s->rec.imm & 0xff), f.rip);
            return false;
        }
    } else if (afterburn::annotation::site_record rec; !s && vector == wedge::vec::gp && decode_unrewritten(f.rip, rec)) {
        // The same for code no plan rewrote (ring 3's): its own bytes say what it is.
        ++g_sites_run;
        poll_devices();
        if (rec.kind == static_cast<uint8_t>(afterburn::site_kind::int_n)) {
            wedge::event ev = wedge::event::software_interrupt(static_cast<uint8_t>(rec.imm), f.rip + rec.insn_len);
            if (wedge::deliver(cpu(), f, ev, be) != wedge::delivery::delivered) {
                print("l4-wedge: guest: triple fault delivering int $0x%x at 0x%lx\n", static_cast<unsigned>(rec.imm), f.rip);
                return false;
            }
        } else if (wedge::run_site(cpu(), f, rec, f.rip, be) != wedge::site_exit::resume) {
            print("l4-wedge: guest: the %s at 0x%lx cannot be run\n",
                  afterburn::site_kind_name(static_cast<afterburn::site_kind>(rec.kind)), f.rip);
            return false;
        }
    } else if (!s && vector == wedge::vec::ud && cpu().cpl == 3 && syscall_at(f.rip)) {
        // Ring 3's syscall (fix 0019): the guest kernel's entry at LSTAR.
        ++g_sites_run;
        if (!enter_guest_syscall(cpu(), f, be)) {
            print("l4-wedge: guest: triple fault at the syscall at 0x%lx\n", f.rip);
            return false;
        }
        poll_devices();
        bool dead = false;
        wedge::deliver_pending(cpu(), f, be, &dead);
        if (dead) return false;
    } else if (s) {
        ++g_sites_run;
        f.rip = s->insn - vmp;
        poll_devices();
        wedge::site_exit e = wedge::run_site(cpu(), f, s->rec, s->insn - vmp, be);
        if (e == wedge::site_exit::halted) wait_for_interrupt(f);
        else if (e != wedge::site_exit::resume) {
            print("l4-wedge: guest: the trapping %s site at 0x%lx cannot be run\n",
                  afterburn::site_kind_name(static_cast<afterburn::site_kind>(s->rec.kind)), s->insn - vmp);
            return false;
        }
    } else {
        wedge::event ev = wedge::pushes_error_code(static_cast<uint8_t>(vector))
                              ? wedge::event::fault(static_cast<uint8_t>(vector), static_cast<uint32_t>(error))
                              : wedge::event::fault(static_cast<uint8_t>(vector));
        // Traps report the next instruction; faults the instruction itself (as here).
        if (wedge::deliver(cpu(), f, ev, be) != wedge::delivery::delivered) {
            print("l4-wedge: guest: triple fault delivering vector %lu at 0x%lx\n", vector, f.rip);
            return false;
        }
    }
    for (int i = 0; i < 18; ++i) {
        int r = l4::exception_mr_reg[i];
        u[i + 1] = r == 16 ? f.rip : r == 17 ? ((f.rflags & wedge::flags::real) | wedge::flags::fixed1 | wedge::flags::if_) : f.gpr[r];
    }
    u[l4::exception_mr_vector] = vector;
    u[l4::exception_mr_error] = error;
    return true;
}

// A call from the entry window: the site is found by its call's return address (at the link
// address, where the table knows it), run by the core at its load address.
bool run_site_call(uint64_t vmp) {
    window_frame &w = frame_page();
    const uint64_t link_ret = w.ret + vmp;
    const wedge::site *s = site_by_return(link_ret);
    if (!s || s->rec.kind != w.kind || s->call_return() != link_ret) {
        auto named = static_cast<afterburn::site_kind>(w.kind < afterburn::site_kind_count ? w.kind : 0);
        print("l4-wedge: guest: entry(%lu, %s) called from 0x%lx, which is not a rewritten site of that kind\n", w.kind,
              afterburn::site_kind_name(named), w.ret);
        return false;
    }
    ++g_sites_run;
    wedge::frame &f = w.f;
    f.rflags = (f.rflags & wedge::flags::real) | wedge::flags::fixed1;
    if (g_stepping) {
        // The shadowed instruction was a site: the window's pushfq saw the stepping's TF. The
        // site's exit delivers; the restore path's popfq ends the stepping.
        g_stepping = false;
        f.rflags &= ~wedge::flags::tf;
    }
    f.rip = s->insn - vmp;
    poll_devices();
    switch (wedge::run_site(cpu(), f, s->rec, s->insn - vmp, platform().be, s->resume_after_call(w.ret, vmp))) {
    case wedge::site_exit::resume:
        if (!g_stepping && want_step(f)) {
            g_stepping = true;
            f.rflags |= wedge::flags::tf;
        }
        return true;
    case wedge::site_exit::halted: wait_for_interrupt(f); return true;
    case wedge::site_exit::shutdown: print("l4-wedge: guest: triple fault at 0x%lx\n", s->insn - vmp); return false;
    case wedge::site_exit::bad_record:
        print("l4-wedge: guest: the %s site at 0x%lx cannot be emulated\n",
              afterburn::site_kind_name(static_cast<afterburn::site_kind>(s->rec.kind)), s->insn - vmp);
        return false;
    }
    return false;
}

// A tick of the interrupt thread: the timers caught up, and if an interrupt can be taken
// now, the guest thread, wherever it runs guest code, goes to the window's interrupted path
// (ExchangeRegisters; its rip, rsp and rflags to the frame page), which calls the wedge with
// its GPRs; run_interrupted delivers. Not while it is in an IPC (a site, a fault, an
// exception: their exits deliver), in the window or the kernel's IPC stub (on its way to or
// from one: the frame page is in use), nor while the wedge steps it or inside an interrupt
// shadow: the next tick tries again. The guest thread is below the wedge in priority, so it
// does not move between the two ExchangeRegisters.
void interrupt_guest() {
    poll_devices();
    wedge::vcpu &c = cpu();
    const bool want = c.virtual_if() && wedge::refresh_pending_hint(c);
    publish_wakeup(next_deadline_ns(), want);
    if (!want || g_stepping) return;
    const uint64_t entry = l4::kip_word(g_kip, l4::kip_exchange_registers);
    uint64_t regs[4] = {0, 0, 0, 0};
    if (!l4::l4_exchange_registers(g_guest, 0, regs, entry) || (regs[3] & l4::exreg_in_ipc)) return;
    const uint64_t ip = regs[1], ipc_stub = l4::kip_word(g_kip, l4::kip_ipc) & ~uint64_t(0xfff);
    if ((ip >= window_base && ip < window_base + window_bytes) || (ip >= ipc_stub && ip < ipc_stub + 0x1000)) return;
    if (c.interrupt_shadow && c.shadow_rip == ip) return;
    wedge::frame &f = frame_page().f;
    f.rip = ip;
    f.gpr[wedge::rsp] = regs[0];
    f.rflags = (regs[2] & wedge::flags::real) | wedge::flags::fixed1;
    regs[1] = window_interrupted_ip();
    if (l4::l4_exchange_registers(g_guest, l4::exreg_set_ip, regs, entry)) ++g_interrupted;
}

// The guest thread on the window's interrupted path: deliver what is pending at its rip.
bool run_interrupted() {
    poll_devices();
    bool dead = false;
    wedge::deliver_pending(cpu(), frame_page().f, platform().be, &dead);
    if (dead) print("l4-wedge: guest: triple fault delivering an interrupt at 0x%lx\n", frame_page().f.rip);
    return !dead;
}

} // namespace

void print_run_counts() {
    print("l4-wedge: guest: %lu sites emulated, %lu page faults served, %lu halts, %lu #PF and %lu other exceptions "
          "delivered or run, %lu times interrupted, %lu shadow steps\n", g_sites_run, g_faults_served, g_halts,
          g_faults_delivered, g_exceptions, g_interrupted, g_steps);
}

void debug_exit_device::io_write(uint16_t, unsigned, uint32_t value) {
    print_run_counts();
    print("l4-wedge: guest: verdict %u written to port 0xf4\n", value);
    for (;;) l4::l4_ipc(l4::nil_thread, g_me, 0, l4::utcb(), nullptr, l4::kip_word(g_kip, l4::kip_ipc));
}

void run_guest(const uint8_t *kip, uint64_t guest, const guest_image &g) {
    g_kip = kip;
    uint64_t *u = l4::utcb();
    g_me = u[l4::tcr_my_global_id];
    g_guest = guest;
    const uint64_t ipc = l4::kip_word(kip, l4::kip_ipc);
    l4::br(0) = 0;  // nothing from the guest is ever mapped to us
    if (!start_interrupt_thread(kip, guest)) stop("the interrupt thread cannot be started");
    uint64_t from = 0, reply_to = l4::nil_thread;
    uint64_t tag = l4::l4_ipc(l4::nil_thread, guest, 0, u, &from, ipc);
    for (;;) {
        if (l4::tag_failed(tag)) {
            print("l4-wedge: guest: IPC with the guest thread failed (error code 0x%lx)\n", u[l4::tcr_error_code]);
            stop("the IPC with the guest thread failed");
        }
        const uint64_t label = tag >> 16;
        reply_to = guest;
        if (from != guest) {
            if (label != tick_label) {
                print("l4-wedge: IPC label 0x%lx from thread %lx.%lx, which is not the guest's\n", label,
                      l4::thread_no(from), from & 0xffffffff);
                stop("an IPC from an unknown thread");
            }
            interrupt_guest();
            reply_to = l4::nil_thread;  // the tick needs no answer
        } else if (((label >> 4) & 0xfff) == l4::label_page_fault) {
            fault_outcome o = serve_fault(u[1], u[2], label & 7, u);
            if (o == fault_outcome::stuck) stop("the guest faulted where the wedge cannot map anything");
            // Delivered: an empty reply, and the thread returns from its fault to the handler.
            u[0] = o == fault_outcome::delivered ? l4::tag(0, 0, 0) : l4::tag(0, 2, 0);
        } else if (((label >> 4) & 0xfff) == l4::label_arch_exception) {
            if (!run_exception(u, g.virt_minus_phys)) stop("an exception of the guest the wedge cannot handle");
            u[0] = l4::tag(0, 0, 20);
        } else if (label == site_call_label) {
            if (!run_site_call(g.virt_minus_phys)) stop("a site call the wedge cannot run");
            u[0] = l4::tag(0, 0, 0);
        } else if (label == interrupted_label) {
            if (!run_interrupted()) stop("an interrupt the wedge cannot deliver");
            u[0] = l4::tag(0, 0, 0);
        } else {
            print("l4-wedge: guest: IPC label 0x%lx (MR1 0x%lx MR2 0x%lx): %s\n", label, u[1], u[2],
                  ((label >> 4) & 0xfff) == l4::label_exception || ((label >> 4) & 0xfff) == l4::label_arch_exception
                      ? "an exception, which does not reach the wedge yet"
                      : "not a protocol the wedge speaks");
            stop("the guest raised an exception the wedge cannot handle yet");
        }
        // What the interrupt thread waits for while the guest runs.
        if (reply_to == guest) publish_wakeup(next_deadline_ns(), cpu().virtual_if() && wedge::refresh_pending_hint(cpu()));
        tag = l4::l4_ipc(reply_to, l4::any_thread, 0, u, &from, ipc);
    }
}

} // namespace lw
