// Local APIC: x2APIC through MSRs (0x800 + reg/16) when CPUID offers it, else xAPIC
// through MMIO at IA32_APIC_BASE (reached via the uncached part of the direct map).
#include "kernel.h"

namespace lapic {
namespace {
bool g_use_x2;
volatile u32* g_mmio;
}  // namespace

bool x2apic() { return g_use_x2; }

u32 read(u32 reg) {
    if (g_use_x2) return (u32)x86::rdmsr(0x800 + (reg >> 4));
    return g_mmio[reg / 4];
}

void write(u32 reg, u32 v) {
    if (g_use_x2) x86::wrmsr(0x800 + (reg >> 4), v);
    else g_mmio[reg / 4] = v;
}

void eoi() { write(reg_eoi, 0); }

void self_ipi(u8 vec) {
    if (g_use_x2) {
        x86::wrmsr(0x83f, vec);                          // SELF_IPI
        return;
    }
    write(reg_icr + 0x10, 0);
    write(reg_icr, vec | 1u << 14 | 1u << 18);           // fixed, assert, shorthand "self"
    for (int i = 0; i < 100000 && (read(reg_icr) & (1u << 12)); i++) x86::pause();
}

bool irr(u8 vec) { return read(reg_irr + (vec / 32) * 0x10) & (1u << (vec % 32)); }

void timer(u8 vec, u32 count, bool periodic) {
    write(reg_lvt_timer, 1u << 16);                      // mask while reprogramming
    write(reg_timer_init, 0);
    if (!count) return;
    write(reg_timer_div, 0x3);                           // divide by 16
    write(reg_lvt_timer, vec | (periodic ? 1u << 17 : 0));
    write(reg_timer_init, count);
}

void init() {
    u64 base = x86::rdmsr(x86::msr_apic_base);
    g_use_x2 = (x86::cpuid(1).c & (1u << 21)) && !cmdline_has("nox2apic");
    base |= 1u << 11;                                    // global enable
    if (g_use_x2) base |= 1u << 10;
    x86::wrmsr(x86::msr_apic_base, base);
    g_mmio = static_cast<volatile u32*>(phys_to_virt(base & 0xfffff000));
    // Software-enable first: while the APIC is disabled the architecture forces every LVT
    // mask bit on, so LVT writes before this would leave LINT0 masked (KVM enforces it; QEMU
    // TCG does not, which hid the bug natively).
    write(reg_svr, 0x100 | VEC_SPURIOUS);
    write(reg_tpr, 0);
    write(reg_lvt_timer, 1u << 16);
    write(reg_lvt_lint0, 0x700);                         // ExtINT: the 8259 (virtual wire)
    write(reg_lvt_lint1, 0x400);                         // NMI
}
}  // namespace lapic
