// The guest's view of its own page tables, whichever way Xen runs them (shadow or direct
// paging): the walk an emulated access or a #PF error code is decided by.
#pragma once

#include <stdint.h>

#include "guest_paging.h"

namespace xw {

namespace xs = afterburn::xen_shadow;

// Under shadow paging the walk sets Accessed/Dirty as the CPU would (the shadow's tables are
// not the guest's); under direct paging it has no side effects (the CPU sets them itself when
// the access is made through the guest's tables).
xs::walk_result guest_walk(uint64_t va, const xs::access_type &acc);
// The paging controls the guest's virtual CR0/EFER ask for.
xs::paging_config guest_paging_config();

} // namespace xw
