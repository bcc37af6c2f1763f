// mov from CR0/CR2/CR3/CR4 without the core (docs/wedge-abi.md, "Fast paths"): Linux reads CR2
// at every page fault (exc_page_fault's first act), and through the core that read was a full
// site dispatch (poll, emulate, delivery check, resume). Here it is the vCPU's copy of the
// register put in the destination.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// Runs the mov-from-CR site `s` (g_guest_run.frame holds the guest's registers) and continues
// the guest at `resume_at`, when that gives exactly what the core would: virtual CPL 0 (else
// #GP), CR0, CR2, CR3 or CR4 (CR8 and the #UD ones are left to the core), a destination other
// than %rsp, the guest not single-stepping itself, and no delivery due at the site's exit.
// Returns otherwise, having changed nothing; the caller then runs the site through the core.
void try_cr_read_fast(const afterburn::wedge::site &s, uint64_t resume_at);

} // namespace xw
