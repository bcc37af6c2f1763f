// The port I/O and MMIO the launcher emulates in user space (everything else is in the
// kernel: PICs, PIT, IOAPIC, LAPIC):
//   0x3f8..0x3ff  8250 UART, the model the wedges run in place (wedge/devices/uart_8250): THR
//                 bytes go to stdout, a line at a time; LSR always reports the transmitter
//                 empty (THRE | TEMT) and no received data.
//                 With IER.THRI and MCR.OUT2 set it raises IRQ4 (THR empty), as Linux's
//                 8250 driver needs for tty output; reading IIR acknowledges it.
//   0xf4..0xf7    isa-debug-exit: a write of v ends the run with status (v << 1) | 1.
//   0x70/0x71     CMOS RTC (time of day, read-only).
//   0x64 (0xfe), 0xcf9 (bit 2): reset, i.e. Linux's reboot: ends the run (status 14).
//   anything else reads as all ones; writes are dropped (and counted, see exit_stats).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "wedge/console_sink.h"
#include "wedge/devices/uart_8250.h"
#include "wedge/interrupt_controller.h"

namespace afterburn::kvm {

// The console the UART model (wedge/devices/uart_8250, the very model the wedges run in
// place) and the KVM wedge's console hypercall write to: bytes to a file descriptor, a line at
// a time.
class console_out final : public wedge::console_sink {
public:
    explicit console_out(int out_fd) : out_fd_(out_fd) {}
    ~console_out() { flush(); }
    void console_write(const char* text, size_t len) override;
    void flush();

private:
    int out_fd_;
    bool broken_ = false;   // stdout failed for good: drop further output (said once)
    std::string pending_;
};

// An interrupt line of the VM, driven by a device model; unconnected: no interrupts.
class irq_line final : public wedge::irq_sink {
public:
    void connect(std::function<void(unsigned, bool)> set_level) { set_level_ = std::move(set_level); }
    void set_irq(unsigned line, bool level) override { if (set_level_) set_level_(line, level); }

private:
    std::function<void(unsigned, bool)> set_level_;
};

// The MC146818 CMOS RTC at 0x70/0x71, read-only: the host's UTC time in BCD, 24-hour mode,
// never "update in progress" (Linux polls UIP before it reads the time: without an RTC every
// poll is an exit and it gives up after 2 x 10,000 of them). Writes to the time are ignored.
class cmos_rtc {
public:
    bool claims(uint16_t port) const { return port == 0x70 || port == 0x71; }
    void write(uint16_t port, uint8_t v) { if (port == 0x70) index_ = v & 0x7f; }
    uint8_t read(uint16_t port) const;

private:
    uint8_t index_ = 0;
};

class debug_exit_port {
public:
    static constexpr uint16_t base = 0xf4;
    bool claims(uint16_t port) const { return port >= base && port < base + 4; }
    void write(uint32_t v) { verdict_ = v; }
    std::optional<uint32_t> verdict() const { return verdict_; }

private:
    std::optional<uint32_t> verdict_;
};

// Routes one KVM_EXIT_IO data item (size 1, 2 or 4 bytes) to a device.
class io_bus {
public:
    explicit io_bus(int out_fd) : console_(out_fd), uart_(console_, &uart_irq_) {}
    // in: fills `data` (size bytes); out: consumes it. Returns false if no device claimed it.
    bool io(bool is_out, uint16_t port, uint8_t* data, unsigned size);
    console_out& console() { return console_; }
    // Where the UART's IRQ4 goes (unset: nowhere, the guest polls).
    void connect_uart_irq(std::function<void(unsigned, bool)> set_level) { uart_irq_.connect(std::move(set_level)); }
    const debug_exit_port& debug_exit() const { return debug_exit_; }
    // The guest asked for a reset (keyboard controller command 0xfe, or port 0xcf9).
    bool reset_requested() const { return reset_; }

private:
    bool reset_ = false;
    console_out console_;
    irq_line uart_irq_;
    wedge::uart_8250 uart_;
    cmos_rtc rtc_;
    debug_exit_port debug_exit_;
};

}  // namespace afterburn::kvm
