// The shadow MMU on real Xen (pv_shadow.h).
#include "pv_shadow.h"

#include "console.h"
#include "hypercall.h"
#include "mmuext.h"
#include "exit.h"
#include "pv_memory.h"
#include "run_stats.h"
#include "shadow_costs.h"
#include "wedge_ranges.h"
#include "boot_tables.h"

// Placement new (no <new> in a -nostdinc build).
inline void *operator new(size_t, void *p) noexcept { return p; }

namespace xw {

namespace {

constexpr uint64_t virt_base = wedge_virt_base, window = wedge_window, map_area = wedge_map_area;
// The pool takes what scratch Xen's initial mapping leaves (a 13 MB Linux + initrd boot
// module leaves less than the sample guest does), up to pool_frames, at least min_pool_frames:
// a full pool reclaims tables, so the floor costs speed, not correctness (Linux's workload
// passes with 128; docs/xen-backend.md, "The shadow pool's floor").
constexpr unsigned pool_frames = 512, min_pool_frames = 128;
unsigned g_pool_frames;
// Address spaces whose user halves stay shadowed across CR3 loads (docs/xen-shadow-paging.md,
// "Address spaces"): two, measured best (pipe round trip 1: 59,349, 2: 38,408, 3: 41,336,
// 4: 45,339, 8: 46,007 instructions): each load checks every leaf its space kept, and a space
// kept longer keeps more that are never used again.
constexpr unsigned shadow_spaces = 2;

class xen_guest_physical final : public xs::guest_physical {
public:
    bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) override { return xw::gfn_to_mfn(gfn, mfn); }
    bool read_u64(uint64_t gpa, uint64_t &value) override {
        volatile uint64_t *p = guest_phys_u64(gpa);
        if (!p) return false;
        value = *p;
        return true;
    }
    // The frame's temporary slot (pv_memory.h): good until another frame takes that slot.
    const volatile uint64_t *frame_view(uint64_t gfn) override { return guest_phys_frame(gfn); }
    const uint64_t *p2m_table(uint64_t &frames) override { return guest_p2m(frames); }
    bool cmpxchg_u64(uint64_t gpa, uint64_t &expected, uint64_t desired) override {
        volatile uint64_t *p = guest_phys_u64(gpa);
        if (!p) return false;
        uint64_t prev = expected;
        asm volatile("lock cmpxchgq %2, %1" : "+a"(prev), "+m"(*p) : "r"(desired) : "memory");
        bool ok = prev == expected;
        expected = prev;
        return ok;
    }
};

class xen_mmu final : public xs::hypervisor_mmu {
public:
    unsigned refusals = 0;
    bool write_entry(uint64_t table_mfn, unsigned index, uint64_t value) override {
        cost_scope t(shadow_phase::hv_update);
        mmu_update_t req{table_mfn << 12 | index * 8 | MMU_NORMAL_PT_UPDATE, value};
        unsigned done = 0;
        long rc = mmu_update(&req, 1, &done);
        if (rc || done != 1) {
            if (refusals++ < 8)
                print("xen-wedge: shadow: mmu_update(mfn 0x%lx[%u] = 0x%lx) refused: %ld\n", table_mfn,
                      index, value, rc);
            return false;
        }
        return true;
    }
    bool write_entries(uint64_t table_mfn, const entry_update *updates, unsigned count) override {
        cost_scope t(shadow_phase::hv_update);
        static mmu_update_t reqs[512];
        if (count > 512) return false;
        for (unsigned i = 0; i < count; ++i)
            reqs[i] = {table_mfn << 12 | updates[i].index * 8u | MMU_NORMAL_PT_UPDATE, updates[i].value};
        unsigned done = 0;
        long rc = mmu_update(reqs, count, &done);
        if (rc || done != count) {
            if (refusals++ < 8)
                print("xen-wedge: shadow: mmu_update of %u entries of mfn 0x%lx refused after %u: %ld\n", count,
                      table_mfn, done, rc);
            return false;
        }
        return true;
    }
    bool write_batch(const table_update *updates, unsigned count) override {
        cost_scope t(shadow_phase::hv_update);
        static mmu_update_t reqs[512];
        if (count > 512) return false;
        for (unsigned i = 0; i < count; ++i)
            reqs[i] = {updates[i].table_mfn << 12 | updates[i].index * 8u | MMU_NORMAL_PT_UPDATE, updates[i].value};
        unsigned done = 0;
        long rc = mmu_update(reqs, count, &done);
        if (rc || done != count) {
            if (refusals++ < 8)
                print("xen-wedge: shadow: mmu_update of %u entries refused after %u: %ld\n", count, done, rc);
            return false;
        }
        return true;
    }
    // Two hypercalls: one multicall of both measured ~100 instructions more per CR3 load and
    // invlpg than the two (Xen copies and dispatches each multicall entry as a call of its own).
    bool write_batch_then_invalidate(const table_update *updates, unsigned count, bool all, uint64_t va) override {
        const bool ok = write_batch(updates, count);
        if (all) flush_all(); else invalidate_page(va);
        return ok;
    }
    bool pin_root(uint64_t mfn) override { return mmuext_on_frame(MMUEXT_PIN_L4_TABLE, mfn, "pin", "shadow"); }
    void unpin_root(uint64_t mfn) override { mmuext_on_frame(MMUEXT_UNPIN_TABLE, mfn, "unpin", "shadow"); }
    bool set_roots(uint64_t kernel_mfn, uint64_t user_mfn) override {
        cost_scope t(shadow_phase::hv_mmuext);
        return mmuext_set_roots(kernel_mfn, user_mfn, "shadow");
    }
    void invalidate_page(uint64_t va) override {
        cost_scope t(shadow_phase::hv_mmuext);
        mmuext_invalidate_page(va);
    }
    void flush_all() override {
        cost_scope t(shadow_phase::hv_mmuext);
        mmuext_flush_tlb();
    }
};

xen_guest_physical g_phys;
xen_mmu g_mmu;
// Constructed at run time (shadow_start): xen-wedge.ld forbids global constructors, and
// shadow_mmu's constructor is not constexpr.
alignas(xs::shadow_mmu) unsigned char g_shadow_storage[sizeof(xs::shadow_mmu)];
xs::shadow_mmu *g_shadow_ptr;
bool g_active;
xs::pool_frame g_pool[pool_frames];
wedge_tables g_tables;
uint64_t g_window_l1[1], g_map_area_l1[1];
xs::wedge_range g_ranges[3];
xs::va_range g_xen_hole{0xffff800000000000ull, 0xffff880000000000ull};

} // namespace

