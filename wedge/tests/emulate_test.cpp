// Emulation of the kinds that touch flags, control/debug registers, MSRs, time, cpuid,
// XCRs, I/O, the TLB and the segment bases.
#include <catch2/catch.hpp>

#include "afterburn/record_check.h"
#include "afterburn/sensitive_decoder.h"
#include "machine.h"
#include "wedge/devices/io_bus.h"
#include "wedge/devices/local_apic.h"
#include "wedge/devices/vmware_backdoor.h"
#include "wedge/interrupts.h"
#include "wedge/msrs.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

void require_fault(const emulation &r, machine &m, uint8_t vector, uint32_t error = 0)
{
    REQUIRE(r.what == action::raise);
    CHECK(r.ev.vector == vector);
    CHECK(r.ev.type == event_type::exception);
    if (pushes_error_code(vector)) {
        CHECK(r.ev.has_error_code);
        CHECK(r.ev.error_code == error);
    }
    CHECK(m.f.rip == machine::code);  // faults report the instruction itself
}

void require_resumed(const emulation &r, machine &m, const annotation::site_record &rec)
{
    REQUIRE(r.what == action::resume);
    CHECK(m.f.rip == m.end(rec));
}

} // namespace

// ---- sites, padding and the record contract ---------------------------------------------

TEST_CASE("the site continues at the end of its span, padding after or before", "[emulate]")
{
    machine m;
    auto rec = record(site_kind::cli, 64, 1, 7);
    require_resumed(m.run(rec), m, rec);
    CHECK(m.f.rip == machine::code + 8);
    auto sti = record(site_kind::sti, 64, 1, 7);
    sti.flags |= annotation::flag_pad_before;
    REQUIRE(m.run(sti).what == action::resume);
    CHECK(m.f.rip == machine::code + 1);  // the padding was in front
}

TEST_CASE("records that describe no instruction are refused", "[emulate]")
{
    machine m;
    CHECK(m.run(record(site_kind::none)).what == action::bad_record);
    CHECK(m.run(record(site_kind::code16_region)).what == action::bad_record);
    auto broken = record(site_kind::cli);
    broken.kind = 200;
    CHECK(m.run(broken).what == action::bad_record);
    CHECK(m.run(record(site_kind::lgdt)).what == action::bad_record);  // lgdt without its memory operand
}

// ---- IF, pushf/popf ---------------------------------------------------------------------------

TEST_CASE("cli and sti change only the virtual IF, sti opens a shadow", "[emulate][if]")
{
    machine m;
    m.cpu.set_virtual_if(true);
    auto cli = record(site_kind::cli);
    require_resumed(m.run(cli), m, cli);
    CHECK_FALSE(m.cpu.virtual_if());
    CHECK(m.cpu.page.virtual_if == 0);
    CHECK((m.f.rflags & flags::if_));  // the real IF is untouched

    auto sti = record(site_kind::sti, 64, 1, 7);
    sti.flags |= annotation::flag_pad_before;
    require_resumed(m.run(sti), m, sti);
    CHECK(m.cpu.virtual_if());
    CHECK(m.cpu.interrupt_shadow);
    CHECK(m.cpu.shadow_rip == m.end(sti));

    // sti with IF already set opens no shadow.
    m.cpu.interrupt_shadow = false;
    REQUIRE(m.run(sti).what == action::resume);
    CHECK_FALSE(m.cpu.interrupt_shadow);
}

TEST_CASE("a site padded with prefixes decodes, emulates and resumes as one instruction", "[emulate][padding]")
{
    // What the trap-and-emulate fallback does with an instruction it finds (the Xen wedge's
    // fallback.cpp), and what a site left native looks like: the wedge's decoder reads the
    // padding prefixes as part of the instruction, its displacement after them.
    machine m;
    m.be.map(machine::code, 0x1000, false, true);
    auto decode = [&](std::initializer_list<uint8_t> bytes, unsigned prefixes) {
        uint8_t code[15] = {};
        size_t n = 0;
        for (uint8_t b : bytes) code[n++] = b;
        m.be.poke(machine::code, code, n);
        decoder::decoded d;
        REQUIRE(decoder::decode_sensitive(code, n, d));
        REQUIRE(d.insn_len == n);
        annotation::site_record r{};
        decoder::store_decoded(d, r);
        r.pad_len = 0;
        r.flags &= static_cast<uint8_t>(~annotation::flag_pad_before);  // as afterburn-as records it
        CHECK(annotation::check_record(r) == annotation::record_error::ok);
        CHECK(annotation::check_padding_prefixes(r, code) == annotation::padding_error::ok);
        CHECK(annotation::padding_prefix_count(r, code) == prefixes);
        return r;
    };
    m.cpu.set_virtual_if(true);
    auto cli = decode({0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0xfa}, 7);
    CHECK(cli.kind == static_cast<uint8_t>(site_kind::cli));
    require_resumed(m.run(cli), m, cli);
    CHECK(m.f.rip == machine::code + 8);
    CHECK_FALSE(m.cpu.virtual_if());

    auto sti = decode({0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0xfb}, 7);
    require_resumed(m.run(sti), m, sti);
    CHECK(m.cpu.interrupt_shadow);
    CHECK(m.cpu.shadow_rip == machine::code + 8);  // the next instruction, right after the prefixes

    // lgdt 0x40(%rip) with one padding prefix: 2e 0f 01 15 <disp32>, 8 bytes.
    auto lgdt = decode({0x2e, 0x0f, 0x01, 0x15, 0x40, 0, 0, 0}, 1);
    CHECK(lgdt.disp_offset == 4);
    CHECK(lgdt.mem_base == annotation::rip_base);
    CHECK(lgdt.mem_seg == annotation::seg_cs);  // as decoded; no base in 64-bit mode
    uint64_t table = machine::code + 8 + 0x40;
    m.be.poke<uint16_t>(table, 0x5f);
    m.be.poke<uint64_t>(table + 2, 0xffff888000066000ull);
    require_resumed(m.run(lgdt), m, lgdt);
    CHECK(m.cpu.gdtr.limit == 0x5f);
    CHECK(m.cpu.gdtr.base == 0xffff888000066000ull);
}

