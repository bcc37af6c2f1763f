// Guest page-table entries and the machine entries Xen runs: the frame number translated,
// and what Xen adds to a 64-bit PV guest's entries undone on the way back
// (docs/xen-direct-paging.md, "Entries").
#pragma once

#include <stdint.h>

#include "guest_paging.h"

namespace afterburn::xen_direct {

namespace pte = xen_shadow::pte;

// Which half of the address space a table serves. Linux never shares a table between the
// halves, so a table's half is fixed when it is first linked under a root.
enum class half : uint8_t { user, kernel };

// Xen marks a guest-kernel leaf (the guest left U clear) with U and this software bit.
inline constexpr uint64_t xen_guest_kernel = 1ull << 52;

inline uint64_t entry_frame(uint64_t e) { return (e & pte::addr_mask) >> 12; }
inline uint64_t with_frame(uint64_t e, uint64_t frame)
{
    return (e & ~pte::addr_mask) | (frame << 12 & pte::addr_mask);
}
// A present entry at `level` that maps memory itself (L1, or PS set in an L2/L3).
inline bool is_leaf(uint64_t e, int level)
{
    return level == 1 || ((level == 2 || level == 3) && (e & pte::page_size));
}

// What Xen stores for a guest entry it accepts (the host tests' fake Xen applies it too):
// guest-kernel leaves get U and xen_guest_kernel, user leaves G (Xen's global user pages),
// every present upper-level entry U (the guest kernel runs in ring 3).
uint64_t xen_adjusted(uint64_t machine_entry, int level);

// The guest's view of a machine entry Xen stored: Xen's additions taken off again. The frame
// is left as it is (the caller translates it). Assumes what Linux does: user leaves never
// carry G, kernel-half upper-level entries never carry U.
uint64_t without_xen_additions(uint64_t machine_entry, int level, half h);

} // namespace afterburn::xen_direct
