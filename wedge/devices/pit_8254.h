// The i8254 programmable interval timer at 0x40-0x43, with the channel-2 gate and output
// at port 0x61 (PC system control port B, which Linux uses to calibrate the TSC). Counters
// run from the backend's clock at 1.193182 MHz; they are not ticked, their value is
// computed from the time they were loaded. Modes 0, 2 and 3 (1, 4, 5 behave as 0; 6, 7 as
// 2, 3), binary counting, counter latch, read-back. Channel 0 raises IRQ0 on each
// rising edge of its output when poll() is called.
#pragma once

#include <stdint.h>

#include "wedge/backend.h"
#include "wedge/devices/io_bus.h"
#include "wedge/interrupt_controller.h"

namespace afterburn::wedge {

class pit_8254 final : public io_device {
public:
    static constexpr uint64_t frequency_hz = 1193182;
    static constexpr uint16_t first_port = 0x40, port_b = 0x61;

    pit_8254(backend &be, irq_sink *irq = nullptr, unsigned irq_line = 0) : be_(be), irq_(irq), line_(irq_line)
    {
        ch_[2].gate = false;  // port 0x61 bit 0 starts low
    }

    uint32_t io_read(uint16_t port, unsigned size) override;
    void io_write(uint16_t port, unsigned size, uint32_t value) override;

    // Raises IRQ0 if channel 0's output rose since the last call (periods missed in between
    // coalesce into one edge, like an edge-triggered PIC would see them).
    void poll();
    // When channel 0 next raises IRQ0, in backend nanoseconds; 0 when it will not.
    uint64_t next_deadline_ns() const;

    static uint64_t ns_to_ticks(uint64_t ns);
    static uint64_t ticks_to_ns(uint64_t ticks);

private:
    struct channel {
        uint8_t mode = 0;      // 0..5 after folding 6/7
        uint8_t access = 3;    // 1: lsb, 2: msb, 3: lsb then msb
        uint32_t reload = 0x10000;
        uint64_t loaded_at = 0;
        bool counting = false;
        bool null_count = true;
        bool write_msb_next = false, read_msb_next = false;
        uint8_t pending_lsb = 0;
        bool count_latched = false, status_latched = false;
        uint16_t latched_count = 0;
        uint8_t latched_status = 0;
        uint8_t latch_msb_next = false;
        uint64_t edges_seen = 0;
        bool gate = true;
    };
    uint64_t elapsed_ticks(const channel &c) const;
    uint16_t current_count(const channel &c) const;
    bool output(const channel &c) const;
    uint64_t rising_edges(const channel &c) const;
    uint8_t status(const channel &c) const;
    void control(uint8_t v);
    void load(channel &c);
    uint8_t read_counter(channel &c);
    void write_counter(channel &c, uint8_t v);

    backend &be_;
    irq_sink *irq_;
    unsigned line_;
    channel ch_[3];
    uint8_t port_b_ = 0;
    bool refresh_toggle_ = false;
};

} // namespace afterburn::wedge