TEST_CASE("cli/sti at CPL 3 need IOPL 3", "[emulate][if]")
{
    machine m;
    m.enter_user();
    require_fault(m.run(record(site_kind::cli)), m, vec::gp, 0);
    require_fault(m.run(record(site_kind::sti)), m, vec::gp, 0);
    m.cpu.iopl = 3;
    CHECK(m.run(record(site_kind::cli)).what == action::resume);
}

TEST_CASE("pushf shows the virtual IF and IOPL with the real arithmetic flags", "[emulate][if]")
{
    machine m;
    m.f.rflags = flags::fixed1 | flags::if_ | flags::cf | flags::zf | flags::rf;
    m.cpu.set_virtual_if(false);
    m.cpu.iopl = 2;
    uint64_t sp = m.f.gpr[rsp];
    auto rec = record(site_kind::pushf);
    require_resumed(m.run(rec), m, rec);
    CHECK(m.f.gpr[rsp] == sp - 8);
    CHECK(m.be.peek<uint64_t>(sp - 8) == (flags::fixed1 | flags::cf | flags::zf | (2u << 12)));

    m.cpu.set_virtual_if(true);
    auto w = record(site_kind::pushf, 16);
    REQUIRE(m.run(w).what == action::resume);
    CHECK(m.f.gpr[rsp] == sp - 10);
    CHECK(m.be.peek<uint16_t>(sp - 10) == (flags::fixed1 | flags::cf | flags::zf | flags::if_ | (2u << 12)));
}

TEST_CASE("popf at CPL 0 loads IF, IOPL and the arithmetic flags", "[emulate][if]")
{
    machine m;
    uint64_t sp = m.f.gpr[rsp];
    m.be.poke<uint64_t>(sp, flags::if_ | flags::of | flags::df | (3u << 12) | flags::vm | flags::vif);
    auto rec = record(site_kind::popf);
    require_resumed(m.run(rec), m, rec);
    CHECK(m.f.gpr[rsp] == sp + 8);
    CHECK(m.cpu.virtual_if());
    CHECK(m.cpu.iopl == 3);
    CHECK((m.f.rflags & (flags::of | flags::df)) == (flags::of | flags::df));
    CHECK_FALSE((m.f.rflags & (flags::vm | flags::vif)));
    CHECK((m.f.rflags & flags::if_));  // the real IF stays on
}

TEST_CASE("popf at CPL 3 keeps IOPL, and keeps IF unless IOPL allows", "[emulate][if]")
{
    machine m;
    m.enter_user();
    m.cpu.set_virtual_if(true);
    m.be.poke<uint64_t>(m.f.gpr[rsp], flags::cf | (3u << 12));
    REQUIRE(m.run(record(site_kind::popf)).what == action::resume);
    CHECK(m.cpu.virtual_if());  // silently unchanged
    CHECK(m.cpu.iopl == 0);
    CHECK((m.f.rflags & flags::cf));
}

TEST_CASE("pushf onto an unmapped stack faults with the page-fault address", "[emulate][fault]")
{
    machine m;
    m.f.gpr[rsp] = 0xffff888000100000ull;  // nothing mapped below
    uint64_t sp = m.f.gpr[rsp];
    auto r = m.run(record(site_kind::pushf));
    require_fault(r, m, vec::pf, pf_error::write);
    CHECK(r.ev.cr2 == sp - 8);
    CHECK(m.f.gpr[rsp] == sp);  // nothing changed
}

TEST_CASE("a non-canonical stack raises #SS(0)", "[emulate][fault]")
{
    machine m;
    m.f.gpr[rsp] = 0x0000800000000008ull;
    require_fault(m.run(record(site_kind::pushf)), m, vec::ss, 0);
}

TEST_CASE("clac/stac are #UD while SMAP is hidden", "[emulate]")
{
    machine m;
    require_fault(m.run(record(site_kind::clac)), m, vec::ud);
    require_fault(m.run(record(site_kind::stac)), m, vec::ud);
}

// ---- control and debug registers ---------------------------------------------------------

