// Interrupt delivery through the guest IDT and strict virtual interrupts.
#include <catch2/catch.hpp>

#include "machine.h"
#include "wedge/interrupts.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

constexpr uint64_t h = machine::handler;

std::vector<uint64_t> stack_qwords(machine &m, unsigned n)
{
    std::vector<uint64_t> q;
    for (unsigned i = 0; i < n; ++i) q.push_back(m.be.peek<uint64_t>(m.f.gpr[rsp] + 8 * i));
    return q;
}

} // namespace

TEST_CASE("external interrupt from kernel mode: frame layout byte by byte", "[interrupts]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.set_virtual_if(true);
    m.f.gpr[rsp] = machine::kstack_top - 0x108;  // not 16-byte aligned
    m.f.rip = 0xffffffff81000123ull;
    m.f.rflags = flags::fixed1 | flags::if_ | flags::cf | flags::tf;
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x30), m.be) == delivery::delivered);
    CHECK(m.f.gpr[rsp] == machine::kstack_top - 0x110 - 40);  // aligned down, then 5 slots
    // Byte by byte: RIP, CS, RFLAGS, RSP, SS from low to high addresses.
    unsigned char expected[40] = {};
    uint64_t slots[5] = {0xffffffff81000123ull, kernel_cs, flags::fixed1 | flags::if_ | flags::cf | flags::tf,
                         machine::kstack_top - 0x108, kernel_ds};
    std::memcpy(expected, slots, sizeof slots);
    for (unsigned i = 0; i < 40; ++i) {
        INFO("byte " << i);
        CHECK(m.be.peek<uint8_t>(m.f.gpr[rsp] + i) == expected[i]);
    }
    CHECK(m.f.rip == h + 0x30);
    CHECK_FALSE(m.cpu.virtual_if());          // interrupt gate
    CHECK_FALSE((m.f.rflags & flags::tf));    // TF cleared on delivery
    CHECK(m.cpu.cpl == 0);
}

TEST_CASE("exception with an error code pushes six slots", "[interrupts]")
{
    machine m;
    m.gate(vec::gp, h);
    uint64_t sp = m.f.gpr[rsp];
    REQUIRE(deliver(m.cpu, m.f, event::fault(vec::gp, 0x18), m.be) == delivery::delivered);
    CHECK(m.f.gpr[rsp] == sp - 48);
    auto q = stack_qwords(m, 6);
    CHECK(q[0] == 0x18);
    CHECK(q[1] == machine::code);
    CHECK(q[2] == kernel_cs);
    CHECK(q[4] == sp);
    CHECK(q[5] == kernel_ds);
}

TEST_CASE("from user mode the CPU switches to TSS.RSP0 and records the user context", "[interrupts]")
{
    machine m;
    m.gate(0x31, h);
    m.enter_user(0x401000);
    m.cpu.set_virtual_if(true);
    m.cpu.iopl = 0;
    uint64_t user_sp = m.f.gpr[rsp];
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x31), m.be) == delivery::delivered);
    CHECK(m.f.gpr[rsp] == machine::kstack_top - 40);
    auto q = stack_qwords(m, 5);
    CHECK(q[0] == 0x401000);
    CHECK(q[1] == user_cs);
    CHECK(q[2] == (flags::fixed1 | flags::if_));
    CHECK(q[3] == user_sp);
    CHECK(q[4] == user_ds);
    CHECK(m.cpu.cpl == 0);
    CHECK(m.cpu.cs() == kernel_cs);
    CHECK(m.cpu.ss() == 0);  // null SS at CPL 0
    CHECK(m.be.changed(state_change::privilege));
}

TEST_CASE("an IST gate always switches stacks, even from the kernel", "[interrupts]")
{
    machine m;
    m.gate(vec::nmi, h, 14, 0, 1);
    REQUIRE(deliver(m.cpu, m.f, event::fault(vec::nmi), m.be) == delivery::delivered);
    CHECK(m.f.gpr[rsp] == machine::ist1_top - 40);
}

TEST_CASE("trap gates leave IF set, interrupt gates clear it", "[interrupts]")
{
    machine m;
    m.gate(0x40, h, 15);
    m.gate(0x41, h, 14);
    m.cpu.set_virtual_if(true);
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x40), m.be) == delivery::delivered);
    CHECK(m.cpu.virtual_if());
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x41), m.be) == delivery::delivered);
    CHECK_FALSE(m.cpu.virtual_if());
}

TEST_CASE("int n checks the gate DPL against CPL", "[interrupts][int]")
{
    machine m;
    m.gate(0x80, h + 0x80, 15, 3);  // a system-call gate
    m.gate(0x81, h + 0x81, 14, 0);  // kernel only
    m.gate(vec::gp, h + 0xd);
    m.be.map(machine::code, 0x1000, true, false);
    m.enter_user(machine::code);
    auto rec = record(site_kind::int_n, 64, 2, 6);
    rec.imm = 0x80;
    REQUIRE(m.exec(rec) == site_exit::resume);
    CHECK(m.f.rip == h + 0x80);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == m.end(rec));  // returns after the site

    machine k;
    k.gate(0x81, h + 0x81, 14, 0);
    k.gate(vec::gp, h + 0xd);
    k.enter_user(machine::code);
    rec.imm = 0x81;
    REQUIRE(k.exec(rec) == site_exit::resume);
    CHECK(k.f.rip == h + 0xd);
    auto q = stack_qwords(k, 3);
    CHECK(q[0] == 0x81 * 8 + 2);     // IDT bit set, EXT clear
    CHECK(q[1] == machine::code);    // the int instruction itself
    CHECK(q[2] == user_cs);
}

