// Reads of guest memory by the wedge as plain loads through the kernel root's shadow, which the
// wedge runs on: what the backend's supervisor read does (read_through_shadow: the shadow is
// the guest's TLB), without its walk of the shadow for every page, ~900 instructions a read. A
// page the shadow lacks faults into the wedge's #PF handler, which fills it from the guest's
// tables as a TLB fill does (shadow_fix_wedge_fault) and retries; when the guest's tables do
// not map it (or the address is not canonical) the probe returns false instead of the run
// ending, and the caller leaves the access to the core, which raises the guest's fault.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "traps.h"

extern "C" uint64_t guest_probe_copy(void *dst, uint64_t src, size_t len);  // guest_probe.S
// guest_probe.S: whether the 16 bytes at guest-virtual `src` are `expected`'s (false too when a
// load faulted, as guest_probe_copy). No address checks: for a range that passed them before.
extern "C" bool guest_probe_same16(uint64_t src, const uint64_t expected[2]);

namespace xw {

// Copies guest-virtual [va, va + len) to dst. False: it faulted (nothing else changed but the
// shadow's fills), or the range holds bytes of a rewritten site, which the core's reads see as
// the original instruction (the caller then leaves it to the core).
// Inline: the return to user mode reads its frame and descriptors with it, from pages whose
// address checks (guest_probe.cpp: address_allowed) passed before and are kept in
// g_probe_allowed (direct-mapped by page number).
constexpr unsigned probe_allowed_pages = 16;  // a power of two
extern uint64_t g_probe_allowed[probe_allowed_pages];
bool guest_probe_read_checked(uint64_t va, void *dst, size_t len);
inline bool guest_probe_read(uint64_t va, void *dst, size_t len) {
    const uint64_t page = va >> 12;
    if (len && ((va + len - 1) >> 12) == page && g_probe_allowed[page & (probe_allowed_pages - 1)] == page)
        return guest_probe_copy(dst, va, len) != 0;
    return guest_probe_read_checked(va, dst, len);
}

// Copies src into guest-virtual [va, va + len), which must lie in one page: the CPU's own
// supervisor write on the tables the wedge runs on (under direct paging the guest's own, where
// a page table's read-only alias faults into direct_fix_wedge_fault as the guest's own write
// does; under shadow paging the shadow, where a read-only or missing leaf faults into
// shadow_fix_wedge_fault's fill for a write).
// False, having written nothing: the range spans two pages, touches the wedge or a site, or
// the store faulted (the caller's walk then decides and reports).
bool guest_probe_write(uint64_t va, const void *src, size_t len);

// trap_dispatch: a fault the wedge could not fix, at the probe's load: the probe returns false.
bool guest_probe_fixup(trap_frame *f);

} // namespace xw
