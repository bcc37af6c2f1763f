// Exceptions and the event upcall: the trap table Xen delivers through, and the frame the
// entry stubs in traps.S build.
#pragma once

#include <stdint.h>

namespace xw {

// Layout fixed by traps.S: GPRs in reverse push order, then what the stub pushed, then the
// hardware-shaped frame left after popping Xen's rcx/r11.
struct trap_frame {
    // WEDGE_PUSH_GPRS's order (afterburn/gpr_sequences.S.h), lowest address first.
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector; // CPU vector, or event_vector for the event upcall
    uint64_t error;  // error code, 0 for vectors without one
    uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(trap_frame) == 22 * 8, "traps.S pushes 22 words");

constexpr uint64_t event_vector = 256;
constexpr uint64_t syscall_vector = 257;  // Xen's syscall callback: `syscall` in guest user mode

// Registers the trap table (HYPERVISOR_set_trap_table) and the event/failsafe callbacks
// (HYPERVISOR_set_callbacks). Returns false, having said why, if Xen refused.
bool install_traps();

// How many int3 traps were taken and resumed (the self-test counts them).
unsigned breakpoints_taken();

} // namespace xw