TEST_CASE("mov to/from CR0, CR2, CR3, CR4, CR8", "[emulate][cr]")
{
    machine m;
    auto to = [&](unsigned cr, uint64_t v) {
        m.f.gpr[rbx] = v;
        return m.run(with_special(with_reg(record(site_kind::mov_to_cr), rbx), static_cast<uint8_t>(cr)));
    };
    auto from = [&](unsigned cr) {
        m.f.gpr[r9] = 0xdead;
        REQUIRE(m.run(with_special(with_reg(record(site_kind::mov_from_cr), r9), static_cast<uint8_t>(cr))).what ==
                action::resume);
        return m.f.gpr[r9];
    };

    CHECK(to(3, 0x1234000).what == action::resume);
    CHECK(m.cpu.cr3 == 0x1234000);
    REQUIRE(m.be.cr3_loads.size() == 1);
    CHECK(m.be.cr3_loads[0] == 0x1234000);
    CHECK(from(3) == 0x1234000);

    CHECK(to(2, 0xffffffff81234567ull).what == action::resume);
    CHECK(from(2) == 0xffffffff81234567ull);

    uint64_t cr0 = m.cpu.cr0 | cr0::ts;
    CHECK(to(0, cr0).what == action::resume);
    CHECK(m.be.changed(state_change::cr0_ts));
    CHECK(from(0) == cr0);

    CHECK(to(4, m.cpu.cr4 | cr4::pge).what == action::resume);
    CHECK(m.be.flushes.size() == 1);
    CHECK(m.be.flushes[0] == true);

    CHECK(to(8, 0xa).what == action::resume);
    CHECK(m.cpu.tpr == 0xa0);
    CHECK(from(8) == 0xa);
}

TEST_CASE("mov to CR raises #GP for reserved or inconsistent values, #UD for no such CR", "[emulate][cr][fault]")
{
    machine m;
    auto to = [&](unsigned cr, uint64_t v) {
        m.f.gpr[rax] = v;
        return m.run(with_special(with_reg(record(site_kind::mov_to_cr), rax), static_cast<uint8_t>(cr)));
    };
    require_fault(to(0, m.cpu.cr0 | (1ull << 32)), m, vec::gp);
    require_fault(to(0, m.cpu.cr0 & ~cr0::pg), m, vec::gp);            // leaving long mode
    require_fault(to(0, m.cpu.cr0 | cr0::nw), m, vec::gp);             // NW without CD
    require_fault(to(3, 1ull << 63), m, vec::gp);                      // beyond MAXPHYADDR
    require_fault(to(4, m.cpu.cr4 | cr4::smap), m, vec::gp);           // hidden feature
    require_fault(to(4, m.cpu.cr4 | cr4::pke), m, vec::gp);
    require_fault(to(4, m.cpu.cr4 & ~cr4::pae), m, vec::gp);
    require_fault(to(8, 0x10), m, vec::gp);
    require_fault(to(5, 0), m, vec::ud);
    CHECK(m.be.cr3_loads.empty());
}

TEST_CASE("privileged kinds at CPL 3 raise #GP(0)", "[emulate][fault]")
{
    for (site_kind k : {site_kind::mov_to_cr, site_kind::mov_from_cr, site_kind::mov_to_dr, site_kind::mov_from_dr,
                        site_kind::lldt, site_kind::ltr, site_kind::hlt, site_kind::wbinvd, site_kind::invd,
                        site_kind::rdmsr, site_kind::wrmsr, site_kind::swapgs, site_kind::lmsw, site_kind::clts,
                        site_kind::sysret, site_kind::sysexit, site_kind::rdpmc}) {
        machine m;
        m.enter_user();
        auto rec = with_special(with_reg(record(k), rax), 0);
        INFO(site_kind_name(k));
        require_fault(m.run(rec), m, vec::gp, 0);
    }
    for (site_kind k : {site_kind::lgdt, site_kind::lidt, site_kind::invlpg}) {
        machine m;
        auto rec = with_mem(m, record(k), rax, 0);
        m.enter_user();
        INFO(site_kind_name(k));
        require_fault(m.run(rec), m, vec::gp, 0);
    }
}

TEST_CASE("debug registers: DR0-3, DR6/DR7 fixed bits, DR4/5 aliases and #UD with CR4.DE", "[emulate][dr]")
{
    machine m;
    auto to = [&](unsigned dr, uint64_t v) {
        m.f.gpr[rcx] = v;
        return m.run(with_special(with_reg(record(site_kind::mov_to_dr), rcx), static_cast<uint8_t>(dr)));
    };
    auto from = [&](unsigned dr) {
        m.run(with_special(with_reg(record(site_kind::mov_from_dr), rdx), static_cast<uint8_t>(dr)));
        return m.f.gpr[rdx];
    };
    CHECK(to(1, 0xffffffff81000000ull).what == action::resume);
    CHECK(from(1) == 0xffffffff81000000ull);
    CHECK(m.be.changed(state_change::debug_registers));
    CHECK(to(7, 0x1).what == action::resume);
    CHECK(from(7) == 0x401);
    CHECK(from(5) == 0x401);  // DR5 aliases DR7
    CHECK(to(6, 0).what == action::resume);
    CHECK(from(6) == 0xfffe0ff0ull);
    require_fault(to(7, 1ull << 32), m, vec::gp);
    m.cpu.cr4 |= cr4::de;
    require_fault(to(4, 0), m, vec::ud);
}

TEST_CASE("smsw, lmsw, clts", "[emulate][cr]")
{
    machine m;
    m.cpu.cr0 |= cr0::ts;
    auto smsw = with_reg(record(site_kind::smsw, 32), rsi);
    m.f.gpr[rsi] = ~0ull;
    REQUIRE(m.run(smsw).what == action::resume);
    CHECK(m.f.gpr[rsi] == (m.cpu.cr0 & 0xffffffffu));

    auto clts = record(site_kind::clts);
    REQUIRE(m.run(clts).what == action::resume);
    CHECK_FALSE((m.cpu.cr0 & cr0::ts));
    CHECK(m.be.changed(state_change::cr0_ts));

    m.f.gpr[rdx] = cr0::ts | cr0::em;  // PE clear: cannot clear PE
    REQUIRE(m.run(with_reg(record(site_kind::lmsw, 16), rdx)).what == action::resume);
    CHECK((m.cpu.cr0 & 0xf) == (cr0::pe | cr0::ts | cr0::em));

    m.cpu.cr4 |= cr4::umip;
    m.enter_user();
    require_fault(m.run(smsw), m, vec::gp);
}

