#include "run_stats.h"

#include "console.h"
#include "console_line.h"
#include "exit.h"

namespace xw {

using afterburn::site_kind;
using afterburn::site_kind_count;

constinit RunStats run_stats{};

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

void print_stats() {
    const RunStats &s = run_stats;
    print_kind_counts("site entries by kind", s.kind_entries);
    print("xen-wedge: guest: fallback %lu (trap-and-emulate of unannotated sensitive instructions: %lu in "
          "user mode, %lu long enough to rewrite in place)\n",
          s.fallback, s.fallback_user, s.fallback_roomy);
    if (s.fallback) print_kind_counts("fallback by kind", s.kind_fallback);
    if (s.xapic_accesses) print("xen-wedge: guest: %lu xAPIC MMIO accesses emulated\n", s.xapic_accesses);
}

void fail_run(const char *what) {
    const RunStats &s = run_stats;
    console_flush();
    print("xen-wedge: guest: %s\n", what);
    print("xen-wedge: guest: after %lu site entries (last: kind %lu at 0x%lx), last exception vector %ld at 0x%lx\n",
          s.entries, s.last_kind, s.last_site, static_cast<long>(s.last_vector), s.last_trap_rip);
    print_stats();
    exit_with(kFail);
}

} // namespace xw
