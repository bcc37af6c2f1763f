// swapgs without the core (docs/wedge-abi.md, "Fast paths"): Linux runs one at every entry from
// user mode (its syscall entry at LSTAR, which the syscall callback runs) and one on every way
// back. Through the core each is a full site dispatch; here it is the exchange of the two GS
// bases and, when the active one changes, one HYPERVISOR_set_segment_base.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// Runs the swapgs site `s` at guest rip `site_addr` (g_guest_run.frame holds the guest's
// registers) and continues the guest at `resume_at`, when that gives exactly what the core
// would: virtual CPL 0 (else #GP), the guest not single-stepping itself, and no delivery due
// at the site's exit (virtual IF clear or nothing pending). Returns otherwise, having changed
// nothing; the caller then runs the site through the core.
void try_swapgs_fast(const afterburn::wedge::site &s, uint64_t resume_at);

} // namespace xw
