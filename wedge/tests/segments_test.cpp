// Descriptor tables and segment registers: lgdt/lidt/sgdt/sidt, lldt/ltr/sldt/str,
// mov/push/pop of segment registers, lar/lsl/verr/verw.
#include <catch2/catch.hpp>

#include "machine.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

void require_fault(const emulation &r, uint8_t vector, uint32_t error = 0)
{
    REQUIRE(r.what == action::raise);
    CHECK(r.ev.vector == vector);
    CHECK(r.ev.error_code == error);
}

uint64_t data_descriptor(uint32_t base, unsigned dpl, bool present = true, unsigned type = 3)
{
    return 0xffffull | (static_cast<uint64_t>(base & 0xffffff) << 16) |
           (static_cast<uint64_t>(0x10 | type | (dpl << 5) | (present ? 0x80 : 0)) << 40) | (0xcfull << 48) |
           (static_cast<uint64_t>(base >> 24) << 56);
}

site_record mov_to_seg(unsigned seg, uint8_t reg = rax)
{
    auto r = with_special(with_reg(record(site_kind::mov_to_seg, 16, 2, 6), reg), static_cast<uint8_t>(seg));
    if (seg == annotation::seg_ss) r.flags |= annotation::flag_pad_before;
    return r;
}

} // namespace

TEST_CASE("lgdt/lidt load and sgdt/sidt store the 10-byte pseudo-descriptor", "[segments]")
{
    machine m;
    m.be.poke<uint16_t>(machine::data, 0x1ff);
    m.be.poke<uint64_t>(machine::data + 2, 0xffff888000009000ull);
    m.f.gpr[rsi] = machine::data;
    REQUIRE(m.run(with_mem(m, record(site_kind::lidt), rsi, 0)).what == action::resume);
    CHECK(m.cpu.idtr.limit == 0x1ff);
    CHECK(m.cpu.idtr.base == 0xffff888000009000ull);
    REQUIRE(m.run(with_mem(m, record(site_kind::sidt), rsi, 0x20)).what == action::resume);
    CHECK(m.be.peek<uint16_t>(machine::data + 0x20) == 0x1ff);
    CHECK(m.be.peek<uint64_t>(machine::data + 0x22) == 0xffff888000009000ull);
    REQUIRE(m.run(with_mem(m, record(site_kind::sgdt), rsi, 0x30)).what == action::resume);
    CHECK(m.be.peek<uint64_t>(machine::data + 0x32) == machine::gdt);

    m.be.poke<uint64_t>(machine::data + 2, 0x0000900000000000ull);  // non-canonical base
    require_fault(m.run(with_mem(m, record(site_kind::lgdt), rsi, 0)), vec::gp);
    CHECK(m.cpu.gdtr.base == machine::gdt);

    // sgdt at CPL 3 works (no UMIP) and reports the guest's own table.
    m.enter_user();
    m.f.gpr[rsi] = machine::user_data;
    m.be.map(machine::code, 0x1000, true, false);
    REQUIRE(m.run(with_mem(m, record(site_kind::sgdt), rsi, 0)).what == action::resume);
    CHECK(m.be.peek<uint64_t>(machine::user_data + 2) == machine::gdt);
    m.cpu.cr4 |= cr4::umip;
    require_fault(m.run(with_mem(m, record(site_kind::sidt), rsi, 0)), vec::gp);
}

