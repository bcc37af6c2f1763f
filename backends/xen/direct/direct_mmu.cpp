#include "direct_mmu.h"

#include "present_scan.h"

namespace afterburn::xen_direct {

namespace {

constexpr unsigned entries = 512;
constexpr uint64_t link_flags = pte::present | pte::write | pte::user | pte::pwt | pte::pcd |
                                pte::accessed | pte::nx;
constexpr uint64_t leaf_flags = link_flags | pte::dirty | pte::global;

unsigned index_at(uint64_t va, int level) { return (va >> (12 + 9 * (level - 1))) & 511; }
half half_of_root_slot(unsigned index) { return index < 256 ? half::user : half::kernel; }
bool in_xen_slots(unsigned index) { return index >= 256 && index < 272; }
uint64_t entry_ptr(uint64_t table_mfn, unsigned index) { return table_mfn << 12 | index * 8; }

} // namespace

bool direct_mmu::pool::take(uint64_t &mfn, unsigned *slot)
{
    for (unsigned i = 0; i < count; ++i)
        if (!used[i]) {
            used[i] = true;
            if (i >= high) high = i + 1;
            mfn = frames[i];
            if (slot) *slot = i;
            return true;
        }
    return false;
}

void direct_mmu::pool::give_back(uint64_t mfn)
{
    for (unsigned i = 0; i < count; ++i)
        if (frames[i] == mfn) used[i] = false;
}

status direct_mmu::init(const direct_setup &s)
{
    if (s.l1_pool_count == 0 || s.l1_pool_count > max_pool || s.l4_pool_count == 0 ||
        s.l4_pool_count > max_pool || s.range_count > max_ranges || s.alias_count > max_aliases)
        return status::bad_setup;
    for (unsigned i = 0; i < s.l1_pool_count; ++i) l1_pool_.frames[i] = s.l1_pool[i];
    l1_pool_.count = s.l1_pool_count;
    for (unsigned i = 0; i < s.l4_pool_count; ++i) l4_pool_.frames[i] = s.l4_pool[i];
    l4_pool_.count = s.l4_pool_count;
    for (unsigned i = 0; i < s.range_count; ++i) ranges_[i] = s.ranges[i];
    range_count_ = s.range_count;
    for (unsigned i = 0; i < s.alias_count; ++i) aliases_[i] = s.alias_bases[i];
    alias_count_ = s.alias_count;
    probe_ = s.probe;
    return status::ok;
}

// ---- entries -------------------------------------------------------------------------------

status direct_mmu::to_machine(uint64_t table_mfn, unsigned index, int level, half side,
                              uint64_t guest, uint64_t &machine)
{
    (void)side;
    if (!(guest & pte::present)) {
        machine = guest;
        return status::ok;
    }
    const bool large = level > 1 && (guest & pte::page_size);
    const uint64_t gfn = large ? ((guest & pte::addr_mask) & ~0x1fffffull) >> 12 : entry_frame(guest);
    uint64_t mfn = 0;
    // A 1 GiB page is a reserved bit to the guest (the CPUID policy hides them); a frame
    // outside guest RAM has no machine frame. Either way Xen gets an absent entry and the
    // guest's value is kept aside: loads still return it, an access faults.
    if ((large && level == 3) || !mem_.gfn_to_mfn(gfn, mfn)) {
        note *n = notes_.insert(slot_key(table_mfn, index));
        if (!n) return fail(status::out_of_space, entry_ptr(table_mfn, index));
        *n = note{note_kind::unreachable, guest, 0};
        ++stats_.unreachable_entries;
        uint64_t gfn_of_table = 0;  // not a pool L1's: free_split takes those notes
        if (mem_.mfn_to_gfn(table_mfn, gfn_of_table))
            if (table *t = find_table(gfn_of_table)) t->unreachable = true;
        machine = 0;
        return status::ok;
    }
    if (large) return split(table_mfn, index, guest, machine);
    machine = with_frame(guest, mfn);
    if (level == 1 && (machine & pte::write)) {
        const table *target = find_table(entry_frame(guest));
        if (target && target->machine_form) {
            note *n = notes_.insert(slot_key(table_mfn, index));
            if (!n) return fail(status::out_of_space, entry_ptr(table_mfn, index));
            *n = note{note_kind::write_protected, 0, 0};
            machine &= ~pte::write;
            ++stats_.mappings_write_protected;
        }
    }
    return status::ok;
}

uint64_t direct_mmu::to_guest(uint64_t table_mfn, unsigned index, int level, half side, uint64_t machine)
{
    if (const note *n = notes_.find(slot_key(table_mfn, index))) {
        if (n->kind != note_kind::write_protected) return n->guest_value;
        machine |= pte::write;
    }
    uint64_t e = without_xen_additions(machine, level, side);
    uint64_t gfn = 0;
    if ((e & pte::present) && mem_.mfn_to_gfn(entry_frame(e), gfn)) e = with_frame(e, gfn);
    return e;
}

// A guest 2 MiB page becomes one of the pool's (pinned) L1 tables with 512 4 KiB leaves.
status direct_mmu::split(uint64_t table_mfn, unsigned index, uint64_t guest, uint64_t &machine)
{
    uint64_t l1 = 0;
    unsigned slot = 0;
    note *n = notes_.insert(slot_key(table_mfn, index));
    if (!n || !l1_pool_.take(l1, &slot)) return fail(status::out_of_space, entry_ptr(table_mfn, index));
    *n = note{note_kind::split, guest, l1};
    changed();
    const uint64_t base = ((guest & pte::addr_mask) & ~0x1fffffull) >> 12;
    l1_pool_.base_gfn[slot] = base;
    uint64_t flags = guest & leaf_flags;
    if (guest & pte::pat_large) flags |= pte::pat_4k;
    for (unsigned i = 0; i < entries; ++i) {
        uint64_t leaf = 0;
        if (to_machine(l1, i, 1, half::kernel, with_frame(flags, base + i), leaf) != status::ok)
            return status::out_of_space;
        if (const status s = submit(l1, i, leaf, 1); s != status::ok) return s;
    }
    machine = (l1 << 12) | (guest & link_flags);
    ++stats_.large_pages_split;
    return status::ok;
}

// A split's pool table, no longer linked: emptied (its write-protect notes with it) and free.
void direct_mmu::free_split(uint64_t l1)
{
    changed();
    for (unsigned i = 0; i < entries; ++i) {
        notes_.erase(slot_key(l1, i));
        submit(l1, i, 0, 1);  // a refusal shows at the next flush
    }
    l1_pool_.give_back(l1);
}

// What an entry's old value held once the slot no longer holds it: its split table, or
// `refs` references to the table it linked.
void direct_mmu::drop_old(bool had_note, const note &saved, uint64_t machine, int level, unsigned refs)
{
    if (had_note) {
        if (saved.kind == note_kind::split) free_split(saved.frame);
        return;
    }
    uint64_t child = 0;
    if (level > 1 && (machine & pte::present) && mem_.mfn_to_gfn(entry_frame(machine), child))
        for (unsigned r = 0; r < refs; ++r) untyped_ref(child);
}

// ---- types ---------------------------------------------------------------------------------

// The frame's record, made the first time it is met as a table of `level`; a frame met at two
// levels is refused (Xen would refuse it too).
status direct_mmu::track(uint64_t gfn, int level, half side, table *&t)
{
    t = tables_.insert(key_of(gfn));
    if (!t) return fail(status::out_of_space, gfn);
    if (t->level == 0) {
        t->level = static_cast<uint8_t>(level);
        t->side = side;
        ++stats_.tables_tracked;
    } else if (t->level != level) {
        return fail(status::level_conflict, gfn);
    }
    return status::ok;
}

status direct_mmu::typed_ref(uint64_t gfn, int level, half side)
{
    table *t = nullptr;
    if (const status s = track(gfn, level, side, t); s != status::ok) return s;
    if (t->links++ != 0 || t->pinned) return status::ok;
    return become_typed(gfn, *t);
}

void direct_mmu::untyped_ref(uint64_t gfn)
{
    table *t = find_table(gfn);
    if (!t || t->links == 0) return;
    if (--t->links == 0 && !t->pinned) become_untyped(gfn, *t);
}

// The frame becomes a table Xen validates: its entries (and those of every table under it
// that is still in guest form) in machine form, no writable mapping of any of them left,
// its children typed too.
status direct_mmu::become_typed(uint64_t gfn, table &t)
{
    ++stats_.tables_typed;
    if (!t.machine_form) {
        const status s = adopt(gfn, t.level, t.side);
        if (s != status::ok) return s;
    }
    if (t.level == 1) return status::ok;
    uint64_t mfn = 0;
    mem_.gfn_to_mfn(gfn, mfn);
    const int level = t.level;
    const half side = t.side;
    const bool outermost = typed_depth_++ == 0;
    struct leave { unsigned &d; ~leave() { --d; } } l{typed_depth_};
    cost_timer c(outermost ? root_probe() : no_probe, cost_part::typed_children);
    // One view for the frame, taken again after a call that may map others (its slot may go).
    const volatile uint64_t *v = view(mfn);
    for (unsigned i = 0;; ++i) {
        if (!v) return fail(status::refused, detail_);
        if ((i = next_present(v, i, entries)) == entries) break;
        const uint64_t e = v[i];
        uint64_t child = 0;
        if ((level == 4 && in_xen_slots(i)) || !mem_.mfn_to_gfn(entry_frame(e), child))
            continue;  // Xen's, or a pool / wedge table
        const status s = typed_ref(child, level - 1, level == 4 ? half_of_root_slot(i) : side);
        if (s != status::ok) return s;
        v = view(mfn);
    }
    return status::ok;
}

// A tree of tables in guest form goes to machine form in three passes: find every frame in
// it (so that a leaf mapping any of them, wherever it lies in the tree, loses R/W), convert
// them, then take R/W from the mappings outside the tree (the loaded root's linear maps).
status direct_mmu::adopt(uint64_t gfn, int level, half side)
{
    adopting_ = 0;
    status s = status::ok;
    {
        cost_timer c(root_probe(), cost_part::adopt_mark);
        s = mark(gfn, level, side);
    }
    {
        cost_timer c(root_probe(), cost_part::adopt_convert);
        for (unsigned i = 0; s == status::ok && i < adopting_; ++i) {
            table *t = find_table(adopting_list_[i]);
            s = convert(adopting_list_[i], *t);
        }
    }
    cost_timer c(root_probe(), cost_part::adopt_aliases);
    for (unsigned i = 0; s == status::ok && i < adopting_; ++i) s = write_protect_aliases(adopting_list_[i]);
    return s;
}

status direct_mmu::mark(uint64_t gfn, int level, half side)
{
    table *t = nullptr;
    if (const status s = track(gfn, level, side, t); s != status::ok) return s;
    if (t->machine_form) return status::ok;
    if (adopting_ == max_adopt) return fail(status::out_of_space, gfn);
    t->machine_form = true;  // from here a leaf that maps this frame loses R/W
    adopting_list_[adopting_++] = gfn;
    if (level == 1) return status::ok;
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(gfn, mfn)) return fail(status::not_guest_ram, gfn);
    const volatile uint64_t *v = view(mfn);  // taken again after a mark below
    for (unsigned i = 0;; ++i) {
        if (!v) return fail(status::refused, detail_);
        if ((i = next_present(v, i, entries)) == entries) break;
        const uint64_t e = v[i];
        if ((level == 4 && in_xen_slots(i)) || is_leaf(e, level)) continue;
        uint64_t child_mfn = 0;
        if (!mem_.gfn_to_mfn(entry_frame(e), child_mfn)) continue;  // unreachable: convert notes it
        const status s = mark(entry_frame(e), level - 1, level == 4 ? half_of_root_slot(i) : side);
        if (s != status::ok) return s;
        v = view(mfn);
    }
    return status::ok;
}

