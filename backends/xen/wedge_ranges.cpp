// The wedge's ranges (wedge_ranges.h).
#include "wedge_ranges.h"

#include "console.h"
#include "pv_memory.h"

extern "C" char _window_lma[], _window_lma_end[], wedge_vcpu_page[];

namespace xw {

namespace {

// The machine frame of the page table that maps `va` at `level` (1 = the L1) in Xen's
// initial tables, by walking them from pt_base. Xen maps its own tables read-only inside the
// initial mapping, at pt_base .. pt_base + nr_pt_frames pages.
bool initial_table_mfn(const start_info_t *si, uint64_t va, unsigned level, uint64_t &mfn) {
    uint64_t pt_pfn = (si->pt_base - wedge_virt_base) >> 12;
    uint64_t table_mfn = mfn_of_pfn(pt_pfn);
    auto va_of_mfn = [&](uint64_t m) -> const uint64_t * {
        for (uint64_t i = 0; i < si->nr_pt_frames; ++i)
            if (mfn_of_pfn(pt_pfn + i) == m) return reinterpret_cast<const uint64_t *>(si->pt_base + (i << 12));
        return nullptr;
    };
    for (unsigned l = 4; l > level; --l) {
        const uint64_t *t = va_of_mfn(table_mfn);
        if (!t) return false;
        uint64_t e = t[(va >> (12 + 9 * (l - 1))) & 511];
        if (!(e & pte_p) || (e & 0x80)) return false;
        table_mfn = (e & pte_addr) >> 12;
    }
    mfn = table_mfn;
    return true;
}

uint64_t image_mfn(uint64_t va) { return mfn_of_pfn((va - wedge_virt_base) >> 12); }

uint64_t g_image_end;  // set by build_wedge_tables

} // namespace

bool is_wedge_address(uint64_t va) {
    return (va >= wedge_virt_base && va < g_image_end) || va >= wedge_map_area;
}

bool build_wedge_tables(const start_info_t *si, wedge_tables &out) {
    // The image range: Xen's own initial L1 tables for its whole initial mapping (wedge image,
    // boot module, p2m list, scratch). Shared with Xen's bootstrap tables, so update_va_mapping
    // (the temporary slot, shared_info) keeps working whichever root is loaded, and the p2m
    // list and the module stay readable.
    out.image_end = g_image_end = initial_mapping_end();
    out.image_l1_count = static_cast<unsigned>((out.image_end - wedge_virt_base) >> 21);
    if (out.image_l1_count == 0 || out.image_l1_count > max_image_l1s) {
        print("xen-wedge: memory: Xen's initial mapping [0x%lx, 0x%lx) is larger than the %u MiB the wedge "
              "may keep (the boot module is too big)\n", wedge_virt_base, out.image_end, max_image_l1s * 2);
        return false;
    }
    for (unsigned k = 0; k < out.image_l1_count; ++k)
        if (!initial_table_mfn(si, wedge_virt_base + (uint64_t(k) << 21), 1, out.image_l1[k])) {
            print("xen-wedge: memory: no initial L1 table for 0x%lx\n", wedge_virt_base + (uint64_t(k) << 21));
            return false;
        }
    // The entry window: an L1 we build. The entry stubs and slot table are linked at the
    // window (xen-wedge.ld: .window, loaded inside the image at _window_lma) and aliased here
    // read-only; the per-vCPU page is the first page of the vCPU object, writable.
    scratch_page w;
    if (!scratch_alloc(w)) return false;
    auto *l1 = static_cast<uint64_t *>(w.va);
    uint64_t lma = reinterpret_cast<uint64_t>(_window_lma), lma_end = reinterpret_cast<uint64_t>(_window_lma_end);
    out.window_pages = 0;
    for (uint64_t a = lma; a < lma_end; a += page_size, ++out.window_pages)
        l1[out.window_pages] = image_mfn(wedge_virt_base + a) << 12 | pte_p | pte_u | pte_a;
    l1[0x20] = image_mfn(reinterpret_cast<uint64_t>(wedge_vcpu_page)) << 12 | pte_p | pte_rw | pte_u | pte_a | pte_d;
    if (!scratch_make_readonly(w)) return false;
    out.window_l1 = w.mfn;
    scratch_page m;  // empty: map_gfn fills it through update_va_mapping
    if (!scratch_alloc(m) || !scratch_make_readonly(m)) return false;
    out.map_area_l1 = m.mfn;
    return true;
}

} // namespace xw
