// A fake Xen PV machine for the shadow-paging tests: machine memory in host pages, a p2m
// that is deliberately not contiguous (descending, like the one Xen gave dom0), and a
// hypervisor MMU that validates entry writes roughly as Xen does (page-table types by
// level, no writable mapping of a page-table frame, no entries in Xen's L4 slots) and
// *walks* the machine tables to translate, as the CPU would for a ring-3 PV guest.
//
// Also builds guest page tables in guest-physical memory.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "shadow_mmu.h"

namespace afterburn::xen_shadow::test {

using page = std::array<uint64_t, 512>;

struct machine_result {
    bool ok = false;
    uint32_t error_code = 0;
    uint64_t maddr = 0;
};

class fake_machine final : public guest_physical, public hypervisor_mmu {
public:
    // ---- machine memory --------------------------------------------------------------
    page &frame(uint64_t mfn)
    {
        auto &p = mem_[mfn];
        if (!p)
            p = std::make_unique<page>(page{});
        return *p;
    }
    bool has_frame(uint64_t mfn) const { return mem_.count(mfn) != 0; }

    // ---- guest RAM: gfn -> mfn, descending (not contiguous) -----------------------------
    static constexpr uint64_t ram_top_mfn = 0x900000;
    void add_ram(uint64_t gfn, uint64_t count = 1)
    {
        for (uint64_t i = 0; i < count; ++i) {
            const uint64_t mfn = ram_top_mfn - (gfn + i);
            p2m_[gfn + i] = mfn;
            frame(mfn);
        }
    }
    uint64_t mfn_of(uint64_t gfn) const { return p2m_.at(gfn); }

    bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) override
    {
        auto it = p2m_.find(gfn);
        if (it == p2m_.end())
            return false;
        mfn = it->second;
        return true;
    }
    bool read_u64(uint64_t gpa, uint64_t &value) override
    {
        poison_view();
        ++reads;
        uint64_t mfn;
        if ((gpa & 7) || !gfn_to_mfn(gpa >> 12, mfn))
            return false;
        value = frame(mfn)[(gpa & 0xfff) / 8];
        return true;
    }
    bool cmpxchg_u64(uint64_t gpa, uint64_t &expected, uint64_t desired) override
    {
        ++cmpxchg_calls;
        poison_view();
        if (before_cmpxchg) {
            auto hook = before_cmpxchg;
            before_cmpxchg = nullptr;  // one shot: simulates another vCPU racing once
            hook();
        }
        uint64_t mfn;
        if ((gpa & 7) || !gfn_to_mfn(gpa >> 12, mfn))
            return false;
        uint64_t &slot = frame(mfn)[(gpa & 0xfff) / 8];
        if (slot != expected) {
            expected = slot;
            return false;
        }
        slot = desired;
        return true;
    }
    // A copy of the frame, overwritten with present, reserved-bit garbage by the next call:
    // a core that keeps a view past its next call reads nonsense, as it could on Xen, where
    // the view is a temporary slot the next call may remap.
    const volatile uint64_t *frame_view(uint64_t gfn) override
    {
        poison_view();
        ++frame_views;
        auto it = p2m_.find(gfn);
        if (it == p2m_.end())
            return nullptr;
        view_ = frame(it->second);
        return view_.data();
    }
    uint64_t gread(uint64_t gpa) { uint64_t v = 0; read_u64(gpa, v); return v; }
    void gwrite(uint64_t gpa, uint64_t v) { frame(mfn_of(gpa >> 12))[(gpa & 0xfff) / 8] = v; }

    // ---- hypervisor MMU ------------------------------------------------------------------
    // Frames the backend gives the core as its pool; wedge L1 tables (already level 1).
    void add_pool_frame(uint64_t mfn) { frame(mfn); pool_.insert(mfn); }
    void add_wedge_l1(uint64_t mfn) { frame(mfn); pool_.insert(mfn); level_[mfn] = 1; refs_[mfn] = 1; }

    static bool in_xen_slots(unsigned index) { return index >= 256 && index < 272; }

