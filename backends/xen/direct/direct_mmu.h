// Direct paging for a Xen PV guest that never learnt about Xen (docs/xen-direct-paging.md):
// the guest's own page tables become the tables Xen runs. Every entry of a frame Xen uses as
// a page table holds a machine frame; the guest reads and writes entries only through its
// annotated page-table sites, which call store()/load() here, so it never sees one.
//
// Freestanding (no heap, no exceptions): fixed tables, sized for a Linux guest of a few
// hundred MiB. The core mirrors Xen's type counts: a frame is *typed* (Xen validated it as a
// table of its level) while a typed table or a pin refers to it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "direct_cost.h"
#include "direct_interfaces.h"
#include "entry_format.h"
#include "fixed_hash.h"

namespace afterburn::xen_direct {

// One 2 MiB range of the wedge, put into every root the guest loads (an L2 entry of the
// wedge's: its image, its temporary slots, its entry window).
struct wedge_range {
    uint64_t va;        // 2 MiB aligned
    uint64_t l2_entry;  // machine entry linking one of the wedge's L1 tables
};

struct direct_setup {
    // Empty L1 tables the integration has pinned: the 4 KiB pieces of the guest's 2 MiB
    // pages (Xen PV runs no large pages).
    const uint64_t *l1_pool = nullptr;
    unsigned l1_pool_count = 0;
    // Empty L4 tables the integration has pinned: one user root per guest root (Xen runs
    // guest user mode on a root of its own, which must not map the kernel half).
    const uint64_t *l4_pool = nullptr;
    unsigned l4_pool_count = 0;
    const wedge_range *ranges = nullptr;
    unsigned range_count = 0;
    // Linear maps of guest-physical memory (VA = base + gpa), Linux's direct map and its
    // kernel-image map: where a writable mapping of a new table frame is looked for.
    const uint64_t *alias_bases = nullptr;
    unsigned alias_count = 0;
    cost_probe probe;  // optional: where a root's and an adoption's work goes
};

enum class status {
    ok,
    bad_setup,            // init: too many pool frames, ranges or aliases, or none of a pool
    misaligned,           // an entry access that is not 8-byte aligned
    not_guest_ram,        // a table or entry address outside guest RAM
    level_conflict,       // one frame used as a table of two levels
    xen_range_used,       // a root maps L4 slots 256-271, which Xen owns
    no_path_to_range,     // a root has no tables down to a wedge range's L2 entry
    out_of_space,         // a fixed table or a pool is full
    refused,              // Xen refused an update or a pin (names `detail`: the entry's address)
};

struct stats {
    uint64_t tables_converted = 0;   // frames whose entries were translated to machine form
    uint64_t tables_typed = 0;       // untyped -> typed transitions
    uint64_t tables_released = 0;    // frames handed back as data after a write fault
    uint64_t entries_stored = 0, entries_loaded = 0;
    uint64_t mappings_write_protected = 0;  // writable mappings of table frames made read-only
    uint64_t large_pages_split = 0;
    uint64_t unreachable_entries = 0;  // guest entries naming a frame outside guest RAM
    uint64_t roots_loaded = 0;
    uint64_t updates_queued = 0;      // entry updates through the queue
    uint64_t queue_flushes = 0;       // mmu_update hypercalls that sent them
    uint32_t tables_tracked = 0;
};

class direct_mmu {
public:
    static constexpr size_t max_tables = 4096;
    static constexpr size_t max_notes = 4096;
    static constexpr unsigned max_pool = 1024;
    static constexpr unsigned max_ranges = 16;
    static constexpr unsigned max_aliases = 4;
    static constexpr unsigned max_adopt = 1024;  // tables converted by one link or root load
    static constexpr unsigned max_queued = 128;   // entry updates waiting for one mmu_update
    static constexpr unsigned max_queued_frames = 8;  // distinct frames they may touch

    direct_mmu(guest_memory &mem, xen_mmu &xen) : mem_(mem), xen_(xen) {}
    direct_mmu(const direct_mmu &) = delete;
    direct_mmu &operator=(const direct_mmu &) = delete;

    status init(const direct_setup &setup);

    // mov to CR3: the root (its tables converted and validated on first use) and its user
    // root are loaded, the wedge's ranges put in. Xen flushes the TLB on every root load.
    status load_root(uint64_t cr3);
    // An annotated store / load of a whole entry at guest-physical `gpa` (8-byte aligned).
    // In a frame that is no table the access is plain: the guest's value as it is.
    status store(uint64_t gpa, uint64_t value);
    status load(uint64_t gpa, uint64_t &value);

