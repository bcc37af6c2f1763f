// The virtual CPU: the privileged machine state the wedge emulates for one guest CPU. The
// general-purpose registers live in a `frame` (saved by the entry stub); everything here
// is what the guest believes the CPU holds but the real CPU does not, because the guest
// runs de-privileged. One object per vCPU, nothing global, so SMP needs no redesign.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "afterburn/wedge_abi.h"
#include "wedge/cpuid_policy.h"
#include "wedge/frame.h"

namespace afterburn::wedge {

class interrupt_controller;
class io_bus;
struct vmware_backdoor;
class local_apic;

// The page each vCPU maps at wedge_abi::vcpu_page, so that rewritten code can reach its own
// vCPU with an absolute address: an inline `cli` is one store to `virtual_if`.
struct alignas(4096) abi_page {
    uint8_t virtual_if;  // 1 = interrupts enabled (wedge_abi::vcpu_virtual_if)
    uint8_t pending;     // nonzero = a virtual interrupt may be waiting (wedge_abi::vcpu_pending)
    uint8_t inline_flags;  // nonzero = pushf/popf may skip the core (wedge_abi::vcpu_inline_flags)
    uint8_t inline_sti;    // nonzero = sti may skip the core (wedge_abi::vcpu_inline_sti)
    uint8_t inline_tsc;    // rdtsc / rdtscp may skip the core (wedge_abi::vcpu_inline_tsc bits)
    uint8_t reserved0[3];
    uint64_t inline_sti_end;  // the end of the last sti that skipped the core (wedge_abi::vcpu_inline_sti_end)
    int64_t tsc_offset;       // copies of the vCPU's, for the rdtsc/rdtscp fast paths
    uint32_t tsc_aux;
    uint8_t reserved[4068];
};
static_assert(sizeof(abi_page) == 4096);
static_assert(offsetof(abi_page, virtual_if) == wedge_abi::vcpu_virtual_if - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, pending) == wedge_abi::vcpu_pending - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, inline_flags) == wedge_abi::vcpu_inline_flags - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, inline_sti) == wedge_abi::vcpu_inline_sti - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, inline_sti_end) == wedge_abi::vcpu_inline_sti_end - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, inline_tsc) == wedge_abi::vcpu_inline_tsc - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, tsc_offset) == wedge_abi::vcpu_tsc_offset - wedge_abi::vcpu_page);
static_assert(offsetof(abi_page, tsc_aux) == wedge_abi::vcpu_tsc_aux - wedge_abi::vcpu_page);

// 256 interrupt vectors: which are requested and not yet delivered.
struct vector_set {
    uint64_t words[4] = {};

    void set(uint8_t v) { words[v >> 6] |= 1ull << (v & 63); }
    void clear(uint8_t v) { words[v >> 6] &= ~(1ull << (v & 63)); }
    bool test(uint8_t v) const { return (words[v >> 6] >> (v & 63)) & 1; }
    bool empty() const { return !(words[0] | words[1] | words[2] | words[3]); }
    int highest() const  // -1 when empty
    {
        for (int w = 3; w >= 0; --w)
            if (words[w]) return w * 64 + 63 - __builtin_clzll(words[w]);
        return -1;
    }
};

// GDTR / IDTR.
struct table_register {
    uint64_t base = 0;
    uint16_t limit = 0xffff;
};

// LDTR / TR: the selector and the descriptor fields lldt/ltr cached.
struct system_segment {
    uint16_t selector = 0;
    uint64_t base = 0;
    uint32_t limit = 0;
    bool usable = false;
};

namespace cr0 {
inline constexpr uint64_t pe = 1, mp = 2, em = 4, ts = 8, et = 0x10, ne = 0x20, wp = 1u << 16,
                          am = 1u << 18, nw = 1u << 29, cd = 1u << 30, pg = 1ull << 31;
}
namespace cr4 {
inline constexpr uint64_t tsd = 1u << 2, de = 1u << 3, pse = 1u << 4, pae = 1u << 5, pge = 1u << 7,
                          pce = 1u << 8, umip = 1u << 11, la57 = 1u << 12, fsgsbase = 1u << 16,
                          pcide = 1u << 17, osxsave = 1u << 18, smep = 1u << 20, smap = 1u << 21,
                          pke = 1u << 22;
}
namespace efer {
inline constexpr uint64_t sce = 1, lme = 1u << 8, lma = 1u << 10, nxe = 1u << 11;
}
namespace apic_base_msr {
inline constexpr uint64_t bsp = 1u << 8, extd = 1u << 10, enable = 1u << 11,
                          default_address = 0xfee00000u;
}

