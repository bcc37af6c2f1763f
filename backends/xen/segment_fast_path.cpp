#include "segment_fast_path.h"

#include "afterburn/site_kind.h"
#include "guest_probe.h"
#include "switch_fast_path.h"
#include "wedge/descriptor.h"

namespace xw {

namespace {

namespace an = afterburn::annotation;

// The descriptor a GDT selector names, as the core's read_descriptor reads it (a supervisor
// read of the 8 bytes at GDTR.base + index, inside the limit). False: an LDT selector, one
// beyond the limit, or a read that faults: the core then raises what the CPU would.
bool gdt_descriptor(const wedge::vcpu &c, uint16_t sel, wedge::segment_descriptor &d) {
    const uint32_t index = sel & 0xfff8u;
    if ((sel & 4) || index + 7 > c.gdtr.limit) return false;
    return guest_probe_read(c.gdtr.base + index, &d.low, 8);
}

} // namespace

// A null selector (any RPL) gives FS or GS base 0 (the core's Intel behaviour); any other
// must name a present, readable, non-system GDT descriptor visible at RPL and CPL whose
// accessed bit is already set.
bool data_segment_loads(const wedge::vcpu &c, unsigned seg, uint16_t sel, uint64_t &base) {
    if (seg == an::seg_cs || seg == an::seg_ss || seg > an::seg_gs) return false;
    base = 0;
    if ((sel & 0xfffc) == 0) return true;
    wedge::segment_descriptor d;
    if (!gdt_descriptor(c, sel, d)) return false;
    // Refused, or the CPU would set the accessed bit (a descriptor write): the core's.
    if (wedge::data_segment_refusal(d, sel & 3, c.cpl) || !(d.type() & 1)) return false;
    base = d.base();
    return true;
}

// The state the core changes and tells the backend about, in the same order.
void load_data_segment(wedge::vcpu &c, unsigned seg, uint16_t sel, uint64_t base) {
    xen_backend &be = platform().be;
    c.selector[seg] = sel;
    if (seg == an::seg_fs) c.fs_base = base, be.state_changed(c, wedge::state_change::fs_base);
    if (seg == an::seg_gs) c.gs_base = base, be.state_changed(c, wedge::state_change::gs_base);
    be.state_changed(c, wedge::state_change::segment_selector);
}

void try_segment_fast(const wedge::site &s, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (!kernel_fast_path_open(c, fr)) return;
    // A memory operand needs the core's operand decoding and access checks.
    if (s.rec.flags & an::flag_memory) return;
    const unsigned seg = s.rec.special;
    if (seg > an::seg_gs) return;
    const auto kind = static_cast<afterburn::site_kind>(s.rec.kind);
    if (kind == afterburn::site_kind::mov_from_seg) {
        // store_selector's register form: a 16-bit write keeps the rest, wider ones zero-extend.
        wedge::write_gpr(fr, s.rec.reg, c.selector[seg], an::operand_bits(s.rec.flags) == 16 ? 16 : 64);
    } else {
        // CS is #UD and SS's load shadows the next instruction: both stay with the core.
        const auto sel = static_cast<uint16_t>(fr.gpr[s.rec.reg & 15]);
        uint64_t base;
        if (!data_segment_loads(c, seg, sel, base)) return;
        load_data_segment(c, seg, sel, base);
    }
    ++g_run_stats.segment_fast;
    finish_switch_fast(c, fr, s, resume_at);
}

} // namespace xw
