// Guest memory accesses as an instruction makes them: linear address from a memory operand,
// canonical check (#GP, or #SS for stack references), then the backend's translation, whose
// page fault becomes a #PF event. Every helper returns false and fills `fault` on failure.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "afterburn/annotation.h"
#include "wedge/backend.h"
#include "wedge/event.h"
#include "wedge/vcpu.h"

namespace afterburn::wedge {

// 48-bit linear addresses (LA57 is hidden from the guest).
constexpr bool is_canonical(uint64_t a)
{
    return static_cast<uint64_t>(static_cast<int64_t>(a << 16) >> 16) == a;
}

// A linear address and how it must be checked.
struct linear_address {
    uint64_t address = 0;
    bool stack = false;  // based on rsp/rbp or ss-relative: non-canonical raises #SS(0)
};

class guest_memory {
public:
    guest_memory(vcpu &cpu, backend &be) : cpu_(cpu), be_(be) {}

    // Accesses by the guest instruction: user mode when the virtual CPL is 3.
    bool read(const linear_address &la, void *dst, size_t len, event &fault);
    bool write(const linear_address &la, const void *src, size_t len, event &fault);
    // Accesses the CPU makes on its own (GDT, IDT, TSS, interrupt frames): supervisor.
    bool read_system(uint64_t address, void *dst, size_t len, event &fault);
    bool write_system(uint64_t address, const void *src, size_t len, event &fault);

    // The bytes of the instruction (the displacement of a memory operand).
    bool read_code(uint64_t address, void *dst, size_t len, event &fault);

    backend &host() { return be_; }

private:
    bool access(uint64_t address, void *buf, size_t len, bool write, access_mode mode, bool stack,
                event &fault);
    vcpu &cpu_;
    backend &be_;
};

// The effective linear address of a record's memory operand: base + index*scale + disp,
// plus the FS/GS base for those overrides; RIP-relative is relative to the instruction's
// end. The displacement is read from the instruction bytes at site + disp_offset.
bool operand_address(const annotation::site_record &rec, uint64_t site, const frame &f, const vcpu &cpu,
                     guest_memory &mem, linear_address &out, event &fault);

} // namespace afterburn::wedge
