#include "wedge/devices/pic_8259.h"

namespace afterburn::wedge {

int pic_chip::highest_in_service() const
{
    // In special mask mode, masked in-service levels do not block lower ones.
    uint8_t s = special_mask ? static_cast<uint8_t>(isr & ~imr) : isr;
    for (unsigned p = 0; p < 8; ++p) {
        unsigned irq = (highest_irq + p) & 7;
        if (s & (1u << irq)) return static_cast<int>(irq);
    }
    return -1;
}

int pic_chip::best_request(uint8_t extra_irr) const
{
    uint8_t req = static_cast<uint8_t>((irr | extra_irr) & ~imr);
    if (!req) return -1;
    int serving = highest_in_service();
    for (unsigned p = 0; p < 8; ++p) {
        unsigned irq = (highest_irq + p) & 7;
        if (serving >= 0 && p >= priority(static_cast<unsigned>(serving))) return -1;
        if (req & (1u << irq)) return static_cast<int>(irq);
    }
    return -1;
}

void pic_chip::eoi(int irq, bool rotate)
{
    if (irq < 0) return;
    isr &= static_cast<uint8_t>(~(1u << irq));
    if (rotate) highest_irq = static_cast<uint8_t>((irq + 1) & 7);  // it becomes the lowest
}

void pic_pair::notify()
{
    if (cpu_ && pending_vector() >= 0) cpu_->page.pending = 1;
}

void pic_pair::set_irq(unsigned line, bool level)
{
    if (line > 15) return;
    pic_chip &c = chip_[line >> 3];
    uint8_t bit = static_cast<uint8_t>(1u << (line & 7));
    if (level && !(c.line_level & bit)) c.irr |= bit;  // edge-triggered: rising edge latches
    if (level)
        c.line_level |= bit;
    else
        c.line_level &= static_cast<uint8_t>(~bit);
    notify();
}

int pic_pair::pending_vector()
{
    pic_chip &m = chip_[0];
    int irq = m.best_request(master_extra());
    if (irq < 0) return -1;
    if (irq == 2 && !m.single) {
        int s = chip_[1].best_request();
        return chip_[1].vector_base + (s < 0 ? 7 : s);
    }
    return m.vector_base + irq;
}

uint8_t pic_pair::inta()
{
    pic_chip &m = chip_[0], &s = chip_[1];
    int irq = m.best_request(master_extra());
    if (irq < 0) return static_cast<uint8_t>(m.vector_base + 7);  // spurious IRQ7
    uint8_t bit = static_cast<uint8_t>(1u << irq);
    m.irr &= static_cast<uint8_t>(~bit);
    if (!m.auto_eoi) m.isr |= bit;
    if (irq != 2 || m.single) return static_cast<uint8_t>(m.vector_base + irq);
    int sirq = s.best_request();
    if (sirq < 0) return static_cast<uint8_t>(s.vector_base + 7);  // spurious IRQ15
    uint8_t sbit = static_cast<uint8_t>(1u << sirq);
    s.irr &= static_cast<uint8_t>(~sbit);
    if (!s.auto_eoi) s.isr |= sbit;
    return static_cast<uint8_t>(s.vector_base + sirq);
}

void pic_pair::acknowledge(uint8_t) { inta(); }

void pic_pair::write_command(pic_chip &c, uint8_t v)
{
    if (v & 0x10) {  // ICW1: start initialization
        c.irr = c.isr = c.imr = 0;
        c.highest_irq = 0;
        c.special_mask = c.read_isr = c.poll = c.auto_eoi = false;
        c.need_icw4 = v & 1;
        c.single = v & 2;
        c.init_step = 1;
        return;
    }
    if (v & 0x08) {  // OCW3
        if (v & 0x04) c.poll = true;
        if (v & 0x02) c.read_isr = v & 1;
        if (v & 0x40) c.special_mask = v & 0x20;
        return;
    }
    // OCW2: R SL EOI in bits 7-5, level in 2-0.
    unsigned level = v & 7;
    switch (v >> 5) {
    case 1: c.eoi(c.highest_in_service(), false); break;          // non-specific EOI
    case 3: c.eoi(static_cast<int>(level), false); break;         // specific EOI
    case 5: c.eoi(c.highest_in_service(), true); break;           // rotate on non-specific EOI
    case 7: c.eoi(static_cast<int>(level), true); break;          // rotate on specific EOI
    case 6: c.highest_irq = static_cast<uint8_t>((level + 1) & 7); break;  // set priority
    default: break;  // rotate-in-AEOI set/clear, no-op
    }
}

void pic_pair::write_data(pic_chip &c, uint8_t v)
{
    switch (c.init_step) {
    case 1:  // ICW2
        c.vector_base = v & 0xf8;
        c.init_step = c.single ? (c.need_icw4 ? 3 : 0) : 2;
        break;
    case 2:  // ICW3
        c.cascade = v;
        c.init_step = c.need_icw4 ? 3 : 0;
        break;
    case 3:  // ICW4
        c.auto_eoi = v & 2;
        c.init_step = 0;
        break;
    default: c.imr = v; break;  // OCW1
    }
}

uint32_t pic_pair::io_read(uint16_t port, unsigned)
{
    bool is_slave = (port & 0xfffe) == slave_port;
    pic_chip &c = chip_[is_slave ? 1 : 0];
    if (port & 1) return c.imr;
    if (c.poll) {  // poll command: acknowledge as INTA would, report the level
        c.poll = false;
        int irq = is_slave ? c.best_request() : c.best_request(master_extra());
        if (irq < 0) return 0;
        if (is_slave) {
            c.irr &= static_cast<uint8_t>(~(1u << irq));
            c.isr |= static_cast<uint8_t>(1u << irq);
        } else {
            inta();
        }
        return 0x80u | static_cast<uint32_t>(irq);
    }
    return c.read_isr ? c.isr : (is_slave ? c.irr : static_cast<uint8_t>(c.irr | master_extra()));
}

void pic_pair::io_write(uint16_t port, unsigned, uint32_t value)
{
    pic_chip &c = chip_[(port & 0xfffe) == slave_port ? 1 : 0];
    if (port & 1)
        write_data(c, static_cast<uint8_t>(value));
    else
        write_command(c, static_cast<uint8_t>(value));
    notify();
}

} // namespace afterburn::wedge
