// Page-table sites without the full wedge entry: under direct paging (docs/xen-direct-paging.md,
// "Fast entry for plain entry accesses"), and under shadow paging the stores (--pt-sites stores,
// docs/xen-shadow-paging.md "Switching back without a check"; every access with pt-sites=wedge). Linux's entry accesses are mostly one 8-byte `mov`
// load, `mov` store (a register or an immediate: pte_clear's 0) or `xchg` (ptep_get_and_clear),
// ~480,000 per bench run. The entry window sends both page-table kinds to
// page_table_fast_path.S, which saves the registers on the site stack and calls
// page_table_fast(): with the site's operand precomputed (a descriptor made the first time the
// full path ran it), the access goes to direct_fast_load/store/exchange (page_table_direct.h),
// or under shadow paging to the guest's memory through the shadow (guest_probe.h), and the
// guest goes on; anything else returns false and the stub enters the full path
// (site_dispatch) exactly as the window would have, which stays the reference behaviour.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

struct site_frame;

// From the full path (try_page_table_fast), for a site run at its link address: describes it
// for the fast path (once; a form the fast path does not do is noted as such).
void note_page_table_fast_site(const afterburn::wedge::site &s, uint64_t resume_at);

// Sites page_table_fast() finished.
uint64_t page_table_fast_completions();

} // namespace xw

// page_table_fast_path.S: true when the site is done (its return address on the guest's stack
// now the resume address); false: nothing was changed, the full entry runs it.
extern "C" bool page_table_fast(xw::site_frame *f);
