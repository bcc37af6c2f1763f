// Control transfers: iret, sysret, sysexit, sysenter, lret, ljmp, lcall, int n.
#include <catch2/catch.hpp>

#include "machine.h"
#include "wedge/interrupts.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

void require_fault(const emulation &r, machine &m, uint8_t vector, uint32_t error = 0)
{
    REQUIRE(r.what == action::raise);
    CHECK(r.ev.vector == vector);
    CHECK(r.ev.error_code == error);
    CHECK(m.f.rip == machine::code);
}

// An interrupt frame on the kernel stack, as iretq pops it.
void push_iret_frame(machine &m, uint64_t rip, uint64_t cs, uint64_t rflags, uint64_t rsp_value, uint64_t ss)
{
    uint64_t sp = m.f.gpr[rsp] - 40;
    uint64_t image[5] = {rip, cs, rflags, rsp_value, ss};
    m.be.poke(sp, image, sizeof image);
    m.f.gpr[rsp] = sp;
}

} // namespace

TEST_CASE("iretq within the kernel restores rip, rsp, flags and IF", "[transfer][iret]")
{
    machine m;
    uint64_t stack = m.f.gpr[rsp];
    push_iret_frame(m, 0xffffffff81000400ull, kernel_cs, flags::fixed1 | flags::if_ | flags::cf, stack + 0x40, kernel_ds);
    auto r = m.run(record(site_kind::iret));
    REQUIRE(r.what == action::transfer);
    CHECK(m.f.rip == 0xffffffff81000400ull);
    CHECK(m.f.gpr[rsp] == stack + 0x40);
    CHECK(m.cpu.virtual_if());
    CHECK((m.f.rflags & flags::cf));
    CHECK(m.cpu.cpl == 0);
    CHECK_FALSE(m.be.changed(state_change::privilege));
}

TEST_CASE("iretq to user mode switches CPL, CS and SS", "[transfer][iret]")
{
    machine m;
    push_iret_frame(m, 0x401000, user_cs, flags::fixed1 | flags::if_ | (3u << 12), machine::user_stack_top - 8, user_ds);
    REQUIRE(m.run(record(site_kind::iret)).what == action::transfer);
    CHECK(m.cpu.cpl == 3);
    CHECK(m.cpu.cs() == user_cs);
    CHECK(m.cpu.ss() == user_ds);
    CHECK(m.cpu.iopl == 3);  // loaded at CPL 0
    CHECK(m.f.rip == 0x401000);
    CHECK(m.f.gpr[rsp] == machine::user_stack_top - 8);
    CHECK(m.be.changed(state_change::privilege));
}

TEST_CASE("iretl returns to 32-bit compatibility code", "[transfer][iret]")
{
    machine m;
    uint64_t sp = m.f.gpr[rsp] - 20;
    uint32_t image[5] = {0x08048000u, user32_cs, 0x202, 0xffffd000u, user_ds};
    m.be.poke(sp, image, sizeof image);
    m.f.gpr[rsp] = sp;
    REQUIRE(m.run(record(site_kind::iret, 32)).what == action::transfer);
    CHECK(m.cpu.cs() == user32_cs);
    CHECK(m.f.rip == 0x08048000u);
    CHECK(m.f.gpr[rsp] == 0xffffd000u);
}

