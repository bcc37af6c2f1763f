#include "wedge/site_rewrite.h"

#include "afterburn/record_check.h"

namespace afterburn::wedge {

rewrite_counts apply_plan(site_table &t, const rewrite_plan &p, site_bytes &mem)
{
    rewrite_counts c;
    for (uint32_t i = 0; i < t.count(); ++i) {
        site &s = t[i];
        site_action a = action_for(p, s);
        if (a == site_action::leave_by_plan) { ++c.by_plan; continue; }
        if (a == site_action::leave_replacement) { ++c.replacement; continue; }
        if (a == site_action::leave_user) { ++c.user; continue; }
        uint8_t *bytes = mem.span(s.start, s.size());
        if (!bytes) {
            if (a == site_action::user_int3) ++c.user; else ++c.outside;
            continue;
        }
        for (uint32_t b = 0; b < s.size(); ++b) s.original[b] = bytes[b];
        // The record check every reader shares, on the bytes it describes: padding prefixes in
        // exactly afterburn-as's form (record_check.h). Anything else is not rewritten.
        if (annotation::check_padding_prefixes(s.rec, bytes + (s.insn - s.start)) != annotation::padding_error::ok) {
            ++c.failed;
            mem.cannot_rewrite(s, rewriter::outcome::bad_record);
            continue;
        }
        if (a == site_action::user_int3) {
            bytes[s.insn - s.start] = 0xcc;
            s.trapping = true;
            ++c.user;
            ++c.user_int3;
            continue;
        }
        rewriter::site_span sp{s.start, s.insn, s.size()};
        if (p.every_site_position_independent) s.position_independent = true;
        auto o = rewriter::rewrite_site(bytes, sp, s.rec, p.kinds, s.position_independent);
        if (o == rewriter::outcome::rewritten) {
            s.rewritten = true;
            ++c.rewritten;
            ++c.by_kind[s.rec.kind];
            c.inline_stores += p.kinds.kinds[s.rec.kind].how == rewriter::strategy::inline_store;
        } else if (o == rewriter::outcome::too_small && s.position_independent) {
            // No room for the 7-byte `call *slot`: the instruction's first byte becomes int3,
            // which the wedge's trap path resolves to this site at either address.
            bytes[s.insn - s.start] = 0xcc;
            s.trapping = true;
            ++c.pic_int3;
        } else {
            ++c.failed;
            mem.cannot_rewrite(s, o);
        }
    }
    return c;
}

uint64_t sites_digest(const site_table &t, site_bytes &mem)
{
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](uint8_t b) {
        h ^= b;
        h *= 0x100000001b3ull;
    };
    for (uint32_t i = 0; i < t.count(); ++i) {
        const site &s = t[i];
        for (unsigned b = 0; b < 8; ++b) mix(static_cast<uint8_t>(s.start >> (8 * b)));
        const uint8_t *bytes = mem.span(s.start, s.size());
        mix(static_cast<uint8_t>(bytes ? s.size() : 0));
        if (bytes)
            for (uint32_t b = 0; b < s.size(); ++b) mix(bytes[b]);
    }
    return h;
}

} // namespace afterburn::wedge
