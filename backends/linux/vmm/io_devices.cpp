#include "io_devices.h"

#include <unistd.h>

#include <cstring>
#include <ctime>

namespace afterburn::kvm {

namespace {
enum : uint16_t { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
constexpr uint8_t LCR_DLAB = 0x80;
constexpr uint8_t LSR_THRE = 0x20, LSR_TEMT = 0x40;
constexpr uint8_t IIR_NO_INT = 0x01, IIR_THRI = 0x02, IIR_FIFO = 0xc0;
constexpr uint8_t IER_THRI = 0x02, MCR_OUT2 = 0x08;
constexpr uint8_t MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_DCD = 0x80;
}  // namespace

void Uart8250::update_irq() {
    // The interrupt reaches the PIC only through the OUT2 gate, as on a PC.
    bool level = thre_pending_ && (ier_ & IER_THRI) && (mcr_ & MCR_OUT2);
    if (set_irq_ && level != irq_level_) set_irq_(level);
    irq_level_ = level;
}

void Uart8250::write(uint16_t port, uint8_t v) {
    switch (port - kBase) {
    case RBR_THR:
        if (lcr_ & LCR_DLAB) { dll_ = v; break; }
        pending_.push_back(static_cast<char>(v));
        if (v == '\n' || pending_.size() >= 4096) flush();
        thre_pending_ = true;   // the byte left at once: THR is empty again
        update_irq();
        break;
    case IER:
        if (lcr_ & LCR_DLAB) { dlm_ = v; break; }
        if (!(ier_ & IER_THRI) && (v & IER_THRI)) thre_pending_ = true;   // THR is empty: fires at once
        ier_ = v & 0x0f;
        update_irq();
        break;
    case IIR_FCR: fcr_ = v; break;
    case LCR: lcr_ = v; break;
    case MCR: mcr_ = v & 0x1f; update_irq(); break;
    case SCR: scr_ = v; break;
    default: break;   // LSR, MSR: read-only
    }
}

uint8_t Uart8250::read(uint16_t port) {
    switch (port - kBase) {
    case RBR_THR: return (lcr_ & LCR_DLAB) ? dll_ : 0;
    case IER: return (lcr_ & LCR_DLAB) ? dlm_ : ier_;
    case IIR_FCR: {
        uint8_t fifo = (fcr_ & 1) ? IIR_FIFO : 0;
        if (thre_pending_ && (ier_ & IER_THRI)) {
            thre_pending_ = false;   // reading IIR acknowledges the THRE interrupt
            update_irq();
            return fifo | IIR_THRI;
        }
        return fifo | IIR_NO_INT;
    }
    case LCR: return lcr_;
    case MCR: return mcr_;
    case LSR: return LSR_THRE | LSR_TEMT;
    case MSR: return MSR_CTS | MSR_DSR | MSR_DCD;
    case SCR: return scr_;
    }
    return 0xff;
}

void Uart8250::flush() {
    size_t done = 0;
    while (done < pending_.size()) {
        ssize_t n = ::write(out_fd_, pending_.data() + done, pending_.size() - done);
        if (n <= 0) break;   // stdout gone: drop the output, keep the guest running
        done += static_cast<size_t>(n);
    }
    pending_.clear();
}

uint8_t CmosRtc::read(uint16_t port) const {
    if (port == 0x70) return index_;
    std::time_t now = std::time(nullptr);
    std::tm t{};
    gmtime_r(&now, &t);
    auto bcd = [](int v) { return static_cast<uint8_t>(((v / 10) << 4) | (v % 10)); };
    switch (index_) {
    case 0x00: return bcd(t.tm_sec);
    case 0x02: return bcd(t.tm_min);
    case 0x04: return bcd(t.tm_hour);
    case 0x06: return bcd(t.tm_wday + 1);
    case 0x07: return bcd(t.tm_mday);
    case 0x08: return bcd(t.tm_mon + 1);
    case 0x09: return bcd(t.tm_year % 100);
    case 0x32: return bcd(19 + t.tm_year / 100);   // century
    case 0x0a: return 0x26;   // 32.768 kHz base, 1024 Hz rate, UIP clear
    case 0x0b: return 0x02;   // 24-hour, BCD, no interrupts
    case 0x0c: return 0x00;   // no interrupt flags
    case 0x0d: return 0x80;   // valid RAM and time
    default: return 0x00;
    }
}

bool IoBus::io(bool is_out, uint16_t port, uint8_t* data, unsigned size) {
    if (rtc_.claims(port)) {
        for (unsigned i = 0; i < size; i++) {
            if (is_out) rtc_.write(port, data[i]); else data[i] = rtc_.read(port);
        }
        return true;
    }
    if (uart_.claims(port)) {
        // Byte registers; a wider access touches consecutive registers.
        for (unsigned i = 0; i < size; i++) {
            uint16_t p = static_cast<uint16_t>(port + i);
            if (!uart_.claims(p)) { if (!is_out) data[i] = 0xff; continue; }
            if (is_out) uart_.write(p, data[i]); else data[i] = uart_.read(p);
        }
        return true;
    }
    if (debug_exit_.claims(port)) {
        if (is_out) {
            uint32_t v = 0;
            std::memcpy(&v, data, size);
            debug_exit_.write(v);
        } else {
            std::memset(data, 0, size);
        }
        return true;
    }
    // Reset: the keyboard controller's pulse-reset command, or the PCI reset control register.
    if (port == 0x64) {
        if (is_out && data[0] == 0xfe) reset_ = true;
        // Status 0x01 (output full, input empty): kb_wait() in Linux's reboot does not spin, and
        // the i8042 probe reads 0xff data until its buffer limit and finds no controller.
        if (!is_out) data[0] = 0x01;
        return true;
    }
    if (port == 0xcf9 && is_out && size == 1 && (data[0] & 0x04)) {
        reset_ = true;
        return true;
    }
    if (!is_out) std::memset(data, 0xff, size);
    return false;
}

}  // namespace afterburn::kvm
