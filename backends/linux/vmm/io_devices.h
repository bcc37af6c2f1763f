// The port I/O and MMIO the launcher emulates in user space (everything else is in the
// kernel: PICs, PIT, IOAPIC, LAPIC):
//   0x3f8..0x3ff  8250 UART: THR bytes go to stdout; LSR always reports the transmitter
//                 empty (THRE | TEMT) and no received data.
//                 With IER.THRI and MCR.OUT2 set it raises IRQ4 (THR empty), as Linux's
//                 8250 driver needs for tty output; reading IIR acknowledges it.
//   0xf4..0xf7    isa-debug-exit: a write of v ends the run with status (v << 1) | 1.
//   0x70/0x71     CMOS RTC (time of day, read-only).
//   0x64 (0xfe), 0xcf9 (bit 2): reset, i.e. Linux's reboot: ends the run (status 14).
//   anything else reads as all ones; writes are dropped (and counted, see ExitStats).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace afterburn::kvm {

class Uart8250 {
public:
    static constexpr uint16_t kBase = 0x3f8;
    explicit Uart8250(int out_fd) : out_fd_(out_fd) {}
    ~Uart8250() { flush(); }
    bool claims(uint16_t port) const { return port >= kBase && port < kBase + 8; }
    void write(uint16_t port, uint8_t v);
    uint8_t read(uint16_t port);
    void flush();
    // Bytes the KVM wedge's in-place UART collected (one hypercall per line): written out now.
    void write_text(const std::string& s) { pending_ += s; flush(); }
    // Where the THRE interrupt goes (IRQ4 of the VM); unset: no interrupts.
    void connect_irq(std::function<void(bool)> set_level) { set_irq_ = std::move(set_level); }

private:
    void update_irq();
    int out_fd_;
    std::string pending_;
    uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 0x0c, dlm_ = 0, fcr_ = 0;
    bool thre_pending_ = false, irq_level_ = false;
    std::function<void(bool)> set_irq_;
};

// The MC146818 CMOS RTC at 0x70/0x71, read-only: the host's UTC time in BCD, 24-hour mode,
// never "update in progress" (Linux polls UIP before it reads the time: without an RTC every
// poll is an exit and it gives up after 2 x 10,000 of them). Writes to the time are ignored.
class CmosRtc {
public:
    bool claims(uint16_t port) const { return port == 0x70 || port == 0x71; }
    void write(uint16_t port, uint8_t v) { if (port == 0x70) index_ = v & 0x7f; }
    uint8_t read(uint16_t port) const;

private:
    uint8_t index_ = 0;
};

class DebugExit {
public:
    static constexpr uint16_t kBase = 0xf4;
    bool claims(uint16_t port) const { return port >= kBase && port < kBase + 4; }
    void write(uint32_t v) { verdict_ = v; }
    std::optional<uint32_t> verdict() const { return verdict_; }

private:
    std::optional<uint32_t> verdict_;
};

// Routes one KVM_EXIT_IO data item (size 1, 2 or 4 bytes) to a device.
class IoBus {
public:
    explicit IoBus(int out_fd) : uart_(out_fd) {}
    // in: fills `data` (size bytes); out: consumes it. Returns false if no device claimed it.
    bool io(bool is_out, uint16_t port, uint8_t* data, unsigned size);
    Uart8250& uart() { return uart_; }
    const DebugExit& debug_exit() const { return debug_exit_; }
    // The guest asked for a reset (keyboard controller command 0xfe, or port 0xcf9).
    bool reset_requested() const { return reset_; }

private:
    bool reset_ = false;
    Uart8250 uart_;
    CmosRtc rtc_;
    DebugExit debug_exit_;
};

}  // namespace afterburn::kvm
