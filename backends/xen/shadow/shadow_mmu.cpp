// The shadow MMU: on-demand machine page tables from the guest's tables. See shadow_mmu.h
// and docs/xen-shadow-paging.md.
#include "shadow_mmu.h"

namespace afterburn::xen_shadow {
namespace {

constexpr uint64_t sign_extend48(uint64_t a)
{
    return static_cast<uint64_t>(static_cast<int64_t>(a << 16) >> 16);
}

constexpr unsigned shift_of(unsigned level) { return 12 + 9 * (level - 1); }

// The first address an entry covers: base + index * span, sign-extended at the top level.
constexpr uint64_t entry_base(unsigned level, uint64_t base, unsigned i)
{
    const uint64_t a = base + (static_cast<uint64_t>(i) << shift_of(level));
    return level == 4 ? sign_extend48(a) : a;
}

constexpr uint64_t entry_last(unsigned level, uint64_t first) { return first + ((1ull << shift_of(level)) - 1); }

// Intermediate shadow entries grant everything; every restriction is in the leaf. Then a
// shadow link never carries a stale restriction, and a guest change to an upper-level
// entry shows up in the next fill of any address below it.
constexpr uint64_t link_bits = pte::present | pte::write | pte::user | pte::accessed;

// Bits the hypervisor may add to a leaf it stores (Xen's adjust_guest_l1e puts G on a PV
// guest's user mappings, which every shadow leaf is). The core never sets them, so a leaf
// read back is compared with one it would write without them.
constexpr uint64_t hypervisor_leaf_bits = pte::global;

constexpr uint64_t range_last(uint64_t end) { return end - 1; }  // end 0 -> ~0

constexpr uint64_t user_half_last = 0x00007fffffffffffull;  // L4 slots 0-255

// The entries of a table (at `level`, covering from `base`) that can overlap [lo, hi], which
// overlaps the table: the walks of a range look at those instead of all 512.
void entry_span(unsigned level, uint64_t base, uint64_t lo, uint64_t hi, unsigned &first, unsigned &last)
{
    first = 0;
    last = 511;
    if (level == 4) {  // the indices follow the order of canonical addresses
        if (sign_extend48(lo) == lo)
            first = (lo >> 39) & 511;
        if (sign_extend48(hi) == hi)
            last = (hi >> 39) & 511;
        return;
    }
    const unsigned s = shift_of(level);
    if (lo > base)
        first = static_cast<unsigned>((lo - base) >> s);
    if (hi < base + ((512ull << s) - 1))
        last = static_cast<unsigned>((hi - base) >> s);
}

} // namespace

// ---- the pool ----------------------------------------------------------------------------

int shadow_mmu::lookup(uint64_t maddr) const
{
    const uint64_t mfn = maddr >> 12;
    for (size_t h = hash_of(mfn);; h = (h + 1) & (hash_size - 1)) {
        const uint16_t idx = by_hash_[h];
        if (idx == none)
            return -1;  // not a pool frame (a wedge L1 of the backend's)
        if (frames_[idx].mfn == mfn)
            return idx;
    }
}

int shadow_mmu::alloc_table(unsigned level)
{
    if (free_count_ == 0)
        return -1;
    const int idx = free_[--free_count_];
    frames_[idx].level = static_cast<uint8_t>(level);
    frames_[idx].flags = 0;
    frames_[idx].user_root = false;
    frames_[idx].space = shared_space;
    ++stats_.tables_allocated;
    ++stats_.tables_in_use;
    return idx;
}

bool shadow_mmu::write(int table, unsigned index, uint64_t value)
{
    ++stats_.entries_written;
    return hv_.write_entry(frames_[table].mfn, index, value);
}

// ---- address spaces -------------------------------------------------------------------------

uint8_t shadow_mmu::space_below(int table, unsigned level, unsigned index) const
{
    if (level < 4)
        return frames_[table].space;
    return index < half ? frames_[table].space : shared_space;
}

bool shadow_mmu::write_root(int root, unsigned index, uint64_t value)
{
    if (index < half)
        return write(root, index, value);
    const unsigned kind = frames_[root].user_root ? 1 : 0;
    bool ok = true;
    for (unsigned k = 0; k < space_count_; ++k)
        ok &= write(spaces_[k].roots[kind], index, value);
    return ok;
}

unsigned shadow_mmu::space_for(uint64_t root, bool &hit)
{
    hit = true;
    if (spaces_[cur_].guest_root == root)
        return cur_;
    unsigned victim = cur_;
    for (unsigned k = 0; k < space_count_; ++k) {
        if (k == cur_)
            continue;
        if (spaces_[k].guest_root == root)
            return k;
        if (victim == cur_ || spaces_[k].last_load < spaces_[victim].last_load)
            victim = k;
    }
    hit = false;
    spaces_[victim].guest_root = root;
    return victim;
}

// Run space `s` for the root `space_for` gave it: its user half, kept since its root was last
// loaded (or, given to this root now, another root's), checked against the new tables as a kept
// load checks the running one. Its clears need no TLB invalidation (its roots are not loaded),
// and loading them is a CR3 load in the hypervisor, which drops the TLB's entries of the roots
// left (Xen's switch of base pointers flushes global ones too, as it must for para-virtualized
// guests whose user mappings it makes global). False if the hypervisor refused the roots (a
// core or setup bug): the running space then shadows the new root instead.
bool shadow_mmu::switch_space(unsigned s, bool hit)
{
    const unsigned from = cur_;
    cur_ = s;
    roots_[0] = spaces_[s].roots[0];
    roots_[1] = spaces_[s].roots[1];
    const bool cleared = clear_filled(0, user_half_last, true);
    user_half_intact_ = hit && !cleared && !spaces_[s].released;
    spaces_[s].released = false;
    if (queued_count_) {
        stats_.entries_written += queued_count_;
        hv_.write_batch(queued_, queued_count_);
        queued_count_ = 0;
    }
    if (hv_.set_roots(frames_[roots_[0]].mfn, frames_[roots_[1]].mfn)) {
        ++(hit ? stats_.space_hits : stats_.space_reuses);
        return true;
    }
    spaces_[from].guest_root = spaces_[s].guest_root;
    spaces_[s].guest_root = no_guest_root;
    cur_ = from;
    roots_[0] = spaces_[from].roots[0];
    roots_[1] = spaces_[from].roots[1];
    user_half_intact_ = false;
    return false;
}

// Free the user halves of every space but the current one (their roots are not loaded: no
// TLB holds their entries). Their leaves were only kept for a later load of their root.
void shadow_mmu::release_other_spaces()
{
    for (unsigned k = 0; k < space_count_; ++k)
        if (k != cur_) {
            for (int r : spaces_[k].roots)
                clear_range(r, 4, 0, 0, user_half_last);
            spaces_[k].released = true;
        }
}

// Zero every entry (children first, so each table is still linked, i.e. still a validated
// page table for the hypervisor, while it is cleared; each table's entries in one request)
// and return the frame to the pool. Free frames are always zero.
void shadow_mmu::free_subtree(int idx)
{
    frame_meta &f = frames_[idx];
    if (f.level > 1)
        for (unsigned i = 0; i < 512; ++i) {
            const uint64_t e = f.table[i];
            if (!(e & pte::present))
                continue;
            const int child = lookup(e & pte::addr_mask);
            if (child >= 0)
                free_subtree(child);
        }
    static hypervisor_mmu::entry_update cleared[512];  // filled after the recursion above
    unsigned n = 0;
    for (unsigned i = 0; i < 512; ++i)
        if (f.table[i] & pte::present)
            cleared[n++] = {static_cast<uint16_t>(i), 0};
    if (n) {
        stats_.entries_written += n;
        hv_.write_entries(f.mfn, cleared, n);
    }
    unlist(idx);
    f.level = 0;
    f.flags = 0;
    free_[free_count_++] = static_cast<uint16_t>(idx);
    --stats_.tables_in_use;
}

bool shadow_mmu::table_empty(int idx) const
{
    for (unsigned i = 0; i < 512; ++i)
        if (frames_[idx].table[i] & pte::present)
            return false;
    return true;
}

// ---- protected ranges --------------------------------------------------------------------

bool shadow_mmu::protected_overlap(uint64_t first, uint64_t last, bool &fully) const
{
    bool any = false;
    fully = false;
    auto check = [&](uint64_t s, uint64_t l) {
        if (s <= last && first <= l) {
            any = true;
            if (s <= first && last <= l)
                fully = true;
        }
    };
    for (size_t i = 0; i < wedge_count_; ++i)
        check(wedge_[i].start, range_last(wedge_[i].end));
    for (size_t i = 0; i < reserved_count_; ++i)
        check(reserved_[i].start, range_last(reserved_[i].end));
    return any;
}

bool shadow_mmu::is_protected(uint64_t va) const
{
    bool fully = false;
    return protected_overlap(va, va, fully);
}

// ---- init ----------------------------------------------------------------------------------

init_status shadow_mmu::init(const shadow_setup &s, const paging_config &cfg)
{
    ready_ = false;
    cfg_ = cfg;
    if (s.frame_count < 2 || s.frame_count > max_frames || !s.frames)
        return init_status::bad_pool;
    if (s.wedge_count > max_wedge_ranges || s.reserved_count > max_reserved_ranges)
        return init_status::bad_range;
    if (s.spaces == 0 || s.spaces > max_spaces)
        return init_status::bad_spaces;
    if (s.frame_count < 2 * s.spaces)
        return init_status::pool_too_small;
    frame_count_ = s.frame_count;
    for (size_t i = 0; i < frame_count_; ++i) {
        if (!s.frames[i].table)
            return init_status::bad_pool;
        frames_[i] = frame_meta{s.frames[i].mfn, s.frames[i].table, 0, 0};
    }
    // The frame index by mfn; a frame given twice is a bad pool.
    for (uint16_t &h : by_hash_)
        h = none;
    for (size_t i = 0; i < frame_count_; ++i) {
        size_t h = hash_of(frames_[i].mfn);
        for (; by_hash_[h] != none; h = (h + 1) & (hash_size - 1))
            if (frames_[by_hash_[h]].mfn == frames_[i].mfn)
                return init_status::bad_pool;
        by_hash_[h] = static_cast<uint16_t>(i);
    }
    free_count_ = 0;
    filled_count_ = 0;
    for (size_t i = frame_count_; i-- > 0;)
        free_[free_count_++] = static_cast<uint16_t>(i);
    for (size_t i = 0; i < frame_count_; ++i)
        if (!table_empty(static_cast<int>(i)))
            return init_status::bad_pool;

    wedge_count_ = s.wedge_count;
    for (size_t i = 0; i < wedge_count_; ++i) {
        const wedge_range &r = s.wedge[i];
        if (((r.start | r.end) & (page_2m - 1)) || (r.end != 0 && r.end <= r.start) || !r.l1_mfns)
            return init_status::bad_range;
        wedge_[i] = r;
    }
    reserved_count_ = s.reserved_count;
    for (size_t i = 0; i < reserved_count_; ++i) {
        const va_range &r = s.reserved[i];
        if (((r.start | r.end) & (page_4k - 1)) || (r.end != 0 && r.end <= r.start))
            return init_status::bad_range;
        reserved_[i] = r;
    }

    stats_ = shadow_stats{};
    p2m_ = mem_.p2m_table(p2m_frames_);
    if (!p2m_)
        p2m_frames_ = 0;
    space_count_ = s.spaces;
    for (unsigned k = 0; k < space_count_; ++k) {
        address_space &sp = spaces_[k];
        sp = address_space{};
        for (unsigned kind = 0; kind < 2; ++kind) {
            const int r = alloc_table(4);
            frames_[r].user_root = kind == 1;
            frames_[r].space = static_cast<uint8_t>(k);
            sp.roots[kind] = r;
            // Pinned first: every later entry write is then validated against a typed L4.
            if (!hv_.pin_root(frames_[r].mfn))
                return init_status::hypervisor_refused;
        }
    }
    cur_ = 0;
    roots_[0] = spaces_[0].roots[0];
    roots_[1] = spaces_[0].roots[1];
    // Every space's roots: a range in the kernel half is linked once (write_root gives the
    // other roots the same L4 entry, and the next calls find the path there).
    for (unsigned k = 0; k < space_count_; ++k)
        for (size_t i = 0; i < wedge_count_; ++i) {
            init_status st = link_wedge(spaces_[k].roots[0], wedge_[i]);
            if (st == init_status::ok && wedge_[i].in_user_root)
                st = link_wedge(spaces_[k].roots[1], wedge_[i]);
            if (st != init_status::ok)
                return st;
        }
    ready_ = true;
    return init_status::ok;
}

// The path to each 2 MiB of a wedge range, ending in an L2 entry that links the
// backend's own L1 table. These tables lie on a protected path and are never freed.
init_status shadow_mmu::link_wedge(int root, const wedge_range &r)
{
    size_t k = 0;
    for (uint64_t va = r.start; va != r.end; va += page_2m, ++k) {
        int table = root;
        for (unsigned level = 4; level > 2; --level) {
            const unsigned i = (va >> shift_of(level)) & 511;
            const uint64_t e = frames_[table].table[i];
            int child;
            if (e & pte::present) {
                child = lookup(e & pte::addr_mask);
            } else {
                child = alloc_table(level - 1);
                if (child < 0)
                    return init_status::pool_too_small;
                frames_[child].space = space_below(table, level, i);
                const uint64_t link = (frames_[child].mfn << 12) | link_bits;
                if (!(level == 4 ? write_root(table, i, link) : write(table, i, link)))
                    return init_status::hypervisor_refused;
            }
            if (child < 0)
                return init_status::bad_range;  // overlaps another range's foreign table
            table = child;
        }
        if (!write(table, (va >> shift_of(2)) & 511, (r.l1_mfns[k] << 12) | link_bits))
            return init_status::hypervisor_refused;
    }
    return init_status::ok;
}

bool shadow_mmu::activate()
{
    return ready_ && hv_.set_roots(frames_[roots_[0]].mfn, frames_[roots_[1]].mfn);
}

uint64_t shadow_mmu::kernel_root_mfn() const { return roots_[0] >= 0 ? frames_[roots_[0]].mfn : 0; }
uint64_t shadow_mmu::user_root_mfn() const { return roots_[1] >= 0 ? frames_[roots_[1]].mfn : 0; }

// ---- dropping shadow entries -----------------------------------------------------------

// Clear every guest-derived entry of `table` (covering addresses from `base`) that lies in
// [lo, hi]; protected parts are kept. Tables emptied on the way are freed. Returns true if
// anything was removed.
bool shadow_mmu::clear_range(int table, unsigned level, uint64_t base, uint64_t lo, uint64_t hi)
{
    bool changed = false;
    unsigned i_first, i_last;
    entry_span(level, base, lo, hi, i_first, i_last);
    for (unsigned i = i_first; i <= i_last; ++i) {
        const uint64_t e = frames_[table].table[i];
        if (!(e & pte::present))
            continue;
        const uint64_t first = entry_base(level, base, i), last = entry_last(level, first);
        if (last < lo || first > hi)
            continue;
        bool fully = false;
        const bool prot = protected_overlap(first, last, fully);
        if (prot && fully)
            continue;
        const int child = level > 1 ? lookup(e & pte::addr_mask) : -1;
        if (!prot && lo <= first && last <= hi) {
            if (child >= 0)
                free_subtree(child);
            level == 4 ? write_root(table, i, 0) : write(table, i, 0);
            changed = true;
            continue;
        }
        if (child >= 0) {
            changed |= clear_range(child, level - 1, first, lo, hi);
            if (!prot && table_empty(child)) {
                level == 4 ? write_root(table, i, 0) : write(table, i, 0);
                free_subtree(child);
            }
        }
    }
    return changed;
}

// Clear every guest-derived leaf in [lo, hi] below `table` but keep the tables. A link grants
// everything and holds nothing from the guest (invariant 1), so an empty table left linked is
// invisible to the guest; keeping it spares the hypervisor unlinking it now and validating it
// again when the next fill links it. Each table's leaves go in one request.
bool shadow_mmu::clear_leaves(int table, unsigned level, uint64_t base, uint64_t lo, uint64_t hi)
{
    frame_meta &f = frames_[table];
    bool changed = false;
    unsigned i_first, i_last;
    entry_span(level, base, lo, hi, i_first, i_last);
    for (unsigned i = i_first; i <= i_last; ++i) {
        const uint64_t e = f.table[i];
        if (!(e & pte::present))
            continue;
        const uint64_t first = entry_base(level, base, i), last = entry_last(level, first);
        if (last < lo || first > hi)
            continue;
        bool fully = false;
        if (protected_overlap(first, last, fully) && (fully || level == 1))
            continue;
        if (level == 1) {
            queue_clear(table, i);
            changed = true;
            continue;
        }
        const int child = lookup(e & pte::addr_mask);
        if (child >= 0)
            changed |= clear_leaves(child, level - 1, first, lo, hi);
    }
    // No piece of a guest large page is left below a table cleared as a whole.
    if (level < 4 && lo <= base && entry_last(level + 1, base) <= hi)
        f.flags = 0;
    return changed;
}

void shadow_mmu::note_filled(int l1, uint64_t va)
{
    frame_meta &f = frames_[l1];
    const uint64_t group = 1ull << ((va >> 15) & 63);
    if (f.filled_pos != none) {
        f.filled_groups |= group;
        return;
    }
    f.filled_groups = group;
    f.base = va & ~(page_2m - 1);
    f.filled_pos = static_cast<uint16_t>(filled_count_);
    filled_l1_[filled_count_++] = static_cast<uint16_t>(l1);
}

void shadow_mmu::unlist(int l1)
{
    frame_meta &f = frames_[l1];
    if (f.filled_pos == none)
        return;
    const uint16_t last = filled_l1_[--filled_count_];
    filled_l1_[f.filled_pos] = last;
    frames_[last].filled_pos = f.filled_pos;
    f.filled_pos = none;
}

// Clear the leaves of every filled L1 whose 2 MiB lie in [lo, hi] (2 MiB aligned). Only 4K
// leaves exist (invariant 2) and only pool L1s hold guest-derived ones (the wedge's L1s are
// the backend's), so this is every guest-derived leaf in the range, without a walk. The
// leaves of all those tables go to the hypervisor in one request (or a few, if many).
// With keep_valid, a leaf the guest's current tables give exactly as it is stays (see
// leaf_still_valid); an L1 with such a leaf stays listed.
bool shadow_mmu::clear_filled(uint64_t lo, uint64_t hi, bool keep_valid)
{
    bool changed = false;
    // The guest path to each 2 MiB found so far: the kernel and the user root usually both list
    // an L1 for the same 2 MiB, and the second one then costs one frame view, not four.
    struct path_memo {
        uint64_t base, l1_gfn;
        guest_path path;
        bool ok;
    };
    constexpr unsigned memo_max = 16;
    path_memo memo[memo_max];
    unsigned memo_count = 0;
    for (size_t k = filled_count_; k-- > 0;) {  // backwards: unlist moves the last one here
        const int idx = filled_l1_[k];
        frame_meta &f = frames_[idx];
        if (f.base < lo || f.base + (page_2m - 1) > hi || (f.space != shared_space && f.space != cur_))
            continue;  // outside the range, or another space's (checked when that one is loaded)
        // Pieces of a guest large page are not checked: they all go.
        guest_path path{};
        const volatile uint64_t *guest_l1 = nullptr;
        if (keep_valid && !(f.flags & splinter)) {
            unsigned m = 0;
            while (m < memo_count && memo[m].base != f.base)
                ++m;
            if (m < memo_count) {
                path = memo[m].path;
                guest_l1 = memo[m].ok ? mem_.frame_view(memo[m].l1_gfn) : nullptr;
            } else {
                uint64_t l1_gfn = 0;
                guest_l1 = guest_l1_of(f.base, path, l1_gfn);
                if (memo_count < memo_max)
                    memo[memo_count++] = {f.base, l1_gfn, path, guest_l1 != nullptr};
            }
        }
        uint64_t left = 0;  // the groups that keep a leaf
        for (uint64_t groups = f.filled_groups; groups; groups &= groups - 1) {
            const unsigned first = 8 * static_cast<unsigned>(__builtin_ctzll(groups));
            for (unsigned i = first; i < first + 8; ++i) {
                const uint64_t leaf = f.table[i];
                if (!(leaf & pte::present))
                    continue;
                if (guest_l1 && leaf_still_valid(guest_l1[i], path, f.user_root, leaf)) {
                    ++stats_.leaves_kept;
                    left |= groups & -groups;
                    continue;
                }
                queue_clear(idx, i);
                changed = true;
            }
        }
        f.filled_groups = left;
        if (!left) {
            f.flags = 0;
            unlist(idx);
        }
    }
    return changed;
}

void shadow_mmu::queue_clear(int table, unsigned index)
{
    if (queued_count_ == queue_max) {  // rare (a 2 MiB splinter in both roots): send a full request ahead
        stats_.entries_written += queued_count_;
        hv_.write_batch(queued_, queued_count_);
        queued_count_ = 0;
    }
    queued_[queued_count_++] = {frames_[table].mfn, static_cast<uint16_t>(index), 0};
}

void shadow_mmu::send_queued(bool all, uint64_t va)
{
    if (!queued_count_) {
        if (all)
            hv_.flush_all();
        else
            hv_.invalidate_page(va);
        return;
    }
    stats_.entries_written += queued_count_;
    hv_.write_batch_then_invalidate(queued_, queued_count_, all, va);
    queued_count_ = 0;
}

// The guest L1 table the current tables use for the 2 MiB at `base`, if the path to it is
// one a walk would take without setting anything: present, Accessed, no reserved bits, no
// large page. Its view is good until the next read through guest_physical (gfn_to_mfn is
// not one). `path` gets the rights of the three upper levels.
const volatile uint64_t *shadow_mmu::guest_l1_of(uint64_t base, guest_path &path, uint64_t &l1_gfn)
{
    uint64_t table = guest_cr3_ & pte::addr_mask & ((1ull << cfg_.maxphyaddr) - 1);
    path = guest_path{true, true, false, reserved_bits(cfg_, 1, false)};
    for (unsigned level = 4; level > 1; --level) {
        const volatile uint64_t *t = mem_.frame_view(table >> 12);
        if (!t)
            return nullptr;
        const uint64_t e = t[(base >> shift_of(level)) & 511];
        if (!(e & pte::present) || !(e & pte::accessed) || (level < 4 && (e & pte::page_size)) ||
            (e & reserved_bits(cfg_, level, false)))
            return nullptr;
        path.writable = path.writable && (e & pte::write);
        path.user = path.user && (e & pte::user);
        path.nx = path.nx || (cfg_.nxe && (e & pte::nx));
        table = e & pte::addr_mask;
    }
    l1_gfn = table >> 12;
    return mem_.frame_view(l1_gfn);
}

// A shadow leaf survives a CR3 load when the new tables give exactly it and every Accessed
// bit on the way is set (Dirty too, for a writable leaf: leaf_for makes a leaf writable only
// with D). A walk at the next access would then read the same entries and set nothing, so
// the kept leaf is what a fill right after the load writes, and a TLB may fill at any time
// (speculatively). So no access can tell the kept leaf from a dropped and refilled one.
// It runs for every leaf a kept CR3 load finds in its space (13 per Linux context switch in the
// bench, with two spaces), so the rights are compared before the frame, and the frame is read
// from the p2m table when the guest memory gives one (no call).
bool shadow_mmu::leaf_still_valid(uint64_t e, const guest_path &path, bool user_root, uint64_t leaf)
{
    constexpr uint64_t present_accessed = pte::present | pte::accessed;
    if ((e & present_accessed) != present_accessed || (e & path.leaf_reserved))
        return false;
    if (user_root && !(path.user && (e & pte::user)))
        return false;  // a user access would fault: the user root holds no such leaf
    const uint64_t expected = leaf_bits(e, path.writable && (e & pte::write), path.nx || (cfg_.nxe && (e & pte::nx)),
                                        false, user_root);
    const uint64_t kept = leaf & ~hypervisor_leaf_bits;
    if ((kept & ~pte::addr_mask) != expected)
        return false;
    const uint64_t gfn = (e & pte::addr_mask) >> 12;
    uint64_t mfn = 0;
    if (p2m_ && gfn < p2m_frames_)
        mfn = p2m_[gfn];
    else if (!mem_.gfn_to_mfn(gfn, mfn))
        return false;
    return (kept & pte::addr_mask) == (mfn << 12);
}

void shadow_mmu::drop_range(uint64_t lo, uint64_t hi, bool keep_tables)
{
    ++stats_.forgets;
    bool changed = false;
    if (keep_tables && !(lo & (page_2m - 1)) && !((hi + 1) & (page_2m - 1)))
        changed = clear_filled(lo, hi);
    else
        for (int r : roots_)
            changed |= keep_tables ? clear_leaves(r, 4, 0, lo, hi) : clear_range(r, 4, 0, lo, hi);
    if (changed)
        send_queued(hi - lo != page_4k - 1, lo);
}

// The pool L1 of a root that covers `va` (-1 if none), and in `span` how much the shadow of
// `va` must drop so that a guest large page goes as a whole: the size of the guest page the
// covering shadow tables were splintered from.
int shadow_mmu::shadow_l1(int root, uint64_t va, uint64_t &span) const
{
    int table = root;
    for (unsigned level = 4; level > 1; --level) {
        const uint64_t e = frames_[table].table[(va >> shift_of(level)) & 511];
        if (!(e & pte::present))
            return -1;
        const int child = lookup(e & pte::addr_mask);
        if (child < 0)
            return -1;
        if (frames_[child].flags & splinter) {
            const uint64_t s = level == 3 ? page_1g : page_2m;
            if (s > span)
                span = s;
        }
        table = child;
    }
    return table;
}

collision_report shadow_mmu::invalidate_page(uint64_t va)
{
    reflected_.page = no_page;
    collision_report rep;
    if (!ready_)
        return rep;
    const uint64_t page = va & ~(page_4k - 1);
    if (is_protected(va)) {
        scan_range(page, page + page_4k - 1, rep);
        stats_.collisions += rep.count;
        return rep;
    }
    // invlpg drops every TLB entry for the page containing va, and a large page is one
    // page: the whole splintered range goes, both as the shadow cached it and as the
    // guest maps it now. Dropping more than needed is always allowed.
    uint64_t span = page_4k;
    int l1[2];
    bool any_leaf = false;
    for (unsigned r = 0; r < 2; ++r) {
        l1[r] = shadow_l1(roots_[r], va, span);
        any_leaf |= l1[r] >= 0 && frames_[l1[r]].filled_pos != none;
    }
    // No leaf in va's 2 MiB in either root (no L1 there, or one no fill wrote into since its
    // last full clear: only listed L1s hold leaves) and no 1 GiB pages: the page containing va,
    // however the guest maps it now, is at most those 2 MiB, and nothing of it is shadowed.
    // So no walk of the guest's tables (~750 instructions) and nothing to drop.
    if (!any_leaf && span == page_4k && !cfg_.gb_pages)
        return rep;
    const walk_result w = walk(mem_, cfg_, guest_cr3_, va, access_type{});
    if (w.status == walk_status::ok && w.t.page_size > span)
        span = w.t.page_size;
    if (span > page_4k) {
        const uint64_t lo = va & ~(span - 1);
        drop_range(lo, lo + span - 1, true);
        return rep;
    }
    drop_4k(va, l1);
    return rep;
}

// One 4K page: its leaf in each root's L1 (l1: shadow_l1 of each root), without a range walk
// from the roots, and the TLB told in the same request.
// A forget is counted only when a leaf goes: a #PF on a page the shadow never held (a fresh
// anonymous page) drops nothing, and the backend then need not look at its stacks again.
void shadow_mmu::drop_4k(uint64_t va, const int (&l1)[2])
{
    const unsigned i = (va >> 12) & 511;
    for (int t : l1)
        if (t >= 0 && (frames_[t].table[i] & pte::present))
            queue_clear(t, i);
    if (queued_count_) {
        ++stats_.forgets;
        send_queued(false, va & ~(page_4k - 1));
    }
}

void shadow_mmu::flush()
{
    reflected_.page = no_page;
    uncheck_spaces();
    if (!ready_)
        return;
    ++stats_.flushes;
    drop_range(0, ~0ull);
}

void shadow_mmu::uncheck_spaces()
{
    for (unsigned k = 0; k < space_count_; ++k)
        spaces_[k].checked_at = never_checked;
}

// A kept CR3 load of a space whose last check no reported store has come after: every leaf it
// holds was given by tables that have not changed since (filled from them, or checked against
// them), with every Accessed bit on the way set (and Dirty under a writable leaf), so the check
// would keep them all; its root's kernel half is what that check compared, and any full load
// since (another kernel half) unchecked every space; its collisions are those of the same
// tables. So only its roots are loaded, if it is not running already: what a TLB holds for it
// is what a walk would give. True when done; `verify`: a space qualified, but the checked path
// is to run and count what it finds (verify_unchecked_).
bool shadow_mmu::load_unchecked(uint64_t cr3, bool &verify)
{
    verify = false;
    if (!stores_reported_ || !kernel_half_known_)
        return false;
    const uint64_t root = cr3 & pte::addr_mask;
    unsigned s = 0;
    while (s < space_count_ && spaces_[s].guest_root != root)
        ++s;
    if (s == space_count_ || spaces_[s].released || spaces_[s].checked_at != table_stores_)
        return false;
    if (verify_unchecked_) {
        ++stats_.unchecked_loads;
        verify = true;
        return false;
    }
    if (s != cur_) {
        if (queued_count_) {  // none are left between sync points; should one be, it goes first
            stats_.entries_written += queued_count_;
            hv_.write_batch(queued_, queued_count_);
            queued_count_ = 0;
        }
        if (!hv_.set_roots(frames_[spaces_[s].roots[0]].mfn, frames_[spaces_[s].roots[1]].mfn))
            return false;  // the checked path meets the refusal too and handles it
        cur_ = s;
        roots_[0] = spaces_[s].roots[0];
        roots_[1] = spaces_[s].roots[1];
        ++stats_.space_hits;
    }
    guest_cr3_ = cr3;
    spaces_[s].last_load = ++load_clock_;
    ++stats_.flushes;
    ++stats_.forgets;  // the running user half changed: what the backend saw present is another's
    ++stats_.unchecked_loads;
    user_half_intact_ = true;
    return true;
}

collision_report shadow_mmu::load_cr3(uint64_t cr3)
{
    kernel_half_known_ = false;
    return full_load(cr3);
}

collision_report shadow_mmu::full_load(uint64_t cr3)
{
    guest_cr3_ = cr3;
    reflected_.page = no_page;
    // Everything of this space is dropped below, so it simply shadows the new root now; no
    // other space may claim that root too (two spaces of one root would each be checked, but
    // only one could be found).
    const uint64_t root = cr3 & pte::addr_mask;
    for (unsigned k = 0; k < space_count_; ++k)
        if (spaces_[k].guest_root == root)
            spaces_[k].guest_root = no_guest_root;
    spaces_[cur_].guest_root = root;
    spaces_[cur_].last_load = ++load_clock_;
    // The kernel half may be another now: every other space is checked at its next load.
    uncheck_spaces();
    if (ready_) {
        ++stats_.flushes;
        drop_range(0, ~0ull, true);
        spaces_[cur_].checked_at = table_stores_;  // it holds no guest-derived leaf now
    }
    return scan_collisions();
}

collision_report shadow_mmu::load_cr3(uint64_t cr3, bool keep_global_half, bool &kept)
{
    kept = false;
    user_half_intact_ = false;
    reflected_.page = no_page;
    if (!keep_global_half || !ready_)
        return load_cr3(cr3);
    bool verify = false;
    if (load_unchecked(cr3, verify)) {
        kept = true;
        return {};
    }
    // One pass over the new root, through one view of its frame: compare with the copy and
    // update it where it differs.
    const uint64_t root = cr3 & pte::addr_mask;
    const volatile uint64_t *l4 = mem_.frame_view(root >> 12);
    if (!l4)
        return load_cr3(cr3);
    // Eight entries a step: the loop's own instructions were half of its ~1,800.
    uint64_t diff = 0;
    static_assert(half % 8 == 0);
    for (unsigned i = 0; i < half; i += 8) {
#pragma GCC unroll 8
        for (unsigned k = 0; k < 8; ++k)
            diff |= l4[half + i + k] ^ kernel_half_[i + k];
    }
    const bool same = kernel_half_known_ && diff == 0;
    if (diff)
        for (unsigned i = 0; i < half; ++i)
            kernel_half_[i] = l4[half + i];
    kernel_half_known_ = true;
    if (!same) {
        stats_.unchecked_stale += verify;
        return full_load(cr3);
    }
    guest_cr3_ = cr3;
    ++stats_.flushes;
    ++stats_.forgets;
    kept = true;
    bool hit = false;
    const unsigned s = space_for(root, hit);
    spaces_[s].last_load = ++load_clock_;
    if (s == cur_ || !switch_space(s, hit)) {
        // The user half: only the leaves the new tables do not give as they are.
        const bool cleared = clear_filled(0, user_half_last, true);
        if (cleared)
            send_queued(true, 0);
        user_half_intact_ = s == cur_ && !cleared;
    }
    stats_.unchecked_stale += verify && !user_half_intact_;
    spaces_[cur_].checked_at = table_stores_;
    // The kernel half's L4 entries are those of the last full load, whose scan reported its
    // collisions; nothing there is shadowed from the guest anyway (handle_fault and
    // invalidate_page report a mapping they meet). So only the user half is scanned.
    collision_report rep;
    scan_ranges(0, user_half_last, rep);
    return rep;
}

void shadow_mmu::set_config(const paging_config &cfg)
{
    reflected_.page = no_page;
    const bool same = cfg.nxe == cfg_.nxe && cfg.wp == cfg_.wp && cfg.gb_pages == cfg_.gb_pages &&
                      cfg.maxphyaddr == cfg_.maxphyaddr;
    cfg_ = cfg;
    if (!same)
        flush();
}

// ---- filling --------------------------------------------------------------------------------

// The 4K shadow leaf for a guest translation to machine frame `mfn`.
uint64_t shadow_mmu::leaf_for(const translation &t, uint64_t mfn, bool user_root) const
{
    return (mfn << 12) | leaf_bits(t.leaf, t.writable, t.nx, t.page_size != page_4k, user_root);
}

fault_outcome shadow_mmu::install(bool user_root, uint64_t va, const translation &t, uint64_t mfn)
{
    int table = roots_[user_root ? 1 : 0];
    for (unsigned level = 4; level > 1; --level) {
        const unsigned i = (va >> shift_of(level)) & 511;
        const uint64_t e = frames_[table].table[i];
        int child;
        if (e & pte::present) {
            child = lookup(e & pte::addr_mask);
            if (child < 0)
                return fault_outcome::hypervisor_refused;  // a foreign table off the wedge paths
        } else {
            child = alloc_table(level - 1);
            if (child < 0)
                return fault_outcome::out_of_memory;
            frames_[child].user_root = user_root;
            frames_[child].space = space_below(table, level, i);
            const uint64_t link = (frames_[child].mfn << 12) | link_bits;
            if (!(level == 4 ? write_root(table, i, link) : write(table, i, link))) {
                free_subtree(child);
                return fault_outcome::hypervisor_refused;
            }
        }
        // Mark tables holding pieces of a guest large page (see splinter_span).
        if ((level - 1 == 2 && t.page_size == page_1g) || (level - 1 == 1 && t.page_size > page_4k))
            frames_[child].flags |= splinter;
        table = child;
    }

    const uint64_t leaf = leaf_for(t, mfn, user_root);
    const unsigned i = (va >> 12) & 511;
    const uint64_t old = frames_[table].table[i];
    if ((old & ~hypervisor_leaf_bits) == leaf)
        return fault_outcome::fixed;  // spurious: the CPU re-walked already
    note_filled(table, va);
    if (!write(table, i, leaf))
        return fault_outcome::hypervisor_refused;
    // A present entry replaced by another frame or stricter rights: the real TLB may hold
    // the old one. Loosening needs nothing (a fault re-walks).
    if ((old & pte::present) &&
        (((old ^ leaf) & pte::addr_mask) || ((old & pte::write) && !(leaf & pte::write)) ||
         (!(old & pte::nx) && (leaf & pte::nx))))
        hv_.invalidate_page(va);
    return fault_outcome::fixed;
}

// A user-mode #PF reflected because the L1 entry was absent under a path a user read may take
// without setting anything (present, Accessed and U above): its page and path, for the prefill
// after the guest's handler (walk_reflected).
void shadow_mmu::note_reflected(uint64_t va, const access_type &acc, const walk_result &w)
{
    if (!acc.user || w.t.levels != 4 || (w.error_code & pf_error::present) || is_protected(va))
        return;
    bool writable = true, nx = false;
    for (unsigned i = 0; i < 3; ++i) {
        const uint64_t e = w.t.entry[i];
        if (!(e & pte::accessed) || !(e & pte::user))
            return;
        writable = writable && (e & pte::write);
        nx = nx || (cfg_.nxe && (e & pte::nx));
    }
    reflected_ = {va >> 12, w.t.entry_gpa[3], writable, nx, {w.t.entry[0], w.t.entry[1], w.t.entry[2]}};
}

fault_result shadow_mmu::handle_fault(uint64_t va, const access_type &acc)
{
    reflected_.page = no_page;
    fault_result r;
    r.address = va;
    if (!ready_) {
        r.outcome = fault_outcome::hypervisor_refused;
        return r;
    }
    const bool prot = is_protected(va);
    // A protected address is never shadowed from the guest's tables: look without side
    // effects (no A/D for a mapping we will not honour).
    const walk_result w = prot ? walk(mem_, cfg_, guest_cr3_, va, acc) : translate(mem_, cfg_, guest_cr3_, va, acc);
    if (w.status == walk_status::table_unreadable) {
        r.outcome = fault_outcome::table_unreadable;
        r.gpa = w.bad_gpa;
        return r;
    }
    if (w.status == walk_status::page_fault) {
        // A #PF also drops whatever the TLB held for the address.
        if (!prot) {
            uint64_t span = page_4k;
            const int l1[2] = {shadow_l1(roots_[0], va, span), shadow_l1(roots_[1], va, span)};
            drop_4k(va, l1);
        }
        ++stats_.faults_injected;
        note_reflected(va, acc, w);
        r.outcome = fault_outcome::inject_pf;
        r.error_code = w.error_code;
        return r;
    }
    r.gpa = w.t.gpa;
    if (prot) {
        ++stats_.collisions;
        r.outcome = fault_outcome::collision;
        return r;
    }
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(w.t.gpa >> 12, mfn)) {
        r.outcome = fault_outcome::no_machine_frame;
        return r;
    }
    r.outcome = install(acc.user, va, w.t, mfn);
    if (r.outcome == fault_outcome::out_of_memory) {
        // The pool is full, mostly of tables CR3 loads kept: free the other spaces' user
        // halves, then this one's, so the kernel half (the stacks the hypervisor delivers
        // events onto) stays.
        ++stats_.pool_reclaims;
        release_other_spaces();
        r.outcome = install(acc.user, va, w.t, mfn);
    }
    if (r.outcome == fault_outcome::out_of_memory) {
        drop_range(0, user_half_last, false);
        r.outcome = install(acc.user, va, w.t, mfn);
    }
    if (r.outcome == fault_outcome::out_of_memory) {
        // Still full: forget everything (a TLB may always do that) and retry once.
        flush();
        r.outcome = install(acc.user, va, w.t, mfn);
    }
    if (r.outcome == fault_outcome::fixed)
        ++stats_.faults_fixed;
    return r;
}

