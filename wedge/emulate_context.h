// Internal to the emulator (emulate*.cpp): the state one emulation works on and the small
// helpers every kind uses to end it.
#pragma once

#include "wedge/emulate.h"
#include "wedge/guest_memory.h"

namespace afterburn::wedge::detail {

struct context {
    vcpu &cpu;
    frame &f;
    const annotation::site_record &rec;
    uint64_t site;
    backend &be;
    guest_memory mem;
    uint64_t end;

    context(vcpu &c, frame &fr, const annotation::site_record &r, uint64_t s, backend &b, uint64_t resume_at)
        : cpu(c), f(fr), rec(r), site(s), be(b), mem(c, b), end(resume_at ? resume_at : site_end(r, s))
    {
    }

    unsigned bits() const { return annotation::operand_bits(rec.flags); }
    bool has_register() const { return rec.flags & annotation::flag_register; }
    bool has_memory() const { return rec.flags & annotation::flag_memory; }
    uint64_t &reg(unsigned n) { return f.gpr[n & 15]; }

    emulation next()
    {
        f.rip = end;
        return {action::resume, {}};
    }
    emulation raise(const event &e)
    {
        f.rip = site;
        return {action::raise, e};
    }
    emulation gp(uint32_t error = 0) { return raise(event::fault(vec::gp, error)); }
    emulation ud() { return raise(event::fault(vec::ud)); }
    emulation transfer() { return {action::transfer, {}}; }
    emulation bad() { return {action::bad_record, {}}; }

    bool operand(linear_address &la, event &fault) { return operand_address(rec, site, f, cpu, mem, la, fault); }
    // The 16-bit source of lldt/ltr/lmsw/verr/verw/mov-to-seg: a register or memory.
    bool source16(unsigned gpr_number, uint16_t &value, event &fault)
    {
        if (has_memory()) {
            linear_address la;
            return operand(la, fault) && mem.read(la, &value, 2, fault);
        }
        value = static_cast<uint16_t>(f.gpr[gpr_number & 15]);
        return true;
    }
    // The destination of sldt/str/smsw/mov-from-seg: a register (zero-extended beyond 16
    // bits) or a 16-bit memory word.
    bool store_selector(uint64_t value, event &fault)
    {
        if (has_memory()) {
            linear_address la;
            uint16_t v = static_cast<uint16_t>(value);
            return operand(la, fault) && mem.write(la, &v, 2, fault);
        }
        write_gpr(f, rec.reg, value, bits() == 16 ? 16 : 64);
        return true;
    }
};

// Kinds implemented in emulate_segments.cpp and emulate_transfers.cpp.
emulation descriptor_table(context &c, site_kind kind);  // lgdt lidt sgdt sidt lldt ltr sldt str
emulation segment_register(context &c, site_kind kind);  // mov to/from seg, push/pop seg
emulation segment_check(context &c, site_kind kind);     // lar lsl verr verw
emulation far_transfer(context &c, site_kind kind);      // iret sysret sysexit sysenter lret ljmp lcall int

// Loads a data or stack segment register with the checks of a 64-bit CPU (shared by mov,
// pop and the far transfers' SS).
bool load_segment(context &c, unsigned seg, uint16_t selector, event &fault);

} // namespace afterburn::wedge::detail
