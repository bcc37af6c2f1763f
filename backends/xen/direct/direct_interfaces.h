// What the direct-paging core needs from its surroundings (docs/xen-direct-paging.md):
//
//  * guest_memory — guest RAM by frame: the p2m and the M2P restricted to the guest's own
//    frames, a read view of any frame (guest or the wedge's pool), and a writable view of a
//    guest frame that Xen does not use as a page table at that moment.
//  * xen_mmu — the page-table hypercalls: mmu_update (MMU_NORMAL_PT_UPDATE, Xen validates
//    each entry against the types of the frames involved), pinning, the two roots of a
//    64-bit PV vCPU, TLB invalidation.
//
// Abstract with protected non-virtual destructors (the core never deletes them), as
// shadow_interfaces.h. Host tests implement both with a fake Xen that keeps Xen's type rules.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace afterburn::xen_direct {

class guest_memory {
public:
    // The machine frame of guest frame `gfn`; false outside guest RAM (a hole, MMIO, beyond).
    virtual bool gfn_to_mfn(uint64_t gfn, uint64_t &mfn) = 0;
    // The guest frame a machine frame backs; false if it is not guest RAM (the wedge's own
    // frames, Xen's, another domain's).
    virtual bool mfn_to_gfn(uint64_t mfn, uint64_t &gfn) = 0;
    // 512 entries of machine frame `mfn`, read-only, good until the next view; nullptr if
    // the wedge cannot map it.
    virtual const volatile uint64_t *read_view(uint64_t mfn) = 0;
    // 512 entries of guest frame `gfn`, writable, good until the next view. Only for a
    // frame Xen does not hold as a page table; the core calls end_write before it links
    // the frame (Xen refuses a table that is mapped writable anywhere).
    virtual volatile uint64_t *write_view(uint64_t gfn) = 0;
    virtual void end_write() = 0;

protected:
    ~guest_memory() = default;
};

class xen_mmu {
public:
    // One entry update: `ptr` the machine address of the entry, `value` its new contents.
    struct update {
        uint64_t ptr;
        uint64_t value;
    };
    // mmu_update: applied in order, stops at the first refusal; false = refused.
    virtual bool update_entries(const update *updates, unsigned count) = 0;
    // MMUEXT_PIN_L4_TABLE / MMUEXT_UNPIN_TABLE: a root stays validated while not loaded.
    virtual bool pin_l4(uint64_t mfn) = 0;
    virtual bool unpin(uint64_t mfn) = 0;
    // MMUEXT_NEW_BASEPTR and MMUEXT_NEW_USER_BASEPTR (Xen loads `user` in guest user mode).
    virtual bool set_roots(uint64_t kernel_mfn, uint64_t user_mfn) = 0;
    // MMUEXT_INVLPG_LOCAL / MMUEXT_TLB_FLUSH_LOCAL.
    virtual void invalidate_page(uint64_t va) = 0;
    virtual void flush_all() = 0;
    // The updates, then the invalidation of `va` (all of the TLB if `all`): one multicall on
    // Xen, whose entry is a good part of a one-entry update's cost. False = an update refused
    // (the invalidation is made anyway).
    virtual bool update_then_invalidate(const update *updates, unsigned count, bool all, uint64_t va)
    {
        const bool ok = update_entries(updates, count);
        if (all) flush_all();
        else invalidate_page(va);
        return ok;
    }

protected:
    ~xen_mmu() = default;
};

} // namespace afterburn::xen_direct
