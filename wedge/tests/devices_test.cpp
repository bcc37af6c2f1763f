// The platform devices emulated in place: I/O bus, 8250 UART, 8259 PIC pair, 8254 PIT,
// CMOS/RTC and the local APIC.
#include <catch2/catch.hpp>

#include "fake_backend.h"
#include "machine.h"
#include "wedge/devices/apic_timer_count.h"
#include "wedge/devices/cmos_rtc.h"
#include "wedge/devices/io_bus.h"
#include "wedge/devices/local_apic.h"
#include "wedge/devices/pic_8259.h"
#include "wedge/devices/pit_8254.h"
#include "wedge/devices/uart_8250.h"
#include "wedge/interrupts.h"

using namespace afterburn;
using namespace afterburn::wedge;
using namespace afterburn::wedge::test;

namespace {

struct irq_log final : irq_sink {
    void set_irq(unsigned line, bool level) override { events.push_back({line, level}); }
    std::vector<std::pair<unsigned, bool>> events;
};

// Linux's init_8259A: ICW1 edge + ICW4, vectors 0x20/0x28, cascade on IRQ2, 8086 mode.
void init_pics(pic_pair &p, uint8_t master_mask = 0, uint8_t slave_mask = 0)
{
    p.io_write(0x20, 1, 0x11);
    p.io_write(0x21, 1, 0x20);
    p.io_write(0x21, 1, 0x04);
    p.io_write(0x21, 1, 0x01);
    p.io_write(0xa0, 1, 0x11);
    p.io_write(0xa1, 1, 0x28);
    p.io_write(0xa1, 1, 0x02);
    p.io_write(0xa1, 1, 0x01);
    p.io_write(0x21, 1, master_mask);
    p.io_write(0xa1, 1, slave_mask);
}

} // namespace

TEST_CASE("io bus: ranges, overlaps, unclaimed ports", "[devices][io]")
{
    fake_backend be;
    io_bus bus;
    uart_8250 a(be), b(be);
    CHECK(bus.attach(0x3f8, 8, a));
    CHECK_FALSE(bus.attach(0x3fc, 8, b));  // overlaps
    CHECK(bus.attach(0x2f8, 8, b));
    CHECK(bus.read(0x3fd, 1) == 0x60);
    CHECK(bus.read(0x1234, 1) == 0xff);
    CHECK(bus.read(0x1234, 2) == 0xffff);
    CHECK(bus.read(0x1234, 4) == 0xffffffffu);
}

TEST_CASE("UART: transmit to the console, LSR ready, scratch, divisor latch, FIFO", "[devices][uart]")
{
    fake_backend be;
    uart_8250 u(be);
    for (char c : std::string("hi\n")) u.io_write(0x3f8, 1, static_cast<uint8_t>(c));
    CHECK(be.console == "hi\n");
    CHECK(u.io_read(0x3fd, 1) == 0x60);
    u.io_write(0x3ff, 1, 0x5a);
    CHECK(u.io_read(0x3ff, 1) == 0x5a);
    u.io_write(0x3fb, 1, 0x83);  // DLAB, 8N1
    u.io_write(0x3f8, 1, 0x01);  // 115200 baud
    u.io_write(0x3f9, 1, 0x00);
    CHECK(u.io_read(0x3f8, 1) == 0x01);
    u.io_write(0x3fb, 1, 0x03);
    CHECK(be.console == "hi\n");  // divisor writes are not data
    CHECK(u.io_read(0x3fb, 1) == 0x03);
    CHECK(u.io_read(0x3fa, 1) == 0x01);         // no interrupt, no FIFO
    u.io_write(0x3fa, 1, 0x07);
    CHECK((u.io_read(0x3fa, 1) & 0xc0) == 0xc0);  // 16550A FIFO present
    u.io_write(0x3f9, 1, 0x0f);
    CHECK(u.io_read(0x3f9, 1) == 0x0f);
    u.io_write(0x3fc, 1, 0x10);  // loopback: MSR mirrors MCR, output suppressed
    u.io_write(0x3f8, 1, 'x');
    CHECK(be.console == "hi\n");
}

