// wrmsr of the segment-base MSRs in guest kernel mode without the core: Linux writes FS_BASE
// on almost every switch between two processes (load_seg_legacy: CPUID hides FSGSBASE, so no
// wrfsbase), KERNEL_GS_BASE and GS_BASE when a thread's differ.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// If the core would do nothing more than the write, does it and resumes the guest at
// `resume_at` (no return); otherwise returns and the site goes through the core.
void try_msr_write_fast(const afterburn::wedge::site &s, uint64_t resume_at);

} // namespace xw