// The queue goes to Xen first: the update that dropped the last reference is in it, and from
// here the core treats the frame as data (plain writes through a writable view), which Xen
// allows only once it has dropped the type too.
void direct_mmu::become_untyped(uint64_t gfn, table &t)
{
    cost_timer c(root_probe(), cost_part::untyped);
    flush();  // a refusal was the guest's store's; the next flush or pin reports Xen's state
    if (t.level == 1) return;
    uint64_t mfn = 0;
    mem_.gfn_to_mfn(gfn, mfn);
    const int level = t.level;
    const volatile uint64_t *v = mem_.read_view(mfn);  // taken again after an untyped_ref
    for (unsigned i = next_present(v, 0, entries); i < entries; i = next_present(v, i + 1, entries)) {
        const uint64_t e = v[i];
        uint64_t child = 0;
        if (!(level == 4 && in_xen_slots(i)) && mem_.mfn_to_gfn(entry_frame(e), child)) {
            untyped_ref(child);
            v = mem_.read_view(mfn);
        }
    }
}

// Guest form -> machine form, entry by entry, while the frame is still plain data to Xen.
status direct_mmu::convert(uint64_t gfn, table &t)
{
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(gfn, mfn)) return fail(status::not_guest_ram, gfn);
    const int level = t.level;
    const half side = t.side;
    // One writable view for the whole frame: to_machine takes none (it may update pool tables
    // through Xen, which needs no view). The frame is data to Xen: nothing of it is queued.
    if (const status s = settle(mfn); s != status::ok) return s;
    volatile uint64_t *v = nullptr;
    {
        cost_timer c(root_probe(), cost_part::convert_views);
        v = mem_.write_view(gfn);
    }
    if (!v) return fail(status::not_guest_ram, gfn);
    changed();
    // Absent entries are the same in both forms.
    for (unsigned i = next_present(v, 0, entries); i < entries; i = next_present(v, i + 1, entries)) {
        const uint64_t e = v[i];
        if (level == 4 && in_xen_slots(i)) {
            mem_.end_write();
            return fail(status::xen_range_used, entry_ptr(mfn, i));
        }
        uint64_t m = 0;
        // A 2 MiB page becomes a pool L1 of 512 leaves (mostly the kernel's maps, at boot).
        cost_timer ct(level > 1 && (e & pte::page_size) ? root_probe() : no_probe, cost_part::convert_splits);
        const status s = to_machine(mfn, i, level, level == 4 ? half_of_root_slot(i) : side, e, m);
        if (s != status::ok) {
            mem_.end_write();
            return s;
        }
        if (m != e) v[i] = m;
    }
    {
        cost_timer c(root_probe(), cost_part::convert_views);
        mem_.end_write();
    }
    ++stats_.tables_converted;
    return status::ok;
}