TEST_CASE("a gate that is not present raises #NP with the IDT error code", "[interrupts]")
{
    machine m;
    m.gate(0x50, h, 14, 0, 0, false);
    m.gate(vec::np, h + 0xb);
    m.cpu.set_virtual_if(true);
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x50), m.be) == delivery::delivered);
    CHECK(m.f.rip == h + 0xb);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == 0x50 * 8 + 2 + 1);  // EXT: an external event
}

TEST_CASE("a vector beyond the IDT limit raises #GP", "[interrupts]")
{
    machine m;
    m.gate(vec::gp, h + 0xd);
    m.cpu.idtr.limit = 16 * 0x20 - 1;
    REQUIRE(deliver(m.cpu, m.f, event::fault(vec::ud), m.be) == delivery::delivered);
    CHECK(m.f.rip == h + 0xd);
    m.cpu.idtr.limit = 16 * 0x20 - 1;
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x20), m.be) == delivery::delivered);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == 0x20 * 8 + 3);
}

TEST_CASE("#PF while delivering #PF becomes #DF, a fault delivering #DF shuts down", "[interrupts][df]")
{
    machine m;
    m.gate(vec::pf, h + 0xe);
    m.gate(vec::df, h + 0x8, 14, 0, 1);  // #DF on IST1, which is mapped
    m.f.gpr[rsp] = 0xffff888000300000ull;  // unmapped kernel stack
    REQUIRE(deliver(m.cpu, m.f, event::page_fault(2, 0xdead000), m.be) == delivery::delivered);
    CHECK(m.f.rip == h + 0x8);
    CHECK(m.f.gpr[rsp] == machine::ist1_top - 48);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == 0);  // #DF error code
    CHECK(m.cpu.cr2 == 0xffff888000300000ull - 8 * 6);  // the fault while pushing

    machine t;
    t.gate(vec::gp, h);
    t.gate(vec::df, h);  // no IST: the same broken stack
    t.f.gpr[rsp] = 0xffff888000300000ull;
    CHECK(deliver(t.cpu, t.f, event::fault(vec::gp, 0), t.be) == delivery::shutdown);
}

TEST_CASE("an external interrupt that faults in delivery is followed by the fault itself", "[interrupts][df]")
{
    machine m;
    m.gate(0x30, h, 14, 0, 0, true, 0x300);  // code selector beyond the GDT
    m.gate(vec::gp, h + 0xd);
    REQUIRE(deliver(m.cpu, m.f, event::interrupt(0x30), m.be) == delivery::delivered);
    CHECK(m.f.rip == h + 0xd);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == (0x300 | 1));
}

// ---- strict virtual interrupts ----------------------------------------------------------

TEST_CASE("deliver_pending delivers only with IF set, highest vector first", "[interrupts][pending]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.gate(0x41, h + 0x41);
    m.cpu.raise(0x30);
    m.cpu.raise(0x41);
    CHECK(m.cpu.page.pending == 1);
    m.cpu.set_virtual_if(false);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 0);
    CHECK(m.cpu.page.pending == 1);
    m.cpu.set_virtual_if(true);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);  // interrupt gate closes the window
    CHECK(m.f.rip == h + 0x41);
    CHECK(m.cpu.pending.test(0x30));
    CHECK(m.cpu.page.pending == 1);
}

TEST_CASE("trap gates let a second pending interrupt nest at once", "[interrupts][pending]")
{
    machine m;
    m.gate(0x30, h + 0x30, 15);
    m.gate(0x41, h + 0x41, 15);
    m.cpu.raise(0x30);
    m.cpu.raise(0x41);
    m.cpu.set_virtual_if(true);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 2);
    CHECK(m.f.rip == h + 0x30);                         // the nested one runs first
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == h + 0x41);  // interrupting the first handler
    CHECK(m.cpu.page.pending == 0);
}

TEST_CASE("sti then hlt: the shadow holds the interrupt until hlt, which then wakes at once", "[interrupts][shadow]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.set_virtual_if(false);
    m.cpu.raise(0x30);
    auto sti = record(site_kind::sti, 64, 1, 7);
    sti.flags |= annotation::flag_pad_before;
    REQUIRE(m.exec(sti) == site_exit::resume);
    CHECK(m.f.rip == machine::code + 1);  // not delivered: the shadow covers the next instruction
    CHECK(m.cpu.pending.test(0x30));

    // The next instruction is the hlt site right there.
    auto hlt = record(site_kind::hlt, 64, 1, 7);
    REQUIRE(run_site(m.cpu, m.f, hlt, machine::code + 1, m.be) == site_exit::resume);
    CHECK(m.f.rip == h + 0x30);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == machine::code + 1 + 8);  // returns after hlt
    CHECK_FALSE(m.cpu.halted);
}

