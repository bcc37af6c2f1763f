#include "io_devices.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace afterburn::kvm {

void console_out::console_write(const char* text, size_t len) {
    pending_.append(text, len);
    if (pending_.find('\n') != std::string::npos || pending_.size() >= 4096) flush();
}

// Writes every pending byte: a write() cut short by a signal or by a full non-blocking tty is
// retried, never dropped. Only a real error (stdout closed) drops output, said once on stderr,
// and the guest keeps running.
void console_out::flush() {
    size_t done = 0;
    while (done < pending_.size() && !broken_) {
        ssize_t n = ::write(out_fd_, pending_.data() + done, pending_.size() - done);
        if (n > 0) { done += static_cast<size_t>(n); continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            pollfd p{out_fd_, POLLOUT, 0};
            ::poll(&p, 1, -1);
            continue;
        }
        broken_ = true;
        std::fprintf(stderr, "afterburn-kvm: console output lost from here on: write to fd %d: %s\n", out_fd_,
                     n < 0 ? std::strerror(errno) : "wrote nothing");
    }
    pending_.clear();
}

uint8_t cmos_rtc::read(uint16_t port) const {
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

bool io_bus::io(bool is_out, uint16_t port, uint8_t* data, unsigned size) {
    if (rtc_.claims(port)) {
        for (unsigned i = 0; i < size; i++) {
            if (is_out) rtc_.write(port, data[i]); else data[i] = rtc_.read(port);
        }
        return true;
    }
    auto is_uart = [this](uint16_t p) { return p >= uart_.base() && p < uart_.base() + 8; };
    if (is_uart(port)) {
        // Byte registers; a wider access touches consecutive registers.
        for (unsigned i = 0; i < size; i++) {
            uint16_t p = static_cast<uint16_t>(port + i);
            if (!is_uart(p)) { if (!is_out) data[i] = 0xff; continue; }
            if (is_out) uart_.io_write(p, 1, data[i]); else data[i] = static_cast<uint8_t>(uart_.io_read(p, 1));
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