// Linux maps every frame in its direct map (and its image in the kernel map) writable; Xen
// refuses to validate a table mapped writable anywhere, so those mappings lose R/W. A write
// through one faults, and on_write_fault() sorts it out.
status direct_mmu::write_protect_aliases(uint64_t gfn)
{
    uint64_t mfn = 0;
    mem_.gfn_to_mfn(gfn, mfn);
    for (unsigned a = 0; a < alias_count_; ++a) {
        uint64_t l1 = 0, e = 0;
        unsigned index = 0;
        if (!leaf_slot(aliases_[a] + (gfn << 12), l1, index, e)) continue;
        if (!(e & pte::write) || entry_frame(e) != mfn) continue;
        note *n = notes_.insert(slot_key(l1, index));
        if (!n) return fail(status::out_of_space, entry_ptr(l1, index));
        *n = note{note_kind::write_protected, 0, 0};
        const status s = set_entry(l1, index, e & ~pte::write);
        if (s != status::ok) return s;
        ++stats_.mappings_write_protected;
    }
    cost_timer c(root_probe(), cost_part::adopt_splits);
    return write_protect_in_splits(gfn, mfn);
}

// Every split 2 MiB page stays a table Xen holds (the pool's L1s are pinned), linked under the
// current root or not (a root the guest left, like the boot tables): each that maps the frame
// writable loses R/W there too.
status direct_mmu::write_protect_in_splits(uint64_t gfn, uint64_t mfn)
{
    for (unsigned i = 0; i < l1_pool_.high; ++i) {
        const uint64_t base = l1_pool_.base_gfn[i];
        if (!l1_pool_.used[i] || gfn < base || gfn >= base + entries) continue;
        const uint64_t l1 = l1_pool_.frames[i];
        const unsigned index = static_cast<unsigned>(gfn - base);
        const uint64_t e = entry_at(l1, index);
        if (!(e & pte::present) || !(e & pte::write) || entry_frame(e) != mfn) continue;
        note *n = notes_.insert(slot_key(l1, index));
        if (!n) return fail(status::out_of_space, entry_ptr(l1, index));
        *n = note{note_kind::write_protected, 0, 0};
        changed();
        if (const status s = submit(l1, index, e & ~pte::write, 1); s != status::ok) return s;
        ++stats_.mappings_write_protected;
    }
    return status::ok;
}

