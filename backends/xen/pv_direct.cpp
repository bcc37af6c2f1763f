// Direct paging on real Xen (pv_direct.h).
#include "pv_direct.h"

#include "boot_tables.h"
#include "console.h"
#include "exit.h"
#include "hypercall.h"
#include "mmuext.h"
#include "pv_memory.h"
#include "shadow_costs.h"
#include "wedge_ranges.h"

// Placement new (no <new> in a -nostdinc build).
inline void *operator new(size_t, void *p) noexcept { return p; }

namespace xw {

namespace {

// Linux's direct map with 4-level paging and no KASLR (__PAGE_OFFSET_BASE_L4): where a table
// frame's writable alias is looked for, besides the image's own map (virt_minus_phys).
constexpr uint64_t linux_direct_map = 0xffff888000000000ull;
constexpr unsigned user_roots = 32;
// The boot tables map at most this much in 2 MiB pages, each split into a pool L1.
constexpr uint64_t boot_map_bytes = 64ull << 20;

class xen_guest_memory final : public xd::guest_memory {
public:
    bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) override { return xw::gfn_to_mfn(gfn, mfn); }
    bool mfn_to_gfn(uint64_t mfn, uint64_t &gfn) override { return xw::mfn_to_gfn(mfn, gfn); }
    const volatile uint64_t *read_view(uint64_t mfn) override { return machine_frame_view(mfn); }
    volatile uint64_t *write_view(uint64_t gfn) override { return guest_frame_for_write(gfn); }
    void end_write() override { guest_frame_write_done(); }
};

class xen_direct_mmu final : public xd::xen_mmu {
public:
    unsigned refusals = 0;
    // The core's updates are mmu_update requests as they are (an 8-byte aligned entry address
    // is MMU_NORMAL_PT_UPDATE's ptr): one hypercall for the whole queue, no copy.
    static_assert(sizeof(update) == sizeof(mmu_update_t) && MMU_NORMAL_PT_UPDATE == 0);
    bool update_entries(const update *u, unsigned count) override {
        unsigned done = 0;
        cost_scope t(shadow_phase::direct_hv);
        long rc = mmu_update(reinterpret_cast<const mmu_update_t *>(u), count, &done);
        if (rc || done != count) {
            const update &bad = u[done < count ? done : count - 1];
            if (refusals++ < 8)
                print("xen-wedge: direct: mmu_update of entry 0x%lx = 0x%lx refused: %ld\n", bad.ptr, bad.value, rc);
            return false;
        }
        return true;
    }
    // mmu_update and mmuext_op in one multicall (one entry into Xen instead of two).
    bool update_then_invalidate(const update *u, unsigned count, bool all, uint64_t va) override {
        mmuext_op_t o{};
        o.cmd = all ? MMUEXT_TLB_FLUSH_LOCAL : MMUEXT_INVLPG_LOCAL;
        if (!all) o.arg1.linear_addr = va;
        unsigned done = 0, ext_done = 0;
        multicall_entry_t calls[2]{};
        calls[0].op = __HYPERVISOR_mmu_update;
        calls[0].args[0] = reinterpret_cast<uint64_t>(u);
        calls[0].args[1] = count;
        calls[0].args[2] = reinterpret_cast<uint64_t>(&done);
        calls[0].args[3] = DOMID_SELF;
        calls[1].op = __HYPERVISOR_mmuext_op;
        calls[1].args[0] = reinterpret_cast<uint64_t>(&o);
        calls[1].args[1] = 1;
        calls[1].args[2] = reinterpret_cast<uint64_t>(&ext_done);
        calls[1].args[3] = DOMID_SELF;
        long rc;
        {
            cost_scope t(shadow_phase::direct_hv);
            rc = hypercall<__HYPERVISOR_multicall>(reinterpret_cast<uint64_t>(calls), 2);
        }
        if (rc || calls[0].result || done != count) {
            const update &bad = u[done < count ? done : count - 1];
            if (refusals++ < 8)
                print("xen-wedge: direct: mmu_update of entry 0x%lx = 0x%lx refused: %ld (multicall %ld)\n", bad.ptr,
                      bad.value, static_cast<long>(calls[0].result), rc);
            return false;
        }
        return true;
    }
    bool pin_l4(uint64_t mfn) override { return op(MMUEXT_PIN_L4_TABLE, mfn, "pin"); }
    bool unpin(uint64_t mfn) override { return op(MMUEXT_UNPIN_TABLE, mfn, "unpin"); }
    bool set_roots(uint64_t kernel_mfn, uint64_t user_mfn) override {
        cost_scope t(shadow_phase::direct_hv);
        return mmuext_set_roots(kernel_mfn, user_mfn, "direct");
    }
    void invalidate_page(uint64_t va) override {
        cost_scope t(shadow_phase::direct_hv);
        mmuext_invalidate_page(va);
    }
    void flush_all() override {
        cost_scope t(shadow_phase::direct_hv);
        mmuext_flush_tlb();
    }
    bool op(unsigned cmd, uint64_t mfn, const char *what) {
        cost_scope t(shadow_phase::direct_hv);
        return mmuext_on_frame(cmd, mfn, what, "direct");
    }
};

// Constructed at run time (direct_start) in scratch pages: its fixed tables (~270 KiB) in the
// image's .bss would take that much of Xen's initial mapping from shadow paging's pool.
xd::direct_mmu *g_direct;

// Reads entries as the guest stored them; the walker's A/D updates are refused (Xen and the
// CPU set them in the machine entries, which loads then show).
class direct_view final : public afterburn::xen_shadow::guest_physical {
public:
    bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) override { return xw::gfn_to_mfn(gfn, mfn); }
    bool read_u64(uint64_t gpa, uint64_t &value) override { return g_direct->load(gpa, value) == xd::status::ok; }
    bool cmpxchg_u64(uint64_t, uint64_t &, uint64_t) override { return false; }
    const volatile uint64_t *frame_view(uint64_t) override { return nullptr; }
};

