// The direct-paging core (backends/xen/direct) driven by real Xen hypercalls: the guest_memory
// and xen_mmu implementations, the pools of pinned L1 and L4 tables, the wedge's ranges and the
// guest's boot tables. See docs/xen-direct-paging.md.
#pragma once

#include <stdint.h>

#include "direct_mmu.h"
#include "guest_loader.h"
#include "guest_paging.h"
#include "start_info.h"

namespace xw {

namespace xd = afterburn::xen_direct;

// Builds the pools and the wedge's ranges and puts guest memory access into direct mode.
bool direct_start(const start_info_t *si, const loaded_guest &g);
// Writes the guest's boot tables (as shadow_boot_tables) and loads them: from here the guest's
// tables are the machine's.
bool direct_boot_tables(const loaded_guest &g, uint64_t &cr3);

xd::direct_mmu &direct();
bool direct_active();
// Sends the core's queued page-table updates to Xen (docs/xen-direct-paging.md, "Batched
// updates"): true if there were any. Called before the guest runs anywhere but right after a
// page-table site, and on the guest's #PF (then the faulting access is retried).
bool direct_send_updates();
void direct_flush_tlb();
// A #PF the wedge itself took writing guest memory at `va`: true if the page was a table and
// is data again (retry the access).
bool direct_fix_wedge_fault(uint64_t va, uint64_t error_code);
void direct_invalidate_page(uint64_t va);
// The guest's tables as the guest sees them (entries through direct().load): for walks that
// compute a #PF error code or check an emulated access. Read-only: Xen sets A/D itself.
afterburn::xen_shadow::guest_physical &direct_guest_view();
// A status in words, with the core's detail, for the one line a failure prints.
const char *direct_status_text(xd::status s);

} // namespace xw
