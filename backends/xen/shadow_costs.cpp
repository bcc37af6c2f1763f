#include "shadow_costs.h"

#include "console.h"
#include "pv_direct.h"
#include "pv_shadow.h"

namespace xw {

constinit shadow_cost g_shadow_costs[static_cast<unsigned>(shadow_phase::count)]{};

uint64_t hypercall_ticks() {
    return g_shadow_costs[static_cast<unsigned>(shadow_phase::hv_update)].ticks +
           g_shadow_costs[static_cast<unsigned>(shadow_phase::hv_mmuext)].ticks +
           g_shadow_costs[static_cast<unsigned>(shadow_phase::guest_map)].ticks;
}

void print_shadow_costs() {
    static constexpr const char *names[] = {"cr3_load", "cr3_load_hv", "stack_refill", "fault", "fault_hv",
                                            "hv_update", "hv_mmuext", "guest_map", "prefill",
                                            "invlpg", "invlpg_hv",
                                            "direct_load", "direct_store", "direct_root", "direct_fault",
                                            "direct_hv", "direct_flush",
                                            "direct_adopt_mark", "direct_adopt_convert", "direct_adopt_aliases",
                                            "direct_adopt_splits", "direct_root_typed", "direct_root_pin",
                                            "direct_root_ranges", "direct_root_user", "direct_root_release",
                                            "direct_untyped", "direct_convert_views", "direct_typed_children", "direct_convert_splits"};
    static_assert(sizeof names / sizeof *names == static_cast<unsigned>(shadow_phase::count));
    for (unsigned i = 0; i < static_cast<unsigned>(shadow_phase::count); ++i) {
        const shadow_cost &c = g_shadow_costs[i];
        print("xen-wedge: guest: shadow cost %s: %lu calls, %lu ticks, %lu per call\n", names[i], c.calls, c.ticks,
              c.calls ? c.ticks / c.calls : 0);
    }
    if (direct_active()) return;
    const xs::shadow_stats &st = shadow().stats();
    print("xen-wedge: guest: shadow: %lu entries written, %lu tables allocated, %lu user leaves kept by CR3 loads, "
          "%lu user faults prefilled before their retry\n",
          st.entries_written, st.tables_allocated, st.leaves_kept, st.prefills);
}

} // namespace xw