// One machine leaf (an L1's entry): through Xen when Xen runs the table (a typed guest table,
// a pool table), by a plain write while the guest's table is still data to Xen.
status direct_mmu::set_entry(uint64_t table_mfn, unsigned index, uint64_t value)
{
    changed();
    uint64_t gfn = 0;
    if (mem_.mfn_to_gfn(table_mfn, gfn)) {
        const table *t = find_table(gfn);
        if (!t || !t->typed()) {
            mem_.write_view(gfn)[index] = value;
            mem_.end_write();
            return status::ok;
        }
    }
    return submit(table_mfn, index, value, 1);
}

// ---- the guest's accesses ------------------------------------------------------------------

status direct_mmu::write_entry(uint64_t gfn, const table &t, unsigned index, uint64_t machine)
{
    uint64_t mfn = 0;
    mem_.gfn_to_mfn(gfn, mfn);
    if (!t.typed()) {
        // Changed at once: a kept walk through it goes. (A typed table's update is queued,
        // and sending the queue forgets every kept walk.)
        const uint64_t key = slot_key(mfn, index);
        for (const last_walk &w : kept_)
            for (uint64_t s : w.slots)
                if (s == key) changed();
        mem_.write_view(gfn)[index] = machine;
        mem_.end_write();
        return status::ok;
    }
    if (const status s = submit(mfn, index, machine, t.level); s != status::ok) return s;
    return t.user_root && index < 256 ? submit(t.user_root, index, machine, 4) : status::ok;
}

