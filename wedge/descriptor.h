// Segment descriptors in the guest's GDT/LDT, read from guest memory with the vCPU's
// virtual GDTR/LDTR. Used by every instruction that loads or inspects a selector (mov/pop
// to a segment register, lar/lsl/verr/verw, lldt/ltr, iret/lret/ljmp/lcall, interrupt
// gates' code segments).
#pragma once

#include <stdint.h>

#include "wedge/event.h"
#include "wedge/guest_memory.h"

namespace afterburn::wedge {

struct segment_descriptor {
    uint64_t low = 0;
    uint64_t high = 0;  // upper half of a 16-byte system descriptor (base 63:32)

    unsigned type() const { return (low >> 40) & 0xf; }
    bool system() const { return !((low >> 44) & 1); }  // S = 0
    unsigned dpl() const { return (low >> 45) & 3; }
    bool present() const { return (low >> 47) & 1; }
    bool long_mode() const { return (low >> 53) & 1; }  // L
    bool big() const { return (low >> 54) & 1; }        // D/B
    bool granular() const { return (low >> 55) & 1; }   // G
    uint32_t limit() const
    {
        uint32_t raw = static_cast<uint32_t>((low & 0xffff) | ((low >> 32) & 0xf0000));
        return granular() ? (raw << 12) | 0xfff : raw;
    }
    uint64_t base() const
    {
        uint64_t b = ((low >> 16) & 0xffffff) | (((low >> 56) & 0xff) << 24);
        return system() ? b | ((high & 0xffffffffull) << 32) : b;
    }

    bool code() const { return !system() && (type() & 8); }
    bool data() const { return !system() && !(type() & 8); }
    bool conforming() const { return code() && (type() & 4); }
    bool readable() const { return data() || (type() & 2); }
    bool writable() const { return data() && (type() & 2); }
};

// Long-mode system descriptor types.
namespace system_type {
inline constexpr unsigned ldt = 2, tss_available = 9, tss_busy = 11, call_gate = 12, interrupt_gate = 14,
                          trap_gate = 15;
}

enum class descriptor_lookup : uint8_t {
    ok,
    outside_table,  // beyond the GDT/LDT limit (or no LDT): callers raise #GP(selector) or clear ZF
    fault,          // reading guest memory faulted: `fault` holds the #PF/#GP
};

// Reads the descriptor `selector` names; `wide` reads a 16-byte system descriptor.
descriptor_lookup read_descriptor(const vcpu &cpu, guest_memory &mem, uint16_t selector, bool wide,
                                  segment_descriptor &out, event &fault);

// Writes back the low 8 bytes (to set the accessed or TSS busy bit, as the CPU does).
bool write_descriptor(const vcpu &cpu, guest_memory &mem, uint16_t selector, const segment_descriptor &d,
                      event &fault);

constexpr uint32_t selector_error(uint16_t selector) { return selector & 0xfffc; }

// Whether DS, ES, FS or GS may load the non-null selector (its RPL) naming `d` at `cpl`: 0 if
// it may, else the vector the CPU raises with selector_error (#GP, or #NP for an absent one).
// The loads of the core and of the backends' fast paths check with this one function.
inline uint8_t data_segment_refusal(const segment_descriptor &d, unsigned rpl, unsigned cpl)
{
    if (d.system() || !d.readable()) return vec::gp;
    if (!d.conforming() && (rpl > d.dpl() || cpl > d.dpl())) return vec::gp;
    if (!d.present()) return vec::np;
    return 0;
}

} // namespace afterburn::wedge
