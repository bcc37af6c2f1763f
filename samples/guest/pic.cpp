// Legacy 8259A pair (remapped to vectors 0x20..0x2f, all masked) and the 8254 PIT.
#include "kernel.h"

namespace pic {
namespace {
constexpr u16 master_cmd = 0x20, master_data = 0x21, slave_cmd = 0xa0, slave_data = 0xa1;
constexpr u32 pit_hz = 1193182;
u16 g_masks = 0xffff;
void io_wait() { x86::outb(0x80, 0); }
}  // namespace

void init() {
    x86::outb(master_cmd, 0x11); io_wait();   // ICW1: edge, cascade, ICW4
    x86::outb(slave_cmd, 0x11); io_wait();
    x86::outb(master_data, VEC_PIC_BASE); io_wait();  // ICW2: vector base
    x86::outb(slave_data, VEC_PIC_BASE + 8); io_wait();
    x86::outb(master_data, 4); io_wait();             // ICW3: slave on IRQ2
    x86::outb(slave_data, 2); io_wait();
    x86::outb(master_data, 1); io_wait();             // ICW4: 8086 mode
    x86::outb(slave_data, 1); io_wait();
    g_masks = 0xfffb;                                 // all masked but the cascade
    x86::outb(master_data, (u8)g_masks);
    x86::outb(slave_data, (u8)(g_masks >> 8));
}

void mask(u8 irq, bool masked) {
    if (masked) g_masks |= (u16)(1u << irq);
    else g_masks &= (u16)~(1u << irq);
    if (irq < 8) x86::outb(master_data, (u8)g_masks);
    else x86::outb(slave_data, (u8)(g_masks >> 8));
}

void eoi(u8 irq) {
    if (irq >= 8) x86::outb(slave_cmd, 0x20);
    x86::outb(master_cmd, 0x20);
}

void pit_periodic(u32 hz) {
    u32 div = pit_hz / hz;
    x86::outb(0x43, 0x34);                            // channel 0, lo/hi, mode 2 (rate)
    x86::outb(0x40, (u8)div);
    x86::outb(0x40, (u8)(div >> 8));
}

void pit_stop() {
    x86::outb(0x43, 0x30);                            // mode 0, no count loaded: no more edges
}
}  // namespace pic