    bool write_entry(uint64_t table_mfn, unsigned index, uint64_t value) override
    {
        ++writes;
        if (!refuse(table_mfn, index, value))
            return true;
        ++refused;
        return false;
    }
    bool write_entries(uint64_t table_mfn, const entry_update *updates, unsigned count) override
    {
        ++batches;
        for (unsigned i = 0; i < count; ++i)
            if (!write_entry(table_mfn, updates[i].index, updates[i].value))
                return false;  // Xen stops at the first refused update too
        return true;
    }
    bool write_batch(const table_update *updates, unsigned count) override
    {
        ++batches;
        for (unsigned i = 0; i < count; ++i)
            if (!write_entry(updates[i].table_mfn, updates[i].index, updates[i].value))
                return false;
        return true;
    }
    bool write_batch_then_invalidate(const table_update *updates, unsigned count, bool all, uint64_t va) override
    {
        ++combined;
        const bool ok = write_batch(updates, count);
        if (all)
            flush_all();
        else
            invalidate_page(va);
        return ok;
    }
    bool pin_root(uint64_t mfn) override
    {
        if (!pool_.count(mfn) || (level_.count(mfn) && level_[mfn] != 4))
            return false;
        level_[mfn] = 4;
        pinned_.insert(mfn);
        return true;
    }
    void unpin_root(uint64_t mfn) override { pinned_.erase(mfn); }
    bool set_roots(uint64_t kernel_mfn, uint64_t user_mfn) override
    {
        if (!pinned_.count(kernel_mfn) || !pinned_.count(user_mfn) || refuse_root_loads)
            return false;
        kernel_root_ = kernel_mfn;
        user_root_ = user_mfn;
        ++root_loads;
        return true;
    }
    void invalidate_page(uint64_t va) override { invalidated.push_back(va); }
    void flush_all() override { ++flushes; }

    // ---- the CPU: a ring-3 PV guest on the current kernel or user root -----------------
    // The guest kernel and guest user both run in ring 3; only the root differs. Error codes
    // as Xen reports them (guest-kernel faults as supervisor).
    machine_result translate(uint64_t va, const access_type &acc) const
    {
        machine_result r;
        uint64_t table = acc.user ? user_root_ : kernel_root_;
        const uint32_t base = (acc.write ? 2u : 0u) | (acc.user ? 4u : 0u) | (acc.fetch ? 16u : 0u);
        bool w = true, u = true, nx = false;
        for (int level = 4; level >= 1; --level) {
            auto it = mem_.find(table);
            if (it == mem_.end()) {
                r.error_code = 0xdead;
                return r;
            }
            const uint64_t e = (*it->second)[(va >> (12 + 9 * (level - 1))) & 511];
            if (!(e & pte::present)) {
                r.error_code = base;
                return r;
            }
            if (level > 1 && (e & pte::page_size)) {
                r.error_code = 0xbad;  // the shadow never builds large pages
                return r;
            }
            w = w && (e & pte::write);
            u = u && (e & pte::user);
            nx = nx || (e & pte::nx);
            table = (e & pte::addr_mask) >> 12;
        }
        // Ring 3 always: U/S at every level, R/W always enforced.
        if (!u || (acc.write && !w) || (acc.fetch && nx)) {
            r.error_code = base | 1u;
            return r;
        }
        r.ok = true;
        r.maddr = (table << 12) | (va & 0xfff);
        return r;
    }

    // Every present leaf of a root: (va, leaf entry).
    std::vector<std::pair<uint64_t, uint64_t>> leaves(uint64_t root) const
    {
        std::vector<std::pair<uint64_t, uint64_t>> out;
        collect(root, 4, 0, out);
        return out;
    }

    uint64_t kernel_root() const { return kernel_root_; }
    uint64_t user_root() const { return user_root_; }
    // Pool frames no table references (free in the core's pool): must be all zero.
    size_t nonzero_unreferenced_pool_frames() const
    {
        size_t n = 0;
        for (uint64_t mfn : pool_) {
            auto r = refs_.find(mfn);
            if (pinned_.count(mfn) || (r != refs_.end() && r->second > 0))
                continue;
            for (uint64_t e : *mem_.at(mfn))
                if (e) {
                    ++n;
                    break;
                }
        }
        return n;
    }

    uint64_t writes = 0, refused = 0, flushes = 0, cmpxchg_calls = 0, batches = 0, frame_views = 0;
    uint64_t root_loads = 0;          // set_roots calls
    bool refuse_root_loads = false;   // set_roots fails (a hypervisor that refuses the roots)
    uint64_t combined = 0;  // write_batch_then_invalidate requests (each also counted as a batch)
    uint64_t reads = 0;     // read_u64 calls (guest page-table walks)
    std::vector<uint64_t> invalidated;
    std::function<void()> before_cmpxchg;

private:
    void poison_view() { view_.fill(0xfff0000000000fffull); }