xen_guest_memory g_memory;
xen_direct_mmu g_xen;
bool g_active;
direct_view g_view;
wedge_tables g_tables;
uint64_t g_l1_pool[xd::direct_mmu::max_pool], g_l4_pool[user_roots];
xd::wedge_range g_ranges[max_image_l1s + 2];
uint64_t g_aliases[3];

// An empty table of `level` from dom0's spare frames, pinned.
bool pinned_table(unsigned level, uint64_t &mfn) {
    return spare_frame(mfn) && g_xen.op(level == 1 ? MMUEXT_PIN_L1_TABLE : MMUEXT_PIN_L4_TABLE, mfn, "pin");
}

// Consecutive scratch pages (consecutive pfns are consecutive addresses in Xen's initial
// mapping) for `bytes`.
void *scratch_block(size_t bytes) {
    void *first = nullptr;
    for (size_t done = 0; done < bytes; done += page_size) {
        scratch_page p;
        if (!scratch_alloc(p)) return nullptr;
        if (!first) first = p.va;
        else if (p.va != static_cast<char *>(first) + done) return nullptr;
    }
    return first;
}

} // namespace

bool direct_start(const start_info_t *si, const loaded_guest &g) {
    void *storage = scratch_block(sizeof(xd::direct_mmu));
    if (!storage) {
        print("xen-wedge: direct: no room for the direct-paging core's tables (%lu KiB of scratch)\n",
              sizeof(xd::direct_mmu) >> 10);
        return false;
    }
    g_direct = new (storage) xd::direct_mmu(g_memory, g_xen);
    if (!build_wedge_tables(si, g_tables)) return false;
    // The loader's writable slots go, and the write slot is set up (the pools are zeroed through
    // it); until a guest root links the map area, the slots stay in Xen's initial mapping.
    pv_memory_direct();
    unsigned free = static_cast<unsigned>(spare_frames_left());
    if (free < user_roots + 64) {
        print("xen-wedge: direct: only %u spare dom0 frames above guest RAM for the pools (at least %u needed): "
              "give dom0 more memory than the guest\n", free, user_roots + 64);
        return false;
    }
    unsigned l1s = free - user_roots;
    if (l1s > xd::direct_mmu::max_pool) l1s = xd::direct_mmu::max_pool;
    for (unsigned i = 0; i < user_roots; ++i)
        if (!pinned_table(4, g_l4_pool[i])) return false;
    for (unsigned i = 0; i < l1s; ++i)
        if (!pinned_table(1, g_l1_pool[i])) return false;
    unsigned ranges = 0;
    constexpr uint64_t link = pte_p | pte_rw | pte_u | pte_a;
    for (unsigned k = 0; k < g_tables.image_l1_count; ++k)
        g_ranges[ranges++] = {wedge_virt_base + (uint64_t(k) << 21), g_tables.image_l1[k] << 12 | link};
    g_ranges[ranges++] = {wedge_map_area, g_tables.map_area_l1 << 12 | link};
    g_ranges[ranges++] = {wedge_window, g_tables.window_l1 << 12 | link};
    g_aliases[0] = 0;  // the identity map of the boot tables (and of Linux's early ones)
    g_aliases[1] = linux_direct_map;
    g_aliases[2] = g.virt_minus_phys;
    xd::direct_setup s;
    s.l1_pool = g_l1_pool;
    s.l1_pool_count = l1s;
    s.l4_pool = g_l4_pool;
    s.l4_pool_count = user_roots;
    s.ranges = g_ranges;
    s.range_count = ranges;
    s.alias_bases = g_aliases;
    s.alias_count = 3;
    static_assert(static_cast<unsigned>(shadow_phase::count) - static_cast<unsigned>(shadow_phase::direct_adopt_mark) ==
                  static_cast<unsigned>(xd::cost_part::count));
    s.probe.now = cost_now;
    s.probe.add = [](xd::cost_part part, uint64_t ticks) {
        shadow_cost &c = g_shadow_costs[static_cast<unsigned>(shadow_phase::direct_adopt_mark) +
                                        static_cast<unsigned>(part)];
        c.ticks += ticks;
        ++c.calls;
    };
    if (g_direct->init(s) != xd::status::ok) {
        print("xen-wedge: direct: init failed\n");
        return false;
    }
    g_active = true;
    print("xen-wedge: paging: direct (the guest's page tables are Xen's; pools of %u L1 and %u L4 tables, "
          "image [0x%lx, 0x%lx) in %u of Xen's L1s)\n",
          l1s, user_roots, wedge_virt_base, g_tables.image_end, g_tables.image_l1_count);
    return true;
}

