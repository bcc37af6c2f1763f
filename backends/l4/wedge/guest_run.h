// The guest's run: the wedge waits for the guest thread's IPCs and answers them, page faults
// with a mapping (guest_paging, entry_window), site calls from the entry window by running
// the site with the core. Ends (with the counts and why) when the guest does something the
// wedge cannot handle yet, or writes its verdict.
#pragma once

#include <stdint.h>

#include "guest_image.h"

namespace lw {

[[noreturn]] void run_guest(const uint8_t *kip, uint64_t guest, const guest_image &g);

// The run's counts, printed when it ends.
void print_run_counts();

} // namespace lw