struct vcpu {
    abi_page page{};  // first, so the backend can map the vCPU's own page

    unsigned id = 0;

    // Virtual privilege: the guest kernel runs at CPL 0 in its own view.
    uint8_t cpl = 0;
    uint8_t iopl = 0;

    // sti / mov ss / pop ss hold off interrupts until the instruction at shadow_rip is done.
    bool interrupt_shadow = false;
    uint64_t shadow_rip = 0;
    bool halted = false;

    // Control registers. CR8 is the local APIC's TPR (tpr >> 4).
    uint64_t cr0 = cr0::pe | cr0::mp | cr0::et | cr0::ne | cr0::wp | cr0::pg;
    uint64_t cr2 = 0, cr3 = 0;
    uint64_t cr4 = cr4::pae;
    uint8_t tpr = 0;
    uint64_t efer = efer::lme | efer::lma;
    uint64_t xcr0 = 1;
    uint32_t pkru = 0;
    uint64_t dr[8] = {0, 0, 0, 0, 0, 0, 0xffff0ff0u, 0x400};  // dr4/dr5 alias dr6/dr7

    table_register gdtr, idtr;
    system_segment ldtr, tr;
    uint16_t selector[6] = {};  // es cs ss ds fs gs, as the guest loaded them

    uint64_t fs_base = 0, gs_base = 0, kernel_gs_base = 0;
    uint64_t star = 0, lstar = 0, cstar = 0, fmask = 0;
    uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    uint64_t tsc_aux = 0;
    int64_t tsc_offset = 0;
    uint64_t pat = 0x0007040600070406ull;
    uint64_t apic_base = apic_base_msr::default_address | apic_base_msr::enable;

    // Requested vectors (the local APIC's IRR when there is one, else the whole story).
    vector_set pending;

    cpuid_policy cpuid;

    // Platform wiring (not owned): the I/O port bus, the local APIC, and the source of
    // ExtINT interrupts (the PIC). Any may be null.
    io_bus *io = nullptr;
    local_apic *apic = nullptr;
    interrupt_controller *extint = nullptr;
    // The frequencies the guest may ask for instead of calibrating (a backend that has them).
    const vmware_backdoor *backdoor = nullptr;

    bool virtual_if() const { return page.virtual_if != 0; }
    void set_virtual_if(bool on) { page.virtual_if = on ? 1 : 0; }
    // swapgs: the active and the kernel GS base exchange.
    void swap_gs_bases() {
        uint64_t t = gs_base;
        gs_base = kernel_gs_base;
        kernel_gs_base = t;
    }

    // A device or the backend requests a vector; delivery happens at the next
    // deliver_pending (interrupts.h).
    void raise(uint8_t vector)
    {
        pending.set(vector);
        page.pending = 1;
    }

    uint16_t cs() const { return selector[1]; }
    uint16_t ss() const { return selector[2]; }

    cpuid_dynamic cpuid_state() const
    {
        return {id, (cr4 & cr4::osxsave) != 0, (cr4 & cr4::pke) != 0,
                (apic_base & apic_base_msr::enable) != 0, xcr0};
    }
};

// The state the 64-bit boot protocol enters a kernel in, for what the vCPU's constructor does
// not already give: __BOOT_CS (0x10), __BOOT_DS (0x18) in DS/ES/SS, interrupts off.
inline void enter_boot_protocol_state(vcpu &c)
{
    c.selector[1] = 0x10;
    c.selector[0] = c.selector[2] = c.selector[3] = 0x18;
    c.set_virtual_if(false);
}

} // namespace afterburn::wedge
