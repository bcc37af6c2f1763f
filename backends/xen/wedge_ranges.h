// The wedge's own 2 MiB ranges, which every root the guest runs on must map, whichever way the
// guest's tables are run (shadow or direct paging): its image (Xen's initial mapping, through
// Xen's own initial L1 tables), the temporary slots for guest frames, and the entry window.
// See docs/xen-backend.md, "Memory".
#pragma once

#include <stdint.h>

#include "start_info.h"

namespace xw {

constexpr uint64_t wedge_virt_base = 0xffffffff80000000ull;    // xen-wedge.ld WEDGE_VIRT_BASE
constexpr uint64_t wedge_window = 0xffffffffffe00000ull;       // wedge_abi::window_base
// The wedge's slots for guest frames (pv_memory.h, guest_map_area): the 2 MiB below the window,
// which Linux leaves unused (its fixmap ends below 0xffffffffff800000).
constexpr uint64_t wedge_map_area = wedge_window - 0x200000;
// Xen's initial mapping is at most 16 MiB: Linux's text starts there.
constexpr unsigned max_image_l1s = 8;

struct wedge_tables {
    uint64_t image_l1[max_image_l1s];  // Xen's initial L1s for [wedge_virt_base, image_end)
    unsigned image_l1_count;
    uint64_t image_end;                // initial_mapping_end()
    uint64_t window_l1;                // stubs and slot table read-only, the vCPU page writable
    unsigned window_pages;
    uint64_t map_area_l1;              // empty: the slots are filled by update_va_mapping
};

// Finds the image's L1s and builds the window's and the map area's L1 tables from scratch
// pages (read-only once written, so Xen accepts them as tables). Prints why on failure.
bool build_wedge_tables(const start_info_t *si, wedge_tables &out);

// Whether `va` is the wedge's (its image, temporary slots or window), once build_wedge_tables
// ran: for the trap paths, which must not take the wedge's own faults for the guest's.
bool is_wedge_address(uint64_t va);

} // namespace xw