status direct_mmu::store(uint64_t gpa, uint64_t value)
{
    if (gpa & 7) return fail(status::misaligned, gpa);
    const uint64_t gfn = gpa >> 12;
    const unsigned index = (gpa & 0xfff) / 8;
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(gfn, mfn)) return fail(status::not_guest_ram, gpa);
    ++stats_.entries_stored;
    table *t = find_table(gfn);
    if (!t || !t->machine_form) {
        changed();  // plain memory (no walk reads it), but cheap to be sure
        mem_.write_view(gfn)[index] = value;
        mem_.end_write();
        return status::ok;
    }
    const uint64_t key = slot_key(mfn, index);
    if (note *n = notes_.find(key); n && n->kind == note_kind::wedge) {
        n->guest_value = value;  // the wedge's range stays; the guest keeps its own value
        return status::ok;
    }
    if (t->level == 4 && in_xen_slots(index))
        return (value & pte::present) ? fail(status::xen_range_used, gpa) : status::ok;
    const int level = t->level;
    const half side = level == 4 ? half_of_root_slot(index) : t->side;
    const bool typed = t->typed();
    const unsigned refs = typed ? 1 + (t->user_root && index < 256) : 0;
    const uint64_t old = entry_at(mfn, index);
    // The old value's note goes with it; the new value may make one.
    note saved{};
    const note *old_note = notes_.find(key);
    const bool had_note = old_note != nullptr;
    if (had_note) {
        saved = *old_note;
        notes_.erase(key);
    }
    uint64_t machine = 0;
    status s = to_machine(mfn, index, level, side, value, machine);
    uint64_t child = 0;
    const bool links = level > 1 && (machine & pte::present) && mem_.mfn_to_gfn(entry_frame(machine), child);
    for (unsigned r = 0; s == status::ok && links && r < refs; ++r) s = typed_ref(child, level - 1, side);
    if (s != status::ok) return s;
    t = find_table(gfn);  // still there: typed_ref only inserts
    s = write_entry(gfn, *t, index, machine);
    if (s != status::ok) return s;
    drop_old(had_note, saved, old, level, refs);
    return status::ok;
}

status direct_mmu::load(uint64_t gpa, uint64_t &value)
{
    if (gpa & 7) return fail(status::misaligned, gpa);
    const uint64_t gfn = gpa >> 12;
    const unsigned index = (gpa & 0xfff) / 8;
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(gfn, mfn)) return fail(status::not_guest_ram, gpa);
    ++stats_.entries_loaded;
    const uint64_t machine = entry_at(mfn, index);
    const table *t = find_table(gfn);
    if (!t || !t->machine_form) {
        value = machine;
        return status::ok;
    }
    if (t->level == 4 && in_xen_slots(index)) {
        value = 0;  // Xen's own entries; the guest may only have left them absent
        return status::ok;
    }
    const half side = t->level == 4 ? half_of_root_slot(index) : t->side;
    value = to_guest(mfn, index, t->level, side, machine);
    return status::ok;
}

// ---- roots ---------------------------------------------------------------------------------

status direct_mmu::load_root(uint64_t cr3)
{
    const uint64_t gfn = (cr3 & pte::addr_mask) >> 12;
    uint64_t mfn = 0;
    if (!mem_.gfn_to_mfn(gfn, mfn)) return fail(status::not_guest_ram, cr3);
    table *t = nullptr;
    if (const status s = track(gfn, 4, half::kernel, t); s != status::ok) return s;
    if (!t->pinned) {
        const bool was_typed = t->typed();
        t->pinned = true;
        root_scope measuring{in_root_};
        status s = status::ok;
        {
            cost_timer c(probe_, cost_part::root_typed);
            s = was_typed ? status::ok : become_typed(gfn, *t);
            if (s != status::ok || (s = flush()) != status::ok) return s;
        }
        {
            cost_timer c(probe_, cost_part::root_pin);
            if (!xen_.pin_l4(mfn)) return fail(status::refused, mfn << 12);
        }
        {
            cost_timer c(probe_, cost_part::root_ranges);
            if ((s = put_ranges(mfn)) != status::ok) return s;
        }
        t = find_table(gfn);
        cost_timer c(probe_, cost_part::root_user);
        if ((s = make_user_root(gfn, *t)) != status::ok) return s;
    }
    changed();
    // The CPU runs on the tables from here: everything queued goes first.
    if (const status s = flush(); s != status::ok) return s;
    if (!xen_.set_roots(mfn, t->user_root)) return fail(status::refused, mfn << 12);
    current_ = gfn;
    current_mfn_ = mfn;
    ++stats_.roots_loaded;
    return status::ok;
}

