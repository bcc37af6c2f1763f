// Console: the 8250/16550 UART at I/O port 0x3f8, polled (no interrupts), as early
// Linux consoles do. Strings go out with `rep outsb` in FIFO-sized bursts.
#include "kernel.h"

namespace {
constexpr u16 com1 = 0x3f8;
constexpr u16 thr = 0, ier = 1, fcr = 2, lcr = 3, mcr = 4, lsr = 5, dll = 0, dlm = 1;
constexpr u8 lsr_thre = 0x20;   // transmit holding register / FIFO empty
constexpr size_t fifo = 16;

void wait_thre() {
    // Bounded: a missing UART must not hang the guest (output is then lost).
    for (int i = 0; i < 1000000; i++)
        if (x86::inb(com1 + lsr) & lsr_thre) return;
}
}  // namespace

void console_init() {
    x86::outb(com1 + ier, 0);        // no interrupts
    x86::outb(com1 + lcr, 0x80);     // DLAB: set the divisor
    x86::outb(com1 + dll, 1);        // 115200 baud
    x86::outb(com1 + dlm, 0);
    x86::outb(com1 + lcr, 0x03);     // 8N1
    x86::outb(com1 + fcr, 0x07);     // enable and clear the 16-byte FIFOs
    x86::outb(com1 + mcr, 0x03);     // DTR | RTS
}

void console_write(const char* s, size_t n) {
    while (n) {
        // Newlines go out one byte at a time with polling; text in bursts with rep outsb
        // once the FIFO is empty (it then takes FIFO bytes without dropping any).
        if (*s == '\n') {
            wait_thre();
            x86::outb(com1 + thr, '\r');
            wait_thre();
            x86::outb(com1 + thr, '\n');
            s++, n--;
            continue;
        }
        size_t burst = 0;
        while (burst < n && burst < fifo && s[burst] != '\n') burst++;
        wait_thre();
        x86::outsb(com1 + thr, s, burst);
        s += burst, n -= burst;
    }
}

void kprintf(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    console_write(buf, n < (int)sizeof buf ? (size_t)n : sizeof buf - 1);
}