TEST_CASE("lldt loads an LDT descriptor from the GDT, null disables the LDT", "[segments]")
{
    machine m;
    m.f.gpr[rax] = ldt_sel;
    REQUIRE(m.run(with_reg(record(site_kind::lldt, 16), rax)).what == action::resume);
    CHECK(m.cpu.ldtr.usable);
    CHECK(m.cpu.ldtr.base == machine::ldt);
    CHECK(m.cpu.ldtr.limit == 0xfff);
    CHECK(m.cpu.ldtr.selector == ldt_sel);

    m.f.gpr[rax] = 0;
    REQUIRE(m.run(with_reg(record(site_kind::lldt, 16), rax)).what == action::resume);
    CHECK_FALSE(m.cpu.ldtr.usable);

    m.f.gpr[rax] = kernel_ds;  // not an LDT descriptor
    require_fault(m.run(with_reg(record(site_kind::lldt, 16), rax)), vec::gp, kernel_ds);
    m.f.gpr[rax] = 0x1000;     // beyond the GDT limit
    require_fault(m.run(with_reg(record(site_kind::lldt, 16), rax)), vec::gp, 0x1000);
    m.f.gpr[rax] = ldt_sel | 4;  // TI = LDT
    require_fault(m.run(with_reg(record(site_kind::lldt, 16), rax)), vec::gp, ldt_sel | 4);  // error codes keep TI
    uint64_t low = m.be.peek<uint64_t>(machine::gdt + ldt_sel) & ~(1ull << 47);
    m.be.poke(machine::gdt + ldt_sel, low);
    m.f.gpr[rax] = ldt_sel;
    require_fault(m.run(with_reg(record(site_kind::lldt, 16), rax)), vec::np, ldt_sel);
}

TEST_CASE("ltr loads an available TSS and marks it busy", "[segments]")
{
    machine m;
    uint64_t at = machine::gdt + tss_sel;
    auto ltr = with_reg(record(site_kind::ltr, 16), rcx);
    m.f.gpr[rcx] = tss_sel;
    require_fault(m.run(ltr), vec::gp, tss_sel);  // busy already
    m.be.poke(at, m.be.peek<uint64_t>(at) & ~(2ull << 40));  // make it available
    m.cpu.tr = {};
    REQUIRE(m.run(ltr).what == action::resume);
    CHECK(m.cpu.tr.usable);
    CHECK(m.cpu.tr.base == machine::tss);
    CHECK(((m.be.peek<uint64_t>(at) >> 40) & 0xf) == 11);
    m.f.gpr[rcx] = 0;
    require_fault(m.run(ltr), vec::gp, 0);
}

TEST_CASE("sldt and str store the selectors to a register or memory", "[segments]")
{
    machine m;
    m.cpu.ldtr.selector = ldt_sel;
    m.f.gpr[rdx] = ~0ull;
    REQUIRE(m.run(with_reg(record(site_kind::str, 32), rdx)).what == action::resume);
    CHECK(m.f.gpr[rdx] == tss_sel);  // zero-extended
    m.f.gpr[rdx] = ~0ull;
    REQUIRE(m.run(with_reg(record(site_kind::sldt, 16), rdx)).what == action::resume);
    CHECK(m.f.gpr[rdx] == (0xffffffffffff0000ull | ldt_sel));
    m.f.gpr[rbx] = machine::data;
    m.be.poke<uint32_t>(machine::data + 4, 0xffffffffu);
    REQUIRE(m.run(with_mem(m, record(site_kind::str, 16), rbx, 4)).what == action::resume);
    CHECK(m.be.peek<uint32_t>(machine::data + 4) == (0xffff0000u | tss_sel));
}