    // Xen-like validation; returns true to refuse.
    bool refuse(uint64_t table_mfn, unsigned index, uint64_t value)
    {
        if (!pool_.count(table_mfn) || index >= 512)
            return true;
        auto lv = level_.find(table_mfn);
        if (lv == level_.end() || lv->second == 0)
            return true;  // not a validated page table
        const int level = lv->second;
        if (level == 4 && in_xen_slots(index))
            return true;  // Xen's own slots
        const uint64_t old = frame(table_mfn)[index];
        const uint64_t target = (value & pte::addr_mask) >> 12;
        if (value & pte::present) {
            if (level > 1) {
                if (value & pte::page_size)
                    return true;  // no superpages for PV
                if (!pool_.count(target))
                    return true;
                auto &tl = level_[target];
                if (refs_[target] > 0 && tl != level - 1)
                    return true;  // type conflict
                if (refs_[target] == 0) {
                    for (uint64_t e : frame(target))
                        if (e)
                            return true;  // a new table must be empty (free frames are zero)
                    tl = level - 1;
                }
            } else {
                if (!has_frame(target))
                    return true;
                if (pool_.count(target) && (value & pte::write))
                    return true;  // writable mapping of a page-table frame
            }
        }
        // Commit: reference counts of linked tables.
        if (level > 1 && (old & pte::present)) {
            const uint64_t ot = (old & pte::addr_mask) >> 12;
            if (--refs_[ot] == 0 && !pinned_.count(ot))
                level_[ot] = 0;
        }
        if (level > 1 && (value & pte::present))
            ++refs_[target];
        // Xen (adjust_guest_l1e, with its default global pages for PV guests) adds G to a PV
        // guest's user mappings, and every shadow leaf is one (U is always set).
        if (level == 1 && (value & pte::present) && (value & pte::user))
            value |= pte::global;
        frame(table_mfn)[index] = value;
        return false;
    }

    void collect(uint64_t table, int level, uint64_t base, std::vector<std::pair<uint64_t, uint64_t>> &out) const
    {
        auto it = mem_.find(table);
        if (it == mem_.end())
            return;
        for (unsigned i = 0; i < 512; ++i) {
            const uint64_t e = (*it->second)[i];
            if (!(e & pte::present))
                continue;
            uint64_t va = base + (uint64_t(i) << (12 + 9 * (level - 1)));
            if (level == 4)
                va = uint64_t(int64_t(va << 16) >> 16);
            if (level == 1)
                out.emplace_back(va, e);
            else
                collect((e & pte::addr_mask) >> 12, level - 1, va, out);
        }
    }

    page view_{};
    std::map<uint64_t, std::unique_ptr<page>> mem_;
    std::map<uint64_t, uint64_t> p2m_;
    std::set<uint64_t> pool_, pinned_;
    std::map<uint64_t, int> level_;
    std::map<uint64_t, int> refs_;
    uint64_t kernel_root_ = 0, user_root_ = 0;
};

// Guest page tables in guest-physical memory. Tables come from a bump allocator of guest
// frames; intermediate entries get `link` flags unless a test edits them.
class guest_tables {
public:
    explicit guest_tables(fake_machine &m, uint64_t first_table_gfn = 0x100) : m_(m), next_(first_table_gfn) {}

    uint64_t new_table()
    {
        m_.add_ram(next_);
        for (unsigned i = 0; i < 512; ++i)
            m_.gwrite((next_ << 12) + 8 * i, 0);
        return (next_++) << 12;
    }

    static constexpr uint64_t link = pte::present | pte::write | pte::user;

    // Map `va` -> `gpa` with a leaf of `size` (4K, 2M or 1G) and `flags`.
    void map(uint64_t cr3, uint64_t va, uint64_t gpa, uint64_t flags, uint64_t size = page_4k)
    {
        const int leaf_level = size == page_4k ? 1 : size == page_2m ? 2 : 3;
        uint64_t table = cr3 & pte::addr_mask;
        for (int level = 4; level > leaf_level; --level) {
            const uint64_t ea = table + 8 * ((va >> (12 + 9 * (level - 1))) & 511);
            uint64_t e = m_.gread(ea);
            if (!(e & pte::present)) {
                e = new_table() | link;
                m_.gwrite(ea, e);
            }
            table = e & pte::addr_mask;
        }
        const uint64_t ea = table + 8 * ((va >> (12 + 9 * (leaf_level - 1))) & 511);
        m_.gwrite(ea, (gpa & pte::addr_mask) | flags | (leaf_level > 1 ? pte::page_size : 0));
    }

    // The guest-physical address of the entry for `va` at `level` (it must exist).
    uint64_t entry_gpa(uint64_t cr3, uint64_t va, int level)
    {
        uint64_t table = cr3 & pte::addr_mask;
        for (int l = 4;; --l) {
            const uint64_t ea = table + 8 * ((va >> (12 + 9 * (l - 1))) & 511);
            if (l == level)
                return ea;
            table = m_.gread(ea) & pte::addr_mask;
        }
    }
    uint64_t entry(uint64_t cr3, uint64_t va, int level) { return m_.gread(entry_gpa(cr3, va, level)); }
    void set_entry(uint64_t cr3, uint64_t va, int level, uint64_t v) { m_.gwrite(entry_gpa(cr3, va, level), v); }

private:
    fake_machine &m_;
    uint64_t next_;
};

} // namespace afterburn::xen_shadow::test
