#include "gs_free_entry.h"

#include "afterburn/site_kind.h"
#include "entry_decode.h"
#include "guest_code.h"
#include "guest_platform.h"
#include "guest_probe.h"
#include "guest_sites.h"

namespace xw {

namespace {

constexpr unsigned max_steps = 64;
constexpr unsigned max_stores = 4;

// What the walk from one rip found: the offsets are from the rsp at that rip.
struct gs_free_path {
    uint64_t rip = 0;
    bool walked = false;
    bool reaches_swapgs = false;
    bool has_test = false;
    int64_t test_offset = 0;  // the byte `testb $3` reads
};

// Direct-mapped by rip (Linux's exception and interrupt entries; a collision walks again).
constexpr unsigned cache_size = 64;  // a power of two
constinit gs_free_path g_paths[cache_size]{};

gs_free_path walk(uint64_t rip) {
    gs_free_path out;
    out.rip = rip;
    out.walked = true;
    const wedge::site_table &sites = guest_sites();
    int64_t depth = 0;  // bytes pushed below the starting rsp
    int64_t stores[max_stores];
    unsigned store_count = 0;
    uint64_t at = rip;
    for (unsigned step = 0; step < max_steps; ++step) {
        uint32_t i = sites.first_at_or_after(at);
        const wedge::site *next_site = i < sites.count() ? &sites[i] : nullptr;
        if (next_site && next_site->start == at) {
            // A swapgs or a segment load: both are emulated on the vCPU's bases and leave the
            // wedge through a resume that syncs the slot. Any other site may not (the entry
            // window's own fast paths return straight to the guest).
            out.reaches_swapgs = next_site->rewritten &&
                                 (next_site->rec.kind == static_cast<uint8_t>(afterburn::site_kind::swapgs) ||
                                  next_site->rec.kind == static_cast<uint8_t>(afterburn::site_kind::mov_to_seg));
            return out;
        }
        // Inside a site's span (where its call returned) the guest runs the rewriter's fill:
        // NOPs, or an int3, which the decoder refuses.
        uint8_t b[16];
        if (!read_guest_code(at, b, sizeof b)) return out;
        entry_step s = decode_entry_step(b);
        uint64_t next = at + s.length;
        if (next_site && next > next_site->start) return out;  // runs into a site's bytes
        switch (s.kind) {
        case entry_step_kind::unknown: return out;
        case entry_step_kind::plain: break;
        case entry_step_kind::push: depth += 8; break;
        case entry_step_kind::call:
            depth += 8;
            next += static_cast<uint64_t>(s.target);
            break;
        case entry_step_kind::jump: next += static_cast<uint64_t>(s.target); break;
        case entry_step_kind::store_rsp:
            if (store_count == max_stores) return out;
            stores[store_count++] = s.disp - depth;
            break;
        case entry_step_kind::test_rpl_je: {
            int64_t off = s.disp - depth;
            // Only a byte that was on the stack at the start and that the way here did not
            // write: its value is known when the guest is resumed.
            if (out.has_test || off < 0) return out;
            for (unsigned i = 0; i < store_count; ++i)
                if (off >= stores[i] && off < stores[i] + 8) return out;
            out.has_test = true;
            out.test_offset = off;
            break;
        }
        }
        at = next;
    }
    return out;
}

} // namespace

bool gs_unused_until_swapgs(uint64_t rip, uint64_t rsp) {
    gs_free_path &p = g_paths[(rip ^ (rip >> 6)) & (cache_size - 1)];
    if (!p.walked || p.rip != rip) p = walk(rip);
    if (!p.reaches_swapgs) return false;
    if (!p.has_test) return true;
    uint8_t cs = 0;
    if (!guest_probe_read(rsp + static_cast<uint64_t>(p.test_offset), &cs, 1)) return false;
    return (cs & 3) != 0;  // the je is not taken
}

} // namespace xw