TEST_CASE("UART: THR-empty interrupt on IRQ4 through OUT2, acknowledged by reading IIR", "[devices][uart]")
{
    fake_backend be;
    irq_log irq;
    uart_8250 u(be, &irq);
    u.io_write(0x3f9, 1, 0x02);  // ETBEI, but OUT2 still low
    CHECK(irq.events.empty());
    u.io_write(0x3fc, 1, 0x08);  // OUT2
    REQUIRE(irq.events.size() == 1);
    CHECK(irq.events[0] == std::make_pair(4u, true));
    CHECK((u.io_read(0x3fa, 1) & 0x0f) == 0x02);  // THRE
    CHECK(irq.events.back() == std::make_pair(4u, false));
    CHECK((u.io_read(0x3fa, 1) & 0x0f) == 0x01);  // acknowledged
    u.io_write(0x3f8, 1, 'a');
    CHECK(irq.events.back() == std::make_pair(4u, true));  // empty again after the byte
}

TEST_CASE("PIC: ICW init, vectors, IMR, acknowledge and non-specific EOI", "[devices][pic]")
{
    pic_pair p;
    init_pics(p, 0xfb, 0xff);  // only the cascade unmasked
    CHECK(p.io_read(0x21, 1) == 0xfb);
    p.pulse_irq(1);
    CHECK(p.pending_vector() == -1);  // masked
    CHECK(p.io_read(0x20, 1) == 0x02);  // IRR reads back by default
    p.io_write(0x21, 1, 0xf9);        // unmask IRQ1
    CHECK(p.pending_vector() == 0x21);
    p.acknowledge(0x21);
    CHECK(p.master().isr == 0x02);
    CHECK(p.master().irr == 0);
    p.io_write(0x20, 1, 0x0b);  // OCW3: read ISR
    CHECK(p.io_read(0x20, 1) == 0x02);
    p.io_write(0x20, 1, 0x20);  // non-specific EOI
    CHECK(p.master().isr == 0);
}

TEST_CASE("PIC: priorities, nesting, specific EOI and rotation", "[devices][pic]")
{
    pic_pair p;
    init_pics(p);
    p.pulse_irq(3);
    CHECK(p.pending_vector() == 0x23);
    p.acknowledge(0x23);
    p.pulse_irq(5);
    CHECK(p.pending_vector() == -1);  // lower priority than IRQ3 in service
    p.pulse_irq(0);
    CHECK(p.pending_vector() == 0x20);  // higher priority nests
    p.acknowledge(0x20);
    CHECK(p.master().isr == 0x09);
    p.io_write(0x20, 1, 0x63);  // specific EOI for IRQ3
    CHECK(p.master().isr == 0x01);
    p.io_write(0x20, 1, 0x20);
    CHECK(p.pending_vector() == 0x25);
    p.acknowledge(0x25);
    p.io_write(0x20, 1, 0xa0);  // rotate on non-specific EOI: IRQ5 becomes lowest
    CHECK(p.master().highest_irq == 6);
    p.pulse_irq(4);
    p.pulse_irq(7);
    CHECK(p.pending_vector() == 0x27);  // 7 now outranks 4
    p.io_write(0x20, 1, 0xc7);          // set priority: IRQ7 lowest, IRQ0 highest again
    CHECK(p.pending_vector() == 0x24);
}

TEST_CASE("PIC: edge triggering latches once per rising edge", "[devices][pic]")
{
    pic_pair p;
    init_pics(p);
    p.set_irq(6, true);
    p.acknowledge(static_cast<uint8_t>(p.pending_vector()));
    p.io_write(0x20, 1, 0x20);
    p.set_irq(6, true);  // still high: no new edge
    CHECK(p.pending_vector() == -1);
    p.set_irq(6, false);
    p.set_irq(6, true);
    CHECK(p.pending_vector() == 0x26);
}

