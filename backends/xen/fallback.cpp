#include "fallback.h"

#include "afterburn/sensitive_decoder.h"
#include "console.h"
#include "console_line.h"
#include "guest_platform.h"
#include "guest_resume.h"
#include "run_stats.h"

namespace xw {

using afterburn::site_kind;
using afterburn::site_kind_count;

namespace {

// The record decoded at the trap, and the wedge stack it is run on.
struct fallback_site {
    wedge::site site;
    alignas(16) uint8_t stack[16384];
};
constinit fallback_site g_fallback{};

[[noreturn]] void run_on_wedge_stack() { run_site_and_resume(g_fallback.site, g_fallback.site.insn, true); }

// Never annotated because CPUID gates it (vmcall, monitorx, ...), and the policy hides the
// gate: the guest ran it anyway. The trap goes to the guest as it came, as on a CPU without
// the feature; the wedge only names it, so the cause is not a mystery.
void report_gated(const trap_frame *f, const uint8_t *bytes, size_t avail, bool from_user) {
    afterburn::gated_class g;
    uint8_t len;
    if (!afterburn::decoder::decode_gated(bytes, avail, g, len)) return;
    if (++g_run_stats.gated_traps > 8) return;
    console_flush();
    print("xen-wedge: guest: %s (%u bytes) at 0x%lx, vector %lu, %s mode: CPUID hides it (%s); delivered to the "
          "guest\n",
          afterburn::gated_class_name(g), len, f->rip, f->vector, from_user ? "user" : "kernel",
          afterburn::gated_class_of(g)->gate.name);
}

} // namespace

void try_fallback(const trap_frame *f, bool from_user) {
    wedge::vcpu &c = cpu();
    if (from_user != (c.cpl == 3)) return;
    auto mode = from_user ? wedge::access_mode::user : wedge::access_mode::supervisor;
    uint8_t bytes[15];
    size_t avail = sizeof bytes;
    wedge::page_fault pf;
    if (!platform().be.read(f->rip, bytes, avail, mode, pf)) {
        // The instruction may end just before an unmapped page: try up to the page's end.
        avail = 0x1000 - (f->rip & 0xfff);
        if (avail >= sizeof bytes || !platform().be.read(f->rip, bytes, avail, mode, pf)) return;
    }
    afterburn::decoder::decoded d;
    if (!afterburn::decoder::decode_sensitive(bytes, avail, d)) {
        report_gated(f, bytes, avail, from_user);
        return;
    }
    if (d.kind == site_kind::int_n || static_cast<unsigned>(d.kind) >= site_kind_count) return;
    wedge::site &fb = g_fallback.site;
    fb = wedge::site{};
    fb.start = fb.insn = f->rip;
    fb.end = f->rip + d.insn_len;
    afterburn::annotation::site_record &r = fb.rec;
    r.site = 0;  // unused: run_site gets the address
    r.pad_len = 0;
    afterburn::decoder::store_decoded(d, r);
    unsigned k = static_cast<unsigned>(d.kind);
    run_stats &s = g_run_stats;
    ++s.fallback;
    ++s.kind_fallback[k];
    if (from_user) ++s.fallback_user;
    // Rewriting would need 5 bytes (call rel32) inside the instruction itself: the code is not
    // padded, and the bytes after it belong to other instructions. Only counted.
    if (d.insn_len >= 5) ++s.fallback_roomy;
    s.last_site = f->rip;
    s.last_kind = k;
    if (s.fallback <= s.trace_fallbacks) {
        console_flush();
        print("xen-wedge: guest: fallback #%lu: %s (%u bytes) at 0x%lx, vector %lu error 0x%lx, %s mode\n", s.fallback,
              afterburn::site_kind_name(d.kind), d.insn_len, f->rip, f->vector, f->error, from_user ? "user" : "kernel");
    }
    // A kernel-mode trap runs on the guest's stack (Xen's bounce frame), and the emulated
    // instruction may flush the shadow (mov to %cr3/%cr0/%cr4, invlpg, wrmsr EFER): the wedge
    // would lose its own stack. Everything is in globals now (g_guest_run.frame, the record):
    // switch to a wedge stack and never come back.
    asm volatile("mov %0, %%rsp\n\tcall *%1\n\tud2"
                 : : "r"(g_fallback.stack + sizeof g_fallback.stack), "r"(&run_on_wedge_stack)
                 : "memory");
    __builtin_unreachable();
}

} // namespace xw
