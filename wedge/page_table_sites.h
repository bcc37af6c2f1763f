// Before a plan with page_table_calls rewrites a table: every page-table site is described
// (its operation read from its original bytes, page_table_access.h) or the whole image is
// refused, naming the first site the wedge could not perform. Nothing is left native
// silently. Freestanding.
#pragma once

#include <stdint.h>

#include "wedge/page_table_access.h"
#include "wedge/site_rewrite.h"
#include "wedge/site_table.h"

namespace afterburn::wedge {

struct page_table_refusal {
    const site *where = nullptr;  // null: every page-table site is described
    const char *why = "";
};

struct page_table_site_counts {
    uint32_t stores = 0, loads = 0;  // described sites of each kind
    uint32_t by_form[3] = {};        // memory operand, string, block call
};

// Describes each page-table site of the sealed table `t` from its bytes in `mem` (before
// apply_plan changes them). A site outside the image's bytes is refused too.
page_table_site_counts describe_page_table_sites(site_table &t, site_bytes &mem, const block_functions &fns,
                                                 page_table_refusal &refusal);

} // namespace afterburn::wedge
