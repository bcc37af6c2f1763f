// site_dispatch finds a rewritten site by its call's return address: a binary search of the
// site table (~3,200 sites for Linux, ~150 instructions). The table does not change after
// loading, and a few sites (the system call's swapgs, sti, pushf ...) make most entries, so a
// small direct-mapped cache of the answers returns the same site for less.
#pragma once

#include <stdint.h>

#include "wedge/site_table.h"

namespace xw {

// guest_sites().find_by_return(ret), remembered.
const afterburn::wedge::site *site_by_return(uint64_t ret);

} // namespace xw