// ---- MSRs -------------------------------------------------------------------------------------

TEST_CASE("rdmsr/wrmsr go through the MSR table", "[emulate][msr]")
{
    machine m;
    auto wr = [&](uint32_t msr, uint64_t v) {
        m.f.gpr[rcx] = msr;
        m.f.gpr[rax] = (v & 0xffffffffu) | 0xabcd00000000ull;  // upper halves are ignored
        m.f.gpr[rdx] = v >> 32;
        return m.run(record(site_kind::wrmsr));
    };
    auto rd = [&](uint32_t msr) {
        m.f.gpr[rcx] = msr;
        m.f.gpr[rax] = m.f.gpr[rdx] = ~0ull;
        REQUIRE(m.run(record(site_kind::rdmsr)).what == action::resume);
        CHECK((m.f.gpr[rax] >> 32) == 0);
        return (m.f.gpr[rdx] << 32) | m.f.gpr[rax];
    };
    CHECK(wr(msr::lstar, 0xffffffff81a00000ull).what == action::resume);
    CHECK(m.cpu.lstar == 0xffffffff81a00000ull);
    CHECK(rd(msr::lstar) == 0xffffffff81a00000ull);
    CHECK(m.be.changed(state_change::syscall_entry));
    CHECK(wr(msr::kernel_gs_base, 0xffff888012340000ull).what == action::resume);
    CHECK(rd(msr::kernel_gs_base) == 0xffff888012340000ull);
    CHECK(wr(msr::pat, 0x0007010600070106ull).what == action::resume);
    CHECK(rd(msr::pat) == 0x0007010600070106ull);
    CHECK(rd(msr::efer) == m.cpu.efer);
    m.be.tsc = 1000;
    CHECK(wr(msr::tsc, 5000).what == action::resume);
    m.be.tsc = 1100;
    CHECK(rd(msr::tsc) == 5100);
    CHECK(rd(msr::apic_base) == (0xfee00000u | apic_base_msr::enable));
}

TEST_CASE("AMD's interrupt-pending-message MSR reads 0 on an AMD vCPU and faults on an Intel one", "[emulate][msr]")
{
    // Linux reads it unguarded when it believes the CPU has AMD erratum 400.
    machine amd;
    amd.cpu.cpuid.build(max_amd_cpu, nullptr);
    amd.f.gpr[rcx] = msr::amd_int_pending_msg;
    amd.f.gpr[rax] = amd.f.gpr[rdx] = ~0ull;
    REQUIRE(amd.run(record(site_kind::rdmsr)).what == action::resume);
    CHECK(amd.f.gpr[rax] == 0);
    CHECK(amd.f.gpr[rdx] == 0);
    machine intel;
    intel.f.gpr[rcx] = msr::amd_int_pending_msg;
    require_fault(intel.run(record(site_kind::rdmsr)), intel, vec::gp, 0);
}

TEST_CASE("wrmsr/rdmsr raise #GP(0) for MSRs the wedge does not have and for bad values", "[emulate][msr][fault]")
{
    machine m;
    m.f.gpr[rcx] = 0x3a;  // IA32_FEATURE_CONTROL: not on the virtual CPU
    require_fault(m.run(record(site_kind::rdmsr)), m, vec::gp, 0);
    require_fault(m.run(record(site_kind::wrmsr)), m, vec::gp, 0);
    m.f.gpr[rcx] = 0x48;  // IA32_SPEC_CTRL: hidden
    require_fault(m.run(record(site_kind::rdmsr)), m, vec::gp, 0);

    auto wr = [&](uint32_t msr, uint64_t v) {
        m.f.gpr[rcx] = msr;
        m.f.gpr[rax] = v & 0xffffffffu;
        m.f.gpr[rdx] = v >> 32;
        return m.run(record(site_kind::wrmsr));
    };
    require_fault(wr(msr::lstar, 0x0000800000000000ull), m, vec::gp);      // non-canonical
    require_fault(wr(msr::fs_base, 0x8000000000000000ull), m, vec::gp);
    require_fault(wr(msr::pat, 0x0000000000000002ull), m, vec::gp);        // reserved memory type
    require_fault(wr(msr::efer, m.cpu.efer | (1u << 14)), m, vec::gp);     // reserved EFER bit
    require_fault(wr(msr::efer, m.cpu.efer & ~efer::lme), m, vec::gp);     // LME fixed while paging
    require_fault(wr(msr::apic_base, 0xfee00000u | apic_base_msr::extd), m, vec::gp);  // EXTD without EN
    CHECK(m.cpu.lstar == 0);
}

