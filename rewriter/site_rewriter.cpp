#include "afterburn/site_rewriter.h"

namespace afterburn::rewriter {

namespace {

constexpr uint8_t nop = 0x90;
constexpr uint8_t int3 = 0xcc;

bool fits_rel32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }
bool is_abs32(uint64_t a) { return fits_rel32(static_cast<int64_t>(a)); }  // sign-extended disp32

void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

} // namespace

const char *outcome_text(outcome o)
{
    switch (o) {
    case outcome::rewritten: return "rewritten";
    case outcome::left_alone: return "left alone";
    case outcome::too_small: return "replacement does not fit";
    case outcome::out_of_reach: return "target out of reach";
    case outcome::bad_record: return "bad record";
    }
    return "?";
}

site_span span_of(const annotation::site_record &rec, uint64_t site_addr)
{
    site_span s;
    s.insn = site_addr;
    s.start = (rec.flags & annotation::flag_pad_before) ? site_addr - rec.pad_len : site_addr;
    s.size = static_cast<uint32_t>(rec.insn_len) + rec.pad_len;
    return s;
}

outcome rewrite_site(uint8_t *bytes, const site_span &span, const annotation::site_record &rec, const plan &p,
                     bool position_independent)
{
    if (rec.kind >= site_kind_count) return outcome::bad_record;
    auto kind = static_cast<site_kind>(rec.kind);
    if (!site_kind_is_instruction(kind)) return outcome::left_alone;
    if (rec.insn_len == 0 || span.size < rec.insn_len) return outcome::bad_record;
    const kind_plan &k = p.kinds[rec.kind];
    if (k.how == strategy::leave) return outcome::left_alone;

    bool shadow = rec.flags & annotation::flag_pad_before;
    bool replacement = rec.flags & annotation::flag_replacement;
    // Code may branch to the instruction itself, past padding placed in front of it: that
    // byte must stay an instruction boundary. It becomes int3, which the wedge resolves to
    // this site; the entry reached through the call returns past it.
    uint32_t room = shadow ? span.size - rec.insn_len : span.size;
    // An interrupt-shadow instruction padded with prefixes: the span is the instruction and
    // the wedge resumes at its end, never in the fill after the call (site::resume_after_call).
    // Its last byte becomes int3, so that nothing runs NOPs inside the shadow, and the span ends
    // as a pad_before site's does (call, NOPs, int3), the layout an entry-window fast path checks.
    bool end_guard = !shadow && annotation::shadows_interrupts(rec);
    if (end_guard) --room;

    uint8_t code[16];
    uint32_t n = 0;
    switch (k.how) {
    case strategy::call:
        if (replacement || position_independent) {
            // Linux copies .altinstr_replacement bytes to another address (and runs its head
            // code at two addresses): only an absolute indirect call survives the move.
            if (!is_abs32(k.slot)) return outcome::out_of_reach;
            code[0] = 0xff, code[1] = 0x14, code[2] = 0x25;  // call *abs32
            put32(code + 3, static_cast<uint32_t>(k.slot));
            n = call_slot_len;
        } else {
            int64_t rel = static_cast<int64_t>(k.target - (span.start + call_rel32_len));
            if (!fits_rel32(rel)) return outcome::out_of_reach;
            code[0] = 0xe8;  // call rel32
            put32(code + 1, static_cast<uint32_t>(rel));
            n = call_rel32_len;
        }
        break;
    case strategy::inline_store:
        if (shadow || end_guard) return outcome::too_small;  // no room for the store and the int3
        if (!is_abs32(k.target)) return outcome::out_of_reach;
        code[0] = 0xc6, code[1] = 0x04, code[2] = 0x25;  // movb $imm8, abs32
        put32(code + 3, static_cast<uint32_t>(k.target));
        code[7] = k.value;
        n = 8;
        break;
    case strategy::leave: break;
    }
    if (n > room) return outcome::too_small;

    for (uint32_t i = 0; i < n; ++i) bytes[i] = code[i];
    for (uint32_t i = n; i < span.size; ++i) bytes[i] = nop;
    if (shadow)
        for (uint32_t i = room; i < span.size; ++i) bytes[i] = int3;
    if (end_guard) bytes[span.size - 1] = int3;
    return outcome::rewritten;
}

} // namespace afterburn::rewriter