// The wedge's 2 MiB ranges go into the root's tables at their L2 slots; the guest's own
// values there are kept aside (it never uses those addresses; Linux clears them).
status direct_mmu::put_ranges(uint64_t root_mfn)
{
    for (unsigned r = 0; r < range_count_; ++r) {
        const uint64_t va = ranges_[r].va;
        uint64_t table_mfn = root_mfn;
        for (int level = 4; level > 2; --level) {
            const uint64_t e = entry_at(table_mfn, index_at(va, level));
            if (!(e & pte::present)) return fail(status::no_path_to_range, va);
            table_mfn = entry_frame(e);
        }
        const unsigned index = index_at(va, 2);
        const uint64_t key = slot_key(table_mfn, index);
        if (const note *n = notes_.find(key); n && n->kind == note_kind::wedge) continue;
        uint64_t l2 = 0;
        const table *t = mem_.mfn_to_gfn(table_mfn, l2) ? find_table(l2) : nullptr;
        if (!t || t->level != 2) return fail(status::no_path_to_range, va);
        const uint64_t old = entry_at(table_mfn, index);
        const uint64_t guest_value = to_guest(table_mfn, index, 2, t->side, old);
        note saved{};
        const note *old_note = notes_.find(key);
        const bool had_note = old_note != nullptr;
        if (had_note) saved = *old_note;
        note *n = notes_.insert(key);
        if (!n) return fail(status::out_of_space, entry_ptr(table_mfn, index));
        *n = note{note_kind::wedge, guest_value, 0};
        changed();
        if (const status s = submit(table_mfn, index, ranges_[r].l2_entry, 2); s != status::ok) return s;
        drop_old(had_note, saved, old, 2, 1);
    }
    return status::ok;
}

// Xen runs guest user mode on a root of its own: a pool L4 with the guest root's user half.
status direct_mmu::make_user_root(uint64_t gfn, table &t)
{
    uint64_t user = 0, mfn = 0;
    if (!l4_pool_.take(user)) return fail(status::out_of_space, gfn);
    t.user_root = user;
    mem_.gfn_to_mfn(gfn, mfn);
    const volatile uint64_t *v = view(mfn);  // taken again after a typed_ref
    for (unsigned i = 0;; ++i) {
        if (!v) return fail(status::refused, detail_);
        if ((i = next_present(v, i, 256)) == 256) break;
        const uint64_t e = v[i];
        uint64_t child = 0;
        if (mem_.mfn_to_gfn(entry_frame(e), child)) {
            const status s = typed_ref(child, 3, half::user);
            if (s != status::ok) return s;
        }
        if (const status s = submit(user, i, e, 4); s != status::ok) return s;
        v = view(mfn);
    }
    return status::ok;
}

// A pinned root the guest is done with (it wrote the frame as data): unpinned, its user root
// emptied and back in the pool, its tables' references dropped.
void direct_mmu::release_root(uint64_t gfn, table &t)
{
    root_scope measuring{in_root_};
    cost_timer c(probe_, cost_part::root_release);
    changed();
    uint64_t mfn = 0;
    mem_.gfn_to_mfn(gfn, mfn);
    if (t.user_root) {
        const uint64_t user = t.user_root;
        for (unsigned i = 0; i < 256; ++i) {
            const uint64_t e = entry_at(user, i);
            if (!(e & pte::present)) continue;
            submit(user, i, 0, 4);  // before the reference goes: untyping sends the queue
            uint64_t child = 0;
            if (mem_.mfn_to_gfn(entry_frame(e), child)) untyped_ref(child);
        }
        l4_pool_.give_back(user);
        find_table(gfn)->user_root = 0;
    }
    flush();
    xen_.unpin(mfn);
    table *root = find_table(gfn);
    root->pinned = false;
    if (root->links == 0) become_untyped(gfn, *root);
}