TEST_CASE("x2APIC MSRs reach the local APIC", "[emulate][msr][apic]")
{
    machine m;
    local_apic apic(m.cpu, m.be);
    m.cpu.apic = &apic;
    m.cpu.id = 3;
    m.f.gpr[rcx] = 0x802;
    require_fault(m.run(record(site_kind::rdmsr)), m, vec::gp);  // xAPIC mode: no MSRs yet
    m.f.gpr[rcx] = msr::apic_base;
    m.f.gpr[rax] = 0xfee00000u | apic_base_msr::enable | apic_base_msr::extd;
    m.f.gpr[rdx] = 0;
    REQUIRE(m.run(record(site_kind::wrmsr)).what == action::resume);
    m.f.gpr[rcx] = 0x802;
    REQUIRE(m.run(record(site_kind::rdmsr)).what == action::resume);
    CHECK(m.f.gpr[rax] == 3);
    m.f.gpr[rcx] = 0x83f;  // SELF IPI
    m.f.gpr[rax] = 0x41;
    REQUIRE(m.run(record(site_kind::wrmsr)).what == action::resume);
    CHECK(m.cpu.pending.test(0x41));
}

// ---- time, cpuid, XCRs -----------------------------------------------------------------------

TEST_CASE("rdtsc and rdtscp read the backend TSC plus the vCPU offset", "[emulate][tsc]")
{
    machine m;
    m.be.tsc = 0x1122334455667788ull;
    m.cpu.tsc_offset = 8;
    m.f.gpr[rax] = m.f.gpr[rdx] = ~0ull;
    REQUIRE(m.run(record(site_kind::rdtsc)).what == action::resume);
    CHECK(m.f.gpr[rax] == 0x55667790u);
    CHECK(m.f.gpr[rdx] == 0x11223344u);
    m.cpu.tsc_aux = 7;
    REQUIRE(m.run(record(site_kind::rdtscp)).what == action::resume);
    CHECK(m.f.gpr[rcx] == 7);
    m.cpu.cr4 |= cr4::tsd;
    m.enter_user();
    require_fault(m.run(record(site_kind::rdtsc)), m, vec::gp);
}

TEST_CASE("rdpmc: no counters, so #GP(0)", "[emulate]")
{
    machine m;
    m.f.gpr[rcx] = 0;
    require_fault(m.run(record(site_kind::rdpmc)), m, vec::gp);
}

TEST_CASE("cpuid goes through the policy with the vCPU's dynamic bits", "[emulate][cpuid]")
{
    machine m;
    m.cpu.id = 2;
    m.cpu.cr4 |= cr4::osxsave;
    m.f.gpr[rax] = 1;
    m.f.gpr[rcx] = 0;
    m.f.gpr[rbx] = ~0ull;
    REQUIRE(m.run(record(site_kind::cpuid)).what == action::resume);
    CHECK((m.f.gpr[rbx] >> 24) == 2);
    CHECK((m.f.gpr[rcx] >> 27) & 1);               // OSXSAVE
    CHECK_FALSE(((m.f.gpr[rcx] >> 17) & 1));       // PCID hidden
    m.f.gpr[rax] = 7;
    m.f.gpr[rcx] = 0;
    REQUIRE(m.run(record(site_kind::cpuid)).what == action::resume);
    CHECK_FALSE(((m.f.gpr[rbx] >> 20) & 1));       // SMAP hidden
    CHECK_FALSE(((m.f.gpr[rcx] >> 3) & 1));        // PKU hidden
}

TEST_CASE("xsetbv/xgetbv validate XCR0 against the policy", "[emulate][xcr]")
{
    machine m;
    auto xsetbv = [&](uint64_t v, uint32_t index = 0) {
        m.f.gpr[rcx] = index;
        m.f.gpr[rax] = v & 0xffffffffu;
        m.f.gpr[rdx] = v >> 32;
        return m.run(record(site_kind::xsetbv));
    };
    require_fault(xsetbv(7), m, vec::ud);  // CR4.OSXSAVE clear
    m.cpu.cr4 |= cr4::osxsave;
    CHECK(xsetbv(7).what == action::resume);
    CHECK(m.cpu.xcr0 == 7);
    CHECK(m.be.changed(state_change::xcr0));
    require_fault(xsetbv(6), m, vec::gp);               // x87 must stay
    require_fault(xsetbv(5), m, vec::gp);               // AVX without SSE
    require_fault(xsetbv(0x27), m, vec::gp);            // part of AVX-512
    require_fault(xsetbv(0x207), m, vec::gp);           // PKRU: not offered
    require_fault(xsetbv(7, 1), m, vec::gp);            // no XCR1
    m.f.gpr[rcx] = 0;
    REQUIRE(m.run(record(site_kind::xgetbv)).what == action::resume);
    CHECK(m.f.gpr[rax] == 7);
    CHECK(m.f.gpr[rdx] == 0);
    m.f.gpr[rcx] = 1;
    require_fault(m.run(record(site_kind::xgetbv)), m, vec::gp);  // XGETBV_ECX1 hidden
    m.enter_user();
    require_fault(xsetbv(7), m, vec::gp);
}

TEST_CASE("wrpkru/rdpkru, monitor/mwait, rdpid, xsaves/xrstors are #UD as on a CPU without them", "[emulate]")
{
    machine m;
    for (site_kind k : {site_kind::wrpkru, site_kind::rdpkru, site_kind::monitor, site_kind::mwait,
                        site_kind::xsaves, site_kind::xrstors, site_kind::invpcid}) {
        INFO(site_kind_name(k));
        auto rec = with_reg(record(k), rax);
        if (k == site_kind::xsaves || k == site_kind::xrstors || k == site_kind::invpcid) rec = with_mem(m, rec, rbx, 0);
        require_fault(m.run(rec), m, vec::ud);
    }
    require_fault(m.run(with_reg(record(site_kind::rdpid), rax)), m, vec::ud);
}

