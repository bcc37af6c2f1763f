// Finding a table's present entries eight at a time (docs/xen-direct-paging.md, "The new root"):
// the core's loops over a table's 512 entries (adoption's passes, a root's children, a table
// given back) mostly meet absent entries, and one test per entry was most of their cost.
#pragma once

#include <stdint.h>

#include "entry_format.h"

namespace afterburn::xen_direct {

// The first index in [from, end) whose entry has P, or `end`, which must be a multiple of 8 (the
// groups of eight are read whole). Each entry is read through the view as it is now (the
// caller takes the view again after a call that may map another frame, and passes the new one).
inline unsigned next_present(const volatile uint64_t *v, unsigned from, unsigned end)
{
    unsigned i = from;
    for (; (i & 7) != 0 && i < end; ++i)
        if (v[i] & pte::present) return i;
    for (; i < end; i += 8)
        if ((v[i] | v[i + 1] | v[i + 2] | v[i + 3] | v[i + 4] | v[i + 5] | v[i + 6] | v[i + 7]) & pte::present)
            break;
    for (; i < end; ++i)
        if (v[i] & pte::present) return i;
    return end;
}

} // namespace afterburn::xen_direct