// ---- the queue -----------------------------------------------------------------------------

bool direct_mmu::holds(uint64_t table_mfn) const
{
    for (unsigned f = 0; f < queue_frame_count_; ++f)
        if (queue_frames_[f].mfn == table_mfn) return true;
    return false;
}

uint64_t direct_mmu::queued_entry_at(uint64_t table_mfn, unsigned index)
{
    for (unsigned f = 0; f < queue_frame_count_; ++f) {
        const queued_frame &q = queue_frames_[f];
        if (q.mfn != table_mfn) continue;
        if (q.slots[index / 64] >> (index % 64) & 1) {
            const uint64_t ptr = entry_ptr(table_mfn, index);
            for (unsigned i = queued_; i-- > 0;)  // the newest update of the slot
                if (queue_[i].ptr == ptr) return queue_seen_[i];
        }
        break;
    }
    return mem_.read_view(table_mfn)[index];
}

status direct_mmu::submit(uint64_t table_mfn, unsigned index, uint64_t value, int level)
{
    queued_frame *q = nullptr;
    for (unsigned f = 0; f < queue_frame_count_ && !q; ++f)
        if (queue_frames_[f].mfn == table_mfn) q = &queue_frames_[f];
    if (queued_ == max_queued || (!q && queue_frame_count_ == max_queued_frames)) {
        if (const status s = flush(); s != status::ok) return s;
        q = nullptr;
    }
    if (!q) {
        q = &queue_frames_[queue_frame_count_++];
        *q = queued_frame{};
        q->mfn = table_mfn;
    }
    q->slots[index / 64] |= 1ull << (index % 64);
    queue_[queued_] = {entry_ptr(table_mfn, index), value};
    queue_seen_[queued_] = xen_adjusted(value, level);
    ++queued_;
    ++stats_.updates_queued;
    return status::ok;
}

status direct_mmu::flush()
{
    if (queued_ == 0) return status::ok;
    const unsigned count = queued_;
    sending_queue();  // translate's kept walks were read from the entries Xen ran before
    queued_ = 0;
    queue_frame_count_ = 0;
    ++stats_.queue_flushes;
    return xen_.update_entries(queue_, count) ? status::ok : fail(status::refused, queue_[0].ptr);
}

void direct_mmu::sending_queue()
{
    for (last_walk &w : kept_) {
        if (w.va_page == ~0ull) continue;
        for (unsigned f = 0; f < queue_frame_count_ && w.va_page != ~0ull; ++f)
            for (uint64_t slot : w.slots)
                if ((slot - 1) >> 9 == queue_frames_[f].mfn) {
                    w.va_page = ~0ull;
                    break;
                }
    }
}

const volatile uint64_t *direct_mmu::view(uint64_t mfn)
{
    return settle(mfn) == status::ok ? mem_.read_view(mfn) : nullptr;
}

status direct_mmu::invalidate_page(uint64_t va) { return send_then_invalidate(false, va); }

status direct_mmu::flush_tlb() { return send_then_invalidate(true, 0); }

// The guest invalidates to make its stores take effect: the queue goes first, in the same
// hypercall when there is one.
status direct_mmu::send_then_invalidate(bool all, uint64_t va)
{
    if (queued_ == 0) {
        if (all) xen_.flush_all();
        else xen_.invalidate_page(va);
        return status::ok;
    }
    const unsigned count = queued_;
    sending_queue();
    queued_ = 0;
    queue_frame_count_ = 0;
    ++stats_.queue_flushes;
    return xen_.update_then_invalidate(queue_, count, all, va) ? status::ok : fail(status::refused, queue_[0].ptr);
}

// ---- faults --------------------------------------------------------------------------------

bool direct_mmu::leaf_slot(uint64_t va, uint64_t &table_mfn, unsigned &index, uint64_t &entry)
{
    if (current_ == ~0ull) return false;
    uint64_t mfn = current_mfn_;
    for (int level = 4; level >= 1; --level) {
        const unsigned i = index_at(va, level);
        const uint64_t e = entry_at(mfn, i);
        if (!(e & pte::present)) return false;
        if (level == 1) {
            table_mfn = mfn;
            index = i;
            entry = e;
            return true;
        }
        mfn = entry_frame(e);
    }
    return false;
}