TEST_CASE("hlt halts with rip past the site", "[emulate]")
{
    machine m;
    auto rec = record(site_kind::hlt, 64, 1, 7);
    auto r = m.run(rec);
    CHECK(r.what == action::halt);
    CHECK(m.f.rip == m.end(rec));
}

TEST_CASE("wbinvd and invd complete", "[emulate]")
{
    machine m;
    auto rec = record(site_kind::wbinvd);
    require_resumed(m.run(rec), m, rec);
    require_resumed(m.run(record(site_kind::invd)), m, rec);
}

// ---- TLB ----------------------------------------------------------------------------------------

TEST_CASE("invlpg notifies the backend of the operand's linear address", "[emulate][tlb]")
{
    machine m;
    m.f.gpr[rdi] = 0xffff888000123000ull;
    auto rec = with_mem(m, record(site_kind::invlpg), rdi, 0x10);
    require_resumed(m.run(rec), m, rec);
    REQUIRE(m.be.invalidated.size() == 1);
    CHECK(m.be.invalidated[0] == 0xffff888000123010ull);
    m.f.gpr[rdi] = 0x0000900000000000ull;  // non-canonical: a no-op
    REQUIRE(m.run(rec).what == action::resume);
    CHECK(m.be.invalidated.size() == 1);
}

TEST_CASE("memory operands: RIP-relative, index*scale, disp32 and the FS/GS base", "[emulate][operand]")
{
    machine m;
    // lgdt 0x40(%rip): 0f 01 15 <disp32>, 7 bytes.
    auto rec = record(site_kind::lgdt, 64, 7, 1);
    rec.flags |= annotation::flag_memory;
    rec.mem_base = annotation::rip_base;
    rec.mem_scale = 1;
    rec.disp_offset = 3;
    rec.disp_size = 4;
    uint64_t table = machine::code + 7 + 0x40;
    m.be.map(machine::code, 0x1000, false, true);
    m.be.poke<int32_t>(machine::code + 3, 0x40);
    m.be.poke<uint16_t>(table, 0x7f);
    m.be.poke<uint64_t>(table + 2, 0xffff888000077000ull);
    REQUIRE(m.run(rec).what == action::resume);
    CHECK(m.cpu.gdtr.limit == 0x7f);
    CHECK(m.cpu.gdtr.base == 0xffff888000077000ull);

    // sidt %gs:8(%rax,%rcx,4)
    auto sidt = with_mem(m, record(site_kind::sidt), rax, 8, annotation::seg_gs);
    sidt.mem_index = rcx;
    sidt.mem_scale = 4;
    m.cpu.gs_base = machine::data;
    m.f.gpr[rax] = 0x100;
    m.f.gpr[rcx] = 0x10;
    REQUIRE(m.run(sidt).what == action::resume);
    uint64_t at = machine::data + 0x100 + 0x40 + 8;
    CHECK(m.be.peek<uint16_t>(at) == m.cpu.idtr.limit);
    CHECK(m.be.peek<uint64_t>(at + 2) == m.cpu.idtr.base);
}

TEST_CASE("a memory operand that is not canonical raises #GP(0), #SS(0) on the stack", "[emulate][operand][fault]")
{
    machine m;
    m.f.gpr[rbx] = 0x0000800000000000ull;
    require_fault(m.run(with_mem(m, record(site_kind::sgdt), rbx, 0)), m, vec::gp, 0);
    m.f.gpr[rbp] = 0x0000800000000000ull;
    require_fault(m.run(with_mem(m, record(site_kind::sgdt), rbp, 0)), m, vec::ss, 0);
}

TEST_CASE("a page fault from the backend propagates with CR2 and the error code", "[emulate][fault]")
{
    machine m;
    m.gate(vec::pf, machine::handler, 14);
    m.f.gpr[rbx] = 0xffff888000200000ull;  // unmapped
    auto rec = with_mem(m, record(site_kind::lgdt), rbx, 0x18);
    auto r = m.run(rec);
    require_fault(r, m, vec::pf, 0);  // supervisor read of a not-present page
    CHECK(r.ev.cr2 == 0xffff888000200018ull);
    // Through run_site the #PF is delivered and CR2 set.
    REQUIRE(m.exec(rec) == site_exit::resume);
    CHECK(m.cpu.cr2 == 0xffff888000200018ull);
    CHECK(m.f.rip == machine::handler);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == 0);                 // error code
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp] + 8) == machine::code);  // the faulting site

    // A user write to a read-only user page: P | W | U.
    machine u;
    u.be.map(machine::user_data, 0x1000, true, false);
    u.be.map(machine::code, 0x1000, true, false);
    u.enter_user();
    u.f.gpr[rsi] = machine::user_data;
    auto sgdt = with_mem(u, record(site_kind::sgdt), rsi, 0);
    auto ur = u.run(sgdt);
    require_fault(ur, u, vec::pf, pf_error::present | pf_error::write | pf_error::user);
    CHECK(ur.ev.cr2 == machine::user_data);
}

// ---- I/O ----------------------------------------------------------------------------------------

namespace {
struct recorder final : io_device {
    uint32_t io_read(uint16_t port, unsigned size) override
    {
        last_port = port, last_size = size;
        return 0xa1b2c3d4u;
    }
    void io_write(uint16_t port, unsigned size, uint32_t value) override
    {
        last_port = port, last_size = size;
        written.push_back(value);
    }
    uint16_t last_port = 0;
    unsigned last_size = 0;
    std::vector<uint32_t> written;
};
} // namespace

