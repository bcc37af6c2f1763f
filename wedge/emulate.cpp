#include "wedge/emulate.h"

#include "wedge/devices/io_bus.h"
#include "wedge/devices/vmware_backdoor.h"
#include "wedge/emulate_context.h"
#include "wedge/interrupts.h"
#include "wedge/msrs.h"

namespace afterburn::wedge {

using detail::context;

namespace {

// ---- flags -------------------------------------------------------------------------------

// cli/sti are IOPL-sensitive: allowed when CPL <= IOPL.
emulation interrupt_flag(context &c, bool enable)
{
    if (c.cpu.cpl > c.cpu.iopl) return c.gp();
    if (enable && !c.cpu.virtual_if()) {
        // Interrupts stay blocked until the next instruction (at the end of this site) ran.
        c.cpu.interrupt_shadow = true;
        c.cpu.shadow_rip = c.end;
    }
    c.cpu.set_virtual_if(enable);
    return c.next();
}

emulation pushf(context &c)
{
    unsigned n = c.bits() == 16 ? 2 : 8;
    uint64_t image = visible_rflags(c.cpu, c.f);
    linear_address la{c.reg(rsp) - n, true};
    event fault;
    if (!c.mem.write(la, &image, n, fault)) return c.raise(fault);
    c.reg(rsp) -= n;
    return c.next();
}

emulation popf(context &c)
{
    unsigned n = c.bits() == 16 ? 2 : 8;
    uint64_t image = 0;
    linear_address la{c.reg(rsp), true};
    event fault;
    if (!c.mem.read(la, &image, n, fault)) return c.raise(fault);
    uint64_t writable = flags::real | flags::rf;
    if (n == 2) writable &= 0xffff;
    c.f.rflags = ((c.f.rflags & ~writable) | (image & writable) | flags::fixed1) & ~flags::rf;
    // IF changes only when CPL <= IOPL, IOPL only at CPL 0; otherwise silently kept.
    if (c.cpu.cpl <= c.cpu.iopl) c.cpu.set_virtual_if(image & flags::if_);
    if (c.cpu.cpl == 0) c.cpu.iopl = static_cast<uint8_t>((image >> flags::iopl_shift) & 3);
    c.reg(rsp) += n;
    return c.next();
}

emulation alignment_check(context &c, bool set)
{
    if (c.cpu.cpl != 0 || !c.cpu.cpuid.has(feature::smap)) return c.ud();
    c.f.rflags = set ? c.f.rflags | flags::ac : c.f.rflags & ~flags::ac;
    return c.next();
}

// ---- control and debug registers ---------------------------------------------------------

emulation write_cr(context &c, unsigned n, uint64_t v)
{
    vcpu &cpu = c.cpu;
    switch (n) {
    case 0: {
        if (v >> 32) return c.gp();
        if ((v & cr0::pg) && !(v & cr0::pe)) return c.gp();
        if ((v & cr0::nw) && !(v & cr0::cd)) return c.gp();
        if (!(v & cr0::pg) && (cpu.efer & efer::lma)) return c.gp();  // cannot leave long mode
        constexpr uint64_t defined =
            cr0::pe | cr0::mp | cr0::em | cr0::ts | cr0::ne | cr0::wp | cr0::am | cr0::nw | cr0::cd | cr0::pg;
        uint64_t now = (v & defined) | cr0::et;  // reserved low bits are ignored, ET reads 1
        uint64_t changed = now ^ cpu.cr0;
        cpu.cr0 = now;
        if (changed & (cr0::pg | cr0::wp | cr0::cd | cr0::nw)) c.be.flush_tlb(true);
        if (changed & cr0::ts) c.be.state_changed(cpu, state_change::cr0_ts);
        return c.next();
    }
    case 2: cpu.cr2 = v; return c.next();
    case 3: {
        uint64_t reserved = ~((1ull << cpu.cpuid.physical_address_bits()) - 1);
        if (v & reserved) return c.gp();
        cpu.cr3 = v;
        c.be.load_cr3(v);
        return c.next();
    }
    case 4: {
        if (v & ~cpu.cpuid.allowed_cr4()) return c.gp();
        if (!(v & cr4::pae) && (cpu.efer & efer::lma)) return c.gp();
        if ((v & cr4::pcide) && !(cpu.cr4 & cr4::pcide) && (cpu.cr3 & 0xfff)) return c.gp();
        uint64_t changed = v ^ cpu.cr4;
        cpu.cr4 = v;
        if (changed & (cr4::pge | cr4::pse | cr4::pae | cr4::smep | cr4::smap | cr4::pcide | cr4::pke))
            c.be.flush_tlb(true);
        return c.next();
    }
    case 8:
        if (v >> 4) return c.gp();
        cpu.tpr = static_cast<uint8_t>(v << 4);
        return c.next();
    default: return c.ud();
    }
}

emulation read_cr(context &c, unsigned n)
{
    uint64_t v;
    switch (n) {
    case 0: v = c.cpu.cr0; break;
    case 2: v = c.cpu.cr2; break;
    case 3: v = c.cpu.cr3; break;
    case 4: v = c.cpu.cr4; break;
    case 8: v = c.cpu.tpr >> 4; break;
    default: return c.ud();
    }
    c.reg(c.rec.reg) = v;
    return c.next();
}

// DR4/DR5 alias DR6/DR7 unless CR4.DE makes them #UD.
bool debug_register(context &c, unsigned &n)
{
    if (n == 4 || n == 5) {
        if (c.cpu.cr4 & cr4::de) return false;
        n += 2;
    }
    return n < 8;
}

emulation write_dr(context &c)
{
    unsigned n = c.rec.special;
    if (!debug_register(c, n)) return c.ud();
    uint64_t v = c.reg(c.rec.reg);
    if ((n == 6 || n == 7) && (v >> 32)) return c.gp();
    if (n == 6) v = (v & 0x1e00full) | 0xfffe0ff0ull;  // B0-3, BD, BS, BT, RTM; reserved bits read 1
    if (n == 7) v = (v & 0xffff23ffull) | 0x400;      // bit 10 reads 1; 11, 12, 14, 15 read 0
    c.cpu.dr[n] = v;
    c.be.state_changed(c.cpu, state_change::debug_registers);
    return c.next();
}

emulation read_dr(context &c)
{
    unsigned n = c.rec.special;
    if (!debug_register(c, n)) return c.ud();
    c.reg(c.rec.reg) = c.cpu.dr[n];
    return c.next();
}

emulation load_msw(context &c)
{
    uint16_t v;
    event fault;
    if (!c.source16(c.rec.reg, v, fault)) return c.raise(fault);
    // PE, MP, EM, TS only; PE can be set but not cleared.
    uint64_t now = (c.cpu.cr0 & ~0xeull) | (v & 0xe) | (c.cpu.cr0 & cr0::pe) | (v & cr0::pe);
    bool ts_changed = (now ^ c.cpu.cr0) & cr0::ts;
    c.cpu.cr0 = now;
    if (ts_changed) c.be.state_changed(c.cpu, state_change::cr0_ts);
    return c.next();
}

// ---- I/O ----------------------------------------------------------------------------------

// CPL > IOPL: the TSS I/O permission bitmap decides, bit by bit.
bool io_permitted(context &c, uint16_t port, unsigned size, event &fault)
{
    if (c.cpu.cpl <= c.cpu.iopl) return true;
    const system_segment &tr = c.cpu.tr;
    fault = event::fault(vec::gp, 0);
    if (!tr.usable || tr.limit < 0x67) return false;
    uint16_t base;
    if (!c.mem.read_system(tr.base + 0x66, &base, 2, fault)) return false;
    uint32_t first = base + port / 8u, last = base + (port + size - 1) / 8u;
    if (last > tr.limit) {
        fault = event::fault(vec::gp, 0);
        return false;
    }
    uint8_t bytes[2] = {0, 0};
    if (!c.mem.read_system(tr.base + first, bytes, last - first + 1, fault)) return false;
    uint16_t map = static_cast<uint16_t>(bytes[0] | (bytes[1] << 8));
    uint16_t mine = static_cast<uint16_t>(((1u << size) - 1) << (port & 7));
    if (map & mine) {
        fault = event::fault(vec::gp, 0);
        return false;
    }
    return true;
}

unsigned io_size(context &c) { return c.bits() / 8; }  // 1, 2 or 4

emulation port_io(context &c, bool out)
{
    unsigned size = io_size(c);
    uint16_t port = (c.rec.flags & annotation::flag_port_dx) ? static_cast<uint16_t>(c.reg(rdx))
                                                             : static_cast<uint16_t>(c.rec.imm & 0xff);
    event fault;
    if (!io_permitted(c, port, size, fault)) return c.raise(fault);
    if (out) {
        uint32_t v = static_cast<uint32_t>(truncate(c.reg(rax), size * 8));
        if (c.cpu.io) c.cpu.io->write(port, size, v);
    } else {
        if (size == 4 && port == vmware_backdoor::port && c.cpu.backdoor && c.cpu.backdoor->call(c.f)) return c.next();
        uint32_t v = c.cpu.io ? c.cpu.io->read(port, size) : static_cast<uint32_t>(truncate(~0ull, size * 8));
        write_gpr(c.f, rax, v, size * 8);
    }
    return c.next();
}

// ins/outs, with REP: each iteration completes before the next; a fault leaves rcx/rdi/rsi
// describing the iterations done and rip at the site, so the guest resumes where it stopped.
emulation string_io(context &c, bool out)
{
    unsigned size = io_size(c);
    uint16_t port = static_cast<uint16_t>(c.reg(rdx));
    bool rep = c.rec.flags & annotation::flag_rep;
    int64_t step = (c.f.rflags & flags::df) ? -static_cast<int64_t>(size) : static_cast<int64_t>(size);
    event fault;
    if (!io_permitted(c, port, size, fault)) return c.raise(fault);
    uint64_t segment_base = 0;
    if (out && c.rec.mem_seg == annotation::seg_fs) segment_base = c.cpu.fs_base;
    if (out && c.rec.mem_seg == annotation::seg_gs) segment_base = c.cpu.gs_base;
    while (!rep || c.reg(rcx)) {
        if (out) {
            uint32_t v = 0;
            if (!c.mem.read(linear_address{segment_base + c.reg(rsi), false}, &v, size, fault)) return c.raise(fault);
            if (c.cpu.io) c.cpu.io->write(port, size, v);
            c.reg(rsi) += static_cast<uint64_t>(step);
        } else {
            uint32_t v = c.cpu.io ? c.cpu.io->read(port, size) : 0xffffffffu;
            if (!c.mem.write(linear_address{c.reg(rdi), false}, &v, size, fault)) return c.raise(fault);
            c.reg(rdi) += static_cast<uint64_t>(step);
        }
        if (!rep) break;
        --c.reg(rcx);
    }
    return c.next();
}

// ---- TLB ----------------------------------------------------------------------------------

emulation invlpg(context &c)
{
    linear_address la;
    event fault;
    if (!c.operand(la, fault)) return c.raise(fault);
    if (is_canonical(la.address)) c.be.invalidate_page(la.address);  // no-op otherwise, no fault
    return c.next();
}

emulation invpcid(context &c)
{
    if (!c.cpu.cpuid.has(feature::invpcid)) return c.ud();
    if (c.cpu.cpl != 0) return c.gp();
    uint64_t type = c.reg(c.rec.reg);
    linear_address la;
    uint64_t descriptor[2];
    event fault;
    if (!c.operand(la, fault) || !c.mem.read(la, descriptor, 16, fault)) return c.raise(fault);
    uint64_t pcid = descriptor[0];
    bool pcide = c.cpu.cr4 & cr4::pcide;
    if (pcid >> 12) return c.gp();
    switch (type) {
    case 0:
        if ((pcid && !pcide) || !is_canonical(descriptor[1])) return c.gp();
        c.be.invalidate_page(descriptor[1]);
        break;
    case 1:
        if (pcid && !pcide) return c.gp();
        c.be.flush_tlb(false);
        break;
    case 2: c.be.flush_tlb(true); break;
    case 3: c.be.flush_tlb(false); break;
    default: return c.gp();
    }
    return c.next();
}

// ---- MSRs, time, cpuid, XCRs ----------------------------------------------------------------

void write_edx_eax(context &c, uint64_t v)
{
    c.reg(rax) = v & 0xffffffffu;
    c.reg(rdx) = v >> 32;
}

uint64_t edx_eax(context &c) { return (c.reg(rdx) << 32) | (c.reg(rax) & 0xffffffffu); }

emulation rdmsr(context &c)
{
    uint64_t v;
    if (!read_msr(c.cpu, c.be, static_cast<uint32_t>(c.reg(rcx)), v)) return c.gp();
    write_edx_eax(c, v);
    return c.next();
}

emulation wrmsr(context &c)
{
    if (!write_msr(c.cpu, c.be, static_cast<uint32_t>(c.reg(rcx)), edx_eax(c))) return c.gp();
    return c.next();
}

emulation rdtsc(context &c, bool with_aux)
{
    if (with_aux && !c.cpu.cpuid.has(feature::rdtscp)) return c.ud();
    if ((c.cpu.cr4 & cr4::tsd) && c.cpu.cpl != 0) return c.gp();
    write_edx_eax(c, c.be.read_tsc() + static_cast<uint64_t>(c.cpu.tsc_offset));
    if (with_aux) c.reg(rcx) = c.cpu.tsc_aux & 0xffffffffu;
    return c.next();
}

emulation cpuid(context &c)
{
    cpuid_regs r = c.cpu.cpuid.query(static_cast<uint32_t>(c.reg(rax)), static_cast<uint32_t>(c.reg(rcx)),
                                     c.cpu.cpuid_state());
    c.reg(rax) = r.eax, c.reg(rbx) = r.ebx, c.reg(rcx) = r.ecx, c.reg(rdx) = r.edx;
    return c.next();
}

emulation xsetbv(context &c)
{
    if (!(c.cpu.cr4 & cr4::osxsave)) return c.ud();
    if (c.cpu.cpl != 0 || static_cast<uint32_t>(c.reg(rcx)) != 0) return c.gp();
    uint64_t v = edx_eax(c);
    if (!(v & xstate::x87) || (v & ~c.cpu.cpuid.supported_xcr0())) return c.gp();
    if ((v & xstate::avx) && !(v & xstate::sse)) return c.gp();
    if ((v & xstate::avx512) && ((v & xstate::avx512) != xstate::avx512 || !(v & xstate::avx))) return c.gp();
    c.cpu.xcr0 = v;
    c.be.state_changed(c.cpu, state_change::xcr0);
    return c.next();
}

emulation xgetbv(context &c)
{
    if (!(c.cpu.cr4 & cr4::osxsave)) return c.ud();
    uint32_t n = static_cast<uint32_t>(c.reg(rcx));
    if (n == 0) {
        write_edx_eax(c, c.cpu.xcr0);
    } else if (n == 1 && c.cpu.cpuid.has(feature::xgetbv_ecx1)) {
        write_edx_eax(c, c.cpu.xcr0);  // XINUSE: conservatively, everything enabled is in use
    } else {
        return c.gp();
    }
    return c.next();
}

emulation pkru(context &c, bool write)
{
    if (!(c.cpu.cr4 & cr4::pke)) return c.ud();
    if (static_cast<uint32_t>(c.reg(rcx)) != 0) return c.gp();
    if (write) {
        if (static_cast<uint32_t>(c.reg(rdx)) != 0) return c.gp();
        c.cpu.pkru = static_cast<uint32_t>(c.reg(rax));
    } else {
        write_edx_eax(c, c.cpu.pkru);
    }
    return c.next();
}

emulation monitor_mwait(context &c, bool wait)
{
    if (!c.cpu.cpuid.has(feature::monitor) || c.cpu.cpl != 0) return c.ud();
    if (wait) {
        if (static_cast<uint32_t>(c.reg(rcx)) > 1) return c.gp();  // only "interrupt as break event"
        c.f.rip = c.end;
        return {action::halt, {}};
    }
    uint64_t address = c.reg(rax);
    if (c.rec.mem_seg == annotation::seg_fs) address += c.cpu.fs_base;
    if (c.rec.mem_seg == annotation::seg_gs) address += c.cpu.gs_base;
    if (!is_canonical(address)) return c.gp();
    return c.next();  // the monitored range only matters to a real mwait; ours waits for interrupts
}

// ---- segment bases ----------------------------------------------------------------------------

emulation segment_base(context &c, bool gs, bool write)
{
    if (!(c.cpu.cr4 & cr4::fsgsbase)) return c.ud();
    uint64_t &base = gs ? c.cpu.gs_base : c.cpu.fs_base;
    if (!write) {
        write_gpr(c.f, c.rec.reg, base, c.bits() == 64 ? 64 : 32);
        return c.next();
    }
    uint64_t v = c.bits() == 64 ? c.reg(c.rec.reg) : c.reg(c.rec.reg) & 0xffffffffu;
    if (!is_canonical(v)) return c.gp();
    base = v;
    c.be.state_changed(c.cpu, gs ? state_change::gs_base : state_change::fs_base);
    return c.next();
}

emulation swapgs(context &c)
{
    c.cpu.swap_gs_bases();
    c.be.state_changed(c.cpu, state_change::gs_base);
    c.be.state_changed(c.cpu, state_change::kernel_gs_base);
    return c.next();
}

emulation store_msw(context &c)
{
    if (c.cpu.cpl != 0 && (c.cpu.cr4 & cr4::umip)) return c.gp();
    event fault;
    if (c.has_memory()) {
        if (!c.store_selector(c.cpu.cr0, fault)) return c.raise(fault);
    } else {
        write_gpr(c.f, c.rec.reg, c.cpu.cr0, c.bits() == 64 ? 64 : c.bits() == 32 ? 32 : 16);
    }
    return c.next();
}

// Kinds that need CPL 0 (#GP(0) otherwise), before any other check.
bool needs_cpl0(site_kind k)
{
    switch (k) {
    case site_kind::mov_to_cr: case site_kind::mov_from_cr: case site_kind::mov_to_dr:
    case site_kind::mov_from_dr: case site_kind::lgdt: case site_kind::lidt: case site_kind::lldt:
    case site_kind::ltr: case site_kind::hlt: case site_kind::invlpg: case site_kind::wbinvd:
    case site_kind::invd: case site_kind::rdmsr: case site_kind::wrmsr: case site_kind::swapgs:
    case site_kind::lmsw: case site_kind::clts:
        return true;
    default: return false;
    }
}

bool needs_memory(site_kind k)
{
    return k == site_kind::lgdt || k == site_kind::lidt || k == site_kind::sgdt || k == site_kind::sidt ||
           k == site_kind::invlpg || k == site_kind::invpcid || k == site_kind::ljmp || k == site_kind::lcall;
}

} // namespace

emulation emulate(vcpu &cpu, frame &f, const annotation::site_record &rec, uint64_t site_addr, backend &be,
                  uint64_t resume_at)
{
    context c(cpu, f, rec, site_addr, be, resume_at);
    if (rec.kind >= site_kind_count || !site_kind_is_instruction(static_cast<site_kind>(rec.kind)) || !rec.insn_len)
        return c.bad();
    auto kind = static_cast<site_kind>(rec.kind);
    if (needs_memory(kind) && !c.has_memory()) return c.bad();

    // This instruction is the one an earlier sti/mov ss shadowed, or runs after it: either
    // way the shadow ends here (a new one may be set below).
    cpu.interrupt_shadow = false;

    if (needs_cpl0(kind) && cpu.cpl != 0) return c.gp();

    switch (kind) {
    case site_kind::cli: return interrupt_flag(c, false);
    case site_kind::sti: return interrupt_flag(c, true);
    case site_kind::pushf: return pushf(c);
    case site_kind::popf: return popf(c);
    case site_kind::clac: return alignment_check(c, false);
    case site_kind::stac: return alignment_check(c, true);

    case site_kind::mov_to_cr: return write_cr(c, rec.special, c.reg(rec.reg));
    case site_kind::mov_from_cr: return read_cr(c, rec.special);
    case site_kind::mov_to_dr: return write_dr(c);
    case site_kind::mov_from_dr: return read_dr(c);
    case site_kind::smsw: return store_msw(c);
    case site_kind::lmsw: return load_msw(c);
    case site_kind::clts:
        if (cpu.cr0 & cr0::ts) {
            cpu.cr0 &= ~cr0::ts;
            be.state_changed(cpu, state_change::cr0_ts);
        }
        return c.next();

    case site_kind::lgdt: case site_kind::lidt: case site_kind::sgdt: case site_kind::sidt:
    case site_kind::lldt: case site_kind::ltr: case site_kind::sldt: case site_kind::str:
        return detail::descriptor_table(c, kind);
    case site_kind::mov_to_seg: case site_kind::mov_from_seg: case site_kind::push_seg: case site_kind::pop_seg:
        return detail::segment_register(c, kind);
    case site_kind::lar: case site_kind::lsl: case site_kind::verr: case site_kind::verw:
        return detail::segment_check(c, kind);
    case site_kind::iret: case site_kind::sysret: case site_kind::sysexit: case site_kind::sysenter:
    case site_kind::lret: case site_kind::ljmp: case site_kind::lcall: case site_kind::int_n:
        return detail::far_transfer(c, kind);

    case site_kind::in: return port_io(c, false);
    case site_kind::out: return port_io(c, true);
    case site_kind::ins: return string_io(c, false);
    case site_kind::outs: return string_io(c, true);

    case site_kind::hlt:
        f.rip = c.end;
        return {action::halt, {}};
    case site_kind::monitor: return monitor_mwait(c, false);
    case site_kind::mwait: return monitor_mwait(c, true);

    case site_kind::invlpg: return invlpg(c);
    case site_kind::invpcid: return invpcid(c);
    // Caches are coherent and the wedge owns no non-coherent device: write-back and
    // invalidate have nothing to do (invd is treated as wbinvd, which is always safe).
    case site_kind::wbinvd:
    case site_kind::invd: return c.next();

    case site_kind::rdmsr: return rdmsr(c);
    case site_kind::wrmsr: return wrmsr(c);
    case site_kind::rdtsc: return rdtsc(c, false);
    case site_kind::rdtscp: return rdtsc(c, true);
    // No performance counters are offered (cpuid leaf 0xa is zero): every counter index is
    // invalid, which is #GP(0) at CPL 0, and at CPL 3 without CR4.PCE too.
    case site_kind::rdpmc: return c.gp();
    case site_kind::cpuid: return cpuid(c);
    case site_kind::rdpid:
        if (!cpu.cpuid.has(feature::rdpid)) return c.ud();
        c.reg(rec.reg) = cpu.tsc_aux;
        return c.next();

    case site_kind::swapgs: return swapgs(c);
    case site_kind::wrfsbase: return segment_base(c, false, true);
    case site_kind::wrgsbase: return segment_base(c, true, true);
    case site_kind::rdfsbase: return segment_base(c, false, false);
    case site_kind::rdgsbase: return segment_base(c, true, false);

    case site_kind::xsetbv: return xsetbv(c);
    case site_kind::xgetbv: return xgetbv(c);
    case site_kind::wrpkru: return pkru(c, true);
    case site_kind::rdpkru: return pkru(c, false);
    // XSAVES/XRSTORS are hidden from the guest (no supervisor state components): #UD, as on
    // a CPU without them.
    case site_kind::xsaves:
    case site_kind::xrstors:
        if (!cpu.cpuid.has(feature::xsaves)) return c.ud();
        return c.bad();

    default: return c.bad();
    }
}

} // namespace afterburn::wedge
