// Linux's alternatives, as a wedge must see them. At boot, apply_alternatives() copies an
// .altinstr_replacement sequence over the original instructions wherever the CPU has the
// feature it names (.altinstructions lists each pair). A replacement site the plan rewrote
// (`call *slot`: position independent, docs/wedge-abi.md) then also runs at the copy, and its
// call returns into the original code, where the site table has no such site. This table holds
// every place each rewritten replacement site may land, read from .altinstructions, so a wedge
// finds the record behind a call from a copy. Freestanding: the caller supplies the storage.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "wedge/site_table.h"

namespace afterburn::wedge {

// A place Linux may copy a replacement site's span to.
struct site_copy {
    uint64_t start = 0;      // where the span lands (the original instruction + its offset)
    const site *of = nullptr;  // the rewritten site in .altinstr_replacement
    // Link address in the copy minus the same byte in .altinstr_replacement, negated: what a
    // wedge subtracts from the site's addresses to run it at the copy.
    uint64_t alias() const { return of->start - start; }
};

struct alternatives_result {
    bool ok = false;
    const char *why = "";       // when !ok
    uint64_t where = 0;         // when !ok: the .altinstructions entry (link address), if any
    uint32_t entries = 0;       // .altinstructions entries read
    uint32_t entry_size = 0;    // the layout that fits: 12 (Linux up to 6.2), 13 (with padlen), 14 (6.3+)
    uint32_t copies = 0;        // places rewritten replacement sites may land
    uint32_t trapping = 0;      // ... of which carry an int3 (resolved only at the replacement)
};

class alternative_copies {
public:
    constexpr alternative_copies(site_copy *storage, uint32_t capacity) : copies_(storage), capacity_(capacity) {}

    // Reads .altinstructions: its `len` bytes at `table`, which sit at link address `va`;
    // .altinstr_replacement is [repl_lo, repl_hi). The entry layout is the one under which
    // every entry's replacement lies inside .altinstr_replacement and is no longer than its
    // original. Every rewritten site of `sites` inside an entry's replacement gets a copy at
    // the entry's instruction plus the site's offset. Fails (with why) when no layout fits,
    // a rewritten site is cut off by the replacement's length, or the storage is full.
    alternatives_result collect(const site_table &sites, const uint8_t *table, uint64_t len, uint64_t va,
                                uint64_t repl_lo, uint64_t repl_hi);

    // The copy whose `call *slot` of `kind` returns to `ret` (the call starts the span), or
    // null. `ambiguous`: more than one replacement of that kind may land there and their
    // original instructions differ, so which one Linux applied cannot be told from here.
    const site_copy *find_by_return(uint64_t ret, uint8_t kind, bool &ambiguous) const;

private:
    uint32_t first_at_or_after(uint64_t start) const;

    site_copy *copies_;
    uint32_t capacity_;
    uint32_t count_ = 0;
};

template <uint32_t N>
class alternative_copies_of : public alternative_copies {
public:
    constexpr alternative_copies_of() : alternative_copies(storage_, N) {}

private:
    site_copy storage_[N];
};

} // namespace afterburn::wedge