TEST_CASE("in/out: immediate and %dx ports, operand sizes", "[emulate][io]")
{
    machine m;
    io_bus bus;
    recorder dev;
    REQUIRE(bus.attach(0x80, 0x10, dev));
    m.cpu.io = &bus;

    auto in8 = record(site_kind::in, 8, 2, 6);
    in8.imm = 0x84;
    m.f.gpr[rax] = 0xffffffffffffff00ull;
    require_resumed(m.run(in8), m, in8);
    CHECK(dev.last_port == 0x84);
    CHECK(dev.last_size == 1);
    CHECK(m.f.gpr[rax] == 0xffffffffffffffd4ull);  // only AL written

    auto in32 = record(site_kind::in, 32, 1, 7);
    in32.flags |= annotation::flag_port_dx;
    m.f.gpr[rdx] = 0x88;
    REQUIRE(m.run(in32).what == action::resume);
    CHECK(m.f.gpr[rax] == 0xa1b2c3d4u);  // 32-bit writes zero-extend

    auto out16 = record(site_kind::out, 16, 2, 6);
    out16.flags |= annotation::flag_port_dx;
    m.f.gpr[rdx] = 0x8e;
    m.f.gpr[rax] = 0x12345678;
    REQUIRE(m.run(out16).what == action::resume);
    CHECK(dev.last_size == 2);
    CHECK(dev.written.back() == 0x5678);

    auto nobody = record(site_kind::in, 16, 2, 6);
    nobody.imm = 0x10;
    REQUIRE(m.run(nobody).what == action::resume);
    CHECK((m.f.gpr[rax] & 0xffff) == 0xffff);  // unclaimed ports float high
}

TEST_CASE("the frequency backdoor answers inl (%dx) from 0x5658 with the magic, and nothing else", "[emulate][io]")
{
    machine m;
    io_bus bus;
    recorder dev;
    REQUIRE(bus.attach(0x5658, 1, dev));
    m.cpu.io = &bus;
    vmware_backdoor door{0x1a6f0b2c0ull, 1000000000u};  // 7.1 GHz: the high word is used
    auto inl = record(site_kind::in, 32, 1, 7);
    inl.flags |= annotation::flag_port_dx;
    auto ask = [&](uint32_t eax, uint32_t ecx) {
        m.f.gpr[rax] = eax;
        m.f.gpr[rbx] = 0xffffffffull;
        m.f.gpr[rcx] = ecx;
        m.f.gpr[rdx] = vmware_backdoor::port;
        dev.last_port = 0;
        REQUIRE(m.run(inl).what == action::resume);
    };

    // Without a backdoor the port is an ordinary one.
    ask(vmware_backdoor::magic, vmware_backdoor::command_gethz);
    CHECK(dev.last_port == vmware_backdoor::port);

    m.cpu.backdoor = &door;
    ask(vmware_backdoor::magic, vmware_backdoor::command_gethz);
    CHECK(dev.last_port == 0);  // the device behind the port never saw it
    CHECK(m.f.gpr[rax] == 0xa6f0b2c0u);
    CHECK(m.f.gpr[rbx] == 0x1u);
    CHECK(m.f.gpr[rcx] == 1000000000u);
    CHECK(m.f.gpr[rdx] == vmware_backdoor::port);

    ask(vmware_backdoor::magic, 10);  // GETVERSION, any other command: not available
    CHECK(m.f.gpr[rax] == 0xffffffffu);
    CHECK(m.f.gpr[rbx] == 0xffffffffu);

    ask(0x12345678, vmware_backdoor::command_gethz);  // no magic: an ordinary port read
    CHECK(dev.last_port == vmware_backdoor::port);
    CHECK(m.f.gpr[rax] == 0xa1b2c3d4u);

    auto inb = record(site_kind::in, 8, 1, 7);  // only the 4-byte form is the backdoor
    inb.flags |= annotation::flag_port_dx;
    m.f.gpr[rax] = vmware_backdoor::magic;
    m.f.gpr[rdx] = vmware_backdoor::port;
    REQUIRE(m.run(inb).what == action::resume);
    CHECK(dev.last_port == vmware_backdoor::port);
}

TEST_CASE("in/out at CPL 3 follow IOPL and the TSS I/O bitmap", "[emulate][io][fault]")
{
    machine m;
    io_bus bus;
    recorder dev;
    bus.attach(0x80, 0x10, dev);
    m.cpu.io = &bus;
    m.enter_user();
    auto out8 = record(site_kind::out, 8, 2, 6);
    out8.imm = 0x80;
    require_fault(m.run(out8), m, vec::gp, 0);
    m.be.poke<uint8_t>(machine::tss + 0x68 + 0x10, 0xfe);  // allow port 0x80
    CHECK(m.run(out8).what == action::resume);
    auto out16 = record(site_kind::out, 16, 2, 6);
    out16.imm = 0x80;
    require_fault(m.run(out16), m, vec::gp, 0);  // port 0x81 still denied
    auto high = record(site_kind::out, 8, 1, 7);
    high.flags |= annotation::flag_port_dx;
    m.f.gpr[rdx] = 0x3f8 + 0x400;  // beyond the bitmap's TSS limit
    require_fault(m.run(high), m, vec::gp, 0);
    m.cpu.iopl = 3;
    CHECK(m.run(high).what == action::resume);
}