TEST_CASE("PIC: the slave cascades through master IRQ2", "[devices][pic]")
{
    pic_pair p;
    init_pics(p);
    p.pulse_irq(12);
    CHECK(p.pending_vector() == 0x2c);
    p.acknowledge(0x2c);
    CHECK(p.slave().isr == 0x10);
    CHECK(p.master().isr == 0x04);
    p.pulse_irq(9);
    CHECK(p.pending_vector() == -1);  // cascade in service on the master
    p.io_write(0xa0, 1, 0x20);
    p.io_write(0x20, 1, 0x20);
    CHECK(p.pending_vector() == 0x29);
    p.io_write(0xa1, 1, 0x02);  // mask IRQ9 on the slave
    CHECK(p.pending_vector() == -1);
}

TEST_CASE("PIC: poll command and auto-EOI", "[devices][pic]")
{
    pic_pair p;
    init_pics(p);
    p.pulse_irq(4);
    p.io_write(0x20, 1, 0x0c);  // OCW3 poll
    CHECK(p.io_read(0x20, 1) == 0x84);
    CHECK(p.master().isr == 0x10);
    p.io_write(0x20, 1, 0x11);
    p.io_write(0x21, 1, 0x30);
    p.io_write(0x21, 1, 0x04);
    p.io_write(0x21, 1, 0x03);  // AEOI
    p.pulse_irq(1);
    CHECK(p.pending_vector() == 0x31);
    p.acknowledge(0x31);
    CHECK(p.master().isr == 0);
}

TEST_CASE("PIC as the vCPU's ExtINT source through deliver_pending", "[devices][pic][interrupts]")
{
    machine m;
    pic_pair p(&m.cpu);
    m.cpu.extint = &p;
    init_pics(p);
    m.gate(0x24, machine::handler);
    m.cpu.set_virtual_if(true);
    p.pulse_irq(4);
    CHECK(m.cpu.page.pending == 1);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);
    CHECK(m.f.rip == machine::handler);
    CHECK(p.master().isr == 0x10);
    CHECK(m.cpu.page.pending == 0);
}

TEST_CASE("PIT: mode 2 on channel 0 raises IRQ0 from the clock, coalescing missed periods", "[devices][pit]")
{
    fake_backend be;
    irq_log irq;
    pit_8254 pit(be, &irq);
    pit.io_write(0x43, 1, 0x34);  // channel 0, lsb/msb, mode 2
    pit.io_write(0x40, 1, 0xa9);  // 1193 = 0x04a9: ~1 ms
    pit.io_write(0x40, 1, 0x04);
    CHECK(pit.next_deadline_ns() == pit_8254::ticks_to_ns(1193));
    be.now = 500000;  // 0.5 ms
    pit.poll();
    CHECK(irq.events.empty());
    uint64_t ticks = pit_8254::ns_to_ticks(500000);
    pit.io_write(0x43, 1, 0x00);  // latch channel 0
    be.now = 900000;              // the latched value does not move
    uint16_t latched = static_cast<uint16_t>(pit.io_read(0x40, 1) | (pit.io_read(0x40, 1) << 8));
    CHECK(latched == 1193 - ticks);
    be.now = 3500000;  // 3.5 ms: three periods passed
    pit.poll();
    REQUIRE(irq.events.size() == 2);  // one pulse: up and down
    CHECK(irq.events[0] == std::make_pair(0u, true));
    pit.poll();
    CHECK(irq.events.size() == 2);
    CHECK(pit.next_deadline_ns() == pit_8254::ticks_to_ns(4 * 1193));
}