TEST_CASE("an asynchronous window at the shadowed rip waits, one later delivers", "[interrupts][shadow]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    auto sti = record(site_kind::sti, 64, 1, 7);
    sti.flags |= annotation::flag_pad_before;
    REQUIRE(m.exec(sti) == site_exit::resume);
    m.cpu.raise(0x30);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 0);
    m.f.rip += 3;  // the shadowed instruction ran natively
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);
    CHECK_FALSE(m.cpu.interrupt_shadow);
}

TEST_CASE("an event at the end of an sti the entry window finished waits one instruction", "[interrupts][shadow]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.set_virtual_if(false);
    // What the fast path does (backends/xen/sti_fast_path.S): the virtual IF, the span's end.
    const uint64_t end = machine::code + 8;
    m.cpu.page.virtual_if = 1;
    m.cpu.page.inline_sti_end = end;
    m.cpu.raise(0x30);  // the upcall's poll
    m.f.rip = end;
    note_inline_sti_shadow(m.cpu, m.f.rip);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 0);  // the shadowed instruction has not run
    CHECK(m.cpu.interrupt_shadow);
    m.f.rip += 3;  // it ran (the backend single-steps it)
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == end + 3);
    CHECK_FALSE(m.cpu.interrupt_shadow);
}

TEST_CASE("an event anywhere else after an inline sti is delivered at once", "[interrupts][shadow]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.page.virtual_if = 1;
    m.cpu.page.inline_sti_end = machine::code + 8;
    m.cpu.raise(0x30);
    m.f.rip = machine::code + 9;  // past the shadowed instruction
    note_inline_sti_shadow(m.cpu, m.f.rip);
    CHECK_FALSE(m.cpu.interrupt_shadow);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);
    CHECK(m.f.rip == h + 0x30);
}

TEST_CASE("hlt with nothing pending halts, an interrupt wakes it", "[interrupts][halt]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.set_virtual_if(true);
    auto hlt = record(site_kind::hlt, 64, 1, 7);
    REQUIRE(m.exec(hlt) == site_exit::halted);
    CHECK(m.cpu.halted);
    m.cpu.raise(0x30);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);
    CHECK_FALSE(m.cpu.halted);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == m.end(hlt));
}

TEST_CASE("popf that sets IF delivers the pending interrupt on the way out", "[interrupts][pending]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.raise(0x30);
    m.be.poke<uint64_t>(m.f.gpr[rsp], flags::fixed1 | flags::if_);
    auto popf = record(site_kind::popf);
    REQUIRE(m.exec(popf) == site_exit::resume);
    CHECK(m.f.rip == h + 0x30);
    CHECK(m.be.peek<uint64_t>(m.f.gpr[rsp]) == m.end(popf));
}

TEST_CASE("inline cli is a store to the ABI page, the wedge honours it", "[interrupts][abi]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.set_virtual_if(true);
    m.cpu.page.virtual_if = 0;  // what `movb $0, vcpu_virtual_if` does
    m.cpu.raise(0x30);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 0);
    auto *bytes = reinterpret_cast<const uint8_t *>(&m.cpu);
    CHECK(bytes[wedge_abi::vcpu_virtual_if - wedge_abi::vcpu_page] == 0);
    CHECK(bytes[wedge_abi::vcpu_pending - wedge_abi::vcpu_page] == 1);
    CHECK(reinterpret_cast<uintptr_t>(&m.cpu) % 4096 == 0);
    m.cpu.page.inline_sti_end = 0x1122334455667788ull;  // the sti fast path's 8-byte store
    uint64_t end = 0;
    __builtin_memcpy(&end, bytes + (wedge_abi::vcpu_inline_sti_end - wedge_abi::vcpu_page), 8);
    CHECK(end == 0x1122334455667788ull);
}

TEST_CASE("iretq back to user with IF set delivers a pending interrupt before user code runs", "[interrupts][iret]")
{
    machine m;
    m.gate(0x30, h + 0x30);
    m.cpu.set_virtual_if(false);
    m.cpu.raise(0x30);
    uint64_t sp = m.f.gpr[rsp] - 40;
    uint64_t image[5] = {0x401000, user_cs, flags::fixed1 | flags::if_, machine::user_stack_top - 8, user_ds};
    m.be.poke(sp, image, sizeof image);
    m.f.gpr[rsp] = sp;
    REQUIRE(m.exec(record(site_kind::iret)) == site_exit::resume);
    CHECK(m.f.rip == h + 0x30);
    CHECK(m.cpu.cpl == 0);
    CHECK(m.f.gpr[rsp] == machine::kstack_top - 40);  // through RSP0
    auto q = stack_qwords(m, 5);
    CHECK(q[0] == 0x401000);
    CHECK(q[1] == user_cs);
    CHECK(q[2] == (flags::fixed1 | flags::if_));
    CHECK(q[3] == machine::user_stack_top - 8);
    CHECK(q[4] == user_ds);
}
