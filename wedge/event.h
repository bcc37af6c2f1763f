// An event to deliver through the guest's IDT: an exception the emulated instruction
// raises, a software interrupt (int n), or an external interrupt. The emulator returns one;
// interrupts.cpp delivers it.
#pragma once

#include <stdint.h>

namespace afterburn::wedge {

// Exception vectors.
namespace vec {
inline constexpr uint8_t de = 0, db = 1, nmi = 2, bp = 3, of = 4, br = 5, ud = 6, nm = 7,
                         df = 8, ts = 10, np = 11, ss = 12, gp = 13, pf = 14, mf = 16, ac = 17,
                         mc = 18, xm = 19;
}

enum class event_type : uint8_t {
    exception,  // a fault or trap; rip in the frame is where the CPU reports it
    software,   // int n: the gate's DPL is checked against CPL, return_rip is pushed
    external,   // an interrupt from a device or IPI; EXT is set in delivery error codes
};

struct event {
    uint8_t vector = 0;
    event_type type = event_type::exception;
    bool has_error_code = false;
    uint32_t error_code = 0;
    uint64_t cr2 = 0;         // #PF: the faulting linear address, written to CR2 at delivery
    uint64_t return_rip = 0;  // software: the address after the instruction

    static constexpr event fault(uint8_t v) { return event{v, event_type::exception, false, 0, 0, 0}; }
    static constexpr event fault(uint8_t v, uint32_t error)
    {
        return event{v, event_type::exception, true, error, 0, 0};
    }
    static constexpr event page_fault(uint32_t error, uint64_t address)
    {
        return event{vec::pf, event_type::exception, true, error, address, 0};
    }
    static constexpr event interrupt(uint8_t v) { return event{v, event_type::external, false, 0, 0, 0}; }
    static constexpr event software_interrupt(uint8_t v, uint64_t next)
    {
        return event{v, event_type::software, false, 0, 0, next};
    }
};

// Exceptions that push an error code (in protected and long mode).
constexpr bool pushes_error_code(uint8_t vector)
{
    return vector == vec::df || vector == vec::ts || vector == vec::np || vector == vec::ss ||
           vector == vec::gp || vector == vec::pf || vector == vec::ac;
}

// Page-fault error code bits.
namespace pf_error {
inline constexpr uint32_t present = 1, write = 2, user = 4, reserved = 8, fetch = 16;
}

} // namespace afterburn::wedge
