// Mapping shared_info.
#include "shared_info.h"

#include "console.h"
#include "hypercall.h"

namespace xw {

namespace {

// Page-table entry bits (x86): present, writable, accessed, dirty. Setting A/D up front
// spares the CPU (and under Xen a fault) from setting them later.
constexpr uint64_t pte_present_rw = 0x1 | 0x2 | 0x20 | 0x40;

alignas(4096) char g_shared_info_page[4096];

} // namespace

shared_info_t *g_shared_info;

bool map_shared_info(const start_info_t *si) {
    auto va = reinterpret_cast<unsigned long>(g_shared_info_page);
    long rc = update_va_mapping(va, si->shared_info | pte_present_rw, UVMF_INVLPG);
    if (rc) {
        print("xen-wedge: mapping shared_info (machine 0x%lx) failed: %ld\n", si->shared_info, rc);
        return false;
    }
    g_shared_info = reinterpret_cast<shared_info_t *>(g_shared_info_page);
    return true;
}

} // namespace xw
