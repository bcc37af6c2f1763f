// Reading the guest's code as the CPU runs it, for the walks that follow Linux's entry and
// exit code (return_chain.h, gs_free_entry.h).
#pragma once

#include <stdint.h>

namespace xw {

// The bytes the CPU runs at [va, va + len) (supervisor read). False: not mapped.
bool read_guest_code(uint64_t va, uint8_t *buf, unsigned len);

} // namespace xw
