// How fast the TSC and the local APIC timer run, told to the guest in the one form stock
// Linux reads on every x86 vendor: VMware's backdoor (Linux: arch/x86/kernel/cpu/vmware.c).
// cpuid 0x40000000 names "VMwareVMware" (cpuid_policy::announce_hypervisor), and
// `inl (%dx)` with dx = 0x5658, eax = 0x564d5868 and ecx = 45 (GETHZ) returns the TSC
// frequency in Hz in ebx:eax and the APIC bus frequency in ecx. Linux then neither polls the
// PIT to calibrate the TSC nor measures the APIC timer against the PIT tick: on a wedge every
// such port read is a site entry, far too slow for those loops (docs/xen-backend.md, "Time
// and interrupts").
// Only GETHZ is answered; any other command reads eax = 0xffffffff ("not available").
#pragma once

#include <stdint.h>

#include "wedge/frame.h"

namespace afterburn::wedge {

struct vmware_backdoor {
    static constexpr uint16_t port = 0x5658;
    static constexpr uint32_t magic = 0x564d5868;  // "VMXh"
    static constexpr uint32_t command_gethz = 45;
    static constexpr char signature[13] = "VMwareVMware";

    uint64_t tsc_hz = 0;
    uint32_t apic_bus_hz = 0;

    // A 4-byte `in` from `port`: true when it is a backdoor call (eax holds the magic), and
    // then the frame's registers hold the answer; false for an ordinary port read.
    bool call(frame &f) const;
};

} // namespace afterburn::wedge
