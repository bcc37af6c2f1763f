#include "wedge/alternative_copies.h"

namespace afterburn::wedge {

namespace {

// struct alt_instr, the fields a copy needs. Every layout starts with the two offsets, each
// relative to its own field: s32 instr_offset, s32 repl_offset. Then the feature (u16 up to
// 6.2, u32 ft_flags since), instrlen and replacementlen (u8 each), and up to 5.12 a u8 padlen.
struct alt_layout {
    uint32_t size, instrlen_at, replacementlen_at;
};
constexpr alt_layout layouts[] = {{12, 10, 11}, {13, 10, 11}, {14, 12, 13}};

struct alt_entry {
    uint64_t at, instr, repl;
    uint32_t instrlen, replacementlen;
};

int32_t s32_at(const uint8_t *p)
{
    return static_cast<int32_t>(static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                                static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24);
}

alt_entry entry_at(const uint8_t *table, uint64_t va, uint64_t off, const alt_layout &l)
{
    const uint8_t *e = table + off;
    uint64_t at = va + off;
    return {at, at + static_cast<int64_t>(s32_at(e)), at + 4 + static_cast<int64_t>(s32_at(e + 4)),
            e[l.instrlen_at], e[l.replacementlen_at]};
}

// Linux refuses an entry whose replacement is longer than the original; a replacement outside
// .altinstr_replacement means the bytes are not laid out this way.
bool fits(const alt_entry &a, uint64_t repl_lo, uint64_t repl_hi)
{
    if (a.replacementlen > a.instrlen) return false;
    if (!a.replacementlen) return true;  // "no replacement": Linux pads the original with NOPs
    return a.repl >= repl_lo && a.repl + a.replacementlen <= repl_hi;
}

bool same_instruction(const site &a, const site &b)
{
    if (a.rec.insn_len != b.rec.insn_len) return false;
    uint64_t ia = a.insn - a.start, ib = b.insn - b.start;
    for (uint32_t i = 0; i < a.rec.insn_len; ++i)
        if (a.original[ia + i] != b.original[ib + i]) return false;
    return true;
}

} // namespace

alternatives_result alternative_copies::collect(const site_table &sites, const uint8_t *table, uint64_t len,
                                                uint64_t va, uint64_t repl_lo, uint64_t repl_hi)
{
    alternatives_result r;
    count_ = 0;
    const alt_layout *layout = nullptr;
    for (const alt_layout &l : layouts) {
        if (len % l.size) continue;
        bool all = true;
        for (uint64_t off = 0; off < len && all; off += l.size) all = fits(entry_at(table, va, off, l), repl_lo, repl_hi);
        if (all) { layout = &l; break; }
    }
    if (!layout) {
        r.why = "no .altinstructions layout (12, 13 or 14-byte entries) puts every replacement inside "
                ".altinstr_replacement";
        return r;
    }
    r.entry_size = layout->size;
    r.entries = static_cast<uint32_t>(len / layout->size);
    for (uint64_t off = 0; off < len; off += layout->size) {
        alt_entry a = entry_at(table, va, off, *layout);
        uint64_t end = a.repl + a.replacementlen;
        for (uint32_t i = sites.first_at_or_after(a.repl); i < sites.count() && sites[i].start < end; ++i) {
            const site &s = sites[i];
            if (!s.changed()) continue;
            // Linux copies replacementlen bytes: the whole span must be among them, or the copy
            // would hold a call whose return lands past what was copied.
            if (s.end > end) {
                r.why = "a rewritten replacement site runs past its alternative's replacementlen";
                r.where = a.at;
                return r;
            }
            if (count_ == capacity_) {
                r.why = "more alternative copies of rewritten sites than the table holds";
                r.where = a.at;
                return r;
            }
            copies_[count_++] = {a.instr + (s.start - a.repl), &s};
            r.trapping += s.trapping;
        }
    }
    // Insertion sort by start: .altinstructions comes in link order already.
    for (uint32_t i = 1; i < count_; ++i) {
        site_copy c = copies_[i];
        uint32_t j = i;
        for (; j && copies_[j - 1].start > c.start; --j) copies_[j] = copies_[j - 1];
        copies_[j] = c;
    }
    r.copies = count_;
    r.ok = true;
    return r;
}

uint32_t alternative_copies::first_at_or_after(uint64_t start) const
{
    uint32_t lo = 0, hi = count_;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (copies_[mid].start < start) lo = mid + 1; else hi = mid;
    }
    return lo;
}

const site_copy *alternative_copies::find_by_return(uint64_t ret, uint8_t kind, bool &ambiguous) const
{
    ambiguous = false;
    const site_copy *found = nullptr;
    uint64_t start = ret - rewriter::call_slot_len;  // replacement sites always call through the slot
    for (uint32_t i = first_at_or_after(start); i < count_ && copies_[i].start == start; ++i) {
        const site &s = *copies_[i].of;
        if (!s.rewritten || s.rec.kind != kind) continue;  // (a trapping site makes no call)
        if (found && !same_instruction(*found->of, s)) ambiguous = true;
        if (!found) found = &copies_[i];
    }
    return found;
}

} // namespace afterburn::wedge
