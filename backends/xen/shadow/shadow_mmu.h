// The shadow MMU of one vCPU: machine page tables the hypervisor runs, built on demand from
// the guest's own page tables (which hold guest-physical frames and which Xen never sees).
// See docs/xen-shadow-paging.md for the design and its invariants.
//
// Freestanding: no heap, no exceptions, no RTTI; every table lives in a pool of frames the
// backend hands over at init; all bookkeeping is in fixed arrays inside this object.
//
// The shadow behaves as the vCPU's TLB. It caches guest translations and drops them exactly
// where x86 lets a TLB forget: invlpg, a CR3 load, a flush (CR0/CR4 paging bits), and a
// #PF at that address. Between those points a shadow entry may be stale, as a TLB entry may.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "guest_paging.h"
#include "shadow_interfaces.h"

namespace afterburn::xen_shadow {

// A frame the core may use as a shadow page table: its machine frame number and a
// read-only view of its contents (Xen: the wedge maps pool frames read-only, which Xen
// requires of page-table frames; all writes go through hypervisor_mmu::write_entry).
// Pool frames must be zero when handed over and must not be guest RAM (not in the p2m).
struct pool_frame {
    const volatile uint64_t *table = nullptr;
    uint64_t mfn = 0;
};

// A range of the address space the wedge owns (its image, the entry window with the
// per-vCPU page). Start and end are 2 MiB aligned; `l1_mfns[k]` is a machine L1 table the
// backend built for the k-th 2 MiB of the range, linked into every shadow root's L2 (the
// user root only if `in_user_root`). The guest's mappings of these addresses are never
// shadowed: they are reported as collisions.
struct wedge_range {
    uint64_t start = 0, end = 0;
    const uint64_t *l1_mfns = nullptr;
    bool in_user_root = false;
};

// A range the hypervisor owns (Xen PV x86-64: 0xffff800000000000-0xffff87ffffffffff, L4
// slots 256-271, which Xen fills in every L4 it validates). Never written by the core;
// guest mappings there are reported as collisions. L4-slot aligned.
struct va_range {
    uint64_t start = 0, end = 0;  // [start, end); end 0 means the top of the address space
};

struct shadow_setup {
    // Address spaces whose user halves the shadow keeps across CR3 loads (see
    // "Address spaces" in docs/xen-shadow-paging.md): a pair of roots each, taken from the
    // pool for good. 1 = one pair, every CR3 load re-derives the user half.
    unsigned spaces = 1;
    const pool_frame *frames = nullptr;
    size_t frame_count = 0;
    const wedge_range *wedge = nullptr;
    size_t wedge_count = 0;
    const va_range *reserved = nullptr;
    size_t reserved_count = 0;
};

enum class init_status : uint8_t { ok, bad_pool, bad_range, pool_too_small, hypervisor_refused, bad_spaces };

enum class fault_outcome : uint8_t {
    fixed,              // a shadow entry now allows the access: resume the guest
    inject_pf,          // the guest's tables forbid it: deliver #PF(error_code), CR2 = address
    collision,          // the guest maps an address the wedge or hypervisor owns: not shadowed
    no_machine_frame,   // the guest maps a gpa that is not RAM (MMIO, e.g. the xAPIC): `gpa`
    table_unreadable,   // a guest page-table entry lies outside guest RAM: `gpa`
    out_of_memory,      // the pool is too small even after a full flush
    hypervisor_refused  // write_entry failed (a core or pool-setup bug)
};

struct fault_result {
    fault_outcome outcome = fault_outcome::fixed;
    uint32_t error_code = 0;
    uint64_t address = 0;
    uint64_t gpa = 0;
};

// Guest mappings of protected addresses (wedge or hypervisor ranges) found by a scan.
struct collision_report {
    uint32_t count = 0;        // leaf mappings (a large page counts once)
    uint64_t first_va = 0;
};

struct shadow_stats {
    uint64_t faults_fixed = 0, faults_injected = 0, collisions = 0;
    uint64_t entries_written = 0, tables_allocated = 0, flushes = 0, pool_reclaims = 0;
    uint64_t leaves_kept = 0;  // user leaves kept CR3 loads left in place
    uint64_t prefills = 0;     // prefill() calls that installed a leaf
    // Kept CR3 loads that switched to another space's roots: one that still held the new root
    // (its leaves checked), and one given to the new root (the least recently loaded).
    uint64_t space_hits = 0, space_reuses = 0;
    // Kept CR3 loads of a space no guest table store touched since its last check, loaded
    // without one (report_table_stores; with `verify` checked all the same), and of those checked
    // all the same, the ones whose check cleared a leaf or found the kernel half changed (a
    // store that was not reported: a bug).
    uint64_t unchecked_loads = 0, unchecked_stale = 0;
    // Every time the shadow may have dropped entries (a sync point, a #PF it reflected over a
    // leaf it held, a pool reclaim): an entry the backend saw present stays so while this is
    // unchanged.
    uint64_t forgets = 0;
    uint32_t tables_in_use = 0;
};

class shadow_mmu {
public:
    static constexpr size_t max_frames = 4096;
    static constexpr size_t max_wedge_ranges = 8;
    static constexpr size_t max_reserved_ranges = 4;
    static constexpr size_t max_spaces = 8;

