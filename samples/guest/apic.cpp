// Local APIC: x2APIC through MSRs (0x800 + reg/16) when CPUID offers it, else xAPIC
// through MMIO at IA32_APIC_BASE (reached via the uncached part of the direct map).
#include "kernel.h"

namespace lapic {
namespace {
bool use_x2;
volatile u32* mmio;
}  // namespace

bool x2apic() { return use_x2; }

u32 read(u32 reg) {
    if (use_x2) return (u32)x86::rdmsr(0x800 + (reg >> 4));
    return mmio[reg / 4];
}

void write(u32 reg, u32 v) {
    if (use_x2) x86::wrmsr(0x800 + (reg >> 4), v);
    else mmio[reg / 4] = v;
}

void eoi() { write(EOI, 0); }

void self_ipi(u8 vec) {
    if (use_x2) {
        x86::wrmsr(0x83f, vec);                          // SELF_IPI
        return;
    }
    write(ICR + 0x10, 0);
    write(ICR, vec | 1u << 14 | 1u << 18);               // fixed, assert, shorthand "self"
    for (int i = 0; i < 100000 && (read(ICR) & (1u << 12)); i++) x86::pause();
}

bool irr(u8 vec) { return read(IRR + (vec / 32) * 0x10) & (1u << (vec % 32)); }

void timer(u8 vec, u32 count, bool periodic) {
    write(LVT_TIMER, 1u << 16);                          // mask while reprogramming
    write(TIMER_INIT, 0);
    if (!count) return;
    write(TIMER_DIV, 0x3);                               // divide by 16
    write(LVT_TIMER, vec | (periodic ? 1u << 17 : 0));
    write(TIMER_INIT, count);
}

void init() {
    u64 base = x86::rdmsr(x86::MSR_APIC_BASE);
    use_x2 = (x86::cpuid(1).c & (1u << 21)) && !cmdline_has("nox2apic");
    base |= 1u << 11;                                    // global enable
    if (use_x2) base |= 1u << 10;
    x86::wrmsr(x86::MSR_APIC_BASE, base);
    mmio = static_cast<volatile u32*>(phys_to_virt(base & 0xfffff000));
    // Software-enable first: while the APIC is disabled the architecture forces every LVT
    // mask bit on, so LVT writes before this would leave LINT0 masked (KVM enforces it; QEMU
    // TCG does not, which hid the bug natively).
    write(SVR, 0x100 | VEC_SPURIOUS);
    write(TPR, 0);
    write(LVT_TIMER, 1u << 16);
    write(LVT_LINT0, 0x700);                             // ExtINT: the 8259 (virtual wire)
    write(LVT_LINT1, 0x400);                             // NMI
}
}  // namespace lapic
