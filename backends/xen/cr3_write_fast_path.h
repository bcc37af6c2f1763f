// mov to CR3 in guest kernel mode without the core, in both paging modes: the address-space
// half of every process switch (switch_mm_irqs_off).
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// If the core would do nothing more than the load, does it and resumes the guest at
// `resume_at` (no return); otherwise returns and the site goes through the core.
void try_cr3_write_fast(const afterburn::wedge::site &s, uint64_t resume_at);

} // namespace xw