    shadow_mmu(guest_physical &mem, hypervisor_mmu &hv) : mem_(mem), hv_(hv) {}
    shadow_mmu(const shadow_mmu &) = delete;
    shadow_mmu &operator=(const shadow_mmu &) = delete;

    // Builds the kernel and user roots with the wedge's mappings and pins them. Does not
    // load them: call activate() (once, and again after a backend switched elsewhere).
    init_status init(const shadow_setup &setup, const paging_config &cfg);
    bool activate();

    uint64_t kernel_root_mfn() const;
    uint64_t user_root_mfn() const;
    uint64_t guest_cr3() const { return guest_cr3_; }
    const paging_config &config() const { return cfg_; }

    // --- the sync points (x86 TLB semantics) -------------------------------------------
    // mov to CR3: every non-global translation is forgotten, the new tables are used.
    // Returns the guest's mappings of protected ranges in the new tables (not shadowed).
    collision_report load_cr3(uint64_t cr3);
    // A CR3 load that keeps the kernel half (L4 slots 256-511) when the new root's entries
    // there equal those of the root the last full load came from: what a TLB does with global
    // translations under CR4.PGE, for a guest whose kernel-half mappings are all global (Linux
    // without PTI). Otherwise, or when `keep_global_half` is false, the same as load_cr3.
    // `kept` says which happened.
    collision_report load_cr3(uint64_t cr3, bool keep_global_half, bool &kept);
    // From now on every store the guest makes to its page tables is reported with table_stored()
    // (the compiler pass's page_table_store sites, made by the wedge): a kept CR3 load of a space
    // whose check no store has come after needs none (docs/xen-shadow-paging.md, "Switching
    // back without a check"). With `verify`, it checks anyway and counts in
    // stats().unchecked_stale what the check found (a test's proof that no store went unseen).
    void report_table_stores(bool verify)
    {
        stores_reported_ = true;
        verify_unchecked_ = verify;
    }
    void table_stored() { ++table_stores_; }
    // After a kept CR3 load: the user half now running is exactly as it was when this root last
    // ran (its space kept it, and the check cleared nothing): what the backend filled there for
    // that root (its user stack) is still there.
    bool user_half_intact() const { return user_half_intact_; }
    // invlpg: forget the translation of the page containing `va` (all of a guest large
    // page, and every cached root). A protected `va` is only checked for collisions.
    collision_report invalidate_page(uint64_t va);
    // CR0.PG/WP, CR4.PGE toggles, invpcid all: forget everything guest-derived.
    void flush();
    // The guest changed CR0.WP, EFER.NXE, ...: the new rules apply after a full flush.
    void set_config(const paging_config &cfg);

    // --- the hypervisor reported a page fault the guest took at `va` -------------------
    // `acc.user` is the guest's virtual CPL 3 (then the user root was running). A full pool
    // frees the user half's tables, and if that is not enough flushes everything: then
    // stats().flushes grows, and what the backend prefilled is gone too.
    fault_result handle_fault(uint64_t va, const access_type &acc);

    // A speculative fill, as a TLB may make at any moment: shadows `va` in one root when the
    // guest's current walk there needs no A/D update (every entry on it is Accessed; the
    // leaf is writable only if Dirty, as any fill). Sets nothing in the guest's tables and
    // never reclaims the pool. For the address of a #PF the guest just handled, before it
    // retries. True if the shadow now maps `va`.
    bool prefill(uint64_t va, bool user_root);

    // Guest mappings of protected ranges in the current guest tables.
    collision_report scan_collisions();

    const shadow_stats &stats() const { return stats_; }

    // Where lookup() starts its probe for a pool frame: public for tests that make frames collide.
    static size_t hash_of(uint64_t mfn) { return (mfn * 0x9e3779b97f4a7c15ull) >> 51; }  // 13 bits