TEST_CASE("iretq faults: outer-to-inner, bad rip, null SS to user, not present, NT", "[transfer][iret][fault]")
{
    {
        machine m;
        m.enter_user();
        push_iret_frame(m, 0xffffffff81000000ull, kernel_cs, 0x202, 0, kernel_ds);
        require_fault(m.run(record(site_kind::iret)), m, vec::gp, kernel_cs);  // RPL < CPL
        CHECK(m.cpu.cpl == 3);
    }
    {
        machine m;
        push_iret_frame(m, 0x0000800000000000ull, user_cs, 0x202, 0x1000, user_ds);
        require_fault(m.run(record(site_kind::iret)), m, vec::gp, 0);
        CHECK(m.cpu.cpl == 0);
    }
    {
        machine m;
        push_iret_frame(m, 0x401000, user_cs, 0x202, 0x1000, 0);
        require_fault(m.run(record(site_kind::iret)), m, vec::gp, 0);
    }
    {
        machine m;
        m.be.poke(machine::gdt + 0x30, m.be.peek<uint64_t>(machine::gdt + 0x30) & ~(1ull << 47));
        push_iret_frame(m, 0x401000, user_cs, 0x202, 0x1000, user_ds);
        require_fault(m.run(record(site_kind::iret)), m, vec::np, user_cs & 0xfffc);
    }
    {
        machine m;
        m.f.rflags |= flags::nt;
        push_iret_frame(m, 0x401000, user_cs, 0x202, 0x1000, user_ds);
        require_fault(m.run(record(site_kind::iret)), m, vec::gp, 0);
    }
}

TEST_CASE("iret at CPL 3 keeps IOPL and follows IOPL for IF", "[transfer][iret]")
{
    machine m;
    m.enter_user();
    m.cpu.set_virtual_if(true);
    push_iret_frame(m, 0x402000, user_cs, flags::fixed1 | (3u << 12), m.f.gpr[rsp], user_ds);
    REQUIRE(m.run(record(site_kind::iret)).what == action::transfer);
    CHECK(m.cpu.iopl == 0);
    CHECK(m.cpu.virtual_if());
}

TEST_CASE("sysretq and sysretl return to user mode through STAR", "[transfer][sysret]")
{
    machine m;
    m.f.gpr[rcx] = 0x401234;
    m.f.gpr[r11] = flags::fixed1 | flags::if_ | flags::zf | flags::rf;
    REQUIRE(m.run(record(site_kind::sysret)).what == action::transfer);
    CHECK(m.f.rip == 0x401234);
    CHECK(m.cpu.cpl == 3);
    CHECK(m.cpu.cs() == user_cs);
    CHECK(m.cpu.ss() == user_ds);
    CHECK(m.cpu.virtual_if());
    CHECK((m.f.rflags & flags::zf));
    CHECK_FALSE((m.f.rflags & flags::rf));

    machine c;
    c.f.gpr[rcx] = 0xffffffff08048000ull;
    c.f.gpr[r11] = 0x202;
    REQUIRE(c.run(record(site_kind::sysret, 32)).what == action::transfer);
    CHECK(c.cpu.cs() == user32_cs);
    CHECK(c.f.rip == 0x08048000u);
}

TEST_CASE("sysret faults: non-canonical rcx, EFER.SCE clear", "[transfer][sysret][fault]")
{
    machine m;
    m.f.gpr[rcx] = 0x0000800000000000ull;
    require_fault(m.run(record(site_kind::sysret)), m, vec::gp, 0);
    CHECK(m.cpu.cpl == 0);
    m.cpu.efer &= ~efer::sce;
    require_fault(m.run(record(site_kind::sysret)), m, vec::ud);
}

TEST_CASE("sysexit and sysenter use the SYSENTER MSRs", "[transfer][sysenter]")
{
    machine m;
    m.cpu.sysenter_cs = kernel_cs;
    m.cpu.sysenter_eip = 0xffffffff81200000ull;
    m.cpu.sysenter_esp = machine::kstack_top;
    m.f.gpr[rdx] = 0x401000;
    m.f.gpr[rcx] = machine::user_stack_top;
    REQUIRE(m.run(record(site_kind::sysexit, 64)).what == action::transfer);
    CHECK(m.cpu.cpl == 3);
    CHECK(m.cpu.cs() == ((kernel_cs + 32) | 3));
    CHECK(m.cpu.ss() == ((kernel_cs + 40) | 3));
    CHECK(m.f.rip == 0x401000);
    CHECK(m.f.gpr[rsp] == machine::user_stack_top);

    m.cpu.set_virtual_if(true);
    REQUIRE(m.run(record(site_kind::sysenter)).what == action::transfer);
    CHECK(m.cpu.cpl == 0);
    CHECK(m.cpu.cs() == kernel_cs);
    CHECK(m.cpu.ss() == kernel_cs + 8);
    CHECK(m.f.rip == 0xffffffff81200000ull);
    CHECK(m.f.gpr[rsp] == machine::kstack_top);
    CHECK_FALSE(m.cpu.virtual_if());

    m.cpu.sysenter_cs = 0;
    require_fault(m.run(record(site_kind::sysexit)), m, vec::gp, 0);

    machine amd;
    amd.cpu.cpuid.build(max_amd_cpu, nullptr);
    amd.cpu.sysenter_cs = kernel_cs;
    require_fault(amd.run(record(site_kind::sysenter)), amd, vec::ud);
}

