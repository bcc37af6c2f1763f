// An 8250/16550A UART at 0x3f8 (COM1): transmit goes to a console sink (the backend's console
// in a wedge, a file descriptor in the /dev/kvm VMM), the
// transmitter is always ready, nothing is ever received. Enough for Linux's 8250 driver to
// probe a 16550A and use it as console and tty, polled or with the THRE interrupt on IRQ4.
#pragma once

#include <stdint.h>

#include "wedge/console_sink.h"
#include "wedge/devices/io_bus.h"
#include "wedge/interrupt_controller.h"

namespace afterburn::wedge {

class uart_8250 final : public io_device {
public:
    static constexpr uint16_t com1 = 0x3f8;
    static constexpr unsigned com1_irq = 4;

    uart_8250(console_sink &out, irq_sink *irq = nullptr, unsigned irq_line = com1_irq, uint16_t base = com1)
        : out_(out), irq_(irq), line_(irq_line), base_(base)
    {
    }

    uint32_t io_read(uint16_t port, unsigned size) override;
    void io_write(uint16_t port, unsigned size, uint32_t value) override;

    uint16_t base() const { return base_; }

    // Register offsets and bits.
    static constexpr unsigned thr = 0, rbr = 0, dll = 0, ier = 1, dlm = 1, iir = 2, fcr = 2, lcr = 3, mcr = 4,
                              lsr = 5, msr = 6, scr = 7;
    static constexpr uint8_t lcr_dlab = 0x80, ier_thri = 0x02, mcr_out2 = 0x08, mcr_loop = 0x10,
                             lsr_thre = 0x20, lsr_temt = 0x40, iir_none = 0x01, iir_thri = 0x02,
                             iir_fifo = 0xc0;

private:
    void update_irq();
    console_sink &out_;
    irq_sink *irq_;
    unsigned line_;
    uint16_t base_;
    uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 0x0c, dlm_ = 0;
    bool fifo_ = false;
    bool thre_pending_ = false;  // THR-empty interrupt raised, not yet read from IIR
    bool irq_level_ = false;
};

} // namespace afterburn::wedge
