// Legacy 8259A pair (remapped to vectors 0x20..0x2f, all masked) and the 8254 PIT.
#include "kernel.h"

namespace pic {
namespace {
constexpr u16 M_CMD = 0x20, M_DATA = 0x21, S_CMD = 0xa0, S_DATA = 0xa1;
constexpr u32 PIT_HZ = 1193182;
u16 masks = 0xffff;
void io_wait() { x86::outb(0x80, 0); }
}  // namespace

void init() {
    x86::outb(M_CMD, 0x11); io_wait();   // ICW1: edge, cascade, ICW4
    x86::outb(S_CMD, 0x11); io_wait();
    x86::outb(M_DATA, VEC_PIC_BASE); io_wait();       // ICW2: vector base
    x86::outb(S_DATA, VEC_PIC_BASE + 8); io_wait();
    x86::outb(M_DATA, 4); io_wait();                  // ICW3: slave on IRQ2
    x86::outb(S_DATA, 2); io_wait();
    x86::outb(M_DATA, 1); io_wait();                  // ICW4: 8086 mode
    x86::outb(S_DATA, 1); io_wait();
    masks = 0xfffb;                                   // all masked but the cascade
    x86::outb(M_DATA, (u8)masks);
    x86::outb(S_DATA, (u8)(masks >> 8));
}

void mask(u8 irq, bool masked) {
    if (masked) masks |= (u16)(1u << irq);
    else masks &= (u16)~(1u << irq);
    if (irq < 8) x86::outb(M_DATA, (u8)masks);
    else x86::outb(S_DATA, (u8)(masks >> 8));
}

void eoi(u8 irq) {
    if (irq >= 8) x86::outb(S_CMD, 0x20);
    x86::outb(M_CMD, 0x20);
}

void pit_periodic(u32 hz) {
    u32 div = PIT_HZ / hz;
    x86::outb(0x43, 0x34);                            // channel 0, lo/hi, mode 2 (rate)
    x86::outb(0x40, (u8)div);
    x86::outb(0x40, (u8)(div >> 8));
}

void pit_stop() {
    x86::outb(0x43, 0x30);                            // mode 0, no count loaded: no more edges
}
}  // namespace pic