bool direct_mmu::translate(uint64_t va, uint64_t &gpa, bool &guest_writable)
{
    if (current_ == ~0ull) return false;
    const uint64_t page = va & ~0xfffull;
    for (const last_walk &k : kept_)
        if (page == k.va_page) {
            gpa = k.gpa_page | (va & 0xfff);
            guest_writable = k.writable;
            return true;
        }
    uint64_t mfn = current_mfn_;
    bool writable = true;
    last_walk w;
    for (int level = 4; level >= 1; --level) {
        const unsigned i = index_at(va, level);
        w.slots[4 - level] = slot_key(mfn, i);
        const uint64_t e = mem_.read_view(mfn)[i];  // what Xen runs, as the CPU (not the queue)
        if (!(e & pte::present)) return false;
        if (level == 1) {
            const note *n = (e & pte::write) ? nullptr : notes_.find(slot_key(mfn, i));
            guest_writable = writable && ((e & pte::write) || (n && n->kind == note_kind::write_protected));
            uint64_t gfn = 0;
            if (!mem_.mfn_to_gfn(entry_frame(e), gfn)) return false;
            gpa = gfn << 12 | (va & 0xfff);
            w.va_page = page;
            w.gpa_page = gfn << 12;
            w.writable = guest_writable;
            kept_[next_kept_] = w;
            next_kept_ = (next_kept_ + 1) % kept_walks;
            return true;
        }
        writable = writable && (e & pte::write);
        mfn = entry_frame(e);
    }
    return false;
}

bool direct_mmu::translate(uint64_t va, uint64_t &gpa)
{
    uint64_t table_mfn = 0, e = 0, gfn = 0;
    unsigned index = 0;
    if (!leaf_slot(va, table_mfn, index, e) || !mem_.mfn_to_gfn(entry_frame(e), gfn)) return false;
    gpa = gfn << 12 | (va & 0xfff);
    return true;
}

direct_mmu::write_fault direct_mmu::on_write_fault(uint64_t va)
{
    // The fault may be a queued update's (a mapping the guest made writable again): sent
    // first, the machine tables are the guest's and the fault says what it means.
    if (flush() != status::ok) return write_fault::live_table;
    uint64_t table_mfn = 0, e = 0, gfn = 0;
    unsigned index = 0;
    if (!leaf_slot(va, table_mfn, index, e) || (e & pte::write)) return write_fault::not_ours;
    const uint64_t key = slot_key(table_mfn, index);
    const note *n = notes_.find(key);
    if (!n || n->kind != note_kind::write_protected) return write_fault::not_ours;
    if (mem_.mfn_to_gfn(entry_frame(e), gfn)) {
        if (table *t = find_table(gfn)) {
            if (t->pinned && t->links == 0 && gfn != current_) release_root(gfn, *t);
            t = find_table(gfn);
            if (t->typed()) return write_fault::live_table;
            // Data again: its own notes (write-protected leaves, splits) go with it. Only an
            // unreachable note sits on an absent machine entry; Linux frees its tables empty,
            // so the search is for the present entries unless the table ever had one.
            uint64_t mfn = 0;
            mem_.gfn_to_mfn(gfn, mfn);
            const bool absent_too = t->unreachable;
            const volatile uint64_t *v = mem_.read_view(mfn);
            auto next = [&](unsigned from) { return absent_too ? from : next_present(v, from, entries); };
            for (unsigned i = next(0); i < entries; i = next(i + 1)) {
                const uint64_t k = slot_key(mfn, i);
                if (const note *own = notes_.find(k)) {
                    const note saved = *own;
                    notes_.erase(k);
                    if (saved.kind == note_kind::split) free_split(saved.frame);
                    v = mem_.read_view(mfn);
                }
            }
            tables_.erase(key_of(gfn));
            --stats_.tables_tracked;
            ++stats_.tables_released;
        }
    }
    notes_.erase(key);
    changed();
    // The access is retried when the wedge returns: R/W must be in Xen's entry by then.
    if (submit(table_mfn, index, e | pte::write, 1) != status::ok || flush() != status::ok)
        return write_fault::live_table;
    return write_fault::retry;
}

bool direct_mmu::unreachable_at(uint64_t va, uint64_t &guest_entry)
{
    if (current_ == ~0ull) return false;
    uint64_t mfn = current_mfn_;
    for (int level = 4; level >= 1; --level) {
        const unsigned i = index_at(va, level);
        const uint64_t e = entry_at(mfn, i);
        if (!(e & pte::present)) {
            const note *n = notes_.find(slot_key(mfn, i));
            if (!n || n->kind != note_kind::unreachable) return false;
            guest_entry = n->guest_value;
            return true;
        }
        mfn = entry_frame(e);
    }
    return false;
}

} // namespace afterburn::xen_direct
