// A fake Xen for the direct-paging tests: machine memory, a descending p2m, and the part of
// Xen's PV memory management that direct paging lives by — page types with reference
// counts. A frame becomes a table of level N when a typed level-N+1 table or a pin first
// refers to it, and Xen then validates every entry in it; a frame mapped writable (by a typed
// L1, or by the wedge's own write view) cannot become a table and a table cannot be mapped
// writable; no large pages; L4 slots 256-271 are Xen's. Stored entries get Xen's additions
// (entry_format.h). A walker reads the machine tables as the CPU would for the guest.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "direct_mmu.h"

namespace afterburn::xen_direct::test {

using page = std::array<uint64_t, 512>;

class fake_xen final : public guest_memory, public xen_mmu {
public:
    static constexpr uint64_t ram_top_mfn = 0x90000;

    // ---- memory ------------------------------------------------------------------------
    page &frame(uint64_t mfn)
    {
        auto &p = mem_[mfn];
        if (!p) p = std::make_unique<page>(page{});
        return *p;
    }
    void add_ram(uint64_t gfn, uint64_t count = 1)
    {
        for (uint64_t i = 0; i < count; ++i) {
            p2m_[gfn + i] = ram_top_mfn - (gfn + i);
            m2p_[ram_top_mfn - (gfn + i)] = gfn + i;
            frame(ram_top_mfn - (gfn + i));
        }
    }
    uint64_t mfn_of(uint64_t gfn) const { return p2m_.at(gfn); }
    // The guest's plain memory access (only for frames that are no tables, as in the guest).
    void gwrite(uint64_t gpa, uint64_t v)
    {
        frame(mfn_of(gpa >> 12))[(gpa & 0xfff) / 8] = v;
        refresh_view(mfn_of(gpa >> 12));
    }
    uint64_t raw(uint64_t gpa) { return frame(mfn_of(gpa >> 12))[(gpa & 0xfff) / 8]; }
    // A pinned, empty L1 or L4 of the wedge's pool (not guest RAM).
    uint64_t pool_frame(int level)
    {
        const uint64_t mfn = next_pool_++;
        frame(mfn);
        if (!get_type(mfn, level)) throw std::runtime_error("pool frame refused");
        pinned_.insert(mfn);
        return mfn;
    }

    bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) override
    {
        auto it = p2m_.find(gfn);
        if (it == p2m_.end()) return false;
        mfn = it->second;
        return true;
    }
    bool mfn_to_gfn(uint64_t mfn, uint64_t &gfn) override
    {
        auto it = m2p_.find(mfn);
        if (it == m2p_.end()) return false;
        gfn = it->second;
        return true;
    }
    const volatile uint64_t *read_view(uint64_t mfn) override
    {
        if (!mem_.count(mfn)) return nullptr;
        // As the wedge's temporary slot: a view is good until the next view of another frame
        // (then it shows that frame), and shows updates of its own frame.
        view_mfn_ = mfn;
        view_ = frame(mfn);
        return view_.data();
    }
    volatile uint64_t *write_view(uint64_t gfn) override
    {
        const uint64_t mfn = mfn_of(gfn);
        if (count_[mfn] != 0) errors.push_back("write view of a table frame " + std::to_string(gfn));
        writable_view_ = mfn;
        return frame(mfn).data();
    }
    void end_write() override
    {
        refresh_view(writable_view_);
        writable_view_ = ~0ull;
    }

    // ---- the hypercalls ----------------------------------------------------------------
    bool update_entries(const update *u, unsigned count) override
    {
        ++hypercalls;
        for (unsigned i = 0; i < count; ++i)
            if (!update_one(u[i].ptr, u[i].value)) {
                errors.push_back("refused update at " + std::to_string(u[i].ptr));
                return false;
            } else {
                refresh_view(u[i].ptr >> 12);
            }
        return true;
    }
    bool pin_l4(uint64_t mfn) override
    {
        if (pinned_.count(mfn) || !get_type(mfn, 4)) return false;
        pinned_.insert(mfn);
        return true;
    }
    bool unpin(uint64_t mfn) override
    {
        if (!pinned_.erase(mfn)) return false;
        put_type(mfn);
        return true;
    }
    bool set_roots(uint64_t kernel, uint64_t user) override
    {
        if (level_of(kernel) != 4 || level_of(user) != 4) return false;
        kernel_root = kernel;
        user_root = user;
        return true;
    }
    // What the CPU would walk to right after the invalidation (the updates before it applied).
    void invalidate_page(uint64_t va) override { walked_at_invalidation = walk(kernel_root, va); }
    void flush_all() override { ++full_flushes; }

