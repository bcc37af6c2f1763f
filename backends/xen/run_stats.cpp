#include "run_stats.h"

#include "console.h"
#include "console_line.h"
#include "exit.h"
#include "guest_platform.h"
#include "page_table_fast_path.h"
#include "page_table_sites.h"
#include "pv_memory.h"
#include "pv_direct.h"
#include "pv_shadow.h"
#include "shadow_costs.h"

extern "C" uint64_t wedge_inline_pushf_count, wedge_inline_popf_count;  // flags_fast_path.S
extern "C" uint64_t wedge_inline_sti_count;                            // sti_fast_path.S
extern "C" uint64_t wedge_inline_rdtsc_count, wedge_inline_rdtscp_count;  // tsc_fast_path.S

namespace xw {

using afterburn::site_kind;
using afterburn::site_kind_count;

constinit run_stats g_run_stats{};

namespace {

// Appends "name count" pairs to lines of at most ~200 characters (print's line buffer is 256).
void print_kind_counts(const char *title, const uint64_t *counts) {
    char line[224];
    unsigned len = 0;
    auto flush = [&](bool last) {
        line[len] = 0;
        if (len || last) print("xen-wedge: guest: %s:%s%s\n", title, len ? line : " none", last ? "" : " ...");
        len = 0;
    };
    for (unsigned k = 0; k < site_kind_count; ++k) {
        if (!counts[k]) continue;
        char num[24];
        unsigned nl = 0;
        for (uint64_t v = counts[k]; v || !nl; v /= 10) num[nl++] = static_cast<char>('0' + v % 10);
        const char *name = afterburn::site_kind_name(static_cast<site_kind>(k));
        unsigned need = 1;
        for (const char *q = name; *q; ++q) ++need;
        need += 1 + nl;
        if (len + need >= sizeof line - 1) flush(false);
        line[len++] = ' ';
        for (const char *q = name; *q; ++q) line[len++] = *q;
        line[len++] = ' ';
        while (nl) line[len++] = num[--nl];
    }
    flush(true);
}

} // namespace

void fold_fast_path_counts() {
    run_stats &s = g_run_stats;
    constexpr auto swapgs = static_cast<unsigned>(site_kind::swapgs), iret = static_cast<unsigned>(site_kind::iret);
    s.kind_entries[swapgs] += s.syscall_fast_unfolded + s.fused_returns_unfolded;
    s.swapgs_fast += s.syscall_fast_unfolded;
    s.entries += s.fused_returns_unfolded;
    s.kind_entries[iret] += s.fused_returns_unfolded;
    s.swapgs_user_return_fast += s.fused_returns_unfolded;
    s.user_entries += s.fused_returns_unfolded;
    s.syscall_fast_unfolded = s.fused_returns_unfolded = 0;
}

uint64_t fast_path_completions() {
    return wedge_inline_pushf_count + wedge_inline_popf_count + wedge_inline_sti_count + wedge_inline_rdtsc_count +
           wedge_inline_rdtscp_count + page_table_fast_completions();
}

void print_stats() {
    fold_fast_path_counts();
    const run_stats &s = g_run_stats;
    print_kind_counts("site entries by kind", s.kind_entries);
    print_page_table_site_stats(s.kind_entries);
    print("xen-wedge: guest: %lu pushf and %lu popf finished in the entry window (flags_fast_path.S)\n",
          wedge_inline_pushf_count, wedge_inline_popf_count);
    print("xen-wedge: guest: %lu sti finished in the entry window (sti_fast_path.S), %lu upcalls waited for the "
          "instruction after one\n",
          wedge_inline_sti_count, s.upcalls_in_sti_shadow);
    print("xen-wedge: guest: %lu rdtsc and %lu rdtscp finished in the entry window (tsc_fast_path.S)\n",
          wedge_inline_rdtsc_count, wedge_inline_rdtscp_count);
    print("xen-wedge: guest: %lu swapgs finished without the core (swapgs_fast_path.cpp)\n", s.swapgs_fast);
    print("xen-wedge: guest: %lu mov from CR finished without the core (cr_read_fast_path.cpp)\n", s.cr_read_fast);
    print("xen-wedge: guest: %lu user-mode exceptions delivered without the core (user_exception_fast_path.cpp)\n",
          s.user_exception_fast);
    print("xen-wedge: guest: %lu mov to or from a data segment register, %lu wrmsr of a segment base, %lu mov to CR3 "
          "finished without the core (segment_fast_path.cpp, msr_write_fast_path.cpp, cr3_write_fast_path.cpp)\n",
          s.segment_fast, s.msr_write_fast, s.cr3_write_fast);
    print("xen-wedge: guest: %lu GS loads between two swapgs in one entry (gs_index_fast_path.cpp)\n", s.gs_index_fast);
    print("xen-wedge: guest: %lu GS slot writes, %lu kernel slot writes left to the swapgs ahead (gs_free_entry.cpp)\n",
          s.gs_slot_writes, s.gs_slot_writes_deferred);
    print("xen-wedge: guest: %lu returns to user mode without the core, %lu of them with the swapgs before the "
          "iretq (user_return_fast_path.cpp)\n",
          s.user_return_fast + s.swapgs_user_return_fast, s.swapgs_user_return_fast);
    if (s.alternative_copy_entries)
        print("xen-wedge: guest: %lu of them from where Linux's alternatives copied a replacement site\n",
              s.alternative_copy_entries);
    print("xen-wedge: guest: fallback %lu (trap-and-emulate of unannotated sensitive instructions: %lu in "
          "user mode, %lu long enough to rewrite in place)\n",
          s.fallback, s.fallback_user, s.fallback_roomy);
    if (s.fallback) print_kind_counts("fallback by kind", s.kind_fallback);
    if (s.gated_traps)
        print("xen-wedge: guest: %lu CPUID-gated instructions trapped (the guest ran them although CPUID hides them)\n",
              s.gated_traps);
    if (s.xapic_accesses) print("xen-wedge: guest: %lu xAPIC MMIO accesses emulated\n", s.xapic_accesses);
    if (direct_active()) {
        const auto &d = direct().statistics();
        print("xen-wedge: guest: direct paging: %lu root loads, %lu tables converted, %u tracked, %lu "
              "released as data, %lu page-table stores and %lu loads through the wedge, %lu mappings of tables made "
              "read-only, %lu 2 MiB pages split, %lu entries outside guest RAM (%lu accesses through them: #PF with the reserved "
              "bit), %lu write faults on former tables\n",
              d.roots_loaded, d.tables_converted, d.tables_tracked, d.tables_released, d.entries_stored,
              d.entries_loaded, d.mappings_write_protected, d.large_pages_split, d.unreachable_entries,
              s.unreachable_faults, s.shadow_faults);
        print("xen-wedge: guest: direct paging queue: %lu entry updates queued, sent in %lu batches (%lu #PFs retried after "
              "sending them)\n",
              d.updates_queued, d.queue_flushes, s.queued_update_faults);
    } else {
        print("xen-wedge: guest: shadow: %lu faults filled for the guest, %lu CR3 loads (%lu kept the global kernel half, "
              "%lu rebuilt from empty), %lu flushes in all, %lu pool reclaims, %u tables in use\n",
              s.shadow_faults, s.cr3_loads, s.cr3_kept, s.cr3_loads - s.cr3_kept, shadow().stats().flushes,
              shadow().stats().pool_reclaims, shadow().stats().tables_in_use);
        print("xen-wedge: guest: shadow: %lu kept CR3 loads switched to another address space's roots: %lu kept for "
              "that root since it last ran, %lu given to it\n",
              shadow().stats().space_hits + shadow().stats().space_reuses, shadow().stats().space_hits,
              shadow().stats().space_reuses);
        print("xen-wedge: guest: shadow: %lu kept CR3 loads without a check (no page-table store since their space's "
              "last one), %lu whose check found a change all the same (shadow-verify; anything but 0 is a store the "
              "wedge did not see)\n",
              shadow().stats().unchecked_loads, shadow().stats().unchecked_stale);
    }
    print("xen-wedge: guest: %lu guest frames mapped into the wedge's temporary slots\n", guest_phys_remaps());
    print_shadow_costs();
}

const char *guest_symbol(uint64_t va, char *buf, unsigned size) {
    buf[0] = 0;
    const loaded_guest *g = g_guest_run.guest;
    const char *name;
    uint64_t off;
    if (!g || !g->elf || !afterburn::boot::symbol_at(*g->elf, g->link_address(va), name, off)) return buf;
    unsigned n = 0;
    auto put = [&](char c) {
        if (n + 1 < size) buf[n++] = c;
    };
    put(' ');
    put('(');
    for (const char *q = name; *q && n + 24 < size; ++q) put(*q);
    const char *hex = "0123456789abcdef";
    put('+');
    put('0');
    put('x');
    int shift = 60;
    while (shift > 0 && !((off >> shift) & 0xf)) shift -= 4;
    for (; shift >= 0; shift -= 4) put(hex[(off >> shift) & 0xf]);
    put(')');
    buf[n] = 0;
    return buf;
}

void fail_run(const char *what) {
    fold_fast_path_counts();
    const run_stats &s = g_run_stats;
    console_flush();
    print("xen-wedge: guest: %s\n", what);
    char a[96], b[96], r[96];
    print("xen-wedge: guest: at rip 0x%lx%s\n", g_guest_run.frame.rip, guest_symbol(g_guest_run.frame.rip, r, sizeof r));
    print("xen-wedge: guest: after %lu site entries (last: %s at 0x%lx%s), last exception vector %ld at 0x%lx%s\n",
          s.entries, s.entries ? afterburn::site_kind_name(static_cast<site_kind>(s.last_kind)) : "none", s.last_site,
          guest_symbol(s.last_site, a, sizeof a), static_cast<long>(s.last_vector), s.last_trap_rip,
          guest_symbol(s.last_trap_rip, b, sizeof b));
    print_stats();
    exit_with(verdict_fail);
}

} // namespace xw
