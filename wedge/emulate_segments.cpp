// Descriptor-table and segment-register instructions: lgdt/lidt/sgdt/sidt, lldt/ltr/
// sldt/str, mov/push/pop of segment registers, and lar/lsl/verr/verw. All read the
// guest's own GDT/LDT through the virtual GDTR/LDTR, so they see the guest's descriptors
// and the guest's virtual CPL, never the real ones.
#include "wedge/descriptor.h"
#include "wedge/emulate_context.h"

namespace afterburn::wedge::detail {

namespace {

bool umip_blocks(const context &c) { return c.cpu.cpl != 0 && (c.cpu.cr4 & cr4::umip); }

emulation load_table(context &c, table_register &reg)
{
    linear_address la;
    uint8_t image[10];
    event fault;
    if (!c.operand(la, fault) || !c.mem.read(la, image, 10, fault)) return c.raise(fault);
    uint64_t base = 0;
    for (int i = 7; i >= 0; --i) base = (base << 8) | image[2 + i];
    if (!is_canonical(base)) return c.gp();
    reg.limit = static_cast<uint16_t>(image[0] | (image[1] << 8));
    reg.base = base;
    return c.next();
}

emulation store_table(context &c, const table_register &reg)
{
    if (umip_blocks(c)) return c.gp();
    uint8_t image[10];
    image[0] = static_cast<uint8_t>(reg.limit), image[1] = static_cast<uint8_t>(reg.limit >> 8);
    for (int i = 0; i < 8; ++i) image[2 + i] = static_cast<uint8_t>(reg.base >> (8 * i));
    linear_address la;
    event fault;
    if (!c.operand(la, fault) || !c.mem.write(la, image, 10, fault)) return c.raise(fault);
    return c.next();
}

// lldt / ltr: a 16-byte system descriptor from the GDT.
emulation load_system_segment(context &c, bool task)
{
    uint16_t sel;
    event fault;
    if (!c.source16(c.rec.reg, sel, fault)) return c.raise(fault);
    if ((sel & 0xfffc) == 0) {
        if (task) return c.gp();
        c.cpu.ldtr = system_segment{sel, 0, 0, false};  // a null LDT: LDT references fault
        return c.next();
    }
    if (sel & 4) return c.gp(selector_error(sel));  // must come from the GDT
    segment_descriptor d;
    switch (read_descriptor(c.cpu, c.mem, sel, true, d, fault)) {
    case descriptor_lookup::fault: return c.raise(fault);
    case descriptor_lookup::outside_table: return c.gp(selector_error(sel));
    case descriptor_lookup::ok: break;
    }
    unsigned want = task ? system_type::tss_available : system_type::ldt;
    if (!d.system() || d.type() != want) return c.gp(selector_error(sel));
    if (!d.present()) return c.raise(event::fault(vec::np, selector_error(sel)));
    if (!is_canonical(d.base())) return c.gp(selector_error(sel));
    system_segment loaded{sel, d.base(), d.limit(), true};
    if (task) {
        d.low |= 2ull << 40;  // available -> busy, as ltr marks it
        if (!write_descriptor(c.cpu, c.mem, sel, d, fault)) return c.raise(fault);
        c.cpu.tr = loaded;
    } else {
        c.cpu.ldtr = loaded;
    }
    return c.next();
}

emulation store_system_selector(context &c, uint16_t selector)
{
    if (umip_blocks(c)) return c.gp();
    event fault;
    if (!c.store_selector(selector, fault)) return c.raise(fault);
    return c.next();
}

} // namespace

emulation descriptor_table(context &c, site_kind kind)
{
    switch (kind) {
    case site_kind::lgdt: return load_table(c, c.cpu.gdtr);
    case site_kind::lidt: return load_table(c, c.cpu.idtr);
    case site_kind::sgdt: return store_table(c, c.cpu.gdtr);
    case site_kind::sidt: return store_table(c, c.cpu.idtr);
    case site_kind::lldt: return load_system_segment(c, false);
    case site_kind::ltr: return load_system_segment(c, true);
    case site_kind::sldt: return store_system_selector(c, c.cpu.ldtr.selector);
    default: return store_system_selector(c, c.cpu.tr.selector);
    }
}

bool load_segment(context &c, unsigned seg, uint16_t sel, event &fault)
{
    vcpu &cpu = c.cpu;
    unsigned rpl = sel & 3;
    bool null = (sel & 0xfffc) == 0;
    if (seg == annotation::seg_ss) {
        if (null) {
            // 64-bit mode allows a null SS below CPL 3, with RPL = CPL.
            if (cpu.cpl == 3 || rpl != cpu.cpl) return fault = event::fault(vec::gp, 0), false;
            cpu.selector[seg] = sel;
            c.be.state_changed(cpu, state_change::segment_selector);
            return true;
        }
        if (rpl != cpu.cpl) return fault = event::fault(vec::gp, selector_error(sel)), false;
    } else if (null) {
        cpu.selector[seg] = sel;
        // A null selector clears the FS/GS base (Intel behaviour; AMD keeps it).
        if (seg == annotation::seg_fs) cpu.fs_base = 0, c.be.state_changed(cpu, state_change::fs_base);
        if (seg == annotation::seg_gs) cpu.gs_base = 0, c.be.state_changed(cpu, state_change::gs_base);
        c.be.state_changed(cpu, state_change::segment_selector);
        return true;
    }
    segment_descriptor d;
    switch (read_descriptor(cpu, c.mem, sel, false, d, fault)) {
    case descriptor_lookup::fault: return false;
    case descriptor_lookup::outside_table: return fault = event::fault(vec::gp, selector_error(sel)), false;
    case descriptor_lookup::ok: break;
    }
    if (seg == annotation::seg_ss) {
        if (!d.writable() || d.dpl() != cpu.cpl) return fault = event::fault(vec::gp, selector_error(sel)), false;
        if (!d.present()) return fault = event::fault(vec::ss, selector_error(sel)), false;
    } else {
        if (const uint8_t v = data_segment_refusal(d, rpl, cpu.cpl))
            return fault = event::fault(v, selector_error(sel)), false;
    }
    if (!(d.type() & 1)) {  // the CPU sets the accessed bit
        d.low |= 1ull << 40;
        if (!write_descriptor(cpu, c.mem, sel, d, fault)) return false;
    }
    cpu.selector[seg] = sel;
    if (seg == annotation::seg_fs) cpu.fs_base = d.base(), c.be.state_changed(cpu, state_change::fs_base);
    if (seg == annotation::seg_gs) cpu.gs_base = d.base(), c.be.state_changed(cpu, state_change::gs_base);
    c.be.state_changed(cpu, state_change::segment_selector);
    return true;
}

emulation segment_register(context &c, site_kind kind)
{
    unsigned seg = c.rec.special;
    if (seg > annotation::seg_gs) return c.bad();
    event fault;
    switch (kind) {
    case site_kind::mov_to_seg: {
        if (seg == annotation::seg_cs) return c.ud();
        uint16_t sel;
        if (!c.source16(c.rec.reg, sel, fault) || !load_segment(c, seg, sel, fault)) return c.raise(fault);
        emulation r = c.next();
        if (seg == annotation::seg_ss) {  // mov ss shadows the next instruction
            c.cpu.interrupt_shadow = true;
            c.cpu.shadow_rip = c.end;
        }
        return r;
    }
    case site_kind::mov_from_seg:
        if (!c.store_selector(c.cpu.selector[seg], fault)) return c.raise(fault);
        return c.next();
    case site_kind::push_seg: {
        if (seg != annotation::seg_fs && seg != annotation::seg_gs) return c.ud();  // invalid in 64-bit mode
        unsigned n = c.bits() == 16 ? 2 : 8;
        uint64_t v = c.cpu.selector[seg];
        if (!c.mem.write(linear_address{c.reg(rsp) - n, true}, &v, n, fault)) return c.raise(fault);
        c.reg(rsp) -= n;
        return c.next();
    }
    default: {  // pop_seg
        if (seg != annotation::seg_fs && seg != annotation::seg_gs) return c.ud();
        unsigned n = c.bits() == 16 ? 2 : 8;
        uint64_t v = 0;
        if (!c.mem.read(linear_address{c.reg(rsp), true}, &v, n, fault)) return c.raise(fault);
        if (!load_segment(c, seg, static_cast<uint16_t>(v), fault)) return c.raise(fault);
        c.reg(rsp) += n;
        return c.next();
    }
    }
}

// lar/lsl/verr/verw: ZF=1 and the result when the descriptor is visible at this CPL and
// RPL and of a type the instruction accepts; ZF=0 and the destination untouched otherwise.
emulation segment_check(context &c, site_kind kind)
{
    bool load = kind == site_kind::lar || kind == site_kind::lsl;
    uint16_t sel;
    event fault;
    if (!c.source16(load ? c.rec.special : c.rec.reg, sel, fault)) return c.raise(fault);
    bool ok = false;
    segment_descriptor d;
    if (sel & 0xfffc) {
        switch (read_descriptor(c.cpu, c.mem, sel, false, d, fault)) {
        case descriptor_lookup::fault: return c.raise(fault);
        case descriptor_lookup::outside_table: break;
        case descriptor_lookup::ok:
            if (d.system()) {
                unsigned t = d.type();
                bool tss_or_ldt = t == system_type::ldt || t == system_type::tss_available || t == system_type::tss_busy;
                ok = (kind == site_kind::lar && (tss_or_ldt || t == system_type::call_gate)) ||
                     (kind == site_kind::lsl && tss_or_ldt);
            } else {
                ok = kind == site_kind::verr ? d.readable() : kind == site_kind::verw ? d.writable() : true;
            }
            if (ok && !d.conforming() && (d.dpl() < c.cpu.cpl || d.dpl() < (sel & 3u))) ok = false;
            break;
        }
    }
    if (!ok) {
        c.f.rflags &= ~flags::zf;
        return c.next();
    }
    c.f.rflags |= flags::zf;
    if (kind == site_kind::lar) {
        uint32_t rights = static_cast<uint32_t>(d.low >> 32) & 0x00f0ff00u;
        write_gpr(c.f, c.rec.reg, c.bits() == 16 ? rights & 0xff00u : rights, c.bits() == 16 ? 16 : 64);
    } else if (kind == site_kind::lsl) {
        write_gpr(c.f, c.rec.reg, d.limit(), c.bits() == 16 ? 16 : 64);
    }
    return c.next();
}

} // namespace afterburn::wedge::detail