// The walk a user-mode read of `va` would make when handle_fault just reflected a #PF there
// for an absent L1 entry (reflected_): the path above is the one that walk read, only the L1
// entry is read again (the guest's handler wrote it). Taking the upper entries from that walk
// is what a CPU's paging-structure caches may do (SDM 4.10.3): a change of them without
// invlpg or a CR3 load need not be seen, and every sync point forgets the note. False: no
// such note for `va`, walk as usual.
bool shadow_mmu::walk_reflected(uint64_t va, walk_result &w)
{
    if (reflected_.page != va >> 12)
        return false;
    reflected_.page = no_page;
    uint64_t e = 0;
    if (!mem_.read_u64(reflected_.l1e_gpa, e) || !(e & pte::present) || (e & reserved_bits(cfg_, 1, false)) ||
        !(e & pte::user)) {
        w.status = walk_status::page_fault;  // prefill only needs "no"
        return true;
    }
    translation &t = w.t;
    t.gpa = (e & pte::addr_mask) | (va & (page_4k - 1));
    t.page_size = page_4k;
    t.leaf = e;
    t.writable = reflected_.writable && (e & pte::write);
    t.user = true;
    t.nx = reflected_.nx || (cfg_.nxe && (e & pte::nx));
    t.levels = 4;
    for (unsigned i = 0; i < 3; ++i)
        t.entry[i] = reflected_.upper[i];
    t.entry[3] = e;
    t.entry_gpa[3] = reflected_.l1e_gpa;
    return true;
}

