// The i8259A pair of a PC (master at 0x20, slave at 0xa0 cascaded on master IRQ2),
// edge-triggered: ICW1-4, OCW1 (mask), OCW2 (EOI, specific EOI, rotation, set priority),
// OCW3 (read IRR/ISR, poll, special mask). To the vCPU it is the ExtINT interrupt source:
// deliver_pending asks it for a vector and acknowledges it (the INTA cycle).
#pragma once

#include <stdint.h>

#include "wedge/devices/io_bus.h"
#include "wedge/interrupt_controller.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

// One 8259A.
struct pic_chip {
    uint8_t irr = 0, isr = 0, imr = 0;
    uint8_t line_level = 0;     // input lines, for edge detection
    uint8_t vector_base = 0;    // ICW2
    uint8_t cascade = 0;        // ICW3
    uint8_t highest_irq = 0;    // the IRQ with the highest priority (rotation moves it)
    uint8_t init_step = 0;      // 0: operational; 1..3: expecting ICW2..ICW4
    bool need_icw4 = false, single = false, auto_eoi = false;
    bool read_isr = false, special_mask = false, poll = false;

    // Highest-priority unmasked request that out-ranks every interrupt in service, or -1.
    // `extra_irr` adds requests not latched in IRR (the slave's output on the master).
    int best_request(uint8_t extra_irr = 0) const;
    int highest_in_service() const;
    void eoi(int irq, bool rotate);
    unsigned priority(unsigned irq) const { return (irq - highest_irq) & 7; }
};

class pic_pair final : public io_device, public interrupt_controller, public irq_sink {
public:
    static constexpr uint16_t master_port = 0x20, slave_port = 0xa0;

    // `cpu` gets its ABI pending hint set when an interrupt becomes deliverable.
    explicit pic_pair(vcpu *cpu = nullptr) : cpu_(cpu) {}

    // IRQ 0-15; a rising edge latches the request.
    void set_irq(unsigned line, bool level) override;

    uint32_t io_read(uint16_t port, unsigned size) override;
    void io_write(uint16_t port, unsigned size, uint32_t value) override;

    int pending_vector() override;
    void acknowledge(uint8_t vector) override;

    const pic_chip &master() const { return chip_[0]; }
    const pic_chip &slave() const { return chip_[1]; }

private:
    bool slave_output() const { return chip_[1].best_request() >= 0; }
    uint8_t master_extra() const { return slave_output() ? 1u << 2 : 0; }
    // The INTA cycle: returns the vector and moves the request in service.
    uint8_t inta();
    void write_command(pic_chip &c, uint8_t v);
    void write_data(pic_chip &c, uint8_t v);
    void notify();
    pic_chip chip_[2];
    vcpu *cpu_;
};

} // namespace afterburn::wedge