TEST_CASE("PIT: mode 0 counts down once, read-back reports status and count", "[devices][pit]")
{
    fake_backend be;
    irq_log irq;
    pit_8254 pit(be, &irq);
    pit.io_write(0x43, 1, 0x30);  // channel 0, lsb/msb, mode 0
    pit.io_write(0x43, 1, 0xe2);  // read-back status of channel 0
    CHECK(pit.io_read(0x40, 1) == 0x70);  // output low, null count, lsb/msb, mode 0
    pit.io_write(0x40, 1, 0x00);
    pit.io_write(0x40, 1, 0x10);  // 4096 ticks
    be.now = pit_8254::ticks_to_ns(4000);
    pit.poll();
    CHECK(irq.events.empty());
    pit.io_write(0x43, 1, 0xc2);  // read-back count and status of channel 0
    CHECK(pit.io_read(0x40, 1) == 0x30);  // status first: output low, count loaded
    uint16_t count = static_cast<uint16_t>(pit.io_read(0x40, 1) | (pit.io_read(0x40, 1) << 8));
    CHECK(count == 96);
    be.now = pit_8254::ticks_to_ns(5000);
    pit.poll();
    CHECK(irq.events.size() == 2);
    pit.io_write(0x43, 1, 0xe2);
    CHECK((pit.io_read(0x40, 1) & 0x80) == 0x80);  // output high after terminal count
    be.now = pit_8254::ticks_to_ns(9000);
    pit.poll();
    CHECK(irq.events.size() == 2);  // one-shot
    CHECK(pit.next_deadline_ns() == 0);
}

TEST_CASE("PIT: channel 2 runs from the port 0x61 gate and shows its output there", "[devices][pit]")
{
    fake_backend be;
    pit_8254 pit(be);
    pit.io_write(0x43, 1, 0xb0);  // channel 2, lsb/msb, mode 0
    pit.io_write(0x42, 1, 0xff);
    pit.io_write(0x42, 1, 0xff);
    be.now = 1000000;
    CHECK((pit.io_read(0x61, 1) & 0x20) == 0);  // gate low: not counting
    pit.io_write(0x43, 1, 0x80);
    CHECK((pit.io_read(0x42, 1) | (pit.io_read(0x42, 1) << 8)) == 0xffff);
    pit.io_write(0x61, 1, 0x01);                 // gate up: starts now
    be.now = 1000000 + pit_8254::ticks_to_ns(0x100);
    pit.io_write(0x43, 1, 0x80);                 // latch channel 2
    uint16_t count = static_cast<uint16_t>(pit.io_read(0x42, 1) | (pit.io_read(0x42, 1) << 8));
    CHECK(count == 0xffff - 0x100);
    be.now += pit_8254::ticks_to_ns(0x10000);
    CHECK((pit.io_read(0x61, 1) & 0x21) == 0x21);  // output high after terminal count
    uint8_t a = static_cast<uint8_t>(pit.io_read(0x61, 1)), b = static_cast<uint8_t>(pit.io_read(0x61, 1));
    CHECK(((a ^ b) & 0x10) == 0x10);  // refresh bit toggles
}

TEST_CASE("PIT: mode 3 square wave reads even counts and pulses each period", "[devices][pit]")
{
    fake_backend be;
    irq_log irq;
    pit_8254 pit(be, &irq);
    pit.io_write(0x43, 1, 0x36);
    pit.io_write(0x40, 1, 0x00);
    pit.io_write(0x40, 1, 0x01);  // 256
    be.now = pit_8254::ticks_to_ns(10);
    uint16_t count = static_cast<uint16_t>(pit.io_read(0x40, 1) | (pit.io_read(0x40, 1) << 8));
    CHECK(count == 256 - 20);
    be.now = pit_8254::ticks_to_ns(300);
    pit.poll();
    CHECK(irq.events.size() == 2);
}