bool shadow_mmu::prefill(uint64_t va, bool user_root)
{
    if (!ready_ || is_protected(va))
        return false;
    // A read walk: the rights go into the leaf either way (leaf_for), and a read is the
    // access that sets nothing beyond what is required to be set already.
    walk_result w;
    if (!user_root || !walk_reflected(va, w))
        w = walk(mem_, cfg_, guest_cr3_, va, access_type::read_at(user_root));
    if (w.status != walk_status::ok)
        return false;
    for (unsigned i = 0; i < w.t.levels; ++i)
        if (!(w.t.entry[i] & pte::accessed))
            return false;  // the CPU would set A: left to the access's own fault
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(w.t.gpa >> 12, mfn))
        return false;
    if (install(user_root, va, w.t, mfn) != fault_outcome::fixed)
        return false;
    ++stats_.prefills;
    return true;
}

// ---- collisions -------------------------------------------------------------------------

void shadow_mmu::scan(uint64_t table_gpa, unsigned level, uint64_t base, uint64_t lo, uint64_t hi,
                      collision_report &rep)
{
    unsigned i_first, i_last;
    entry_span(level, base, lo, hi, i_first, i_last);
    // One view of the table, taken again after each descent (the view is good until the next
    // guest_physical call).
    const volatile uint64_t *t = mem_.frame_view(table_gpa >> 12);
    if (!t)
        return;
    for (unsigned i = i_first; i <= i_last; ++i) {
        const uint64_t first = entry_base(level, base, i), last = entry_last(level, first);
        if (last < lo || first > hi)
            continue;
        const uint64_t e = t[i];
        if (!(e & pte::present))
            continue;
        if (level == 1 || (level < 4 && (e & pte::page_size))) {
            if (rep.count++ == 0)
                rep.first_va = first > lo ? first : lo;
            continue;
        }
        scan(e & pte::addr_mask, level - 1, first, lo, hi, rep);
        t = mem_.frame_view(table_gpa >> 12);
        if (!t)
            return;
    }
}