TEST_CASE("mov to DS/ES checks the descriptor and sets the accessed bit", "[segments]")
{
    machine m;
    uint64_t before = m.be.peek<uint64_t>(machine::gdt + user_ds);
    m.f.gpr[rax] = user_ds;
    REQUIRE(m.run(mov_to_seg(annotation::seg_ds)).what == action::resume);
    CHECK(m.cpu.selector[annotation::seg_ds] == user_ds);
    CHECK(m.be.peek<uint64_t>(machine::gdt + user_ds) == (before | (1ull << 40)));
    CHECK(m.be.changed(state_change::segment_selector));

    m.f.gpr[rax] = 0;
    REQUIRE(m.run(mov_to_seg(annotation::seg_es)).what == action::resume);  // null is fine
    CHECK(m.cpu.selector[annotation::seg_es] == 0);

    m.f.gpr[rax] = 0x300;
    require_fault(m.run(mov_to_seg(annotation::seg_ds)), vec::gp, 0x300);    // beyond the GDT
    m.f.gpr[rax] = tss_sel;
    require_fault(m.run(mov_to_seg(annotation::seg_ds)), vec::gp, tss_sel);  // system descriptor
    m.f.gpr[rax] = kernel_cs;
    CHECK(m.run(mov_to_seg(annotation::seg_ds)).what == action::resume);     // readable code is fine
    m.be.poke(machine::gdt + 0x38, data_descriptor(0, 0, false));
    m.f.gpr[rax] = 0x38;
    require_fault(m.run(mov_to_seg(annotation::seg_ds)), vec::np, 0x38);

    m.enter_user();
    m.f.gpr[rax] = kernel_ds;  // DPL 0 data at CPL 3
    require_fault(m.run(mov_to_seg(annotation::seg_ds)), vec::gp, kernel_ds);
    m.f.gpr[rax] = 0x0f;       // LDT entry 1, but no LDT loaded
    require_fault(m.run(mov_to_seg(annotation::seg_ds)), vec::gp, 0x0c);
    m.cpu.ldtr = {ldt_sel, machine::ldt, 0xfff, true};
    CHECK(m.run(mov_to_seg(annotation::seg_ds)).what == action::resume);
    CHECK(m.cpu.selector[annotation::seg_ds] == 0x0f);
}

TEST_CASE("mov to FS/GS loads the base from the descriptor, null clears it", "[segments]")
{
    machine m;
    m.be.poke(machine::gdt + 0x38, data_descriptor(0x12345678u, 0));
    m.cpu.fs_base = 0xdead0000;
    m.f.gpr[rbx] = 0x38;
    REQUIRE(m.run(mov_to_seg(annotation::seg_fs, rbx)).what == action::resume);
    CHECK(m.cpu.fs_base == 0x12345678u);
    CHECK(m.be.changed(state_change::fs_base));
    m.f.gpr[rbx] = 0;
    REQUIRE(m.run(mov_to_seg(annotation::seg_gs, rbx)).what == action::resume);
    CHECK(m.cpu.gs_base == 0);
}

TEST_CASE("mov to SS: CPL rules, null SS below CPL 3, and the interrupt shadow", "[segments]")
{
    machine m;
    auto rec = mov_to_seg(annotation::seg_ss);
    m.f.gpr[rax] = kernel_ds;
    REQUIRE(m.run(rec).what == action::resume);
    CHECK(m.cpu.interrupt_shadow);
    CHECK(m.cpu.shadow_rip == m.end(rec));
    CHECK(m.f.rip == machine::code + 2);  // padding in front

    m.f.gpr[rax] = 0;
    CHECK(m.run(rec).what == action::resume);  // null SS at CPL 0 in 64-bit mode
    m.f.gpr[rax] = user_ds;
    require_fault(m.run(rec), vec::gp, user_ds & 0xfffc);  // RPL != CPL
    m.f.gpr[rax] = kernel_cs;
    require_fault(m.run(rec), vec::gp, kernel_cs);  // not writable data
    m.enter_user();
    m.f.gpr[rax] = 3;
    require_fault(m.run(rec), vec::gp, 0);  // null SS at CPL 3
    m.f.gpr[rax] = user_ds;
    CHECK(m.run(rec).what == action::resume);
}

TEST_CASE("mov to CS is #UD, mov from a segment register to a register or memory", "[segments]")
{
    machine m;
    require_fault(m.run(mov_to_seg(annotation::seg_cs)), vec::ud);
    m.f.gpr[rdx] = ~0ull;
    REQUIRE(m.run(with_special(with_reg(record(site_kind::mov_from_seg, 32), rdx), annotation::seg_cs)).what ==
            action::resume);
    CHECK(m.f.gpr[rdx] == kernel_cs);
    m.f.gpr[rdx] = ~0ull;
    REQUIRE(m.run(with_special(with_reg(record(site_kind::mov_from_seg, 16), rdx), annotation::seg_ss)).what ==
            action::resume);
    CHECK(m.f.gpr[rdx] == (0xffffffffffff0000ull | kernel_ds));
    m.f.gpr[rdi] = machine::data;
    REQUIRE(m.run(with_special(with_mem(m, record(site_kind::mov_from_seg, 16), rdi, 2), annotation::seg_cs)).what ==
            action::resume);
    CHECK(m.be.peek<uint16_t>(machine::data + 2) == kernel_cs);
}

