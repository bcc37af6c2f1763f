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
        if (const wedge::site *t = sites.find_by_insn(at)) {
            // Any other site enters the wedge on a way that may not sync the slot (the entry
            // window's own fast paths return straight to the guest).
            out.reaches_swapgs = t->start == at && t->rewritten &&
                                 t->rec.kind == static_cast<uint8_t>(afterburn::site_kind::swapgs);
            return out;
        }
        uint8_t b[16];
        if (!read_guest_code(at, b, sizeof b)) return out;
        entry_step s = decode_entry_step(b);
        uint64_t next = at + s.length;
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
