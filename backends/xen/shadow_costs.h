// Where the shadow's time goes: TSC ticks per phase (instructions under QEMU -icount, so a
// run's breakdown is deterministic), printed at the end of the run. Cheap enough to stay on:
// two rdtsc per measured call.
#pragma once

#include <stdint.h>

namespace xw {

enum class shadow_phase : unsigned {
    cr3_load,       // backend::load_cr3 in all: the shadow's drop + collision scan
    cr3_load_hv,    // of which: in hypercalls (the three hv_/guest_map phases below)
    stack_refill,   // prefilling the stacks after the shadow forgot them (guest_stacks.cpp)
    fault,          // handle_fault for a guest #PF (walk, A/D, install)
    fault_hv,       // of which: in hypercalls
    hv_update,      // mmu_update hypercalls (shadow entry writes)
    hv_mmuext,      // mmuext_op hypercalls (invlpg, flush, roots)
    guest_map,      // update_va_mapping of a guest frame into a temporary slot
    prefill,        // shadowing a user #PF's address on the way back to user mode (fault_prefill.h)
    invlpg,         // backend::invalidate_page in all: the shadow's drop + the stack bookkeeping
    invlpg_hv,      // of which: in hypercalls
    // Direct paging (docs/xen-direct-paging.md, "Cost"):
    direct_load,    // a page-table load site's memory access (translate, is_table, load)
    direct_store,   // a page-table store site's memory access
    direct_root,    // load_root (adoption, pin, user root the first time)
    direct_fault,   // on_write_fault
    direct_hv,      // the core's mmu_update / mmuext_op hypercalls
    direct_flush,   // sending the queued updates outside a site (return to the guest, #PF)
    // The core's parts inside a new root's load and a root's release (direct_cost.h,
    // xen_direct::cost_part, in its order; nested ones overlap):
    direct_adopt_mark,     // adopt's passes: finding the tree's guest-form frames,
    direct_adopt_convert,  // converting them,
    direct_adopt_aliases,  // R/W off their linear-map aliases (and splits:)
    direct_adopt_splits,   // R/W off their mappings in the pool's splits
    direct_root_typed,     // a new root's become_typed (adopt and its children)
    direct_root_pin,       // a new root's pin (Xen's validation)
    direct_root_ranges,    // put_ranges
    direct_root_user,      // make_user_root
    direct_root_release,   // release_root
    direct_untyped,        // become_untyped (recursive: nested calls counted in each)
    direct_convert_views,  // convert's writable view of each frame
    direct_typed_children, // an outermost become_typed's loop over its children
    direct_convert_splits, // convert's 2 MiB entries split into pool L1s
    count
};

struct shadow_cost {
    uint64_t ticks = 0, calls = 0;
};
extern shadow_cost g_shadow_costs[static_cast<unsigned>(shadow_phase::count)];

inline uint64_t cost_now() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return static_cast<uint64_t>(hi) << 32 | lo;
}

uint64_t hypercall_ticks();  // the hv_update, hv_mmuext and guest_map ticks so far

// Adds the ticks from construction to destruction to one phase, and with `hv` the
// hypercall ticks among them to another.
class cost_scope {
public:
    explicit cost_scope(shadow_phase p, shadow_phase hv = shadow_phase::count)
        : p_(static_cast<unsigned>(p)), hv_(static_cast<unsigned>(hv)), t0_(cost_now()),
          hv0_(hv_ < static_cast<unsigned>(shadow_phase::count) ? hypercall_ticks() : 0) {}
    ~cost_scope() {
        g_shadow_costs[p_].ticks += cost_now() - t0_;
        ++g_shadow_costs[p_].calls;
        if (hv_ < static_cast<unsigned>(shadow_phase::count)) {
            g_shadow_costs[hv_].ticks += hypercall_ticks() - hv0_;
            ++g_shadow_costs[hv_].calls;
        }
    }
    cost_scope(const cost_scope &) = delete;
    cost_scope &operator=(const cost_scope &) = delete;

private:
    unsigned p_, hv_;
    uint64_t t0_, hv0_;
};

void print_shadow_costs();

} // namespace xw