bool shadow_start(const start_info_t *si, const loaded_guest &) {
    g_shadow_ptr = new (g_shadow_storage) xs::shadow_mmu(g_phys, g_mmu);
    xs::shadow_mmu &g_shadow = *g_shadow_ptr;
    // Pool: scratch pages, zero, mapped read-only in the wedge, not guest RAM.
    unsigned free = static_cast<unsigned>(scratch_free_pages()) - 2;  // the window's and map area's L1s
    g_pool_frames = free < pool_frames ? free : pool_frames;
    if (free < min_pool_frames) {
        print("xen-wedge: shadow: only %u scratch pages left for the pool (at least %u needed): the boot module "
              "leaves too little of Xen's initial mapping\n", free, min_pool_frames);
        return false;
    }
    for (unsigned i = 0; i < g_pool_frames; ++i) {
        scratch_page p;
        if (!scratch_alloc(p) || !scratch_make_readonly(p)) {
            print("xen-wedge: shadow: cannot build the pool (%u of %u frames)\n", i, g_pool_frames);
            return false;
        }
        g_pool[i] = {static_cast<const volatile uint64_t *>(p.va), p.mfn};
    }
    if (!build_wedge_tables(si, g_tables)) return false;
    g_window_l1[0] = g_tables.window_l1;
    g_map_area_l1[0] = g_tables.map_area_l1;
    g_ranges[0] = {virt_base, g_tables.image_end, g_tables.image_l1, false};
    g_ranges[1] = {window, 0, g_window_l1, false};  // end 0: the top of the address space
    g_ranges[2] = {map_area, window, g_map_area_l1, false};
    xs::shadow_setup setup;
    setup.frames = g_pool;
    setup.frame_count = g_pool_frames;
    setup.wedge = g_ranges;
    setup.wedge_count = 3;
    setup.reserved = &g_xen_hole;
    setup.reserved_count = 1;
    setup.spaces = shadow_spaces;
    xs::paging_config cfg;
    auto st = g_shadow.init(setup, cfg);
    if (st != xs::init_status::ok) {
        print("xen-wedge: shadow: init failed (status %u)\n", static_cast<unsigned>(st));
        return false;
    }
    if (!g_shadow.activate()) {
        print("xen-wedge: shadow: activate failed\n");
        return false;
    }
    g_active = true;
    guest_map_area(map_area);
    print("xen-wedge: shadow: running on shadow roots kernel mfn 0x%lx user mfn 0x%lx (pool %u frames, "
          "window %u pages + vCPU page, image [0x%lx, 0x%lx) in %u of Xen's L1s)\n",
          g_shadow.kernel_root_mfn(), g_shadow.user_root_mfn(), g_pool_frames, g_tables.window_pages, virt_base,
          g_tables.image_end, g_tables.image_l1_count);
    return true;
}

bool shadow_boot_tables(const loaded_guest &g, uint64_t &cr3) {
    if (!write_boot_tables(g, 1ull << 30, cr3)) return false;
    auto rep = g_shadow_ptr->load_cr3(cr3);
    print("xen-wedge: shadow: guest boot tables at 0x%lx (identity 0-1 GiB, 0x%lx -> 0), "
          "%u collision(s) with wedge/Xen ranges, first 0x%lx\n",
          cr3, g.virt_minus_phys, rep.count, rep.first_va);
    return true;
}

xs::shadow_mmu &shadow() { return *g_shadow_ptr; }
bool shadow_active() { return g_active; }

namespace {
bool g_verify_unchecked = false;
}

void shadow_verify_unchecked_loads() { g_verify_unchecked = true; }

void shadow_verify_failed(uint64_t cr3) {
    print("xen-wedge: shadow-verify: the CR3 load of 0x%lx found its address space's kept shadow changed, though the "
          "wedge saw no page-table store since that space was last checked: a store to the guest's tables bypassed "
          "the compiler pass's page_table_store sites (or the wedge missed one)\n",
          cr3);
    fail_run("shadow-verify: a kept shadow changed without a page-table store the wedge saw");
}

void shadow_trust_table_stores() {
    shadow().report_table_stores(g_verify_unchecked);
    print("xen-wedge: shadow: the wedge sees every page-table store: a process switched back to with none since "
          "its last check keeps its shadow unchecked%s\n",
          g_verify_unchecked ? " (shadow-verify: checked all the same)" : "");
}
xs::guest_physical &shadow_guest_memory() { return g_phys; }

bool shadow_fix_wedge_fault(uint64_t va, uint64_t error_code) {
    if (!g_active || is_wedge_address(va)) return false;
    xs::access_type acc{(error_code & 2) != 0, (error_code & 16) != 0, false};
    auto r = g_shadow_ptr->handle_fault(va, acc);
    return r.outcome == xs::fault_outcome::fixed;
}

} // namespace xw