    // Stores to tables Xen runs are queued (docs/xen-direct-paging.md, "Batched updates") and
    // reach Xen in order, in one mmu_update per queue, at the latest when something could
    // observe them: a root load, a TLB invalidation, a write fault, any other hypercall the
    // core makes, a read of a queued slot's frame by a loop, a table becoming data again, and
    // whatever the integration calls flush() for (the guest's #PF, the return to the guest
    // through anything but a page-table site). Loads and the core's own reads see queued
    // values. flush() is cheap when nothing is queued.
    status flush();
    bool has_queued() const { return queued_ != 0; }
    // MMUEXT_INVLPG_LOCAL / MMUEXT_TLB_FLUSH_LOCAL for the guest's invlpg and flushes, after
    // the queue (the guest flushes to make its stores take effect).
    status invalidate_page(uint64_t va);
    status flush_tlb();
    // The guest-physical address `va` reaches under the current root (the machine tables);
    // false if unmapped or not guest RAM.
    bool translate(uint64_t va, uint64_t &gpa);
    // The same, and whether the guest's own tables let the kernel write there (R/W at every
    // level, a write-protected leaf counting as the guest's writable one). This one reads the
    // entries Xen runs, as the CPU does, not the queue: an access it finds mapped is made there
    // natively (see page_table_direct.cpp); one it does not takes the guest's walk, which sees
    // the queue. Like a TLB that kept old translations until the guest flushes.
    bool translate(uint64_t va, uint64_t &gpa, bool &guest_writable);

    enum class write_fault {
        not_ours,    // a fault the guest must see
        retry,       // the page was a table; it is data again and writable: run the access again
        live_table,  // an unannotated write to a frame Xen still runs as a table
    };
    // Xen reported a write fault at `va` on a present page.
    write_fault on_write_fault(uint64_t va);

    // The guest entry at `va`'s walk that names a frame outside guest RAM, if any (then the
    // access faults on Xen where the CPU would reach that frame).
    bool unreachable_at(uint64_t va, uint64_t &guest_entry);

    // Whether Xen runs guest frame `gfn` as a table (in machine form): a site may access any
    // other frame natively.
    bool is_table(uint64_t gfn) { const table *t = find_table(gfn); return t && t->machine_form; }
    uint64_t current_root_gfn() const { return current_; }
    const stats &statistics() const { return stats_; }
    // The last failing address (an entry's machine address, a gfn) for messages.
    uint64_t detail() const { return detail_; }

private:
    struct table {
        uint8_t level = 0;
        half side = half::user;
        bool machine_form = false;
        bool pinned = false;
        bool unreachable = false;    // an unreachable note was made in it (kept until released)
        uint32_t links = 0;          // references from typed tables and user roots
        uint64_t user_root = 0;      // for a pinned root: its user root's mfn
        bool typed() const { return links != 0 || pinned; }
    };
    enum class note_kind : uint8_t { write_protected, split, wedge, unreachable };
    struct note {
        note_kind kind = note_kind::write_protected;
        uint64_t guest_value = 0;  // split, wedge, unreachable: what the guest stored
        uint64_t frame = 0;        // split: the L1 pool frame
    };
    struct pool {
        uint64_t frames[max_pool] = {};
        bool used[max_pool] = {};
        uint64_t base_gfn[max_pool] = {};  // L1 pool: the first frame a split maps
        unsigned count = 0;
        unsigned high = 0;  // no slot at or above it was ever taken (what a scan looks at)
        bool take(uint64_t &mfn, unsigned *slot = nullptr);
        void give_back(uint64_t mfn);
    };

    static uint64_t key_of(uint64_t gfn) { return gfn + 1; }
    static uint64_t slot_key(uint64_t table_mfn, unsigned index) { return (table_mfn << 9 | index) + 1; }

