#include "wedge/devices/vmware_backdoor.h"

namespace afterburn::wedge {

namespace {
// A 32-bit register write in 64-bit mode zero-extends.
void set32(frame &f, unsigned reg, uint32_t value) { f.gpr[reg] = value; }
} // namespace

bool vmware_backdoor::call(frame &f) const
{
    if (static_cast<uint32_t>(f.gpr[rax]) != magic) return false;
    if (static_cast<uint32_t>(f.gpr[rcx]) != command_gethz || !tsc_hz) {
        set32(f, rax, 0xffffffffu);
        return true;
    }
    set32(f, rax, static_cast<uint32_t>(tsc_hz));
    set32(f, rbx, static_cast<uint32_t>(tsc_hz >> 32));
    set32(f, rcx, apic_bus_hz);
    return true;
}

} // namespace afterburn::wedge
