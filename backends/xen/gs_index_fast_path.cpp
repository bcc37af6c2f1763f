#include "gs_index_fast_path.h"

#include "afterburn/site_kind.h"
#include "guest_code.h"
#include "guest_sites.h"
#include "switch_fast_path.h"
#include "segment_fast_path.h"

namespace xw {

namespace {

namespace an = afterburn::annotation;
using afterburn::site_kind;

// Bytes that change nothing but RIP for one CPU: x86's recommended NOPs (what Linux's
// alternatives leave when a replacement does not apply), and mfence/lfence, which only order
// this CPU's memory accesses against other agents' (X86_BUG_SWAPGS_FENCE's replacement).
bool no_effect(const uint8_t *b, unsigned len) {
    for (unsigned i = 0; i < len;) {
        const unsigned left = len - i;
        if (b[i] == 0x90) { ++i; continue; }
        if (left >= 2 && b[i] == 0x66 && b[i + 1] == 0x90) { i += 2; continue; }
        if (left >= 3 && b[i] == 0x0f && b[i + 1] == 0x1f && b[i + 2] == 0x00) { i += 3; continue; }
        if (left >= 4 && b[i] == 0x0f && b[i + 1] == 0x1f && b[i + 2] == 0x40 && b[i + 3] == 0x00) { i += 4; continue; }
        if (left >= 3 && b[i] == 0x0f && b[i + 1] == 0xae && (b[i + 2] == 0xf0 || b[i + 2] == 0xe8)) { i += 3; continue; }
        return false;
    }
    return true;
}

// A site whose rewritten call the guest reaches at its start and that the fused entry may
// stand for: rewritten in place with a rel32 call, not a copy's or an alias's.
bool plain_call_site(const wedge::site &s) {
    return s.rewritten && !s.user_code && !s.position_independent && !s.trapping &&
           !(s.rec.flags & an::flag_replacement);
}

// The GS load and the second swapgs after `first`, or null. Spans are NOP-padded after their
// call (site_table.h, resume_after_call), so the load's span starting where the first one ends
// is the next instruction; between the load and the second swapgs only no_effect bytes. The
// site table and the code are fixed once the guest runs (Linux's alternatives switch the gap
// only between a NOP and mfence), so the last sequence found is kept. Any other swapgs site
// fails the table's checks before its code is read.
struct fused_sequence {
    const wedge::site *first = nullptr, *load = nullptr, *second = nullptr;
};
constinit fused_sequence g_last{};

const fused_sequence *sequence_after(const wedge::site &first) {
    if (g_last.first == &first) return &g_last;
    const wedge::site_table &t = guest_sites();
    const wedge::site *base = &t[0];
    if (&first < base || &first >= base + t.count()) return nullptr;
    const auto i = static_cast<uint32_t>(&first - base);
    if (i + 2 >= t.count() || !plain_call_site(first)) return nullptr;
    const wedge::site &load = base[i + 1], &second = base[i + 2];
    if (load.start != first.end || load.rec.kind != static_cast<uint8_t>(site_kind::mov_to_seg) ||
        load.rec.special != an::seg_gs || (load.rec.flags & an::flag_memory) || !plain_call_site(load))
        return nullptr;
    if (second.rec.kind != static_cast<uint8_t>(site_kind::swapgs) || !plain_call_site(second) ||
        second.start < load.end || second.start - load.end > 8)
        return nullptr;
    uint8_t gap[8];
    const auto gap_len = static_cast<unsigned>(second.start - load.end);
    if (gap_len && (!read_guest_code(load.end, gap, gap_len) || !no_effect(gap, gap_len))) return nullptr;
    g_last = fused_sequence{&first, &load, &second};
    return &g_last;
}

} // namespace

void try_gs_index_fast(const wedge::site &first, uint64_t resume_at) {
    wedge::vcpu &c = cpu();
    wedge::frame &fr = g_guest_run.frame;
    if (!kernel_fast_path_open(c, fr) || resume_at != first.call_return()) return;
    const fused_sequence *f = sequence_after(first);
    if (!f) return;
    const wedge::site &load = *f->load;
    const auto sel = static_cast<uint16_t>(fr.gpr[load.rec.reg & 15]);
    uint64_t base;
    // The load's checks depend on the selector, the GDT and CPL, none of which swapgs changes.
    if (!data_segment_loads(c, an::seg_gs, sel, base)) return;
    c.swap_gs_bases();
    load_data_segment(c, an::seg_gs, sel, base);
    c.swap_gs_bases();
    ++g_run_stats.gs_index_fast;
    ++g_run_stats.kind_entries[first.rec.kind];
    ++g_run_stats.kind_entries[load.rec.kind];
    finish_switch_fast(c, fr, *f->second, f->second->call_return());
}

} // namespace xw