    table *find_table(uint64_t gfn) { return tables_.find(key_of(gfn)); }
    status track(uint64_t gfn, int level, half side, table *&t);
    status typed_ref(uint64_t gfn, int level, half side);  // one more reference from a typed table
    void untyped_ref(uint64_t gfn);                           // one fewer
    status become_typed(uint64_t gfn, table &t);
    void become_untyped(uint64_t gfn, table &t);
    status adopt(uint64_t gfn, int level, half side);
    status mark(uint64_t gfn, int level, half side);
    status convert(uint64_t gfn, table &t);
    status set_entry(uint64_t table_mfn, unsigned index, uint64_t value);
    status to_machine(uint64_t table_mfn, unsigned index, int level, half side, uint64_t guest,
                      uint64_t &machine);
    uint64_t to_guest(uint64_t table_mfn, unsigned index, int level, half side, uint64_t machine);
    status split(uint64_t table_mfn, unsigned index, uint64_t guest, uint64_t &machine);
    void free_split(uint64_t l1);
    void drop_old(bool had_note, const note &saved, uint64_t machine, int level, unsigned refs);
    status write_protect_aliases(uint64_t gfn);
    status write_protect_in_splits(uint64_t gfn, uint64_t mfn);
    status write_entry(uint64_t gfn, const table &t, unsigned index, uint64_t machine);
    status put_ranges(uint64_t root_mfn);
    status make_user_root(uint64_t gfn, table &t);
    void release_root(uint64_t gfn, table &t);
    bool leaf_slot(uint64_t va, uint64_t &table_mfn, unsigned &index, uint64_t &entry);
    status fail(status s, uint64_t detail) { detail_ = detail; return s; }
    // A translate() kept (a site's table page, translated again by a later site): good while
    // the four machine entries of its walk and its leaf's note stay. Sending the queue, a plain
    // write to one of them, every other change of a machine entry (the core's own; Xen's never
    // change a walk) and a root load forget the kept walks.
    struct last_walk {
        uint64_t va_page = ~0ull;  // ~0: none
        uint64_t gpa_page = 0;
        bool writable = false;
        uint64_t slots[4] = {};    // slot_key of the entry used at each level
    };
    // A few walks are kept: Linux's loops alternate between table pages (fork's copy reads the
    // parent's and writes the child's; a fault walks four levels).
    static constexpr unsigned kept_walks = 4;
    void changed()
    {
        for (last_walk &w : kept_) w.va_page = ~0ull;
    }
    // Before the queue is sent: only the walks through a frame it updates change (Xen applies
    // exactly the queued updates; each walk depends on its four entries and its leaf's note,
    // and a note changes only with a change of the core's, which forgets every walk).
    void sending_queue();

    // The queue: updates in order, each with what Xen will store (its additions on), and per
    // frame a bitmap of the slots that have one, so a read of any other slot stays cheap.
    static constexpr unsigned entries_per_table = 512;
    struct queued_frame {
        uint64_t mfn = 0;
        uint64_t slots[entries_per_table / 64] = {};
    };
    status submit(uint64_t table_mfn, unsigned index, uint64_t value, int level);
    // A machine entry as Xen will hold it once the queue is sent.
    uint64_t entry_at(uint64_t table_mfn, unsigned index)
    {
        return queue_frame_count_ ? queued_entry_at(table_mfn, index) : mem_.read_view(table_mfn)[index];
    }
    uint64_t queued_entry_at(uint64_t table_mfn, unsigned index);
    bool holds(uint64_t table_mfn) const;
    // Before a loop reads the frame through one view: the queue sent if it touches the frame.
    status settle(uint64_t table_mfn) { return holds(table_mfn) ? flush() : status::ok; }
    status send_then_invalidate(bool all, uint64_t va);
    // A read view of a table after settle(); nullptr if the flush was refused.
    const volatile uint64_t *view(uint64_t mfn);

    guest_memory &mem_;
    xen_mmu &xen_;
    fixed_hash<table, max_tables> tables_;
    fixed_hash<note, max_notes> notes_;
    pool l1_pool_, l4_pool_;
    wedge_range ranges_[max_ranges] = {};
    unsigned range_count_ = 0;
    uint64_t aliases_[max_aliases] = {};
    unsigned alias_count_ = 0;
    cost_probe probe_;
    unsigned typed_depth_ = 0;  // become_typed's recursion (the probe times the outermost)
    // The adoption and untyping parts are timed only inside a new root's load and a root's
    // release: a timer costs tens of instructions, too many for every link and unlink.
    bool in_root_ = false;
    struct root_scope {
        bool &flag;
        bool was = flag;
        explicit root_scope(bool &f) : flag(f) { flag = true; }
        ~root_scope() { flag = was; }
        root_scope(const root_scope &) = delete;
        root_scope &operator=(const root_scope &) = delete;
    };
    const cost_probe &root_probe() const { return in_root_ ? probe_ : no_probe; }
    uint64_t adopting_list_[max_adopt] = {};
    unsigned adopting_ = 0;
    uint64_t current_ = ~0ull;   // gfn of the loaded root
    uint64_t current_mfn_ = 0;
    stats stats_;
    uint64_t detail_ = 0;
    last_walk kept_[kept_walks];
    unsigned next_kept_ = 0;  // the one a new walk replaces (round robin)
    xen_mmu::update queue_[max_queued] = {};
    uint64_t queue_seen_[max_queued] = {};
    unsigned queued_ = 0;
    queued_frame queue_frames_[max_queued_frames] = {};
    unsigned queue_frame_count_ = 0;
};

} // namespace afterburn::xen_direct