TEST_CASE("CMOS: calendar conversion", "[devices][rtc]")
{
    civil_time t = civil_from_epoch(0);
    CHECK(t.year == 1970);
    CHECK(t.month == 1);
    CHECK(t.day == 1);
    CHECK(t.weekday == 5);  // Thursday
    t = civil_from_epoch(951782400);  // 2000-02-29 00:00:00, a Tuesday
    CHECK(t.year == 2000);
    CHECK(t.month == 2);
    CHECK(t.day == 29);
    CHECK(t.weekday == 3);
    uint64_t s = 1763683200 + 3 * 3600 + 25 * 60 + 7;  // 2025-11-21 03:25:07
    t = civil_from_epoch(s);
    CHECK(t.year == 2025);
    CHECK(t.month == 11);
    CHECK(t.day == 21);
    CHECK(t.hour == 3);
    CHECK(t.minute == 25);
    CHECK(t.second == 7);
    CHECK(epoch_from_civil(t) == s);
}

TEST_CASE("CMOS: time of day in BCD and binary, 24- and 12-hour", "[devices][rtc]")
{
    fake_backend be;
    cmos_rtc rtc(be, 1763683200 + 15 * 3600 + 4 * 60 + 59);  // 2025-11-21 15:04:59
    auto reg = [&](uint8_t i) {
        rtc.io_write(0x70, 1, i);
        return rtc.io_read(0x71, 1);
    };
    CHECK(reg(0) == 0x59);
    CHECK(reg(2) == 0x04);
    CHECK(reg(4) == 0x15);
    CHECK(reg(7) == 0x21);
    CHECK(reg(8) == 0x11);
    CHECK(reg(9) == 0x25);
    CHECK(reg(0x32) == 0x20);
    CHECK(reg(0x0d) == 0x80);
    CHECK((reg(0x0a) & 0x80) == 0);  // never mid-update
    be.now = 2000000000ull;          // two seconds later
    CHECK(reg(0) == 0x01);
    CHECK(reg(2) == 0x05);
    rtc.io_write(0x70, 1, 0x0b);
    rtc.io_write(0x71, 1, 0x04);     // binary, 12-hour
    CHECK(reg(4) == (0x80 | 3));     // 3 PM
    CHECK(reg(9) == 25);
    rtc.io_write(0x70, 1, 0x8f);     // NMI disable bit in the index
    CHECK(rtc.nmi_disabled());
}

TEST_CASE("CMOS: setting the time moves the guest clock, NVRAM keeps bytes", "[devices][rtc]")
{
    fake_backend be;
    cmos_rtc rtc(be, 1763683200);
    auto write = [&](uint8_t i, uint8_t v) {
        rtc.io_write(0x70, 1, i);
        rtc.io_write(0x71, 1, v);
    };
    auto reg = [&](uint8_t i) {
        rtc.io_write(0x70, 1, i);
        return rtc.io_read(0x71, 1);
    };
    write(0x0b, 0x82);  // SET, BCD, 24h
    write(4, 0x23);
    write(2, 0x59);
    write(0, 0x30);
    write(9, 0x30);     // 2030
    write(0x0b, 0x02);
    CHECK(reg(4) == 0x23);
    CHECK(reg(9) == 0x30);
    CHECK(rtc.now_epoch() == epoch_from_civil({2030, 11, 21, 23, 59, 30, 0}));
    write(0x40, 0xab);
    CHECK(reg(0x40) == 0xab);
    write(0, 0x00);  // not SET: ignored
    CHECK(reg(0) == 0x30);
}

