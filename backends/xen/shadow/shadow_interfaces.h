// What the shadow-paging core needs from its surroundings, in two narrow interfaces:
//
//  * guest_physical — the guest's pseudo-physical memory: the p2m (gfn -> machine frame)
//    and 8-byte reads / compare-exchanges at guest-physical addresses (page-table walks,
//    A/D updates). Under Xen the wedge implements it over its own mapping of guest RAM and
//    the p2m list Xen hands to dom0 (start_info.mfn_list) or a domain builder.
//  * hypervisor_mmu — the machine page tables the hypervisor runs: entry writes, root
//    pinning, root switches, TLB invalidation. Under Xen PV these are mmu_update
//    (MMU_NORMAL_PT_UPDATE), mmuext_op PIN_L4_TABLE/UNPIN_TABLE, NEW_BASEPTR +
//    NEW_USER_BASEPTR, INVLPG_LOCAL and TLB_FLUSH_LOCAL. The host tests implement it with a
//    fake that keeps machine tables in host memory and walks them.
//
// Both are abstract with protected non-virtual destructors, as wedge/backend.h: the core
// never deletes them, so the freestanding build needs no operator delete.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace afterburn::xen_shadow {

class guest_physical {
public:
    // The machine frame backing guest frame `gfn`; false if `gfn` is not guest RAM (a hole,
    // MMIO such as the xAPIC page, or beyond the guest's memory).
    virtual bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) = 0;
    // 8-byte aligned accesses to guest RAM; false outside guest RAM.
    virtual bool read_u64(uint64_t gpa, uint64_t &value) = 0;
    // Atomic: if *gpa == expected, store desired and return true; otherwise return false
    // and put the current value in `expected`.
    virtual bool cmpxchg_u64(uint64_t gpa, uint64_t &expected, uint64_t desired) = 0;
    // The 512 u64 of guest frame `gfn` as one read-only view, good until the next
    // frame_view, read_u64 or cmpxchg_u64 (gfn_to_mfn keeps it); nullptr if `gfn` is not
    // guest RAM. Reading many entries of one table
    // (a CR3 load's kernel half) costs one lookup instead of one read_u64 call per entry.
    virtual const volatile uint64_t *frame_view(uint64_t gfn) = 0;
    // The p2m as an array the core may read itself (mfn of gfn g = table[g] for g < frames),
    // if the p2m is one and stays where it is: a kept CR3 load checks the frame of every leaf
    // its space kept, and a call per frame was a fifth of that check (with four spaces).
    // nullptr: use gfn_to_mfn.
    virtual const uint64_t *p2m_table(uint64_t &frames)
    {
        frames = 0;
        return nullptr;
    }

protected:
    ~guest_physical() = default;
};

class hypervisor_mmu {
public:
    // Store `value` into entry `index` (0..511) of the shadow table in machine frame
    // `table_mfn`. The hypervisor validates it (Xen: mmu_update with ptr =
    // table_mfn << 12 | index * 8); false = refused (a core bug or a broken pool setup).
    virtual bool write_entry(uint64_t table_mfn, unsigned index, uint64_t value) = 0;
    // Several entries of one shadow table, in this order, as one request (Xen: one
    // mmu_update with `count` updates, at most 512): freeing a table clears every entry it
    // has at once.
    struct entry_update {
        uint16_t index;
        uint64_t value;
    };
    virtual bool write_entries(uint64_t table_mfn, const entry_update *updates, unsigned count) = 0;
    // Entries of any shadow tables, in this order, as one request (Xen: one mmu_update, at
    // most 512 updates; each update names its own table): a CR3 load clears the leaves of
    // every table it drops at once, and the hypervisor is entered once.
    struct table_update {
        uint64_t table_mfn;
        uint16_t index;
        uint64_t value;
    };
    virtual bool write_batch(const table_update *updates, unsigned count) = 0;
    // write_batch, then the real TLB told to drop one page (`va`) or, with `all`, everything,
    // as one request (Xen: one multicall of mmu_update and mmuext_op INVLPG_LOCAL or
    // TLB_FLUSH_LOCAL): a sync point that clears leaves enters the hypervisor once, not twice.
    virtual bool write_batch_then_invalidate(const table_update *updates, unsigned count, bool all,
                                             uint64_t va) = 0;
    // Keep a top-level table validated while it is not loaded (Xen: MMUEXT_PIN_L4_TABLE
    // and MMUEXT_UNPIN_TABLE). The core pins each root once at init.
    virtual bool pin_root(uint64_t mfn) = 0;
    virtual void unpin_root(uint64_t mfn) = 0;
    // Run the guest on these roots: `kernel` while the guest is in kernel mode, `user`
    // while it is in user mode (Xen PV x86-64: MMUEXT_NEW_BASEPTR and
    // MMUEXT_NEW_USER_BASEPTR; Xen switches between the two on guest mode changes).
    virtual bool set_roots(uint64_t kernel_mfn, uint64_t user_mfn) = 0;
    // Entries were removed or made stricter in the shadow tables: the real TLB must drop
    // what it cached for this page (Xen: MMUEXT_INVLPG_LOCAL) or for everything
    // (MMUEXT_TLB_FLUSH_LOCAL). Loosening an entry (read-only -> writable, absent ->
    // present) needs no flush: the CPU re-walks before it delivers a fault.
    virtual void invalidate_page(uint64_t va) = 0;
    virtual void flush_all() = 0;

protected:
    ~hypervisor_mmu() = default;
};

} // namespace afterburn::xen_shadow
