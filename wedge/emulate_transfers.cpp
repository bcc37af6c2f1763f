// Control transfers that change CS (and perhaps CPL): iret, sysret, sysexit, sysenter, far
// ret/jmp/call, and int n (handed to interrupt delivery). Each validates the target the way a
// 64-bit CPU does before changing anything, so a fault leaves the vCPU as it was.
#include "wedge/descriptor.h"
#include "wedge/emulate_context.h"

namespace afterburn::wedge::detail {

namespace {

// Checks a code-segment selector a far return/iret goes to: RPL >= CPL, a present code
// segment, DPL == RPL (non-conforming) or DPL <= RPL (conforming).
bool return_code_segment(context &c, uint16_t cs, segment_descriptor &d, event &fault)
{
    if ((cs & 0xfffc) == 0) return fault = event::fault(vec::gp, 0), false;
    unsigned rpl = cs & 3;
    if (rpl < c.cpu.cpl) return fault = event::fault(vec::gp, selector_error(cs)), false;
    switch (read_descriptor(c.cpu, c.mem, cs, false, d, fault)) {
    case descriptor_lookup::fault: return false;
    case descriptor_lookup::outside_table: return fault = event::fault(vec::gp, selector_error(cs)), false;
    case descriptor_lookup::ok: break;
    }
    if (!d.code() || (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl))
        return fault = event::fault(vec::gp, selector_error(cs)), false;
    if (!d.present()) return fault = event::fault(vec::np, selector_error(cs)), false;
    return true;
}

// Checks the SS popped when returning to `rpl` (iret always, lret to an outer level).
bool return_stack_segment(context &c, uint16_t ss, unsigned rpl, bool to_64bit, event &fault)
{
    if ((ss & 0xfffc) == 0) {
        if (rpl == 3 || !to_64bit) return fault = event::fault(vec::gp, 0), false;
        return true;
    }
    if ((ss & 3) != rpl) return fault = event::fault(vec::gp, selector_error(ss)), false;
    segment_descriptor d;
    switch (read_descriptor(c.cpu, c.mem, ss, false, d, fault)) {
    case descriptor_lookup::fault: return false;
    case descriptor_lookup::outside_table: return fault = event::fault(vec::gp, selector_error(ss)), false;
    case descriptor_lookup::ok: break;
    }
    if (!d.writable() || d.dpl() != rpl) return fault = event::fault(vec::gp, selector_error(ss)), false;
    if (!d.present()) return fault = event::fault(vec::ss, selector_error(ss)), false;
    return true;
}

// 64-bit code needs a canonical rip; compatibility-mode code gets the low 32 bits.
bool target_rip(const segment_descriptor &code, uint64_t &rip)
{
    if (code.long_mode()) return is_canonical(rip);
    rip &= 0xffffffffu;
    return true;
}

void enter_cpl(context &c, uint16_t cs, uint16_t ss, unsigned cpl)
{
    bool changed = c.cpu.cpl != cpl;
    c.cpu.selector[annotation::seg_cs] = cs;
    c.cpu.selector[annotation::seg_ss] = ss;
    c.cpu.cpl = static_cast<uint8_t>(cpl);
    if (changed) c.be.state_changed(c.cpu, state_change::privilege);
}

uint64_t slot(const uint8_t *bytes, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = (v << 8) | bytes[i];
    return v;
}

// Loads RFLAGS from an image (iret, sysret): the real flags go to the frame, IF and IOPL to
// the vCPU, with the privilege rules of popf, judged at the CPL before the transfer.
void load_rflags(context &c, uint64_t image, unsigned bits)
{
    uint64_t writable = flags::real | flags::rf;
    if (bits == 16) writable &= 0xffff;
    c.f.rflags = (c.f.rflags & ~writable) | (image & writable) | flags::fixed1;
    if (c.cpu.cpl <= c.cpu.iopl) c.cpu.set_virtual_if(image & flags::if_);
    if (c.cpu.cpl == 0) c.cpu.iopl = static_cast<uint8_t>((image >> flags::iopl_shift) & 3);
}

emulation iret(context &c)
{
    unsigned n = c.bits() / 8;
    if (c.f.rflags & flags::nt) return c.gp();  // no task return in long mode
    uint8_t image[5 * 8];
    event fault;
    if (!c.mem.read(linear_address{c.reg(rsp), true}, image, 5 * n, fault)) return c.raise(fault);
    uint64_t rip = slot(image, n);
    uint16_t cs = static_cast<uint16_t>(slot(image + n, n));
    uint64_t rflags = slot(image + 2 * n, n);
    uint64_t rsp_value = slot(image + 3 * n, n);
    uint16_t ss = static_cast<uint16_t>(slot(image + 4 * n, n));

    segment_descriptor code;
    if (!return_code_segment(c, cs, code, fault)) return c.raise(fault);
    unsigned rpl = cs & 3;
    if (!return_stack_segment(c, ss, rpl, code.long_mode(), fault)) return c.raise(fault);
    if (!target_rip(code, rip)) return c.gp();

    load_rflags(c, rflags, c.bits());
    c.f.rip = rip;
    c.reg(rsp) = rsp_value;
    enter_cpl(c, cs, ss, rpl);
    return c.transfer();
}

emulation sysret(context &c)
{
    if (!(c.cpu.efer & efer::sce)) return c.ud();
    if (c.cpu.cpl != 0) return c.gp();
    uint16_t base = static_cast<uint16_t>(c.cpu.star >> 48);
    uint64_t rip = c.reg(rcx);
    uint16_t cs;
    if (c.bits() == 64) {
        if (!is_canonical(rip)) return c.gp();  // Intel raises #GP(0) at CPL 0
        cs = static_cast<uint16_t>((base + 16) | 3);
    } else {
        rip &= 0xffffffffu;
        cs = static_cast<uint16_t>(base | 3);
    }
    load_rflags(c, c.reg(r11), 64);
    c.f.rflags &= ~flags::rf;
    c.f.rip = rip;
    enter_cpl(c, cs, static_cast<uint16_t>((base + 8) | 3), 3);
    return c.transfer();
}

emulation sysexit(context &c)
{
    if (c.cpu.cpl != 0) return c.gp();
    uint16_t base = static_cast<uint16_t>(c.cpu.sysenter_cs);
    if ((base & 0xfffc) == 0) return c.gp();
    bool wide = c.bits() == 64;
    uint64_t rip = wide ? c.reg(rdx) : c.reg(rdx) & 0xffffffffu;
    uint64_t rsp_value = wide ? c.reg(rcx) : c.reg(rcx) & 0xffffffffu;
    if (wide && (!is_canonical(rip) || !is_canonical(rsp_value))) return c.gp();
    c.f.rip = rip;
    c.reg(rsp) = rsp_value;
    enter_cpl(c, static_cast<uint16_t>((base + (wide ? 32 : 16)) | 3), static_cast<uint16_t>((base + (wide ? 40 : 24)) | 3),
              3);
    return c.transfer();
}

emulation sysenter(context &c)
{
    // AMD CPUs raise #UD for sysenter in long mode; Intel ones enter at SYSENTER_EIP.
    cpuid_regs vendor = c.cpu.cpuid.query(0, 0, c.cpu.cpuid_state());
    if (vendor.ebx == 0x68747541u) return c.ud();  // "Auth"enticAMD
    uint16_t base = static_cast<uint16_t>(c.cpu.sysenter_cs);
    if ((base & 0xfffc) == 0) return c.gp();
    c.f.rip = c.cpu.sysenter_eip;
    c.reg(rsp) = c.cpu.sysenter_esp;
    c.f.rflags &= ~flags::rf;
    c.cpu.set_virtual_if(false);
    enter_cpl(c, static_cast<uint16_t>(base & 0xfffc), static_cast<uint16_t>((base & 0xfffc) + 8), 0);
    return c.transfer();
}

emulation far_return(context &c)
{
    unsigned n = c.bits() / 8;
    uint64_t pop = static_cast<uint32_t>(c.rec.imm) & 0xffff;
    uint64_t sp = c.reg(rsp);
    uint8_t image[2 * 8];
    event fault;
    if (!c.mem.read(linear_address{sp, true}, image, 2 * n, fault)) return c.raise(fault);
    uint64_t rip = slot(image, n);
    uint16_t cs = static_cast<uint16_t>(slot(image + n, n));
    segment_descriptor code;
    if (!return_code_segment(c, cs, code, fault)) return c.raise(fault);
    unsigned rpl = cs & 3;
    uint64_t new_sp = sp + 2 * n + pop;
    uint16_t ss = c.cpu.ss();
    if (rpl > c.cpu.cpl) {  // to an outer level: the caller's SS:RSP follow the parameters
        uint8_t outer[2 * 8];
        if (!c.mem.read(linear_address{new_sp, true}, outer, 2 * n, fault)) return c.raise(fault);
        ss = static_cast<uint16_t>(slot(outer + n, n));
        if (!return_stack_segment(c, ss, rpl, code.long_mode(), fault)) return c.raise(fault);
        new_sp = slot(outer, n) + pop;
    }
    if (!target_rip(code, rip)) return c.gp();
    c.f.rip = rip;
    c.reg(rsp) = new_sp;
    enter_cpl(c, cs, ss, rpl);
    return c.transfer();
}

// ljmp/lcall through a memory pointer to a code segment at the same privilege. Call gates
// and task switches are not supported (#GP(selector)), which Linux never uses in 64-bit mode.
emulation far_jump(context &c, bool call)
{
    unsigned n = c.bits() / 8;
    linear_address la;
    uint8_t pointer[8 + 2];
    event fault;
    if (!c.operand(la, fault) || !c.mem.read(la, pointer, n + 2, fault)) return c.raise(fault);
    uint64_t rip = slot(pointer, n);
    uint16_t cs = static_cast<uint16_t>(pointer[n] | (pointer[n + 1] << 8));
    if ((cs & 0xfffc) == 0) return c.gp();
    segment_descriptor d;
    switch (read_descriptor(c.cpu, c.mem, cs, false, d, fault)) {
    case descriptor_lookup::fault: return c.raise(fault);
    case descriptor_lookup::outside_table: return c.gp(selector_error(cs));
    case descriptor_lookup::ok: break;
    }
    unsigned cpl = c.cpu.cpl;
    if (!d.code()) return c.gp(selector_error(cs));
    if (d.conforming() ? d.dpl() > cpl : ((cs & 3u) > cpl || d.dpl() != cpl)) return c.gp(selector_error(cs));
    if (!d.present()) return c.raise(event::fault(vec::np, selector_error(cs)));
    if (!target_rip(d, rip)) return c.gp();
    if (call) {
        uint8_t frame_image[2 * 8];
        uint64_t ret = c.end, old_cs = c.cpu.cs();
        for (unsigned i = 0; i < n; ++i) {
            frame_image[i] = static_cast<uint8_t>(ret >> (8 * i));
            frame_image[n + i] = static_cast<uint8_t>(old_cs >> (8 * i));
        }
        if (!c.mem.write(linear_address{c.reg(rsp) - 2 * n, true}, frame_image, 2 * n, fault)) return c.raise(fault);
        c.reg(rsp) -= 2 * n;
    }
    c.f.rip = rip;
    c.cpu.selector[annotation::seg_cs] = static_cast<uint16_t>((cs & 0xfffc) | cpl);
    return c.transfer();
}

} // namespace

emulation far_transfer(context &c, site_kind kind)
{
    switch (kind) {
    case site_kind::iret: return iret(c);
    case site_kind::sysret: return sysret(c);
    case site_kind::sysexit: return sysexit(c);
    case site_kind::sysenter: return sysenter(c);
    case site_kind::lret: return far_return(c);
    case site_kind::ljmp: return far_jump(c, false);
    case site_kind::lcall: return far_jump(c, true);
    default:  // int n: delivered through the IDT with the gate's DPL checked against CPL
        return c.raise(event::software_interrupt(static_cast<uint8_t>(c.rec.imm), c.end));
    }
}

} // namespace afterburn::wedge::detail