bool direct_boot_tables(const loaded_guest &g, uint64_t &cr3) {
    const uint64_t map = guest_ram_bytes() < boot_map_bytes ? guest_ram_bytes() : boot_map_bytes;
    if (!write_boot_tables(g, map, cr3)) return false;
    const xd::status s = g_direct->load_root(cr3);
    if (s != xd::status::ok) {
        print("xen-wedge: direct: loading the boot tables at 0x%lx failed: %s (0x%lx)\n", cr3,
              direct_status_text(s), g_direct->detail());
        return false;
    }
    guest_map_area(wedge_map_area);  // linked in every root the guest loads from now on
    pv_memory_direct();
    print("xen-wedge: direct: guest boot tables at 0x%lx (identity 0-%lu MiB, 0x%lx -> 0): %lu tables, "
          "%lu large pages split\n",
          cr3, map >> 20, g.virt_minus_phys, uint64_t(g_direct->statistics().tables_tracked),
          g_direct->statistics().large_pages_split);
    return true;
}

xd::direct_mmu &direct() { return *g_direct; }
bool direct_active() { return g_active; }

namespace {
[[noreturn]] void flush_refused(xd::status s) {
    print("xen-wedge: guest: direct paging: sending the queued page-table updates failed: %s (0x%lx)\n",
          direct_status_text(s), g_direct->detail());
    exit_with(verdict_fail);
}
} // namespace

bool direct_send_updates() {
    if (!g_active || !g_direct->has_queued()) return false;
    xd::status s;
    {
        cost_scope t(shadow_phase::direct_flush);
        s = g_direct->flush();
    }
    if (s != xd::status::ok) flush_refused(s);
    return true;
}
void direct_flush_tlb() {
    if (const xd::status s = g_direct->flush_tlb(); s != xd::status::ok) flush_refused(s);
}
bool direct_fix_wedge_fault(uint64_t va, uint64_t error_code) {
    if (!g_active) return false;
    // The wedge's own access through a mapping still queued: sent, the access runs again.
    if (direct_send_updates()) return true;
    return (error_code & 3) == 3 && g_direct->on_write_fault(va) == xd::direct_mmu::write_fault::retry;
}
void direct_invalidate_page(uint64_t va) {
    if (const xd::status s = g_direct->invalidate_page(va); s != xd::status::ok) flush_refused(s);
}
afterburn::xen_shadow::guest_physical &direct_guest_view() { return g_view; }

const char *direct_status_text(xd::status s) {
    switch (s) {
    case xd::status::ok: return "ok";
    case xd::status::bad_setup: return "bad setup";
    case xd::status::misaligned: return "an entry access that is not 8-byte aligned";
    case xd::status::not_guest_ram: return "a table or entry outside guest RAM";
    case xd::status::level_conflict: return "one frame used as page tables of two levels";
    case xd::status::xen_range_used: return "the guest maps L4 slots 256-271, which Xen owns";
    case xd::status::no_path_to_range: return "the root has no tables down to one of the wedge's ranges";
    case xd::status::out_of_space: return "a fixed table or pool of the direct-paging core is full";
    case xd::status::refused: return "Xen refused an update or pin";
    }
    return "unknown";
}

} // namespace xw
