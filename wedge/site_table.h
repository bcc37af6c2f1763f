// The guest's annotated sites, sorted by address: what a wedge looks up when a rewritten
// site calls it (by the call's return address), when a site traps (by the instruction's
// address), and when the core reads guest text that rewriting replaced (the original bytes).
// Every record a wedge or `afterburn rewrite` takes from an Afterburn note enters through
// add(); admit() is the one place that decides whether a record may. Freestanding: the caller
// supplies the storage (site_table_of<N> carries its own, constant-initialized: no global
// constructor), nothing is allocated.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "afterburn/annotation.h"
#include "afterburn/annotation_reader.h"
#include "afterburn/site_rewriter.h"
#include "wedge/page_table_access.h"

namespace afterburn::wedge {

struct site {
    static constexpr uint32_t max_span = 32;  // longest instruction + padding a table keeps
    uint64_t start = 0, end = 0;  // the span [start, end): a rewritten site's entry returns to `end`
    uint64_t insn = 0;            // the instruction's link address (start + pad_len with pad_before)
    annotation::site_record rec{};
    // Bits, so that the page-table description below fits in what was padding: the Xen
    // wedge's table of 4,096 sites lives in Xen's initial mapping, which has no room to spare.
    bool user_code : 1 = false;  // in the guest's ring-3 code (its .user sections)
    bool position_independent : 1 = false;  // the code also runs at another address: call *slot
    bool rewritten : 1 = false;  // the span holds the plan's call or inline store
    bool trapping : 1 = false;   // the instruction's first byte is an int3 the wedge resolves
    page_table_access pt{};  // a page-table site the wedge performs: its operation (describe_page_table_sites)
    uint8_t original[max_span] = {};  // the span before it was changed (rewritten || trapping)
    uint32_t size() const { return static_cast<uint32_t>(end - start); }
    bool changed() const { return rewritten || trapping; }
    // Where the call of a rewritten call site returns (rewriter/site_rewriter.h: the call
    // starts the span; `call *slot` in .altinstr_replacement and position-independent code).
    uint64_t call_return() const
    {
        bool slot = position_independent || (rec.flags & annotation::flag_replacement);
        return start + (slot ? rewriter::call_slot_len : rewriter::call_rel32_len);
    }
    // Where the guest goes on after the site's call returned to `ret` (the site running
    // `alias` bytes below its link address): `ret` itself, since the rest of the span is NOP
    // padding that Linux's alternatives may have merged into longer NOPs (wedge::emulate),
    // except after an interrupt-shadow instruction: the instruction it protects, at the span's
    // end, must run next (not the NOP fill after the call of a site padded with prefixes), and
    // with NOPs in front (pad_before) the instruction's int3 boundary ends the span.
    uint64_t resume_after_call(uint64_t ret, uint64_t alias = 0) const
    {
        return annotation::shadows_interrupts(rec) ? end - alias : ret;
    }
};

// What add() did with one record.
enum class admission : uint8_t {
    site,      // an instruction site, now in the table
    not_site,  // a well-formed record that names no instruction (kind none, a code region)
    refused,   // malformed: `why` says how; the image must not run
    full,      // the table's storage is exhausted
};

struct admit_result {
    admission what = admission::refused;
    const char *why = "";  // for refused / full
};

// The record add_notes() stopped at, for the caller's message.
struct note_refusal {
    bool refused = false;
    uint32_t record = 0;  // index in its table
    uint8_t kind = 0;
    uint64_t site_addr = 0;
    const char *why = "";
};

// Two spans that overlap (or a record given twice), found by seal().
struct site_conflict {
    const site *first = nullptr, *second = nullptr;
};

static_assert(sizeof(site) == 80, "a site grew: the Xen wedge's table has no room for it (see above)");

class site_table {
public:
    constexpr site_table(site *storage, uint32_t capacity) : sites_(storage), capacity_(capacity) {}

    // Page-table records (page_table_store/_load) take a slot only when asked, per kind, before
    // the first add(): a plan that routes them through the wedge (--pt-sites stores|wedge)
    // needs them.
    void keep_page_table_sites(bool stores, bool loads)
    {
        keep_page_table_store_ = stores;
        keep_page_table_load_ = loads;
    }

    // Adds the record whose instruction lies at link address `site_addr` (the record's
    // `site` field resolved against where the field sits in the guest). Before seal() only.
    admit_result add(const annotation::site_record &rec, uint64_t site_addr);

    // Adds every record of the note segment [bytes, bytes + size), which the guest sees at
    // `vaddr` (a record's `site` is relative to where that field sits in guest memory). Stops
    // adding at the first record add() refuses (`refusal` says which); the result's error is
    // the first malformed note.
    annotation::walk_result add_notes(const uint8_t *bytes, uint64_t size, uint64_t vaddr, note_refusal &refusal);

    // Sorts the sites by address and checks that no two spans overlap; false with the first
    // conflicting pair otherwise. Lookups need a sealed table.
    bool seal(site_conflict &conflict);

    // Marks the sites that overlap [lo, hi) as ring-3 code (the guest's .user sections).
    void mark_user_code(uint64_t lo, uint64_t hi);

    // Marks the sites that overlap [lo, hi) as code that also runs at another address (Linux's
    // head code, entered at its physical alias): their calls take the `call *slot` form.
    void mark_position_independent(uint64_t lo, uint64_t hi);

    // The rewritten site whose call returns to `ret` (ret lies in (start, end]), or null.
    const site *find_by_return(uint64_t ret) const;
    // The site whose instruction is at `insn`, or null.
    const site *find_by_insn(uint64_t insn) const;
    // Index of the first site starting at or after `addr` (count() if none).
    uint32_t first_at_or_after(uint64_t addr) const { return addr ? first_starting_after(addr - 1) : 0; }

    // Puts the original bytes of every changed span back into `buf`, which holds the guest's
    // bytes [va, va + len): the core reads a memory operand's displacement from the
    // instruction (docs/annotation-format.md), which rewriting replaced.
    void overlay_original(uint64_t va, uint8_t *buf, size_t len) const;

    uint32_t count() const { return count_; }
    uint32_t capacity() const { return capacity_; }
    site &operator[](uint32_t i) { return sites_[i]; }
    const site &operator[](uint32_t i) const { return sites_[i]; }

private:
    admit_result admit(const annotation::site_record &rec) const;
    uint32_t first_starting_after(uint64_t addr) const;  // index of the first site with start > addr

    site *sites_;
    uint32_t capacity_;
    uint32_t count_ = 0;
    bool keep_page_table_store_ = false, keep_page_table_load_ = false;
};

// A table with its own storage of N sites. (A wedge keeps a large table's storage in a
// separate array: an object that also holds the pointer to it lands in .data, not .bss.)
template <uint32_t N>
class site_table_of : public site_table {
public:
    constexpr site_table_of() : site_table(storage_, N) {}

private:
    site storage_[N];
};

} // namespace afterburn::wedge
