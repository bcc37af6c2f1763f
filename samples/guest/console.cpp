// Console: the 8250/16550 UART at I/O port 0x3f8, polled (no interrupts), as early
// Linux consoles do. Strings go out with `rep outsb` in FIFO-sized bursts.
#include "kernel.h"

namespace {
constexpr u16 COM1 = 0x3f8;
constexpr u16 THR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5, DLL = 0, DLM = 1;
constexpr u8 LSR_THRE = 0x20;   // transmit holding register / FIFO empty
constexpr size_t FIFO = 16;

void wait_thre() {
    // Bounded: a missing UART must not hang the guest (output is then lost).
    for (int i = 0; i < 1000000; i++)
        if (x86::inb(COM1 + LSR) & LSR_THRE) return;
}
}  // namespace

void console_init() {
    x86::outb(COM1 + IER, 0);        // no interrupts
    x86::outb(COM1 + LCR, 0x80);     // DLAB: set the divisor
    x86::outb(COM1 + DLL, 1);        // 115200 baud
    x86::outb(COM1 + DLM, 0);
    x86::outb(COM1 + LCR, 0x03);     // 8N1
    x86::outb(COM1 + FCR, 0x07);     // enable and clear the 16-byte FIFOs
    x86::outb(COM1 + MCR, 0x03);     // DTR | RTS
}

void console_write(const char* s, size_t n) {
    while (n) {
        // Newlines go out one byte at a time with polling; text in bursts with rep outsb
        // once the FIFO is empty (it then takes FIFO bytes without dropping any).
        if (*s == '\n') {
            wait_thre();
            x86::outb(COM1 + THR, '\r');
            wait_thre();
            x86::outb(COM1 + THR, '\n');
            s++, n--;
            continue;
        }
        size_t burst = 0;
        while (burst < n && burst < FIFO && s[burst] != '\n') burst++;
        wait_thre();
        x86::outsb(COM1 + THR, s, burst);
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
