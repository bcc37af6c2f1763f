// The shadow-paging core (backends/xen/shadow) driven by real Xen hypercalls: the
// guest_physical and hypervisor_mmu implementations, the pool, the wedge's ranges (its image
// through Xen's own initial L1 tables, and the entry window), and the guest's initial
// page tables. See docs/xen-backend.md, "Memory".
#pragma once

#include <stdint.h>

#include "guest_loader.h"
#include "shadow_mmu.h"
#include "start_info.h"
#include "wedge_ranges.h"

namespace xw {

namespace xs = afterburn::xen_shadow;

// Builds the pool, the window's L1 table and the shadow roots; switches to them.
bool shadow_start(const start_info_t *si, const loaded_guest &g);

// Writes the guest's boot page tables (identity map of low memory + the image at its link
// address, as the 64-bit boot protocol implies) into guest RAM and loads them as the guest's
// CR3. Returns that CR3.
bool shadow_boot_tables(const loaded_guest &g, uint64_t &cr3);

xs::shadow_mmu &shadow();
bool shadow_active();

// Every page_table_store site of the guest now calls the wedge, which tells the shadow of each
// store (docs/xen-shadow-paging.md, "Switching back without a check"): from here on a process
// switched back to with no store since its shadow was last checked is not checked again.
void shadow_trust_table_stores();
// shadow-verify (afterburn boot --verify-shadow): such switches are checked all the same, and
// what the checks find is counted (it must be nothing).
void shadow_verify_unchecked_loads();
// A check under shadow-verify found a change at the load of `cr3`: stops the run, saying so.
[[noreturn]] void shadow_verify_failed(uint64_t cr3);
// Guest-physical memory as the shadow core reads it (for translate(): the wedge core's
// backend::read/write).
xs::guest_physical &shadow_guest_memory();

// Called from trap_dispatch for a #PF the wedge itself took in kernel mode at `va`: true if
// the shadow now maps it (retry the access).
bool shadow_fix_wedge_fault(uint64_t va, uint64_t error_code);

} // namespace xw