TEST_CASE("lretq: same privilege, with a pop count, and to an outer level", "[transfer][lret]")
{
    machine m;
    uint64_t sp = m.f.gpr[rsp];
    uint64_t image[2] = {0xffffffff81000800ull, kernel_cs};
    m.be.poke(sp, image, sizeof image);
    auto rec = record(site_kind::lret);
    rec.imm = 16;
    REQUIRE(m.run(rec).what == action::transfer);
    CHECK(m.f.rip == 0xffffffff81000800ull);
    CHECK(m.f.gpr[rsp] == sp + 32);
    CHECK(m.cpu.cs() == kernel_cs);

    machine o;
    sp = o.f.gpr[rsp];
    uint64_t outer[4] = {0x401000, user_cs, machine::user_stack_top - 16, user_ds};
    o.be.poke(sp, outer, sizeof outer);
    REQUIRE(o.run(record(site_kind::lret)).what == action::transfer);
    CHECK(o.cpu.cpl == 3);
    CHECK(o.cpu.cs() == user_cs);
    CHECK(o.cpu.ss() == user_ds);
    CHECK(o.f.gpr[rsp] == machine::user_stack_top - 16);

    machine bad;
    bad.enter_user();
    sp = bad.f.gpr[rsp];
    bad.be.poke(sp, image, sizeof image);
    require_fault(bad.run(record(site_kind::lret)), bad, vec::gp, kernel_cs);
}

TEST_CASE("ljmp and lcall through a memory pointer", "[transfer][ljmp]")
{
    machine m;
    m.be.poke<uint64_t>(machine::data, 0xffffffff81000900ull);
    m.be.poke<uint16_t>(machine::data + 8, kernel_cs);
    m.f.gpr[rbx] = machine::data;
    auto ljmp = with_mem(m, record(site_kind::ljmp), rbx, 0);
    REQUIRE(m.run(ljmp).what == action::transfer);
    CHECK(m.f.rip == 0xffffffff81000900ull);
    CHECK(m.cpu.cs() == kernel_cs);

    uint64_t sp = m.f.gpr[rsp];
    auto lcall = with_mem(m, record(site_kind::lcall), rbx, 0);
    REQUIRE(m.run(lcall).what == action::transfer);
    CHECK(m.f.gpr[rsp] == sp - 16);
    CHECK(m.be.peek<uint64_t>(sp - 16) == m.end(lcall));
    CHECK(m.be.peek<uint64_t>(sp - 8) == kernel_cs);

    m.be.poke<uint16_t>(machine::data + 8, user_cs);  // DPL 3 code from CPL 0
    require_fault(m.run(ljmp), m, vec::gp, user_cs & 0xfffc);
    m.be.poke<uint16_t>(machine::data + 8, tss_sel);  // no task switches
    require_fault(m.run(ljmp), m, vec::gp, tss_sel);
    m.be.poke<uint16_t>(machine::data + 8, 0);
    require_fault(m.run(ljmp), m, vec::gp, 0);
}

TEST_CASE("int n is handed to delivery as a software interrupt", "[transfer][int]")
{
    machine m;
    auto rec = record(site_kind::int_n, 64, 2, 6);
    rec.imm = 0x80;
    auto r = m.run(rec);
    REQUIRE(r.what == action::raise);
    CHECK(r.ev.type == event_type::software);
    CHECK(r.ev.vector == 0x80);
    CHECK(r.ev.return_rip == m.end(rec));
    CHECK(m.f.rip == machine::code);
}
