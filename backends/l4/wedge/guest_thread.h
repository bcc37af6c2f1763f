// The guest kernel as an L4 thread in the wedge's address space, at user level, with the
// wedge's thread as its pager: its first fault arrives as IPC. The first step of running the
// guest, not the running itself (docs/l4-backend.md).
#pragma once

#include <stdint.h>

namespace lw {

// Creates the thread, starts it at guest-physical `entry_gpa` (through the RAM window) and
// prints the first IPC it sends, or that none came within about two seconds.
void start_guest_thread(const uint8_t *kip, uint64_t entry_gpa);

} // namespace lw
