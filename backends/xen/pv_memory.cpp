// Dom0's memory split into wedge scratch and guest RAM (pv_memory.h).
#include "pv_memory.h"

#include "console.h"
#include "hypercall.h"
#include "shadow_costs.h"

extern "C" char _image_start[];

namespace xw {

namespace {

constexpr uint64_t virt_base = 0xffffffff80000000ull;  // xen-wedge.ld WEDGE_VIRT_BASE
constexpr uint64_t four_mib = 4ull << 20, two_mib = 2ull << 20;

const xen_pfn_t *g_p2m;
uint64_t g_nr_pages;
uint64_t g_scratch_next, g_scratch_end;  // dom0 pfns
uint64_t g_guest_base, g_guest_pages;    // dom0 pfn of guest-physical 0, guest RAM pages
uint64_t g_spare_next;                   // dom0 pfns above guest RAM, not mapped by the wedge
// Guest frames the wedge reads or writes (page walks, emulated stack accesses, shadow A/D
// updates) are mapped at the top pages of Xen's initial mapping: a walk touches the same few
// tables again and again, and each new mapping is an update_va_mapping hypercall (~1,000
// instructions). A pointer from map_gfn is good until the next call.
// Once the shadow runs, the slots move to a 2 MiB range of their own (guest_map_area):
// 512 slots keep the page tables of several processes and the kernel's stacks mapped.
// Two-way set associative by frame number, the set's other slot replaced: direct-mapped, two
// hot frames with the same number modulo the slot count (two processes' tables a CR3 load
// reads in turn) took each other's slot on every use.
constexpr unsigned temp_slots = 32;
uint64_t g_temp_va;                      // the first slot; slot i at g_temp_va + i pages
unsigned g_slot_count = temp_slots;
uint64_t g_temp_gfn[guest_map_area_slots];  // what each maps (~0: nothing)
uint8_t g_temp_last[guest_map_area_slots / 2];  // per set: the slot (0/1) used last
uint64_t g_temp_remaps;

// Under direct paging (pv_memory_direct) the cache holds machine frames read-only: Xen
// refuses to make a frame a page table while it is mapped writable anywhere, and the guest's
// tables are the machine's. Writes then go through one slot that is unmapped after each use.
bool g_direct;
unsigned g_cache_slots = temp_slots;  // slots the cache uses; under direct paging the last one is the write slot

volatile uint8_t *map_frame(uint64_t key, uint64_t mfn, bool writable) {
    const unsigned set = static_cast<unsigned>(key % (g_cache_slots / 2));
    unsigned i = 2 * set;
    if (key == g_temp_gfn[i] || key == g_temp_gfn[i + 1]) {
        i += key != g_temp_gfn[i];
        g_temp_last[set] = static_cast<uint8_t>(i & 1);
        return reinterpret_cast<volatile uint8_t *>(g_temp_va + (uint64_t(i) << 12));
    }
    i += g_temp_last[set] ^ 1;  // the slot not used last
    auto *va = reinterpret_cast<volatile uint8_t *>(g_temp_va + (uint64_t(i) << 12));
    ++g_temp_remaps;
    cost_scope t(shadow_phase::guest_map);
    long rc = update_va_mapping(reinterpret_cast<uint64_t>(va),
                                mfn << 12 | pte_p | pte_a | (writable ? pte_rw | pte_d : 0), UVMF_INVLPG);
    if (rc) {
        print("xen-wedge: mapping frame 0x%lx (mfn 0x%lx) failed: %ld\n", key, mfn, rc);
        g_temp_gfn[i] = ~0ull;
        return nullptr;
    }
    g_temp_gfn[i] = key;
    g_temp_last[set] = static_cast<uint8_t>(i & 1);
    return va;
}

volatile uint8_t *map_gfn(uint64_t gfn) {
    uint64_t mfn;
    if (!gfn_to_mfn(gfn, mfn)) return nullptr;
    return g_direct ? map_frame(mfn, mfn, false) : map_frame(gfn, mfn, true);
}

volatile uint8_t *write_slot() { return reinterpret_cast<volatile uint8_t *>(g_temp_va + (uint64_t(g_cache_slots) << 12)); }

// The write slot maps `gfn` writable until unmap_write_slot().
volatile uint8_t *map_write_slot(uint64_t gfn) {
    uint64_t mfn;
    if (!gfn_to_mfn(gfn, mfn)) return nullptr;
    ++g_temp_remaps;
    long rc = update_va_mapping(reinterpret_cast<uint64_t>(write_slot()), mfn << 12 | pte_p | pte_rw | pte_a | pte_d,
                                UVMF_INVLPG);
    if (rc) print("xen-wedge: mapping guest frame 0x%lx (mfn 0x%lx) writable failed: %ld\n", gfn, mfn, rc);
    return rc ? nullptr : write_slot();
}

void unmap_write_slot() { update_va_mapping(reinterpret_cast<uint64_t>(write_slot()), 0, UVMF_INVLPG); }

template <class F> bool each_chunk(uint64_t gpa, size_t len, bool writes, F &&f) {
    if (gpa > guest_ram_bytes() || len > guest_ram_bytes() - gpa) return false;
    size_t done = 0;
    while (done < len) {
        uint64_t a = gpa + done;
        size_t off = a & (page_size - 1);
        size_t n = page_size - off;
        if (n > len - done) n = len - done;
        const bool one_shot = g_direct && writes;
        volatile uint8_t *p = one_shot ? map_write_slot(a >> 12) : map_gfn(a >> 12);
        if (!p) return false;
        f(p + off, done, n);
        if (one_shot) unmap_write_slot();
        done += n;
    }
    return true;
}

} // namespace

bool pv_memory_init(const start_info_t *si, unsigned long xen_rsp, uint64_t guest_mb) {
    g_p2m = reinterpret_cast<const xen_pfn_t *>(si->mfn_list);
    g_nr_pages = si->nr_pages;
    // Xen's initial mapping ends at the 4 MiB boundary at or above its bootstrap stack's top
    // (docs/xen-pv-notes.md: 0x35000 -> 0x400000, 0x1350000 -> 0x1400000). Rounding the stack
    // top up is the conservative reading: everything below it is mapped.
    uint64_t rsp_off = xen_rsp - virt_base;
    uint64_t init_end = (rsp_off + four_mib - 1) & ~(four_mib - 1);
    g_scratch_next = (rsp_off + page_size - 1) >> 12;
    if ((init_end >> 12) < g_scratch_next + temp_slots) {
        print("xen-wedge: memory: Xen's initial mapping ends 0x%lx bytes above the wedge's stack: no room for %u "
              "temporary slots\n", init_end - rsp_off, temp_slots);
        return false;
    }
    g_scratch_end = (init_end >> 12) - temp_slots;  // the last pages are the temporary slots
    g_temp_va = virt_base + (g_scratch_end << 12);
    for (uint64_t &gfn : g_temp_gfn) gfn = ~0ull;
    g_guest_base = init_end >> 12;
    if (g_guest_base >= g_nr_pages) {
        print("xen-wedge: no dom0 pages left for guest RAM (nr_pages %lu, initial mapping %lu)\n",
              g_nr_pages, g_guest_base);
        return false;
    }
    g_guest_pages = (g_nr_pages - g_guest_base) & ~((two_mib >> 12) - 1);
    if (guest_mb) {
        // The guest sees the memory it asked for, as natively, not whatever dom0 was given.
        if ((guest_mb << 8) > g_guest_pages) {
            print("xen-wedge: memory: the guest asks for %lu MiB, dom0 has %lu MiB left for it\n", guest_mb,
                  g_guest_pages >> 8);
            return false;
        }
        g_guest_pages = guest_mb << 8;
    }
    g_spare_next = g_guest_base + g_guest_pages;
    print("xen-wedge: memory: scratch dom0 pfns 0x%lx-0x%lx (%lu pages), %u temporary slots at 0x%lx\n",
          g_scratch_next, g_scratch_end, g_scratch_end - g_scratch_next, temp_slots, g_temp_va);
    print("xen-wedge: memory: guest RAM %lu MiB = dom0 pfns 0x%lx-0x%lx (guest-physical 0x0-0x%lx)\n",
          g_guest_pages >> 8, g_guest_base, g_guest_base + g_guest_pages, g_guest_pages << 12);
    return g_guest_pages != 0;
}

uint64_t guest_phys_remaps() { return g_temp_remaps; }

void guest_map_area(uint64_t va) {
    g_temp_va = va;
    g_slot_count = g_cache_slots = guest_map_area_slots;
    for (uint64_t &gfn : g_temp_gfn) gfn = ~0ull;
}

void pv_memory_direct() {
    // Every cached slot goes (they map guest frames writable); the last one becomes the write slot.
    for (unsigned i = 0; i < g_slot_count; ++i)
        if (g_temp_gfn[i] != ~0ull) {
            update_va_mapping(g_temp_va + (uint64_t(i) << 12), 0, UVMF_INVLPG);
            g_temp_gfn[i] = ~0ull;
        }
    g_direct = true;
    g_cache_slots = g_slot_count - 2;  // an even number of slots for the two-way sets
}

const volatile uint64_t *machine_frame_view(uint64_t mfn) {
    return reinterpret_cast<const volatile uint64_t *>(map_frame(mfn, mfn, false));
}

volatile uint64_t *guest_frame_for_write(uint64_t gfn) {
    return gfn < g_guest_pages ? reinterpret_cast<volatile uint64_t *>(map_write_slot(gfn)) : nullptr;
}

void guest_frame_write_done() { unmap_write_slot(); }

bool spare_frame(uint64_t &mfn) {
    if (g_spare_next >= g_nr_pages) return false;
    mfn = mfn_of_pfn(g_spare_next++);
    // Not zeroed by Xen (bootscrub=0): zeroed here through the write slot, then unmapped.
    if (update_va_mapping(reinterpret_cast<uint64_t>(write_slot()), mfn << 12 | pte_p | pte_rw | pte_a | pte_d,
                          UVMF_INVLPG))
        return false;
    auto *p = reinterpret_cast<volatile uint64_t *>(write_slot());
    for (unsigned i = 0; i < page_size / 8; ++i) p[i] = 0;
    unmap_write_slot();
    return true;
}

unsigned long spare_frames_left() { return g_nr_pages - g_spare_next; }

bool mfn_to_gfn(uint64_t mfn, uint64_t &gfn) {
    // Xen's read-only machine-to-phys table, mapped in every PV root; an entry of a frame that
    // is not ours may say anything, so the p2m must agree.
    const auto *m2p = reinterpret_cast<const volatile uint64_t *>(0xffff800000000000ull);
    if (mfn >= (0x4000000000ull >> 3)) return false;
    const uint64_t pfn = m2p[mfn];
    if (pfn < g_guest_base || pfn >= g_guest_base + g_guest_pages || mfn_of_pfn(pfn) != mfn) return false;
    gfn = pfn - g_guest_base;
    return true;
}

uint64_t initial_mapping_end() { return virt_base + (g_guest_base << 12); }

uint64_t mfn_of_pfn(uint64_t pfn) { return pfn < g_nr_pages ? g_p2m[pfn] : ~0ull; }

bool scratch_alloc(scratch_page &out) {
    if (g_scratch_next >= g_scratch_end) return false;
    uint64_t pfn = g_scratch_next++;
    out.pfn = pfn;
    out.mfn = mfn_of_pfn(pfn);
    out.va = reinterpret_cast<void *>(virt_base + (pfn << 12));
    auto *q = static_cast<volatile uint64_t *>(out.va);
    for (unsigned i = 0; i < page_size / 8; ++i) q[i] = 0;
    return true;
}

unsigned long scratch_free_pages() { return g_scratch_end - g_scratch_next; }

bool scratch_make_readonly(const scratch_page &p) {
    long rc = update_va_mapping(reinterpret_cast<unsigned long>(p.va), p.mfn << 12 | pte_p | pte_a,
                                UVMF_INVLPG);
    if (rc) print("xen-wedge: making scratch pfn 0x%lx read-only failed: %ld\n", p.pfn, rc);
    return rc == 0;
}

uint64_t guest_ram_bytes() { return g_guest_pages << 12; }
uint64_t guest_base_pfn() { return g_guest_base; }

const uint64_t *guest_p2m(uint64_t &frames) {
    static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t));
    frames = g_guest_pages;
    return reinterpret_cast<const uint64_t *>(g_p2m + g_guest_base);
}

bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) {
    if (gfn >= g_guest_pages) return false;
    mfn = mfn_of_pfn(g_guest_base + gfn);
    return true;
}

bool guest_phys_write(uint64_t gpa, const void *src, size_t len) {
    auto *s = static_cast<const uint8_t *>(src);
    return each_chunk(gpa, len, true, [&](volatile uint8_t *p, size_t done, size_t n) {
        for (size_t i = 0; i < n; ++i) p[i] = s[done + i];
    });
}

bool guest_phys_read(uint64_t gpa, void *dst, size_t len) {
    auto *d = static_cast<uint8_t *>(dst);
    return each_chunk(gpa, len, false, [&](volatile uint8_t *p, size_t done, size_t n) {
        for (size_t i = 0; i < n; ++i) d[done + i] = p[i];
    });
}

bool guest_phys_zero(uint64_t gpa, size_t len) {
    return each_chunk(gpa, len, true, [&](volatile uint8_t *p, size_t, size_t n) {
        for (size_t i = 0; i < n; ++i) p[i] = 0;
    });
}

volatile uint64_t *guest_phys_u64(uint64_t gpa) {
    if ((gpa & 7) || gpa >= guest_ram_bytes()) return nullptr;
    volatile uint8_t *p = map_gfn(gpa >> 12);
    return p ? reinterpret_cast<volatile uint64_t *>(p + (gpa & (page_size - 1))) : nullptr;
}

volatile uint64_t *guest_phys_frame(uint64_t gfn) {
    if (gfn >= g_guest_pages) return nullptr;
    return reinterpret_cast<volatile uint64_t *>(map_gfn(gfn));
}

} // namespace xw
