// What the run counts, printed with the verdict or a failure: site entries per kind, the
// trap-and-emulate fallbacks, exceptions delivered, upcalls, and what the wedge did last.
#pragma once

#include <stdint.h>

#include "afterburn/site_kind.h"

namespace xw {

struct run_stats {
    uint64_t entries, traps_delivered, user_entries, steps;
    uint64_t upcalls, upcalls_in_wedge, upcall_deliveries;
    uint64_t upcalls_in_sti_shadow;  // upcalls held one instruction after an inline sti
    // Entries of annotated sites (rewritten calls, ring-3 traps) and trap-and-emulate
    // fallbacks (sensitive instructions that reached the wedge without a record), per kind.
    uint64_t kind_entries[afterburn::site_kind_count], kind_fallback[afterburn::site_kind_count];
    uint64_t fallback, fallback_roomy, fallback_user, xapic_accesses;
    uint64_t gated_traps;  // CPUID-gated instructions (gated_class.h) that trapped anyway
    uint64_t alternative_copy_entries;  // entries from copies Linux's alternatives made of a site
    uint64_t trace_fallbacks;  // the wedge option fallback-trace=N: report the first N
    uint64_t trace_traps;      // trap-trace=N: exceptions and site entries
    bool heartbeat;            // wedge option heartbeat: a progress line every 5 s
    uint64_t shadow_faults;    // #PFs the shadow filled (the guest never saw them)
    uint64_t unreachable_faults; // direct paging: accesses through entries naming frames outside guest RAM
    uint64_t queued_update_faults; // direct paging: #PFs retried after sending the queued updates
    uint64_t cr3_loads, cr3_kept;  // guest CR3 loads, and those that kept the kernel half
    uint64_t swapgs_fast;  // swapgs sites finished without the core (swapgs_fast_path.cpp)
    uint64_t cr_read_fast;  // mov-from-CR sites finished without the core (cr_read_fast_path.cpp)
    uint64_t user_exception_fast;  // user-mode exceptions delivered without the core (user_exception_fast_path.cpp)
    uint64_t segment_fast;  // mov to/from DS, ES, FS, GS finished without the core (segment_fast_path.cpp)
    uint64_t msr_write_fast;  // wrmsr of FS_BASE, GS_BASE, KERNEL_GS_BASE without the core (msr_write_fast_path.cpp)
    uint64_t gs_index_fast;  // swapgs; mov to GS; swapgs in one entry (gs_index_fast_path.cpp)
    uint64_t cr3_write_fast;  // mov to CR3 without the core, direct paging (cr3_write_fast_path.cpp)
    uint64_t gs_slot_writes;  // HYPERVISOR_set_segment_base for a GS slot (sync_gs)
    uint64_t gs_slot_writes_deferred;  // resumes that left Xen's kernel GS slot for the swapgs ahead (gs_free_entry.h)
    // Returns to user mode without the core (user_return_fast_path.cpp): at the iretq site, and
    // at the swapgs whose code leads to it (both sites in one entry).
    uint64_t user_return_fast, swapgs_user_return_fast;
    // The two system-call fast paths count once each and fold_fast_path_counts spreads that
    // over the counters above before anyone reads them: the `syscall` with the swapgs at LSTAR
    // (syscall_fast_path.cpp: a swapgs site entry, swapgs_fast) and the fused return
    // (user_return_fast_path.cpp: a site entry, a swapgs and an iretq site entry,
    // swapgs_user_return_fast, a return to user mode). One increment each instead of five.
    uint64_t syscall_fast_unfolded, fused_returns_unfolded;
    // The last site run and the last exception delivered, for a failure report.
    uint64_t last_site, last_kind, last_vector = ~0ull, last_trap_rip;
};
extern run_stats g_run_stats;

// Adds the fast paths' single counts (syscall_fast_unfolded, fused_returns_unfolded) into the
// counters they stand for and clears them: called before every read of those counters.
void fold_fast_path_counts();

// Sites the entry window finished without the core (sti_fast_path.S, flags_fast_path.S,
// tsc_fast_path.S): progress as much as a site entry (a guest spinning on rdtsc is not stuck).
uint64_t fast_path_completions();

// The end-of-run statistics: per-kind site entries and the fallback counter ("fallback N"
// is what xen.guest.progress / xen.guest.stripped check).
void print_stats();

// Prints " (symbol+0xoff)" for a guest address (its link address if it lies in the image's
// physical alias), or nothing when the guest has no symbols: into buf (at least 96 bytes).
const char *guest_symbol(uint64_t va, char *buf, unsigned size);

// Reports `what` with the last site and exception and the statistics; verdict_fail.
[[noreturn]] void fail_run(const char *what);

} // namespace xw