void shadow_mmu::scan_range(uint64_t lo, uint64_t hi, collision_report &rep)
{
    scan(guest_cr3_ & pte::addr_mask, 4, 0, lo, hi, rep);
}

// The guest's mappings of the protected ranges, clipped to [lo, hi].
void shadow_mmu::scan_ranges(uint64_t lo, uint64_t hi, collision_report &rep)
{
    auto one = [&](uint64_t start, uint64_t last) {
        if (start <= hi && lo <= last)
            scan_range(start > lo ? start : lo, last < hi ? last : hi, rep);
    };
    for (size_t i = 0; i < wedge_count_; ++i)
        one(wedge_[i].start, range_last(wedge_[i].end));
    for (size_t i = 0; i < reserved_count_; ++i)
        one(reserved_[i].start, range_last(reserved_[i].end));
    stats_.collisions += rep.count;
}

collision_report shadow_mmu::scan_collisions()
{
    collision_report rep;
    scan_ranges(0, ~0ull, rep);
    return rep;
}

uint64_t shadow_mmu::shadow_leaf(bool user_root, uint64_t va) const
{
    int table = roots_[user_root ? 1 : 0];
    if (table < 0)
        return 0;
    for (unsigned level = 4; level > 1; --level) {
        const uint64_t e = frames_[table].table[(va >> shift_of(level)) & 511];
        if (!(e & pte::present))
            return 0;
        table = lookup(e & pte::addr_mask);
        if (table < 0)
            return 0;  // the backend's own table (wedge range)
    }
    return frames_[table].table[(va >> 12) & 511];
}

} // namespace afterburn::xen_shadow
