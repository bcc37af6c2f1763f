// The guest as an L4 thread in an address space of its own, the wedge its pager: the space
// holds only what the wedge maps into it on the guest's page faults (guest RAM by the guest's
// page tables, the entry window), plus the KIP and the guest thread's UTCB, which Pistachio
// places at the root task's addresses.
#pragma once

#include <stdint.h>

namespace lw {

// Creates the space and the thread; its global id, or 0 (with why printed).
uint64_t create_guest_thread(const uint8_t *kip);

// Writes the boot_params (zero page) the 64-bit boot protocol passes in %rsi, and the
// initial frame: rip the entry (guest-physical), rsi the boot_params, interrupts off.
bool prepare_guest_boot(uint64_t entry_gpa);

// The start message: the thread begins in the entry window's restore path, which loads the
// initial frame. False (with why printed) when the kernel refuses it.
bool start_guest_thread(const uint8_t *kip, uint64_t guest);

} // namespace lw
