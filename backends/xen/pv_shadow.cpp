// The shadow MMU on real Xen (pv_shadow.h).
#include "pv_shadow.h"

#include "console.h"
#include "hypercall.h"
#include "exit.h"
#include "pv_memory.h"
#include "shadow_costs.h"

extern "C" char _image_start[], _image_end[], _window_lma[], _window_lma_end[], wedge_vcpu_page[];

// Placement new (no <new> in a -nostdinc build).
inline void *operator new(size_t, void *p) noexcept { return p; }

namespace xw {

namespace {

constexpr uint64_t virt_base = 0xffffffff80000000ull;
// Xen's initial mapping is [virt_base, initial_mapping_end()): 4 MiB for the sample guest, 16 MiB
// with a Linux vmlinux as the boot module. At most 16 MiB: Linux's text starts there.
constexpr unsigned max_image_l1s = 8;
constexpr uint64_t window = 0xffffffffffe00000ull;  // wedge_abi::window_base
constexpr uint64_t vcpu_page = window + 0x20000;    // wedge_abi::vcpu_page
// The wedge's slots for guest frames (pv_memory.h, guest_map_area): the 2 MiB below the window,
// which Linux leaves unused (its fixmap ends below 0xffffffffff800000).
constexpr uint64_t map_area = window - 0x200000;
// The pool takes what scratch Xen's initial mapping leaves (a 13 MB Linux + initrd boot
// module leaves less than the sample guest does), up to pool_frames, at least min_pool_frames.
constexpr unsigned pool_frames = 512, min_pool_frames = 256;
unsigned g_pool_frames;

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
    bool pin_root(uint64_t mfn) override { return op(MMUEXT_PIN_L4_TABLE, mfn, "pin"); }
    void unpin_root(uint64_t mfn) override { op(MMUEXT_UNPIN_TABLE, mfn, "unpin"); }
    bool set_roots(uint64_t kernel_mfn, uint64_t user_mfn) override {
        cost_scope t(shadow_phase::hv_mmuext);
        mmuext_op_t ops[2]{};
        ops[0].cmd = MMUEXT_NEW_BASEPTR;
        ops[0].arg1.mfn = kernel_mfn;
        ops[1].cmd = MMUEXT_NEW_USER_BASEPTR;
        ops[1].arg1.mfn = user_mfn;
        unsigned done = 0;
        long rc = mmuext_op(ops, 2, &done);
        if (rc || done != 2) print("xen-wedge: shadow: new_baseptr/new_user_baseptr refused: %ld\n", rc);
        return rc == 0 && done == 2;
    }
    void invalidate_page(uint64_t va) override {
        mmuext_op_t o{};
        cost_scope t(shadow_phase::hv_mmuext);
        o.cmd = MMUEXT_INVLPG_LOCAL;
        o.arg1.linear_addr = va;
        unsigned done = 0;
        mmuext_op(&o, 1, &done);
    }
    void flush_all() override {
        mmuext_op_t o{};
        cost_scope t(shadow_phase::hv_mmuext);
        o.cmd = MMUEXT_TLB_FLUSH_LOCAL;
        unsigned done = 0;
        mmuext_op(&o, 1, &done);
    }

private:
    bool op(unsigned cmd, uint64_t mfn, const char *what) {
        mmuext_op_t o{};
        o.cmd = cmd;
        o.arg1.mfn = mfn;
        unsigned done = 0;
        long rc = mmuext_op(&o, 1, &done);
        if (rc) print("xen-wedge: shadow: %s of mfn 0x%lx refused: %ld\n", what, mfn, rc);
        return rc == 0;
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
uint64_t g_image_l1[max_image_l1s], g_window_l1[1], g_map_area_l1[1];
uint64_t g_image_range_end;  // initial_mapping_end()
unsigned g_image_l1_count;
xs::wedge_range g_ranges[3];
xs::va_range g_xen_hole{0xffff800000000000ull, 0xffff880000000000ull};

// The machine frame of the page table that maps `va` at `level` (1 = the L1) in Xen's
// initial tables, by walking them from pt_base. Xen maps its own tables read-only inside the
// initial mapping, at pt_base .. pt_base + nr_pt_frames pages.
bool initial_table_mfn(const start_info_t *si, uint64_t va, unsigned level, uint64_t &mfn) {
    uint64_t pt_pfn = (si->pt_base - virt_base) >> 12;
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

uint64_t image_mfn(uint64_t va) { return mfn_of_pfn((va - virt_base) >> 12); }

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
    // The wedge image range: Xen's own initial L1 tables for its whole initial mapping (wedge
    // image, boot module, p2m list, scratch). Shared with Xen's bootstrap tables, so
    // update_va_mapping (the temporary slot, shared_info) keeps working whichever root is
    // loaded, and the p2m list and the module stay readable.
    g_image_range_end = initial_mapping_end();
    g_image_l1_count = static_cast<unsigned>((g_image_range_end - virt_base) >> 21);
    if (g_image_l1_count == 0 || g_image_l1_count > max_image_l1s) {
        print("xen-wedge: shadow: Xen's initial mapping [0x%lx, 0x%lx) is larger than the %u MiB the wedge "
              "may keep (the boot module is too big)\n", virt_base, g_image_range_end, max_image_l1s * 2);
        return false;
    }
    for (unsigned k = 0; k < g_image_l1_count; ++k)
        if (!initial_table_mfn(si, virt_base + (uint64_t(k) << 21), 1, g_image_l1[k])) {
            print("xen-wedge: shadow: no initial L1 table for 0x%lx\n", virt_base + (uint64_t(k) << 21));
            return false;
        }
    // The entry window: an L1 we build. The entry stubs and slot table are linked at the
    // window (xen-wedge.ld: .window, loaded inside the image at _window_lma) and aliased here
    // read-only; the per-vCPU page is the first page of the vCPU object, writable.
    scratch_page w;
    if (!scratch_alloc(w)) return false;
    auto *l1 = static_cast<uint64_t *>(w.va);
    uint64_t lma = reinterpret_cast<uint64_t>(_window_lma), lma_end = reinterpret_cast<uint64_t>(_window_lma_end);
    unsigned window_pages = 0;
    for (uint64_t a = lma; a < lma_end; a += page_size, ++window_pages)
        l1[window_pages] = image_mfn(virt_base + a) << 12 | pte_p | pte_u | pte_a;
    l1[0x20] = image_mfn(reinterpret_cast<uint64_t>(wedge_vcpu_page)) << 12 | pte_p | pte_rw | pte_u | pte_a | pte_d;
    if (!scratch_make_readonly(w)) return false;
    g_window_l1[0] = w.mfn;
    g_ranges[0] = {virt_base, g_image_range_end, g_image_l1, false};
    g_ranges[1] = {window, 0, g_window_l1, false};  // end 0: the top of the address space
    scratch_page m;  // empty: map_gfn fills it through update_va_mapping
    if (!scratch_alloc(m) || !scratch_make_readonly(m)) return false;
    g_map_area_l1[0] = m.mfn;
    g_ranges[2] = {map_area, window, g_map_area_l1, false};
    xs::shadow_setup setup;
    setup.frames = g_pool;
    setup.frame_count = g_pool_frames;
    setup.wedge = g_ranges;
    setup.wedge_count = 3;
    setup.reserved = &g_xen_hole;
    setup.reserved_count = 1;
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
          g_shadow.kernel_root_mfn(), g_shadow.user_root_mfn(), g_pool_frames, window_pages, virt_base,
          g_image_range_end, g_image_l1_count);
    return true;
}

bool shadow_boot_tables(const loaded_guest &g, uint64_t &cr3) {
    // Guest-physical 0x9000..0xe000, below the e820 hole (docs/xen-backend.md): PML4, the
    // identity PDPT + PD (0..1 GiB in 2 MiB pages) and the high PDPT + PD (the image's 1 GiB
    // at 0xffffffff80000000 = physical 0, like Linux's early high map).
    constexpr uint64_t pml4 = 0x9000, pdpt_lo = 0xa000, pd_lo = 0xb000, pdpt_hi = 0xc000, pd_hi = 0xd000;
    for (uint64_t t = pml4; t <= pd_hi; t += page_size)
        if (!guest_phys_zero(t, page_size)) return false;
    auto put = [](uint64_t gpa, uint64_t v) {
        volatile uint64_t *p = guest_phys_u64(gpa);
        if (p) *p = v;
        return p != nullptr;
    };
    bool ok = put(pml4 + 0 * 8, pdpt_lo | pte_p | pte_rw) && put(pdpt_lo, pd_lo | pte_p | pte_rw);
    uint64_t hi = g.virt_minus_phys;  // 0xffffffff80000000 for a -mcmodel=kernel image
    ok = ok && put(pml4 + ((hi >> 39) & 511) * 8, pdpt_hi | pte_p | pte_rw) &&
         put(pdpt_hi + ((hi >> 30) & 511) * 8, pd_hi | pte_p | pte_rw);
    for (uint64_t i = 0; ok && i < 512; ++i) {
        ok = put(pd_lo + i * 8, i << 21 | 0x80 | pte_p | pte_rw) && put(pd_hi + i * 8, i << 21 | 0x80 | pte_p | pte_rw);
    }
    if (!ok) return false;
    cr3 = pml4;
    auto rep = g_shadow_ptr->load_cr3(cr3);
    print("xen-wedge: shadow: guest boot tables at 0x%lx (identity 0-1 GiB, 0x%lx -> 0), "
          "%u collision(s) with wedge/Xen ranges, first 0x%lx\n",
          cr3, hi, rep.count, rep.first_va);
    return true;
}

xs::shadow_mmu &shadow() { return *g_shadow_ptr; }
bool shadow_active() { return g_active; }
xs::guest_physical &shadow_guest_memory() { return g_phys; }

bool is_wedge_address(uint64_t va) {
    return (va >= virt_base && va < g_image_range_end) || va >= map_area;
}

bool shadow_fix_wedge_fault(uint64_t va, uint64_t error_code) {
    if (!g_active || is_wedge_address(va)) return false;
    xs::access_type acc{(error_code & 2) != 0, (error_code & 16) != 0, false};
    auto r = g_shadow_ptr->handle_fault(va, acc);
    return r.outcome == xs::fault_outcome::fixed;
}

} // namespace xw