TEST_CASE("LAPIC: identification, TPR and the priority of delivery", "[devices][apic]")
{
    fake_backend be;
    vcpu cpu;
    cpu.id = 1;
    local_apic apic(cpu, be);
    CHECK(apic.read(local_apic::reg_id) == 1u << 24);
    CHECK(apic.read(local_apic::reg_version) == local_apic::version);
    cpu.raise(0x45);
    CHECK(apic.pending_vector() == 0x45);
    apic.write(local_apic::reg_tpr, 0x50);
    CHECK(cpu.tpr == 0x50);
    CHECK(apic.pending_vector() == -1);  // class 4 <= TPR class 5
    apic.write(local_apic::reg_tpr, 0x30);
    CHECK(apic.pending_vector() == 0x45);
    apic.acknowledge(0x45);
    CHECK(apic.read(local_apic::reg_isr + 0x20) == 1u << 5);  // vector 0x45: ISR word 2, bit 5
    CHECK(apic.read(local_apic::reg_ppr) == 0x40);
    cpu.raise(0x42);
    CHECK(apic.pending_vector() == -1);  // same class as the one in service
    cpu.raise(0x61);
    CHECK(apic.pending_vector() == 0x61);
    CHECK(apic.read(local_apic::reg_irr + 0x30) == 1u << 1);
    apic.write(local_apic::reg_eoi, 0);
    CHECK(apic.read(local_apic::reg_isr + 0x20) == 0);
}

TEST_CASE("LAPIC: timer one-shot and periodic with the divide configuration", "[devices][apic]")
{
    fake_backend be;
    vcpu cpu;
    local_apic apic(cpu, be);
    apic.write(local_apic::reg_svr, 0x1ff);
    apic.write(local_apic::reg_divide, 0x3);  // divide by 16
    apic.write(local_apic::reg_lvt_timer, 0xec);
    apic.write(local_apic::reg_initial_count, 1000);
    be.now = 1600;  // 100 ticks
    CHECK(apic.read(local_apic::reg_current_count) == 900);
    apic.poll();
    CHECK_FALSE(cpu.pending.test(0xec));
    be.now = 16000;
    apic.poll();
    CHECK(cpu.pending.test(0xec));
    CHECK(apic.read(local_apic::reg_current_count) == 0);
    cpu.pending.clear(0xec);
    be.now = 40000;
    apic.poll();
    CHECK_FALSE(cpu.pending.test(0xec));  // one-shot
    CHECK(apic.next_deadline_ns() == 0);

    apic.write(local_apic::reg_divide, 0xb);  // divide by 1
    apic.write(local_apic::reg_lvt_timer, local_apic::timer_periodic | 0xed);
    apic.write(local_apic::reg_initial_count, 500);
    CHECK(apic.next_deadline_ns() == 40500);
    be.now = 40000 + 1700;  // three periods and a bit
    apic.poll();
    CHECK(cpu.pending.test(0xed));
    CHECK(apic.read(local_apic::reg_current_count) == 300);
    CHECK(apic.next_deadline_ns() == 42000);
    cpu.pending.clear(0xed);
    apic.write(local_apic::reg_lvt_timer, local_apic::lvt_masked | local_apic::timer_periodic | 0xed);
    be.now = 43000;
    apic.poll();
    CHECK_FALSE(cpu.pending.test(0xed));  // masked
}

TEST_CASE("LAPIC: software disable masks the LVT, ICR self-IPIs", "[devices][apic]")
{
    fake_backend be;
    vcpu cpu;
    cpu.id = 2;
    local_apic apic(cpu, be);
    apic.write(local_apic::reg_lvt_timer, 0x30);
    CHECK(apic.read(local_apic::reg_lvt_timer) & local_apic::lvt_masked);  // SVR disabled at reset
    apic.write(local_apic::reg_svr, 0x1ff);
    apic.write(local_apic::reg_lvt_timer, 0x30);
    CHECK(apic.read(local_apic::reg_lvt_timer) == 0x30);
    apic.write(local_apic::reg_icr_low, (1u << 18) | 0x51);  // shorthand self
    CHECK(cpu.pending.test(0x51));
    apic.write(local_apic::reg_icr_high, 2u << 24);
    apic.write(local_apic::reg_icr_low, 0x52);                // physical, our ID
    CHECK(cpu.pending.test(0x52));
    apic.write(local_apic::reg_icr_high, 5u << 24);
    apic.write(local_apic::reg_icr_low, 0x53);                // someone else
    CHECK_FALSE(cpu.pending.test(0x53));
    CHECK((apic.read(local_apic::reg_icr_low) & (1u << 12)) == 0);
}

