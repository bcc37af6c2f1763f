#include "user_exception_fast_path.h"

#include "guest_platform.h"
#include "guest_probe.h"
#include "guest_resume.h"
#include "guest_stacks.h"
#include "guest_time.h"
#include "pv_direct.h"
#include "run_stats.h"
#include "wedge/guest_memory.h"
#include "wedge/interrupts.h"

namespace xw {

namespace {

// TSS.RSP0: the stack a delivery to CPL 0 from CPL 3 switches to (wedge/interrupts.cpp: tss_stack).
constexpr unsigned tss_rsp0 = 4;

// The gate and handler descriptor try_deliver_user_exception_fast last found good, with what
// they were read under: the same bytes under the same tables pass the same checks again,
// which depend on nothing else (a user-mode #PF reads the same two every time).
struct known_gate {
    uint64_t gate[2] = {0, 0}, code = 0;  // gate[0] == 0: nothing known (a not-present gate)
    uint64_t idt_base = 0, gdt_base = 0;
    uint32_t idt_limit = 0, gdt_limit = 0;
    uint8_t vector = 0;
    wedge::idt_gate decoded{};  // decode_idt_gate(gate): the same bytes decode the same
};
constinit known_gate g_known{};

// The gate for `vector` and its handler's code descriptor as wedge::deliver reads them, when
// they pass its checks for an exception from CPL 3 with the result this path handles: a
// present interrupt gate with IST 0 to a non-conforming 64-bit code segment of DPL 0 in the
// GDT. False: anything else (the core then reads and decides again).
bool gate_to_cpl0(const wedge::vcpu &c, uint8_t vector, wedge::idt_gate &out) {
    // try_deliver: the IDT limit, then the gate through a supervisor read.
    if (vector * 16u + 15u > c.idtr.limit) return false;
    uint64_t gate[2];
    if (!guest_probe_read(c.idtr.base + vector * 16u, gate, sizeof gate)) return false;
    known_gate &k = g_known;
    const bool known = gate[0] == k.gate[0] && gate[1] == k.gate[1] && vector == k.vector &&
                       c.idtr.base == k.idt_base && c.idtr.limit == k.idt_limit && c.gdtr.base == k.gdt_base &&
                       c.gdtr.limit == k.gdt_limit;
    out = known ? k.decoded : wedge::decode_idt_gate(gate);
    // read_descriptor's table_of for a GDT selector (an LDT one is left to the core).
    const uint16_t cs = out.cs;
    if (!(cs & 0xfffc) || (cs & 4) || (cs & 0xfff8u) + 7u > c.gdtr.limit) return false;
    uint64_t code;
    if (!guest_probe_read(c.gdtr.base + (cs & 0xfff8u), &code, sizeof code)) return false;
    if (known && code == k.code) return true;
    // The gate's checks in try_deliver's order (the software-interrupt DPL check does not apply
    // to an exception), then the handler's code segment with the core's own check.
    if (out.type != wedge::system_type::interrupt_gate || !out.present || out.ist != 0) return false;
    wedge::segment_descriptor d;
    d.low = code;
    d.high = 0;
    if (wedge::check_handler_code(d, c.cpl) != wedge::handler_code::ok) return false;
    if (d.conforming() || d.dpl() != 0) return false;  // new CPL 0: the stack is TSS.RSP0
    k = {{gate[0], gate[1]}, code, c.idtr.base, c.gdtr.base, c.idtr.limit, c.gdtr.limit, vector, out};
    return true;
}

} // namespace

void try_deliver_user_exception_fast(const wedge::event &ev) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (c.cpl != 3 || ev.type != wedge::event_type::exception) return;
    // The guest single-stepping itself: resume()'s iret with TF is the core's.
    if (fr.rflags & wedge::flags::tf) return;
    // xen_backend::read and ::write send the queued page-table stores before they read or
    // write through the CPU (direct paging); resume() sends them too.
    direct_send_updates();
    wedge::idt_gate g;
    if (!gate_to_cpl0(c, ev.vector, g)) return;
    // tss_stack for RSP0, then try_deliver's alignment and canonical check.
    if (!c.tr.usable || tss_rsp0 + 7 > c.tr.limit) return;
    uint64_t rsp;
    if (!guest_probe_read(c.tr.base + tss_rsp0, &rsp, sizeof rsp)) return;
    rsp &= ~0xfull;
    if (!wedge::is_canonical(rsp) || !wedge::is_canonical(g.target)) return;
    // The frame, written as the core's write_system writes it (xen_backend::write: the CPU's
    // store first). A refusal writes nothing (the backend's writes are all or nothing): the
    // core writes again and raises what it finds.
    uint64_t image[6];
    const unsigned n = wedge::interrupt_frame_image(c, fr, ev, image);
    const uint64_t new_rsp = rsp - 8ull * n;
    if (!wedge::is_canonical(new_rsp)) return;
    wedge::page_fault refused;
    if (!platform().be.write(new_rsp, image, 8ull * n, wedge::access_mode::supervisor, refused)) return;

    // Committed: try_deliver's end. CR2 first (the core writes it before anything else; no
    // fault follows here).
    if (ev.vector == wedge::vec::pf) c.cr2 = ev.cr2;
    if (wedge::enter_handler(c, fr, g.target, g.cs, 0, g.type, new_rsp))
        platform().be.state_changed(c, wedge::state_change::privilege);
    // deliver_and_resume after an interrupt gate (IF now clear): after_core() and resume() at
    // CPL 0, without what they do for a core that ran. sync_paging has nothing to follow (a
    // delivery changes neither CR0 nor EFER); the guest's TF is clear and the interrupt shadow
    // too (enter_handler), so no single step; no emulated device changed since the last
    // arm_timer (the trap polled none), unless the timer was set elsewhere since; the real TSD
    // was cleared on the way in (left_user_mode). The queue went out above; the pages under
    // the kernel stack are filled as resume() fills them; resume_kernel_fast does the rest
    // (the fast-path bytes for CPL 0, the GS slot as sync_gs_for_resume, events).
    ensure_stack_mapped(fr.gpr[wedge::rsp]);
    if (timer_off_deadline()) arm_timer();
    ++g_run_stats.user_exception_fast;
    resume_kernel_fast();
}

} // namespace xw