    // ---- inspection --------------------------------------------------------------------
    int level_of(uint64_t mfn) { return count_[mfn] ? type_[mfn] : 0; }
    uint32_t type_count(uint64_t mfn) { return count_[mfn]; }
    uint32_t writable_refs(uint64_t mfn) { return writable_[mfn]; }
    bool is_pinned(uint64_t mfn) const { return pinned_.count(mfn) != 0; }
    // The CPU's walk: the leaf entry for `va` under `root`, 0 if any level is absent.
    uint64_t walk(uint64_t root, uint64_t va)
    {
        uint64_t mfn = root;
        for (int level = 4; level >= 1; --level) {
            const uint64_t e = frame(mfn)[(va >> (12 + 9 * (level - 1))) & 511];
            if (!(e & pte::present)) return 0;
            if (level == 1) return e;
            mfn = entry_frame(e);
        }
        return 0;
    }

    uint64_t kernel_root = 0, user_root = 0;
    unsigned hypercalls = 0;
    uint64_t walked_at_invalidation = 0;
    unsigned full_flushes = 0;
    std::vector<std::string> errors;

private:
    void refresh_view(uint64_t mfn)
    {
        if (mfn == view_mfn_) view_ = frame(mfn);
    }
    page view_{};
    uint64_t view_mfn_ = ~0ull;
    bool get_type(uint64_t mfn, int level)
    {
        if (!mem_.count(mfn)) return false;
        if (count_[mfn] != 0) {
            if (type_[mfn] != level) return false;
            ++count_[mfn];
            return true;
        }
        if (writable_[mfn] != 0 || writable_view_ == mfn) return false;
        type_[mfn] = level;
        count_[mfn] = 1;
        page &p = frame(mfn);
        for (unsigned i = 0; i < 512; ++i) {
            if (!validate(level, i, p[i])) {
                for (unsigned j = 0; j < i; ++j) put_entry(level, j, p[j]);
                count_[mfn] = 0;
                return false;
            }
            p[i] = xen_adjusted(p[i], level);
        }
        return true;
    }
    void put_type(uint64_t mfn)
    {
        if (count_[mfn] == 0 || --count_[mfn] != 0) return;
        page &p = frame(mfn);
        for (unsigned i = 0; i < 512; ++i) put_entry(type_[mfn], i, p[i]);
    }
    // Takes the references an entry holds; false if Xen would refuse it.
    bool validate(int level, unsigned index, uint64_t e)
    {
        if (!(e & pte::present)) return true;
        if (level == 4 && index >= 256 && index < 272) return false;
        if (level > 1 && (e & pte::page_size)) return false;
        const uint64_t target = entry_frame(e);
        if (!mem_.count(target)) return false;
        if (level > 1) return get_type(target, level - 1);
        if (e & pte::write) {
            if (count_[target] != 0 || writable_view_ == target) return false;
            ++writable_[target];
        }
        return true;
    }
    void put_entry(int level, unsigned index, uint64_t e)
    {
        if (!(e & pte::present) || (level == 4 && index >= 256 && index < 272)) return;
        if (level > 1) put_type(entry_frame(e));
        else if (e & pte::write) --writable_[entry_frame(e)];
    }
    bool update_one(uint64_t ptr, uint64_t value)
    {
        const uint64_t table = ptr >> 12;
        const unsigned index = (ptr & 0xfff) / 8;
        if ((ptr & 7) || count_[table] == 0) return false;
        const int level = type_[table];
        if (!validate(level, index, value)) return false;
        uint64_t &slot = frame(table)[index];
        put_entry(level, index, slot);
        slot = xen_adjusted(value, level);
        return true;
    }

    std::map<uint64_t, std::unique_ptr<page>> mem_;
    std::map<uint64_t, uint64_t> p2m_, m2p_;
    std::map<uint64_t, int> type_;
    std::map<uint64_t, uint32_t> count_, writable_;
    std::set<uint64_t> pinned_;
    uint64_t writable_view_ = ~0ull;
    uint64_t next_pool_ = 0x200000;
};

} // namespace afterburn::xen_direct::test
