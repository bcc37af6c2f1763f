#include "wedge/devices/pit_8254.h"

namespace afterburn::wedge {

namespace {
constexpr uint64_t ns_per_s = 1000000000ull;
}

// Split multiplications keep every intermediate value below 2^64 without 128-bit division
// (the freestanding build has no libgcc).
uint64_t pit_8254::ns_to_ticks(uint64_t ns)
{
    return ns / ns_per_s * frequency_hz + ns % ns_per_s * frequency_hz / ns_per_s;
}

uint64_t pit_8254::ticks_to_ns(uint64_t ticks)
{
    return ticks / frequency_hz * ns_per_s + (ticks % frequency_hz * ns_per_s + frequency_hz - 1) / frequency_hz;
}

uint64_t pit_8254::elapsed_ticks(const channel &c) const
{
    if (!c.counting) return 0;
    uint64_t now = be_.now_ns();
    return now > c.loaded_at ? ns_to_ticks(now - c.loaded_at) : 0;
}

uint16_t pit_8254::current_count(const channel &c) const
{
    if (!c.counting) return static_cast<uint16_t>(c.reload);
    uint64_t e = elapsed_ticks(c), n = c.reload;
    switch (c.mode) {
    case 2: return static_cast<uint16_t>(n - e % n);
    case 3: {
        uint64_t half = (n + 1) / 2;
        return static_cast<uint16_t>((n - 2 * (e % half)) & 0xfffe);
    }
    default: return static_cast<uint16_t>((n - e) & 0xffff);  // mode 0 wraps past zero
    }
}

bool pit_8254::output(const channel &c) const
{
    if (!c.counting) return c.mode != 0;  // mode 0 output starts low, the others high
    uint64_t e = elapsed_ticks(c), n = c.reload;
    switch (c.mode) {
    case 2: return e % n != n - 1;           // low for the last tick of each period
    case 3: return e % n < (n + 1) / 2;      // high for the first half
    default: return e >= n;                  // rises at terminal count and stays high
    }
}

uint64_t pit_8254::rising_edges(const channel &c) const
{
    if (!c.counting) return 0;
    uint64_t e = elapsed_ticks(c), n = c.reload;
    if (c.mode == 2 || c.mode == 3) return e / n;
    return e >= n ? 1 : 0;
}

uint8_t pit_8254::status(const channel &c) const
{
    return static_cast<uint8_t>((output(c) ? 0x80 : 0) | (c.null_count ? 0x40 : 0) | (c.access << 4) |
                                (c.mode << 1));
}

void pit_8254::load(channel &c)
{
    c.counting = c.gate;
    c.loaded_at = be_.now_ns();
    c.null_count = false;
    c.edges_seen = 0;
}

void pit_8254::control(uint8_t v)
{
    unsigned sc = v >> 6;
    if (sc == 3) {  // read-back: bit 5 clear latches counts, bit 4 clear latches status
        for (unsigned i = 0; i < 3; ++i) {
            if (!(v & (2u << i))) continue;
            channel &c = ch_[i];
            if (!(v & 0x20) && !c.count_latched) {
                c.count_latched = true;
                c.latched_count = current_count(c);
                c.latch_msb_next = false;
            }
            if (!(v & 0x10) && !c.status_latched) {
                c.status_latched = true;
                c.latched_status = status(c);
            }
        }
        return;
    }
    channel &c = ch_[sc];
    unsigned access = (v >> 4) & 3;
    if (access == 0) {  // counter latch command
        if (!c.count_latched) {
            c.count_latched = true;
            c.latched_count = current_count(c);
            c.latch_msb_next = false;
        }
        return;
    }
    c.access = static_cast<uint8_t>(access);
    unsigned mode = (v >> 1) & 7;
    c.mode = static_cast<uint8_t>(mode >= 6 ? mode - 4 : mode);
    c.counting = false;
    c.null_count = true;
    c.write_msb_next = c.read_msb_next = false;
    c.count_latched = c.status_latched = false;
}

void pit_8254::write_counter(channel &c, uint8_t v)
{
    switch (c.access) {
    case 1: c.reload = v; break;
    case 2: c.reload = static_cast<uint32_t>(v) << 8; break;
    default:
        if (!c.write_msb_next) {
            c.pending_lsb = v;
            c.write_msb_next = true;
            return;
        }
        c.write_msb_next = false;
        c.reload = c.pending_lsb | (static_cast<uint32_t>(v) << 8);
        break;
    }
    if (c.reload == 0) c.reload = 0x10000;
    load(c);
}

uint8_t pit_8254::read_counter(channel &c)
{
    if (c.status_latched) {
        c.status_latched = false;
        return c.latched_status;
    }
    uint16_t value;
    bool msb;
    if (c.count_latched) {
        value = c.latched_count;
        if (c.access == 3) {
            msb = c.latch_msb_next;
            c.latch_msb_next = !msb;
            if (msb) c.count_latched = false;
        } else {
            msb = c.access == 2;
            c.count_latched = false;
        }
    } else {
        value = current_count(c);
        if (c.access == 3) {
            msb = c.read_msb_next;
            c.read_msb_next = !msb;
        } else {
            msb = c.access == 2;
        }
    }
    return static_cast<uint8_t>(msb ? value >> 8 : value);
}

uint32_t pit_8254::io_read(uint16_t port, unsigned)
{
    if (port == port_b) {
        refresh_toggle_ = !refresh_toggle_;  // bit 4 toggles on every read, as DRAM refresh did
        return (port_b_ & 3) | (refresh_toggle_ ? 0x10 : 0) | (output(ch_[2]) ? 0x20 : 0);
    }
    unsigned i = port - first_port;
    return i < 3 ? read_counter(ch_[i]) : 0xff;  // the control word is write-only
}

void pit_8254::io_write(uint16_t port, unsigned, uint32_t value)
{
    uint8_t v = static_cast<uint8_t>(value);
    if (port == port_b) {
        bool gate_rises = !(port_b_ & 1) && (v & 1);
        port_b_ = v & 3;
        channel &c = ch_[2];
        c.gate = v & 1;
        if (gate_rises && !c.null_count) load(c);  // a rising gate (re)starts channel 2
        if (!c.gate) c.counting = false;
        return;
    }
    unsigned i = port - first_port;
    if (i == 3)
        control(v);
    else if (i < 3)
        write_counter(ch_[i], v);
}

void pit_8254::poll()
{
    channel &c = ch_[0];
    uint64_t edges = rising_edges(c);
    if (edges > c.edges_seen) {
        c.edges_seen = edges;
        if (irq_) irq_->pulse_irq(line_);
    }
}

uint64_t pit_8254::next_deadline_ns() const
{
    const channel &c = ch_[0];
    if (!c.counting) return 0;
    if (c.mode != 2 && c.mode != 3 && c.edges_seen) return 0;  // one-shot already fired
    return c.loaded_at + ticks_to_ns((c.edges_seen + 1) * c.reload);
}

} // namespace afterburn::wedge