    // The shadow leaf entry for `va` in a root (0 if none): for tests and diagnostics.
    uint64_t shadow_leaf(bool user_root, uint64_t va) const;

private:
    static constexpr uint16_t none = 0xffff;
    static constexpr uint8_t shared_space = 0xff;  // the kernel half: linked from every space's root
    enum frame_flags : uint8_t { splinter = 1 };  // entries came from a guest large page
    struct frame_meta {
        uint64_t mfn = 0;
        const volatile uint64_t *table = nullptr;
        uint8_t level = 0;  // 0 = free, 1..4 = a shadow table of that level
        uint8_t flags = 0;
        bool user_root = false;  // a table of the user root (set when a fill allocates it)
        uint8_t space = shared_space;  // the space whose user half holds it, or shared_space
        uint16_t filled_pos = none;  // an L1's place in filled_l1_, or none
        // A listed L1's filled entries, by groups of eight: bit g = entries 8g..8g+7 may hold a
        // leaf. A CR3 load checks only those (a Linux text L1 spans all 512 entries, of which
        // it uses a few dozen).
        uint64_t filled_groups = 0;
        uint64_t base = 0;           // the first address a listed L1 covers
    };

    int lookup(uint64_t mfn) const;
    int alloc_table(unsigned level);
    void free_subtree(int idx);
    bool table_empty(int idx) const;
    bool write(int table, unsigned index, uint64_t value);
    bool protected_overlap(uint64_t first, uint64_t last, bool &fully) const;
    bool is_protected(uint64_t va) const;
    bool clear_range(int table, unsigned level, uint64_t base, uint64_t lo, uint64_t hi);
    bool clear_leaves(int table, unsigned level, uint64_t base, uint64_t lo, uint64_t hi);
    void note_filled(int l1, uint64_t va);
    void unlist(int l1);
    // keep_valid: leave the leaves the current guest tables give unchanged (a kept CR3 load).
    bool clear_filled(uint64_t lo, uint64_t hi, bool keep_valid = false);
    struct guest_path {
        bool writable, user, nx;
        uint64_t leaf_reserved;  // reserved_bits of a 4K leaf, once per table
    };
    const volatile uint64_t *guest_l1_of(uint64_t base, guest_path &path, uint64_t &l1_gfn);
    bool leaf_still_valid(uint64_t guest_entry, const guest_path &path, bool user_root, uint64_t leaf);
    uint64_t leaf_for(const translation &t, uint64_t mfn, bool user_root) const;
    // A shadow leaf's bits but the frame, for a guest leaf `e` (4K or `large`) whose walk
    // grants `writable` and `nx`: one definition for fills and for the check of a kept leaf.
    uint64_t leaf_bits(uint64_t e, bool writable, bool nx, bool large, bool user_root) const
    {
        // Writable only once the guest's Dirty bit is set: the first write faults and sets it.
        const bool w = (e & pte::dirty) && (writable || (!user_root && !cfg_.wp));
        const uint64_t pat = !large ? (e & pte::pat_4k) : ((e & pte::pat_large) ? pte::pat_4k : 0);
        return pte::present | pte::user | pte::accessed | (w ? pte::write | pte::dirty : 0) | (nx ? pte::nx : 0) |
               (e & (pte::pwt | pte::pcd)) | pat;
    }
    // The leaf clears of a sync point are queued and sent with its TLB invalidation as one
    // request (hypervisor_mmu::write_batch_then_invalidate): an invlpg clears the page in
    // both roots and invalidates it with one entry into the hypervisor instead of three.
    void queue_clear(int table, unsigned index);
    void send_queued(bool all, uint64_t va);
    // keep_tables: clear only leaves (CR3 loads); otherwise empty tables return to the pool.
    void drop_range(uint64_t lo, uint64_t hi, bool keep_tables = false);
    fault_outcome install(bool user_root, uint64_t va, const translation &t, uint64_t mfn);
    init_status link_wedge(int root, const wedge_range &r);
    void scan(uint64_t table_gpa, unsigned level, uint64_t base, uint64_t lo, uint64_t hi,
              collision_report &rep);
    void scan_range(uint64_t lo, uint64_t hi, collision_report &rep);
    void scan_ranges(uint64_t lo, uint64_t hi, collision_report &rep);
    int shadow_l1(int root, uint64_t va, uint64_t &span) const;
    void drop_4k(uint64_t va, const int (&l1)[2]);