TEST_CASE("push and pop of FS/GS, the other segment pushes are #UD in 64-bit mode", "[segments]")
{
    machine m;
    m.cpu.selector[annotation::seg_fs] = user_ds;
    uint64_t sp = m.f.gpr[rsp];
    REQUIRE(m.run(with_special(record(site_kind::push_seg), annotation::seg_fs)).what == action::resume);
    CHECK(m.f.gpr[rsp] == sp - 8);
    CHECK(m.be.peek<uint64_t>(sp - 8) == user_ds);
    REQUIRE(m.run(with_special(record(site_kind::pop_seg), annotation::seg_gs)).what == action::resume);
    CHECK(m.f.gpr[rsp] == sp);
    CHECK(m.cpu.selector[annotation::seg_gs] == user_ds);

    m.be.poke<uint64_t>(sp - 8, 0x300);
    m.f.gpr[rsp] = sp - 8;
    require_fault(m.run(with_special(record(site_kind::pop_seg), annotation::seg_fs)), vec::gp, 0x300);
    CHECK(m.f.gpr[rsp] == sp - 8);  // unchanged on a fault
    require_fault(m.run(with_special(record(site_kind::push_seg), annotation::seg_ds)), vec::ud);
    require_fault(m.run(with_special(record(site_kind::pop_seg), annotation::seg_es)), vec::ud);
}

TEST_CASE("lar, lsl, verr, verw report what the virtual CPL may see", "[segments]")
{
    machine m;
    auto lar = with_special(with_reg(record(site_kind::lar, 32), rax), rbx);
    auto lsl = with_special(with_reg(record(site_kind::lsl, 64), rax), rbx);
    auto verr = with_reg(record(site_kind::verr, 16), rbx);
    auto verw = with_reg(record(site_kind::verw, 16), rbx);
    auto zf = [&] { return (m.f.rflags & flags::zf) != 0; };

    m.f.gpr[rbx] = user_cs;
    REQUIRE(m.run(lar).what == action::resume);
    CHECK(zf());
    CHECK(m.f.gpr[rax] == 0x00a0fb00u);  // G, L, P, DPL 3, code exec/read (accessed)
    REQUIRE(m.run(lsl).what == action::resume);
    CHECK(m.f.gpr[rax] == 0xffffffffu);   // 4 GiB with G
    REQUIRE(m.run(verr).what == action::resume);
    CHECK(zf());
    REQUIRE(m.run(verw).what == action::resume);
    CHECK_FALSE(zf());  // code is never writable

    m.f.gpr[rbx] = tss_sel;
    m.f.gpr[rax] = 0x55;
    REQUIRE(m.run(lsl).what == action::resume);
    CHECK(zf());
    CHECK(m.f.gpr[rax] == 0x68 + 0x80);
    REQUIRE(m.run(verr).what == action::resume);
    CHECK_FALSE(zf());

    m.enter_user();
    m.f.gpr[rbx] = kernel_ds | 3;  // DPL 0 is invisible from CPL 3
    m.f.gpr[rax] = 0x77;
    REQUIRE(m.run(lar).what == action::resume);
    CHECK_FALSE(zf());
    CHECK(m.f.gpr[rax] == 0x77);
    m.f.gpr[rbx] = user_ds;
    REQUIRE(m.run(verw).what == action::resume);
    CHECK(zf());
    m.f.gpr[rbx] = 0;  // null
    REQUIRE(m.run(verr).what == action::resume);
    CHECK_FALSE(zf());
}