TEST_CASE("rep outs and rep ins move strings, honouring DF", "[emulate][io]")
{
    machine m;
    io_bus bus;
    recorder dev;
    bus.attach(0x80, 0x10, dev);
    m.cpu.io = &bus;
    const char text[] = "abcd";
    m.be.poke(machine::data, text, 4);
    auto outs = record(site_kind::outs, 8, 2, 6);
    outs.flags |= annotation::flag_rep;
    m.f.gpr[rdx] = 0x80;
    m.f.gpr[rsi] = machine::data;
    m.f.gpr[rcx] = 4;
    REQUIRE(m.run(outs).what == action::resume);
    REQUIRE(dev.written.size() == 4);
    CHECK(dev.written[0] == 'a');
    CHECK(dev.written[3] == 'd');
    CHECK(m.f.gpr[rcx] == 0);
    CHECK(m.f.gpr[rsi] == machine::data + 4);

    auto ins = record(site_kind::ins, 16, 2, 6);
    ins.flags |= annotation::flag_rep;
    m.f.rflags |= flags::df;
    m.f.gpr[rdi] = machine::data + 0x100;
    m.f.gpr[rcx] = 2;
    REQUIRE(m.run(ins).what == action::resume);
    CHECK(m.be.peek<uint16_t>(machine::data + 0x100) == 0xc3d4);
    CHECK(m.be.peek<uint16_t>(machine::data + 0xfe) == 0xc3d4);
    CHECK(m.f.gpr[rdi] == machine::data + 0xfc);
}

TEST_CASE("rep ins stopping on a page fault leaves the registers at the faulting element", "[emulate][io][fault]")
{
    machine m;
    io_bus bus;
    recorder dev;
    bus.attach(0x80, 0x10, dev);
    m.cpu.io = &bus;
    auto ins = record(site_kind::ins, 32, 2, 6);
    ins.flags |= annotation::flag_rep;
    m.f.gpr[rdx] = 0x80;
    m.f.gpr[rdi] = machine::data + 0xff8;  // two dwords fit, the third is on an unmapped page
    m.f.gpr[rcx] = 5;
    auto r = m.run(ins);
    require_fault(r, m, vec::pf, pf_error::write);
    CHECK(r.ev.cr2 == machine::data + 0x1000);
    CHECK(m.f.gpr[rcx] == 3);
    CHECK(m.f.gpr[rdi] == machine::data + 0x1000);
}

// ---- segment bases -----------------------------------------------------------------------------

TEST_CASE("swapgs exchanges GS base and KERNEL_GS_BASE and tells the backend", "[emulate]")
{
    machine m;
    m.cpu.gs_base = 0x1000;
    m.cpu.kernel_gs_base = 0xffff888000005000ull;
    auto rec = record(site_kind::swapgs);
    require_resumed(m.run(rec), m, rec);
    CHECK(m.cpu.gs_base == 0xffff888000005000ull);
    CHECK(m.cpu.kernel_gs_base == 0x1000);
    CHECK(m.be.changed(state_change::gs_base));
}

TEST_CASE("rd/wr fs/gs base need CR4.FSGSBASE, which the policy hides", "[emulate]")
{
    machine m;
    for (site_kind k : {site_kind::wrfsbase, site_kind::wrgsbase, site_kind::rdfsbase, site_kind::rdgsbase})
        require_fault(m.run(with_reg(record(k), rax)), m, vec::ud);
    // With the feature (a policy that offers it) they work, with the canonical check.
    m.cpu.cr4 |= cr4::fsgsbase;
    m.f.gpr[rax] = 0x7fff12345000ull;
    REQUIRE(m.run(with_reg(record(site_kind::wrfsbase), rax)).what == action::resume);
    CHECK(m.cpu.fs_base == 0x7fff12345000ull);
    CHECK(m.be.changed(state_change::fs_base));
    REQUIRE(m.run(with_reg(record(site_kind::rdfsbase, 32), rbx)).what == action::resume);
    CHECK(m.f.gpr[rbx] == 0x12345000u);
    m.f.gpr[rax] = 0x0000800000000000ull;
    require_fault(m.run(with_reg(record(site_kind::wrgsbase), rax)), m, vec::gp);
}

TEST_CASE("every sensitive instruction kind in site_kind.h is emulated", "[emulate][coverage]")
{
    // A new kind added to the annotation format without an emulation shows up here.
    for (unsigned k = 0; k < site_kind_count; ++k) {
        auto kind = static_cast<site_kind>(k);
        if (!site_kind_is_instruction(kind)) continue;
        if (site_kind_is_page_table(kind)) {
            // Ordinary memory accesses that every plan leaves native: one reaching the core
            // would be a plan bug, and is refused rather than emulated as something else.
            machine m;
            INFO(site_kind_name(kind));
            CHECK(m.run(with_reg(record(kind), rax)).what == action::bad_record);
            continue;
        }
        machine m;
        auto rec = with_special(with_reg(record(kind), rax), annotation::seg_fs);
        if (kind == site_kind::mov_to_cr || kind == site_kind::mov_from_cr || kind == site_kind::mov_to_dr ||
            kind == site_kind::mov_from_dr)
            rec.special = 0;
        if (kind == site_kind::lgdt || kind == site_kind::lidt || kind == site_kind::sgdt || kind == site_kind::sidt ||
            kind == site_kind::invlpg || kind == site_kind::invpcid || kind == site_kind::ljmp ||
            kind == site_kind::lcall || kind == site_kind::xsaves || kind == site_kind::xrstors)
            rec = with_mem(m, rec, rbx, 0);
        m.f.gpr[rbx] = machine::data;
        INFO(site_kind_name(kind));
        CHECK(m.run(rec).what != action::bad_record);
    }
}