    guest_physical &mem_;
    hypervisor_mmu &hv_;
    const uint64_t *p2m_ = nullptr;  // guest_physical::p2m_table, if it has one
    uint64_t p2m_frames_ = 0;
    paging_config cfg_{};
    uint64_t guest_cr3_ = 0;
    bool ready_ = false;
    // The kernel-half L4 entries of the root of the last full CR3 load. Compared against a
    // copy rather than the outgoing root: reading two guest frames alternately costs the Xen
    // wedge a remap of its temporary slot per entry when both frames share a slot.
    static constexpr unsigned half = 256;
    uint64_t kernel_half_[half];
    bool kernel_half_known_ = false;
    collision_report full_load(uint64_t cr3);

    frame_meta frames_[max_frames];
    static_assert(2 * max_frames == size_t(1) << 13, "hash_of gives 13 bits");
    // Frame index by mfn, open addressing with linear probing, half full at most: lookup()
    // runs on every level of every shadow walk (fills, shadow_leaf, drops), and a binary
    // search over the pool cost ~70 instructions where this costs ~10.
    static constexpr size_t hash_size = 2 * max_frames;
    uint16_t by_hash_[hash_size];
    uint16_t free_[max_frames];       // stack of free frame indices
    size_t frame_count_ = 0, free_count_ = 0;
    // Every L1 that may hold a leaf (a fill wrote one since its last full clear), in both
    // roots: a CR3 load clears these instead of walking every table the pool keeps linked.
    uint16_t filled_l1_[max_frames];
    size_t filled_count_ = 0;
    int roots_[2] = {-1, -1};         // kernel, user: the current space's
    // Address spaces: a kernel and a user root each, pinned at init and never freed. Their
    // kernel halves (L4 slots 256-511) are the same entries in every root of a kind, so the
    // tables below are shared; each user half is the space's own and survives CR3 loads of
    // other roots. A space's leaves are checked against the guest's tables when it is loaded
    // again, as a kept CR3 load checks the single user half (clear_filled with keep_valid).
    static constexpr uint64_t no_guest_root = ~0ull;
    struct address_space {
        uint64_t guest_root = no_guest_root;  // the guest L4 (CR3's address) it shadows
        int roots[2] = {-1, -1};
        uint64_t last_load = 0;
        bool released = false;  // its user half was freed while it did not run (a full pool)
        // table_stores_ when its leaves were last checked against (or filled from) the guest's
        // tables, or never: while it is still table_stores_, every leaf it holds is what those
        // tables give.
        uint64_t checked_at = never_checked;
    };
    static constexpr uint64_t never_checked = ~0ull;
    bool stores_reported_ = false, verify_unchecked_ = false;
    uint64_t table_stores_ = 0;
    // Every space's leaves must be checked at its next load (a flush, a change of paging rules).
    void uncheck_spaces();
    bool load_unchecked(uint64_t cr3, bool &verify);
    address_space spaces_[max_spaces];
    unsigned space_count_ = 1, cur_ = 0;
    uint64_t load_clock_ = 0;
    bool user_half_intact_ = false;
    // The page of the #PF handle_fault reflected last for an absent L1 entry, with the path
    // above it, for the prefill after the guest's handler (walk_reflected): the trap's walk
    // and the prefill's read the same three upper entries (~300 instructions). Forgotten at
    // every sync point and every fault.
    static constexpr uint64_t no_page = ~0ull;
    struct reflected_fault {
        uint64_t page = no_page;  // va >> 12
        uint64_t l1e_gpa = 0;
        bool writable = false, nx = false;  // the rights of the three upper entries
        uint64_t upper[3] = {};
    };
    reflected_fault reflected_;
    void note_reflected(uint64_t va, const access_type &acc, const walk_result &w);
    bool walk_reflected(uint64_t va, walk_result &w);
    // The space of a table linked at entry `index` of `table` (at `level`).
    uint8_t space_below(int table, unsigned level, unsigned index) const;
    // An entry of a root: in the kernel half, written to that slot of every space's root of
    // the same kind (kernel or user), so the halves stay the same.
    bool write_root(int root, unsigned index, uint64_t value);
    // The space for guest root `root`: the current one if it shadows it, one that does, or
    // the least recently loaded other one, given to it.
    unsigned space_for(uint64_t root, bool &hit);
    bool switch_space(unsigned s, bool hit);
    void release_other_spaces();
    static constexpr unsigned queue_max = 512;  // one page of Xen's mmu_update requests
    hypervisor_mmu::table_update queued_[queue_max];
    unsigned queued_count_ = 0;

    wedge_range wedge_[max_wedge_ranges];
    size_t wedge_count_ = 0;
    va_range reserved_[max_reserved_ranges];
    size_t reserved_count_ = 0;

    shadow_stats stats_;
};

} // namespace afterburn::xen_shadow
