#include "wedge/devices/uart_8250.h"

namespace afterburn::wedge {

void uart_8250::update_irq()
{
    // On PCs the UART's interrupt reaches the PIC only through the OUT2 gate.
    bool level = thre_pending_ && (ier_ & ier_thri) && (mcr_ & mcr_out2);
    if (irq_ && level != irq_level_) irq_->set_irq(line_, level);
    irq_level_ = level;
}

uint32_t uart_8250::io_read(uint16_t port, unsigned)
{
    switch (port - base_) {
    case rbr: return (lcr_ & lcr_dlab) ? dll_ : 0;  // nothing is ever received
    case ier: return (lcr_ & lcr_dlab) ? dlm_ : ier_;
    case iir: {
        uint8_t v = fifo_ ? iir_fifo : 0;
        if (thre_pending_ && (ier_ & ier_thri)) {
            v |= iir_thri;
            thre_pending_ = false;  // reading IIR acknowledges the THRE interrupt
            update_irq();
        } else {
            v |= iir_none;
        }
        return v;
    }
    case lcr: return lcr_;
    case mcr: return mcr_;
    case lsr: return lsr_thre | lsr_temt;  // transmitter always empty, no data, no errors
    case msr:
        // Loopback reflects MCR's outputs; otherwise carrier, DSR and CTS are up.
        if (mcr_ & mcr_loop) return ((mcr_ & 1) << 5) | ((mcr_ & 2) << 3) | ((mcr_ & 4) << 4) | ((mcr_ & 8) << 4);
        return 0xb0;
    case scr: return scr_;
    }
    return 0xff;
}

void uart_8250::io_write(uint16_t port, unsigned, uint32_t value)
{
    uint8_t v = static_cast<uint8_t>(value);
    switch (port - base_) {
    case thr:
        if (lcr_ & lcr_dlab) {
            dll_ = v;
        } else {
            if (!(mcr_ & mcr_loop)) {
                char c = static_cast<char>(v);
                out_.console_write(&c, 1);
            }
            thre_pending_ = true;  // the byte left at once: THR is empty again
            update_irq();
        }
        break;
    case ier:
        if (lcr_ & lcr_dlab) {
            dlm_ = v;
        } else {
            bool enabling_thri = !(ier_ & ier_thri) && (v & ier_thri);
            ier_ = v & 0x0f;
            if (enabling_thri) thre_pending_ = true;  // THR is empty: the interrupt fires at once
            update_irq();
        }
        break;
    case fcr: fifo_ = v & 1; break;
    case lcr: lcr_ = v; break;
    case mcr:
        mcr_ = v & 0x1f;
        update_irq();
        break;
    case scr: scr_ = v; break;
    default: break;  // LSR and MSR are read-only
    }
}

} // namespace afterburn::wedge
