// Linux's page-table accesses through the Xen wedge (`afterburn boot --on xen --pt-sites
// stores|wedge`, wedge option pt-sites=): the Xen plan rewrites every page_table_store site
// (stores), or every page_table_store/_load site (wedge), into a call of its entry, and the wedge
// performs the access (wedge/page_table_access.h) on guest memory as it is (shadow paging: it
// tells the shadow of every store), the base on which direct paging translates frame numbers.
#pragma once

#include <stdint.h>

#include "guest_loader.h"
#include "wedge/dispatch.h"
#include "wedge/rewrite_plan.h"
#include "wedge/site_rewrite.h"
#include "wedge/site_table.h"

namespace xw {

// From the wedge's command line (pt-sites=native|stores|wedge); false for another value.
bool set_page_table_sites(const char *value, unsigned len);
afterburn::wedge::page_table_sites page_table_sites_mode();

// Before rewriting (wedge mode): describes each page-table site of `t` from its bytes, with
// memcpy/memmove/memset from the guest's symbols; prints the counts, or the site it refuses
// and why (false: the guest must not run).
bool describe_guest_page_table_sites(const loaded_guest &g, afterburn::wedge::site_table &t,
                                     afterburn::wedge::site_bytes &text);

// Performs the page-table site `s` at `site_addr` on g_guest_run.frame (as run_site does for
// the other kinds).
afterburn::wedge::site_exit run_page_table_site(const afterburn::wedge::site &s, uint64_t site_addr,
                                                uint64_t resume_at);

// From the entry (site_dispatch), before the core: when nothing can be delivered at the
// site's exit (CPL 0, no guest TF, IF clear or nothing pending), performs the site and
// returns to the guest without polling devices or the rest of resume(), as the swapgs fast
// path does; a fault is delivered the core's way. Otherwise returns, and the core runs it.
void try_page_table_fast(const afterburn::wedge::site &s, uint64_t site_addr, uint64_t resume_at);

// After rewriting: every described page-table site must have become a call (a site left as
// it is would bypass the wedge unseen); prints how many of each kind were rewritten.
bool check_page_table_rewrites(const afterburn::wedge::rewrite_counts &c);

// The end-of-run line: how often the sites ran (from the per-kind entry counts).
void print_page_table_site_stats(const uint64_t *kind_entries);

} // namespace xw
