// The xAPIC page, for a guest that sees no x2APIC in CPUID (e.g. one whose `cpuid` is not
// annotated: it runs natively and reports the host's; TCG's has none). The shadow cannot map
// it (no machine frame); the plain 32-bit moves a guest uses on APIC registers are decoded
// here (mov r32 to/from memory, mov imm32 to memory) and routed to the core's local APIC.
#pragma once

#include <stdint.h>

#include "traps.h"

namespace xw {

// True if the #PF at `cr2` (guest-physical `gpa`) was such an access: it is done and f->rip
// moved past the instruction. False leaves it to the caller's report.
bool xapic_mmio(trap_frame *f, uint64_t cr2, uint64_t gpa);

} // namespace xw