TEST_CASE("LAPIC: x2APIC MSR access rules", "[devices][apic]")
{
    fake_backend be;
    vcpu cpu;
    cpu.id = 7;
    local_apic apic(cpu, be);
    uint64_t v;
    CHECK_FALSE(apic.read_msr(0x802, v));  // xAPIC mode
    cpu.apic_base |= apic_base_msr::extd;
    REQUIRE(apic.read_msr(0x802, v));
    CHECK(v == 7);
    REQUIRE(apic.read_msr(0x80d, v));
    CHECK(v == (1u << 7));                  // logical ID from the APIC ID
    CHECK_FALSE(apic.write_msr(0x802, 1));  // ID is read-only
    CHECK_FALSE(apic.write_msr(0x80b, 1));  // EOI must be written with 0
    CHECK(apic.write_msr(0x80b, 0));
    CHECK_FALSE(apic.read_msr(0x80b, v));   // EOI is write-only
    CHECK_FALSE(apic.read_msr(0x80e, v));   // DFR does not exist in x2APIC mode
    CHECK_FALSE(apic.write_msr(0x808, 0x100));
    CHECK(apic.write_msr(0x808, 0x20));
    CHECK(cpu.tpr == 0x20);
    CHECK(apic.write_msr(0x830, (7ull << 32) | 0x66));  // ICR to ourselves
    CHECK(cpu.pending.test(0x66));
    REQUIRE(apic.read_msr(0x830, v));
    CHECK(v == ((7ull << 32) | 0x66));
    CHECK(apic.read(local_apic::reg_id) == 0);  // no MMIO in x2APIC mode
}

TEST_CASE("LAPIC as the vCPU's interrupt controller: TPR holds delivery back", "[devices][apic][interrupts]")
{
    machine m;
    local_apic apic(m.cpu, m.be);
    m.cpu.apic = &apic;
    m.gate(0x45, machine::handler);
    m.cpu.set_virtual_if(true);
    m.cpu.tpr = 0x50;
    m.cpu.raise(0x45);
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 0);
    CHECK(m.cpu.page.pending == 0);  // nothing deliverable
    m.cpu.tpr = 0;
    m.cpu.apic_base &= ~apic_base_msr::enable;  // a hardware-disabled APIC delivers nothing
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 0);
    m.cpu.apic_base |= apic_base_msr::enable;
    CHECK(deliver_pending(m.cpu, m.f, m.be) == 1);
    CHECK(apic.in_service_highest() == 0x45);
}

TEST_CASE("APIC timer count: periodic reloads, one-shot stops, divide, stopped and TSC-deadline", "[devices][apic]")
{
    wedge::apic_timer_count t;
    CHECK(t.read(123) == 0);                          // no initial count yet
    t.write_divide(0x3);                              // divide by 16
    t.write_lvt(0x30 | wedge::apic_timer_count::lvt_periodic);
    t.write_initial(1000, 5000);
    CHECK(t.read(5000) == 1000);
    CHECK(t.read(5000 + 16 * 250) == 750);
    CHECK(t.read(5000 + 16 * 1000) == 1000);          // reloaded, never resting at 0
    CHECK(t.read(5000 + 16 * 2999) == 1);
    t.write_lvt(0x30);                                // one-shot: counts down to 0 and stays
    t.write_divide(0xb);                              // divide by 1
    t.write_initial(100, 0);
    CHECK(t.read(40) == 60);
    CHECK(t.read(100) == 0);
    CHECK(t.read(10000) == 0);
    t.write_lvt(0x30 | 2u << 17);                     // TSC-deadline: the count reads 0
    CHECK(t.read(40) == 0);
    t.write_lvt(0x30);
    t.write_initial(0, 0);                            // a zero initial count stops it
    CHECK(t.read(40) == 0);
}
